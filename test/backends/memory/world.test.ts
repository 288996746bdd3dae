import { describe, expect, it } from 'vitest';
import { MemoryWorld } from '../../../backends/memory/world.ts';
import { batchEvents } from '../../../core/events/to-events.ts';

const world = () =>
  new MemoryWorld({ pageCount: 4, disks: [{ id: 0, sectors: 64 }], initialMemory: 'unique' });
const eq = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('MemoryWorld (the ground truth of the tests)', () => {
  it('a completed read copies the sectors into the page part of each segment', () => {
    const w = world();
    w.submit(1, 'read', 0, 3, [
      [1, 0, 7],
      [2, 2, 3],
    ]);
    w.complete(1, true);
    expect(eq(w.page(1), w.sectors(0, 3, 8))).toBe(true);
    expect(eq(w.page(2).subarray(1024, 2048), w.sectors(0, 11, 2))).toBe(true);
  });

  it('moves data at transfer time, not later', () => {
    const w = world();
    w.submit(1, 'write', 0, 8, [[1, 0, 7]]);
    w.transfer(1, 0);
    const written = w.page(1).slice();
    w.memWrite([1]);
    w.complete(1, true);
    expect(eq(w.sectors(0, 8, 8), written)).toBe(true);
    expect(eq(w.page(1), written)).toBe(false);
  });

  it('a failed request moves nothing more; a discard zeroes its sectors', () => {
    const w = world();
    const before = w.sectors(0, 0, 8).slice();
    w.submit(1, 'write', 0, 0, [[1, 0, 7]]);
    w.complete(1, false);
    expect(eq(w.sectors(0, 0, 8), before)).toBe(true);
    w.submitDiscard(2, 0, 0, 4);
    w.complete(2, true);
    expect(w.sectors(0, 0, 4).every((b) => b === 0)).toBe(true);
    expect(w.sectors(0, 4, 1).some((b) => b !== 0)).toBe(true);
  });

  it('gives every memory write content no page or sector had before', () => {
    const w = world();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      w.memWrite([i % 4]);
      const key = Buffer.from(w.page(i % 4)).toString('base64');
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  it('emits the hypervisor-visible events in order, and nothing for transfers', () => {
    const w = world();
    w.submit(1, 'read', 0, 0, [[0, 0, 7]]);
    w.transfer(1, 0);
    w.memWrite([2]);
    w.complete(1, true);
    w.checkpoint('c');
    expect(batchEvents(w.takeEvents()).map((e) => e.op)).toEqual([
      'submit',
      'mem_write',
      'complete',
      'checkpoint',
    ]);
  });
});
