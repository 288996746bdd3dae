/** Outside a dom0 every Xen command exits 2 naming what is missing; the bindings load nothing until used. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { leanckpt as run } from '../../support/cli.ts';
import { requireDevice, XenUnavailableError } from '../../../backends/xen/ffi/load.ts';

const leanckpt = (...args: string[]) => run(args);
const inDom0 = existsSync('/dev/xen/privcmd');

describe.skipIf(inDom0)('xen commands outside a dom0', () => {
  it.each([
    ['xen', 'create', 'guest.cfg', '--disk', 'xvda=disk.img'],
    ['xen', 'save', '7', 'g.lckx'],
    ['xen', 'restore', 'g.lckx'],
    ['xen', 'status', 'guest1', '--json'],
    ['xen', 'track', '7', '--disk', 'xvda=disk.img'],
    ['trace', 'record', '--xen', '7', '-o', 't.lctrace'],
  ])('%s %s exits 2 naming the missing library, without a stack trace', async (...args) => {
    const r = await leanckpt(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^leanckpt: not a Xen dom0: libxenctrl\.so\.4\.17 \(Debian package libxenmisc4\.17\) missing\n$/,
    );
    expect(r.out).toBe('');
  });
});

describe('xen command line', () => {
  it('documents the commands, with examples and --json', async () => {
    const [all, save] = await Promise.all([leanckpt('xen', '--help'), leanckpt('xen', 'save', '--help')]);
    for (const c of ['create', 'track', 'save', 'restore', 'status', 'rebuild', 'oracle'])
      expect(all.out).toContain(c);
    expect(save.code).toBe(0);
    expect(save.out).toMatch(/Examples:[\s\S]*--keep-running/);
    expect(save.out).toMatch(/--json/);
  });

  it('takes --log-dirty-ms 0 (off) and refuses a malformed length by name', async () => {
    const r = await leanckpt('xen', 'create', 'g.cfg', '--log-dirty-ms', 'fast');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--log-dirty-ms must be a whole number of ms (0: off), got "fast"');
    expect((await leanckpt('xen', 'create', '--help')).out).toMatch(
      /--log-dirty-ms <ms>\s+log-dirty epoch length \(0: off\)/,
    );
  });

  it('restores by direct fill unless told otherwise, and refuses an unknown way by name', async () => {
    const [help, bad] = await Promise.all([
      leanckpt('xen', 'restore', '--help'),
      leanckpt('xen', 'restore', 'g.lckx', '--fill', 'lazy'),
    ]);
    expect(help.out).toMatch(/--fill <how>[\s\S]*\(choices: "direct", "stream",\s+default: "direct"\)/);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /option '--fill <how>' argument 'lazy' is invalid\. Allowed choices are direct, stream/,
    );
    expect(bad.err).not.toMatch(/\n\s+at /);
  });

  it('names a missing device node', () => {
    expect(() => requireDevice('/dev/xen/no-such-device')).toThrow(XenUnavailableError);
    expect(() => requireDevice('/dev/xen/no-such-device')).toThrow(
      'not a Xen dom0: /dev/xen/no-such-device (load the Xen dom0 drivers) missing',
    );
  });

  it('loads no Xen library when the modules are imported', async () => {
    const mods = await Promise.all([
      import('../../../backends/xen/ffi/xenctrl.ts'),
      import('../../../backends/xen/ffi/xenstore.ts'),
      import('../../../backends/xen/ffi/xengnttab.ts'),
      import('../../../backends/xen/ffi/xenevtchn.ts'),
      import('../../../backends/xen/ffi/xenforeignmemory.ts'),
      import('../../../backends/xen/ffi/xenguest.ts'),
    ]);
    expect(mods).toHaveLength(6);
    if (!inDom0) expect(() => mods[0].XenCtrl.open()).toThrow(XenUnavailableError);
  });
});
