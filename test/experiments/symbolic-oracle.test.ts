/**
 * The symbolic oracle scans only written disk runs and places initial-content pages directly. It must
 * find exactly the pages a scan of every sector finds: same kinds, and every reported place matches.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchPagesToDisks, PAGE_MATCHED } from '../../core/oracle/index.ts';
import { initialSeed } from '../../sim/content/seeds.ts';
import { symbolicOracle, worldDiskKeys } from '../../sim/experiments/symbolic-oracle.ts';
import { ReplayWorld } from '../../sim/replay/replay-world.ts';

const SPP = 8;
const CHUNK = 1 << 16; // SymbolicDisk's chunk: runs straddling it are the interesting cases

/** One step that shapes memory and disks: fresh content, copies either way, initial content. */
const step = fc.oneof(
  fc.record({ k: fc.constant('fresh' as const), page: fc.nat(63), sector: fc.nat(7) }),
  fc.record({
    k: fc.constant('toDisk' as const),
    page: fc.nat(63),
    disk: fc.nat(1),
    at: fc.nat(3 * CHUNK - 8),
  }),
  fc.record({
    k: fc.constant('fromDisk' as const),
    page: fc.nat(63),
    disk: fc.nat(1),
    at: fc.nat(3 * CHUNK - 8),
  }),
  fc.record({
    k: fc.constant('nearEdge' as const),
    toDisk: fc.boolean(),
    edge: fc.integer({ min: 1, max: 3 }),
    page: fc.nat(63),
    disk: fc.nat(1),
    off: fc.integer({ min: -9, max: 9 }),
  }),
  fc.record({ k: fc.constant('zero' as const), page: fc.nat(63) }),
);

describe('symbolic oracle', () => {
  it('finds the same pages as scanning every sector of every disk', async () => {
    let fresh = 1;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const world = new ReplayWorld({
          pageCount: 64,
          disks: [
            { id: 3, sectors: 3 * CHUNK },
            { id: 9, sectors: 3 * CHUNK + 5 },
          ],
        });
        const disks = [...world.disks.values()];
        const mem = world.memory;
        for (const s of steps) {
          const p = s.page * SPP;
          if (s.k === 'fresh') mem[p + s.sector] = fresh++;
          else if (s.k === 'zero') mem.fill(0, p, p + SPP);
          else {
            const d = disks[s.disk]!;
            const at =
              s.k === 'nearEdge'
                ? Math.min(3 * CHUNK - SPP, Math.max(0, s.edge * CHUNK + s.off - (s.toDisk ? 4 : 0)))
                : s.at;
            if (s.k === 'toDisk' || (s.k === 'nearEdge' && s.toDisk))
              for (let j = 0; j < SPP; j++) d.set(at + j, mem[p + j]!);
            else for (let j = 0; j < SPP; j++) mem[p + j] = d.get(at + j);
          }
        }
        const fast = await symbolicOracle(world);
        const full = await matchPagesToDisks({ pageKeys: mem, disks: worldDiskKeys(world) });
        expect([...fast.kind]).toEqual([...full.kind]);
        expect(fast.matchedPages).toBe(full.matchedPages);
        for (let p = 0; p < fast.kind.length; p++) {
          if (fast.kind[p] !== PAGE_MATCHED) continue;
          const d = world.disks.get(fast.disk[p]!)!;
          for (let j = 0; j < SPP; j++) expect(d.get(fast.sector[p]! + j)).toBe(mem[p * SPP + j]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('places a page of initial content whose range was never written', async () => {
    const world = new ReplayWorld({ pageCount: 2, disks: [{ id: 1, sectors: 4 * CHUNK }] });
    for (let j = 0; j < SPP; j++) world.memory[SPP + j] = initialSeed(0, 3 * CHUNK + 3 + j);
    const r = await symbolicOracle(world);
    expect(r.matchedPages).toBe(1);
    expect(r.sector[1]).toBe(3 * CHUNK + 3);
  });
});
