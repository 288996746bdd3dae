/**
 * Scenario dom0-node: proves the ground a TypeScript scenario stands on. The host's node runs the
 * project's TypeScript (via its tsx) from the read-only shared tree, and koffi's prebuilt binary calls
 * into Xen's libxenctrl: it lists the domains and reads dom0's record. No guest, so it is quick.
 */
import koffi from 'koffi';
import { parseRunOutput } from '../../protocol.ts';

function step<T>(name: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    const value = fn();
    console.log(`STEP ${name} ${((performance.now() - t0) / 1000).toFixed(2)} ok`);
    return value;
  } catch (err) {
    console.log(`STEP ${name} ${((performance.now() - t0) / 1000).toFixed(2)} fail`);
    console.log(`LOG ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  }
}

// The project's own modules load from the shared tree.
const parsed = parseRunOutput('RESULT probe 1');
console.log(`CHECK project_import ${parsed.results.probe === '1' ? 'ok' : 'fail'}`);

const xc = step('load_libxenctrl', () => koffi.load('libxenctrl.so.4.17'));
const open = xc.func('void *xc_interface_open(void *logger, void *dombuild_logger, unsigned int flags)');
const close = xc.func('int xc_interface_close(void *xch)');
// xc_domaininfo_t is 112 bytes in 4.17: domid u16 @0, flags u32 @4, tot_pages u64 @8, max_pages u64 @16.
const getinfolist = xc.func(
  'int xc_domain_getinfolist(void *xch, uint32_t first, unsigned int max, _Out_ uint8_t *info)',
);
const xch = step('xc_interface_open', () => {
  const h: unknown = open(null, null, 0);
  if (h === null) throw new Error('xc_interface_open returned NULL (is this dom0 with privcmd?)');
  return h;
});
const buf = new Uint8Array(112 * 16);
const n = step('xc_domain_getinfolist', () => {
  const count = getinfolist(xch, 0, 16, buf) as number;
  if (count < 1) throw new Error(`xc_domain_getinfolist returned ${count}`);
  return count;
});
const dv = new DataView(buf.buffer);
const dom0Pages = Number(dv.getBigUint64(8, true));
console.log(`RESULT domains ${n}`);
console.log(`RESULT dom0_tot_pages ${dom0Pages}`);
console.log(`RESULT koffi_version ${koffi.version}`);
console.log(`CHECK dom0_listed ${dv.getUint16(0, true) === 0 && dom0Pages > 0 ? 'ok' : 'fail'}`);
close(xch);
