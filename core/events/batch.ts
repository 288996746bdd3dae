/**
 * Event batches: the unit the streams carry. Columnar typed arrays, so a batch of a million events is a
 * handful of allocations and per-event cost is a few array reads, never an object per event.
 */

/** Event kinds. Numeric, because they live in a Uint8Array column. */
export const Op = {
  /** An I/O request was submitted (read: disk to memory, write: memory to disk, discard). */
  Submit: 1,
  /** A submitted request completed, successfully or not. */
  Complete: 2,
  /** The guest (or an untracked device) changed these pages' content, now (precise delivery). */
  MemWrite: 3,
  /** These pages were given back (balloon); their content is gone. */
  Release: 4,
  /** These pages may have changed since the previous epoch (epoch delivery, e.g. log-dirty). */
  Dirty: 5,
  /** The guest is paused here; I/O still in flight stays in flight. */
  Checkpoint: 6,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export const IoDir = { Read: 0, Write: 1, Discard: 2 } as const;
export type IoDir = (typeof IoDir)[keyof typeof IoDir];

/**
 * A batch of `length` events. Event i's page arguments (segments of a Submit, pages of a
 * MemWrite/Release/Dirty) are `pfn[argStart[i] .. argStart[i+1])`, with `first`/`last` sector-in-page
 * bounds (inclusive, 0..7) for Submit segments.
 *
 * Immutable once emitted: consumers may keep its columns (the tracker reads an in-flight request's
 * segments from the batch that submitted it until the request completes), so a producer must never
 * refill the arrays of a batch it has handed out.
 */
export interface EventBatch {
  readonly length: number;
  readonly op: Uint8Array;
  /** Request id (Submit, Complete). */
  readonly id: Float64Array;
  /** Submit: IoDir. Complete: 1 ok, 0 failed. */
  readonly dir: Uint8Array;
  /** Submit: disk id. */
  readonly disk: Uint32Array;
  /** Submit: first disk sector. */
  readonly sector: Float64Array;
  /** Submit: number of sectors covered (sum of segment lengths; for a discard, its length). */
  readonly count: Float64Array;
  /** length + 1 offsets into pfn/first/last. */
  readonly argStart: Uint32Array;
  readonly pfn: Uint32Array;
  readonly first: Uint8Array;
  readonly last: Uint8Array;
  /** Checkpoint names, by event index. */
  readonly labels: ReadonlyMap<number, string>;
}

/** A blkif-style segment: page `pfn`, sectors `first..last` (inclusive) of that page. */
export type Segment = readonly [pfn: number, first: number, last: number];

/** The same events as plain objects: for tests, traces and debugging, not for hot paths. */
export type GuestEvent =
  | {
      readonly op: 'submit';
      readonly id: number;
      readonly dir: 'read' | 'write';
      readonly disk: number;
      readonly sector: number;
      readonly segs: readonly Segment[];
    }
  | {
      readonly op: 'submit';
      readonly id: number;
      readonly dir: 'discard';
      readonly disk: number;
      readonly sector: number;
      readonly count: number;
    }
  | { readonly op: 'complete'; readonly id: number; readonly ok: boolean }
  | { readonly op: 'mem_write' | 'release' | 'dirty'; readonly pfns: readonly number[] }
  | { readonly op: 'checkpoint'; readonly name: string };

const DIR_NAMES = ['read', 'write', 'discard'] as const;

export function dirName(dir: number): 'read' | 'write' | 'discard' {
  const name = DIR_NAMES[dir];
  if (name === undefined) throw new RangeError(`unknown I/O direction ${dir}`);
  return name;
}
