/** The XenStore handshake, state by state, against an in-memory store and the test frontend. */
import { describe, expect, it } from 'vitest';
import { BlkifHandshake, XenbusState } from '../../../backends/xen/blkif/handshake.ts';
import { MemoryXenstore } from './support/memory-xenstore.ts';
import { DOMID, rig, XVDA } from './support/rig.ts';

const BE = `/local/domain/0/backend/lckvbd/${DOMID}/${XVDA}`;
const FE = `/local/domain/${DOMID}/device/vbd/${XVDA}`;

describe('blkif handshake', () => {
  it('creates both directories as libxl would, under a backend kind nothing else claims', async () => {
    const r = await rig();
    const { xs } = r;
    expect(xs.read(`${FE}/backend`)).toBe(BE);
    expect(xs.read(`${FE}/backend-id`)).toBe('0');
    expect(xs.read(`${FE}/virtual-device`)).toBe(String(XVDA));
    expect(xs.read(`${FE}/trusted`)).toBe('1');
    expect(xs.read(`${BE}/frontend`)).toBe(FE);
    expect(xs.read(`${BE}/sectors`)).toBe('4096');
    expect(xs.read(`${BE}/sector-size`)).toBe('512');
    expect(xs.read(`${BE}/info`)).toBe('0');
    expect(xs.read(`${BE}/feature-flush-cache`)).toBe('1');
    // Never offered: blkfront would bounce data through private pages.
    expect(xs.read(`${BE}/feature-persistent`)).toBeUndefined();
    expect(xs.read(`${BE}/feature-max-indirect-segments`)).toBeUndefined();
    expect(xs.perms.get(BE)).toEqual([
      { domid: 0, perm: 'n' },
      { domid: DOMID, perm: 'r' },
    ]);
    expect(xs.perms.get(FE)).toEqual([
      { domid: DOMID, perm: 'n' },
      { domid: 0, perm: 'r' },
    ]);
    expect(xs.read(`${BE}/state`)).toBe(String(XenbusState.Connected));
    expect(r.attached.connected).toBe(true);
  });

  it('connects multi-page rings (ring-page-order) and 32-bit frontends', async () => {
    const r = await rig({ ringPages: 4 });
    expect(r.attached.connected).toBe(true);
    expect(await r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 1 }] })).toBe(0);
    const r32 = await rig({ abi: '32' });
    expect(r32.xs.read(`${FE}/protocol`)).toBe('x86_32-abi');
    expect(await r32.front.request({ op: 'read', sector: 16, segs: [{ pfn: 3 }] })).toBe(0);
    expect(r32.tracker.map.loc[3]).toBe(16);
  });

  it('closes when the frontend closes, and offers the device again when it starts over', async () => {
    const r = await rig();
    r.front.reset();
    await r.xs.settle();
    expect(r.attached.connected).toBe(false);
    expect(r.xs.read(`${BE}/state`)).toBe(String(XenbusState.InitWait));
    r.xs.write(`${FE}/state`, '1');
    const again = r.front.connect();
    await r.xs.settle();
    await again;
    expect(r.attached.connected).toBe(true);
    expect(await r.front.request({ op: 'read', sector: 8, segs: [{ pfn: 2 }] })).toBe(0);
    expect(r.attached.stats().reads).toBe(1);
  });

  it('refuses a frontend with a bad ring description, and removes everything on destroy', async () => {
    const xs = new MemoryXenstore();
    const errors: string[] = [];
    const h = new BlkifHandshake(
      xs,
      3,
      XVDA,
      'xvda',
      { sectors: 8, readOnly: true, path: 'x' },
      {
        connect: () => {
          throw new Error('must not connect');
        },
        disconnect: () => {},
        onError: (m) => errors.push(m),
      },
    );
    h.create();
    expect(xs.read(`${h.backendPath}/info`)).toBe('4');
    expect(xs.read(`${h.backendPath}/mode`)).toBe('r');
    xs.write(`${h.frontendPath}/state`, '3');
    await xs.settle();
    expect(errors[0]).toMatch(/no ring-ref/);
    expect(h.state).toBe(XenbusState.Closing);
    h.destroy();
    expect([...xs.nodes.keys()].filter((k) => k.includes(String(XVDA)))).toEqual([]);
  });
});
