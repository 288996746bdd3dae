/** The shared ring between a frontend and the backend: indices, wrap-around, notification rules, overflow. */
import { describe, expect, it } from 'vitest';
import { X86_64 } from '../../../backends/xen/blkif/layout.ts';
import { BackRing, FrontRing, RingError } from '../../../backends/xen/blkif/ring.ts';

const read = (id: bigint) => ({
  kind: 'read' as const,
  op: 0,
  id,
  handle: 0,
  sector: Number(id) * 8,
  segs: [{ gref: Number(id), first: 0, last: 7 }],
  declared: 1,
  flush: false,
});

describe('ring', () => {
  it('moves requests and responses through many wraps of the free-running indices', () => {
    const mem = new Uint8Array(4096);
    const front = new FrontRing(mem, 1, X86_64);
    const back = new BackRing(mem, 1, X86_64);
    let next = 0n;
    let answered = 0n;
    for (let round = 0; round < 50; round++) {
      const n = 1 + (round % 32);
      for (let i = 0; i < n; i++) front.put(read(next++));
      front.push();
      expect(back.unconsumed()).toBe(n);
      for (let i = 0; i < n; i++) {
        const r = back.take();
        back.respond({ id: r.id, op: r.op, status: 0 });
      }
      back.push();
      for (const rsp of front.responses()) expect(rsp.id).toBe(answered++);
    }
    expect(answered).toBe(next);
  });

  it('notifies only when the other side asked (req_event / rsp_event)', () => {
    const mem = new Uint8Array(4096);
    const front = new FrontRing(mem, 1, X86_64);
    const back = new BackRing(mem, 1, X86_64);
    front.put(read(1n));
    expect(front.push()).toBe(true); // req_event starts at 1
    front.put(read(2n));
    expect(front.push()).toBe(false); // the backend has not re-armed yet
    back.take();
    back.take();
    expect(back.finalCheck()).toBe(false);
    front.put(read(3n));
    expect(front.push()).toBe(true);
    back.respond({ id: 1n, op: 0, status: 0 });
    expect(back.push()).toBe(true);
    back.respond({ id: 2n, op: 0, status: 0 });
    expect(back.push()).toBe(false); // the frontend has not consumed yet
    expect(front.responses().length).toBe(2);
  });

  it('refuses a frontend that claims more requests than the ring holds', () => {
    const mem = new Uint8Array(4096);
    const back = new BackRing(mem, 1, X86_64);
    new DataView(mem.buffer).setUint32(0, 33, true);
    expect(() => back.unconsumed()).toThrow(RingError);
  });
});
