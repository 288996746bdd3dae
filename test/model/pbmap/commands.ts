/**
 * fast-check commands: one guest or hypervisor action each. `run` acts on the real system, checks it,
 * then updates the naive model. Indices into the in-flight list are taken modulo its length, so every
 * generated command sequence stays valid while it shrinks.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Segment } from '../../../core/events/batch.ts';
import type { NaiveModel, Place } from './naive-model.ts';
import { DISKS, PAGES, type Real } from './system.ts';
import { checkCheckpoint } from './checkpoint-check.ts';

type Cmd = fc.AsyncCommand<NaiveModel, Real>;

const show = (m: Map<number, Place>): Record<number, string> =>
  Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([pfn, p]) => [pfn, `${p.disk}:${p.sector}`]));

/** In precise mode the tracker's map must equal the naive model's after every event. */
export function expectSameMap(model: NaiveModel, real: Real): void {
  if (real.delivery !== 'precise') return;
  const actual = new Map<number, Place>();
  real.tracker.map.loc.forEach((g, pfn) => {
    if (g >= 0) actual.set(pfn, real.tracker.space.fromGlobal(g));
  });
  expect(show(actual)).toEqual(show(model.map));
}

const MAX_INFLIGHT = 6;

class SubmitCommand implements Cmd {
  constructor(
    readonly dir: 'read' | 'write',
    readonly disk: number,
    readonly sector: number,
    readonly segs: readonly Segment[],
  ) {}
  check = (m: Readonly<NaiveModel>): boolean => m.inflight.length < MAX_INFLIGHT;
  async run(m: NaiveModel, r: Real): Promise<void> {
    const count = this.segs.reduce((n, [, f, l]) => n + l - f + 1, 0);
    const size = DISKS[this.disk]!.sectors;
    const sector = Math.min(this.sector, size - count);
    const id = m.nextId++;
    r.world.submit(id, this.dir, this.disk, sector, this.segs);
    r.flush();
    m.submit({ id, dir: this.dir, disk: this.disk, sector, count, segs: this.segs });
    expectSameMap(m, r);
  }
  toString = (): string =>
    `submit(${this.dir} d${this.disk} s${this.sector} ${this.segs.map((s) => `[${s.join(',')}]`).join('')})`;
}

class DiscardCommand implements Cmd {
  constructor(
    readonly disk: number,
    readonly sector: number,
    readonly count: number,
  ) {}
  check = (m: Readonly<NaiveModel>): boolean => m.inflight.length < MAX_INFLIGHT;
  async run(m: NaiveModel, r: Real): Promise<void> {
    const size = DISKS[this.disk]!.sectors;
    const sector = Math.min(this.sector, size - this.count);
    const id = m.nextId++;
    r.world.submitDiscard(id, this.disk, sector, this.count);
    r.flush();
    m.submit({ id, dir: 'discard', disk: this.disk, sector, count: this.count, segs: [] });
    expectSameMap(m, r);
  }
  toString = (): string => `discard(d${this.disk} s${this.sector} n${this.count})`;
}

/** The data of one segment moves now: invisible to the hypervisor, decisive for the bytes. */
class TransferCommand implements Cmd {
  constructor(
    readonly k: number,
    readonly unit: number,
  ) {}
  check = (m: Readonly<NaiveModel>): boolean => m.inflight.length > 0;
  async run(m: NaiveModel, r: Real): Promise<void> {
    const req = m.inflight[this.k % m.inflight.length]!;
    r.world.transfer(req.id, this.unit % Math.max(1, req.segs.length));
  }
  toString = (): string => `transfer(#${this.k}, unit ${this.unit})`;
}

class CompleteCommand implements Cmd {
  constructor(
    readonly k: number,
    readonly ok: boolean,
  ) {}
  check = (m: Readonly<NaiveModel>): boolean => m.inflight.length > 0;
  async run(m: NaiveModel, r: Real): Promise<void> {
    const req = m.complete(this.k % m.inflight.length, this.ok);
    r.world.complete(req.id, this.ok);
    r.flush();
    expectSameMap(m, r);
  }
  toString = (): string => `complete(#${this.k}, ${this.ok ? 'ok' : 'failed'})`;
}

class MemWriteCommand implements Cmd {
  constructor(
    readonly pfns: readonly number[],
    readonly isRelease: boolean,
  ) {}
  check = (): boolean => true;
  async run(m: NaiveModel, r: Real): Promise<void> {
    if (this.isRelease) r.world.release(this.pfns);
    else r.world.memWrite(this.pfns);
    r.flush();
    m.memWrite(this.pfns);
    expectSameMap(m, r);
  }
  toString = (): string => `${this.isRelease ? 'release' : 'memWrite'}(${this.pfns.join(',')})`;
}

class CheckpointCommand implements Cmd {
  check = (): boolean => true;
  async run(m: NaiveModel, r: Real): Promise<void> {
    await checkCheckpoint(m, r);
    expectSameMap(m, r);
  }
  toString = (): string => 'checkpoint';
}

const pfn = fc.integer({ min: 0, max: PAGES - 1 });
const segment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 3, arbitrary: pfn.map((p): Segment => [p, 0, 7]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(pfn, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }))
      .map(([p, a, b]): Segment => [p, Math.min(a, b), Math.max(a, b)]),
  },
);
const disk = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) });
/** Mostly page-aligned sectors, so requests collide often; sometimes any sector (unaligned I/O). */
const sector = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }).map((s) => s * 8) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) },
);

export const commandArbitraries: fc.Arbitrary<Cmd>[] = [
  fc
    .tuple(
      fc.constantFrom<'read' | 'write'>('read', 'write'),
      disk,
      sector,
      fc.array(segment, { minLength: 1, maxLength: 3 }),
    )
    .map(([dir, d, s, segs]) => new SubmitCommand(dir, d, s, segs)),
  fc.tuple(disk, sector, fc.integer({ min: 1, max: 12 })).map(([d, s, n]) => new DiscardCommand(d, s, n)),
  fc.tuple(fc.nat(), fc.nat()).map(([k, u]) => new TransferCommand(k, u)),
  fc.tuple(fc.nat(), fc.boolean()).map(([k, ok]) => new CompleteCommand(k, ok)),
  fc
    .tuple(fc.uniqueArray(pfn, { minLength: 1, maxLength: 2 }), fc.boolean())
    .map(([p, rel]) => new MemWriteCommand(p, rel)),
  fc.constant(new CheckpointCommand()),
];
