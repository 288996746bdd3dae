import type { GuestOs } from '../os/kernel.ts';
import type { Prng } from '../prng.ts';

export type WorkloadName =
  'idle' | 'kernel-build' | 'postmark' | 'file-copy' | 'desktop' | 'database' | 'memory-hog';

/** What the guest does: a composition of OS model operations. */
export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  /** Default run length, in events, for a guest of `pages` 4 KiB pages. */
  readonly defaultEvents: (pages: number) => number;
  /** Boots the guest, sets up the workload's files and processes, and returns one step of its activity. */
  readonly start: (os: GuestOs, rng: Prng) => () => void;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** A dense set of ids with O(1) add, remove and random pick. */
export class IdSet {
  private ids = new Int32Array(64);
  private n = 0;

  get size(): number {
    return this.n;
  }

  add(id: number): void {
    if (this.n === this.ids.length) {
      const bigger = new Int32Array(this.ids.length * 2);
      bigger.set(this.ids);
      this.ids = bigger;
    }
    this.ids[this.n++] = id;
  }

  at(i: number): number {
    return this.ids[i]!;
  }

  /** Removes and returns the id at index `i` (the last one takes its place). */
  take(i: number): number {
    const id = this.ids[i]!;
    this.ids[i] = this.ids[--this.n]!;
    return id;
  }

  pick(rng: Prng): number {
    return this.ids[rng.int(this.n)]!;
  }
}
