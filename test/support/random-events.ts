/**
 * Random but valid event streams for a small guest: requests of every kind with colliding sectors and
 * pages, completions in any order (some failed), memory writes, releases, discards and checkpoints,
 * some with I/O still in flight. Driven by a list of numbers so fast-check can generate and shrink it.
 */
import type { GuestEvent, Segment } from '../../core/events/batch.ts';

export const SMALL_GUEST = {
  pages: 12,
  disks: [
    { id: 0, sectors: 96 },
    { id: 3, sectors: 64 },
  ],
} as const;

export function randomEvents(choices: readonly number[]): GuestEvent[] {
  let c = 0;
  const next = (n: number): number => (choices.length === 0 ? 0 : choices[c++ % choices.length]! % n);
  const events: GuestEvent[] = [];
  const inflight: number[] = [];
  let id = 1;
  let checkpoint = 0;
  const steps = choices.length;
  for (let step = 0; step < steps; step++) {
    const kind = next(10);
    const disk = SMALL_GUEST.disks[next(2)]!;
    if (kind <= 2 && inflight.length < 6) {
      const segs: Segment[] = [];
      for (let k = 1 + next(3); k > 0; k--) {
        const pfn = next(SMALL_GUEST.pages);
        segs.push(next(4) === 0 ? [pfn, next(4), 4 + next(4)] : [pfn, 0, 7]);
      }
      const count = segs.reduce((n, [, f, l]) => n + l - f + 1, 0);
      const sector = Math.min(next(2) === 0 ? next(8) * 8 : next(disk.sectors), disk.sectors - count);
      events.push({ op: 'submit', id, dir: kind === 0 ? 'write' : 'read', disk: disk.id, sector, segs });
      inflight.push(id++);
    } else if (kind === 3 && inflight.length < 6) {
      const count = 1 + next(12);
      events.push({
        op: 'submit',
        id,
        dir: 'discard',
        disk: disk.id,
        sector: next(disk.sectors - count),
        count,
      });
      inflight.push(id++);
    } else if (kind <= 6 && inflight.length > 0) {
      const [done] = inflight.splice(next(inflight.length), 1);
      events.push({ op: 'complete', id: done!, ok: next(12) !== 0 });
    } else if (kind === 7) {
      events.push({ op: next(3) === 0 ? 'release' : 'mem_write', pfns: [next(SMALL_GUEST.pages)] });
    } else if (kind === 8) {
      events.push({ op: 'checkpoint', name: `c${++checkpoint}` });
    }
  }
  for (const done of inflight) events.push({ op: 'complete', id: done, ok: true });
  events.push({ op: 'checkpoint', name: 'final' });
  return events;
}
