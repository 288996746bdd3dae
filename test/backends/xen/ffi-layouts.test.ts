/** The pure parts of the bindings: record decoders and encoders against the 4.17 header layouts. */
import { describe, expect, it } from 'vitest';
import { encodeCopySegments, GrantCopyMover } from '../../../backends/xen/blkif/grant-copy.ts';
import { decodeDomainInfo } from '../../../backends/xen/ffi/xenctrl.ts';
import { encodePermissions } from '../../../backends/xen/ffi/xenstore.ts';
import { dirtyPfns } from '../../../backends/xen/logdirty/bitmap.ts';

describe('binding layouts', () => {
  it('decodes xen_domctl_getdomaininfo (112 B): PV, PVH and HVM by flags and emulation_flags', () => {
    const b = new Uint8Array(112 * 3);
    const v = new DataView(b.buffer);
    const rec = (i: number, domid: number, flags: number, emu: number) => {
      v.setUint16(i * 112, domid, true);
      v.setUint32(i * 112 + 4, flags, true);
      v.setBigUint64(i * 112 + 8, 65536n, true);
      v.setUint32(i * 112 + 104, emu, true);
    };
    rec(0, 3, (1 << 3) | (2 << 16) | (1 << 2), 0);
    rec(1, 4, 1 << 1, 1);
    rec(2, 5, 1 << 1, 0x3ff);
    const [pv, pvh, hvm] = [0, 1, 2].map((i) => decodeDomainInfo(b, i * 112));
    expect(pv).toMatchObject({
      domid: 3,
      kind: 'pv',
      paused: true,
      shutdown: true,
      shutdownReason: 2,
      totPages: 65536,
    });
    expect(pvh).toMatchObject({ domid: 4, kind: 'pvh', paused: false });
    expect(hvm).toMatchObject({ domid: 5, kind: 'hvm' });
  });

  it('encodes xs_permissions as {u32 id, u32 perms} pairs', () => {
    expect([
      ...encodePermissions([
        { domid: 0, perm: 'n' },
        { domid: 7, perm: 'r' },
        { domid: 9, perm: 'b' },
      ]),
    ]).toEqual([0, 0, 7, 1, 9, 3]);
  });

  it('encodes grant copy segments: gref side {ref, offset, domid}, buffer side by address, len@16 flags@18', () => {
    const segs = encodeCopySegments(
      [
        { gref: 11, offset: 0, len: 4096 },
        { gref: 12, offset: 1024, len: 512 },
      ],
      7,
      0x7f0000001000n,
      true,
    );
    const v = new DataView(segs.buffer);
    // To the guest: source is our buffer, destination the grant.
    expect(v.getBigUint64(0, true)).toBe(0x7f0000001000n);
    expect([v.getUint32(8, true), v.getUint16(12, true), v.getUint16(14, true)]).toEqual([11, 0, 7]);
    expect([v.getUint16(16, true), v.getUint16(18, true)]).toEqual([4096, 2]);
    expect(v.getBigUint64(24, true)).toBe(0x7f0000002000n);
    expect([32, 36, 38, 40, 42].map((o) => (o === 32 ? v.getUint32(o, true) : v.getUint16(o, true)))).toEqual(
      [12, 1024, 7, 512, 2],
    );
    const from = new DataView(encodeCopySegments([{ gref: 3, offset: 0, len: 8 }], 2, 16n, false).buffer);
    expect([from.getUint32(0, true), from.getBigUint64(8, true), from.getUint16(18, true)]).toEqual([
      3,
      16n,
      1,
    ]);
  });

  it('fails a grant copy whose segment status is not GNTST_okay, and reuses its buffers', () => {
    let statuses = [0, 0];
    let allocs = 0;
    const mover = new GrantCopyMover(
      {
        allocNative: (n) => ({ bytes: new Uint8Array(n), address: BigInt(0x1000 * ++allocs) }),
        copy: (segs, count) => {
          const v = new DataView(segs.buffer);
          for (let i = 0; i < count; i++) v.setInt16(i * 24 + 20, statuses[i]!, true);
          return true;
        },
      },
      1,
    );
    const pieces = [
      { gref: 1, offset: 0, len: 4096 },
      { gref: 2, offset: 0, len: 4096 },
    ];
    const buf = mover.alloc(8192);
    expect(mover.toGuest(pieces, buf)).toBe(true);
    statuses = [0, -1];
    expect(mover.fromGuest(pieces, buf)).toBe(false);
    mover.free(buf);
    mover.free(mover.alloc(512));
    expect(allocs).toBe(1);
  });

  it('reads log-dirty bitmaps LSB first, ignoring bits past the page count', () => {
    const bits = new Uint8Array([0b10000001, 0, 0b00000100, 0xff]);
    expect([...dirtyPfns(bits, 28)]).toEqual([0, 7, 18, 24, 25, 26, 27]);
    expect(dirtyPfns(new Uint8Array(1024), 8192).length).toBe(0);
  });
});
