/** The ring codec against blkif.h's x86_64 and x86_32 layouts (offsets from the compiled headers). */
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
} from '../../../backends/xen/blkif/codec.ts';
import { abiOf, BlkifOp, ringSlots, X86_32, X86_64 } from '../../../backends/xen/blkif/layout.ts';
import { vdevNumber } from '../../../backends/xen/blkif/vdev.ts';

describe('blkif layouts', () => {
  it('sizes rings as __CONST_RING_SIZE does: 32, 64, 128, 256 slots for 1, 2, 4, 8 pages', () => {
    expect([1, 2, 4, 8].map((p) => ringSlots(p, X86_64))).toEqual([32, 64, 128, 256]);
    expect(ringSlots(1, X86_32)).toBe(32);
  });

  it('reads a native request at the header offsets: op@0 nr@1 handle@2 id@8 sector@16 seg[k]@24+8k', () => {
    const v = new DataView(new ArrayBuffer(112));
    v.setUint8(0, BlkifOp.Write);
    v.setUint8(1, 2);
    v.setUint16(2, 7, true);
    v.setBigUint64(8, 0x1122334455667788n, true);
    v.setBigUint64(16, 123456789n, true);
    v.setUint32(24, 77, true);
    v.setUint8(28, 0);
    v.setUint8(29, 7);
    v.setUint32(32, 78, true);
    v.setUint8(36, 2);
    v.setUint8(37, 5);
    expect(decodeRequest(v, 0, X86_64)).toEqual({
      kind: 'write',
      op: BlkifOp.Write,
      id: 0x1122334455667788n,
      handle: 7,
      sector: 123456789,
      segs: [
        { gref: 77, first: 0, last: 7 },
        { gref: 78, first: 2, last: 5 },
      ],
      declared: 2,
      flush: false,
    });
  });

  it('reads a 32-bit request with 4-aligned u64s: id@4 sector@12 seg[k]@20+8k', () => {
    const v = new DataView(new ArrayBuffer(108));
    v.setUint8(0, BlkifOp.Read);
    v.setUint8(1, 1);
    v.setBigUint64(4, 9n, true);
    v.setBigUint64(12, 4096n, true);
    v.setUint32(20, 5, true);
    v.setUint8(25, 7);
    const r = decodeRequest(v, 0, X86_32);
    expect(r).toMatchObject({ kind: 'read', id: 9n, sector: 4096, segs: [{ gref: 5, first: 0, last: 7 }] });
  });

  it('reads discards (nr_sectors@24, secure flag@1) and flushes without segments', () => {
    const v = new DataView(new ArrayBuffer(112));
    v.setUint8(0, BlkifOp.Discard);
    v.setUint8(1, 1);
    v.setBigUint64(8, 3n, true);
    v.setBigUint64(16, 800n, true);
    v.setBigUint64(24, 64n, true);
    expect(decodeRequest(v, 0, X86_64)).toEqual({
      kind: 'discard',
      op: BlkifOp.Discard,
      id: 3n,
      sector: 800,
      count: 64,
      secure: true,
    });
    const f = new DataView(new ArrayBuffer(112));
    f.setUint8(0, BlkifOp.FlushDiskcache);
    expect(decodeRequest(f, 0, X86_64).kind).toBe('flush');
    f.setUint8(1, 1);
    expect(decodeRequest(f, 0, X86_64)).toMatchObject({ kind: 'write', flush: true });
    f.setUint8(0, BlkifOp.Indirect);
    expect(decodeRequest(f, 0, X86_64).kind).toBe('unsupported');
  });

  it('keeps an impossible segment count visible without reading past the slot', () => {
    const v = new DataView(new ArrayBuffer(112));
    v.setUint8(1, 200);
    const r = decodeRequest(v, 0, X86_64);
    expect(r.kind === 'read' && [r.declared, r.segs.length]).toEqual([200, 11]);
  });

  it('writes responses at id@0 op@8 status@10 and round-trips requests in both ABIs', () => {
    for (const abi of [X86_64, X86_32]) {
      const v = new DataView(new ArrayBuffer(abi.entry));
      encodeResponse(v, 0, abi, { id: 42n, op: 1, status: -2 });
      expect([v.getBigUint64(0, true), v.getUint8(8), v.getInt16(10, true)]).toEqual([42n, 1, -2]);
      expect(decodeResponse(v, 0, abi)).toEqual({ id: 42n, op: 1, status: -2 });
      const req = {
        kind: 'read' as const,
        op: 0,
        id: 2n ** 63n,
        handle: 3,
        sector: 2 ** 40,
        segs: [{ gref: 2 ** 31, first: 1, last: 6 }],
        declared: 1,
        flush: false,
      };
      encodeRequest(v, 0, abi, req);
      expect(decodeRequest(v, 0, abi)).toEqual(req);
    }
  });

  it('names ABIs by protocol and numbers virtual devices like libxl', () => {
    expect(abiOf(undefined)).toBe(X86_64);
    expect(abiOf('x86_32-abi')).toBe(X86_32);
    expect(abiOf('arm-abi')).toBeUndefined();
    expect(vdevNumber('xvda')).toBe(51712);
    expect(vdevNumber('xvdb')).toBe(51728);
    expect(vdevNumber('xvda1')).toBe(51713);
    expect(vdevNumber('xvdq')).toBe((1 << 28) | (16 << 8));
    expect(vdevNumber('sda')).toBeUndefined();
  });
});
