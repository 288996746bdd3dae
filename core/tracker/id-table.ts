/**
 * Request id -> slot, for the requests in flight. Every submit inserts and every completion looks up
 * and deletes, so this sits on the hot path; a JavaScript Map did it at several times the cost of the
 * map updates themselves (it also shrinks and regrows as the in-flight count swings). Open addressing
 * with linear probing over typed arrays, deletion by backward shift (no tombstones), kept at most half
 * full. Ids are any non-negative integers a Float64 holds exactly.
 */
const EMPTY = -1;

export class IdTable {
  private keys = new Float64Array(16);
  private values = new Int32Array(16).fill(EMPTY);
  private mask = 15;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The value of `id`, or -1. */
  get(id: number): number {
    const { keys, values, mask } = this;
    for (let i = hash(id) & mask; ; i = (i + 1) & mask) {
      const v = values[i]!;
      if (v === EMPTY || keys[i] === id) return v;
    }
  }

  /** Sets `id` (not present) to `value` (>= 0). */
  insert(id: number, value: number): void {
    if (2 * (this.count + 1) > this.values.length) this.resize(2 * this.values.length);
    const { keys, values, mask } = this;
    let i = hash(id) & mask;
    while (values[i] !== EMPTY) i = (i + 1) & mask;
    keys[i] = id;
    values[i] = value;
    this.count++;
  }

  /** Removes `id` if present. */
  delete(id: number): void {
    const { keys, values, mask } = this;
    let i = hash(id) & mask;
    for (; values[i] !== EMPTY; i = (i + 1) & mask) if (keys[i] === id) break;
    if (values[i] === EMPTY) return;
    this.count--;
    // Backward shift: move later entries of the probe run into the hole where their home allows.
    for (let j = (i + 1) & mask; values[j] !== EMPTY; j = (j + 1) & mask) {
      const home = hash(keys[j]!) & mask;
      // Entry j may fill hole i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        keys[i] = keys[j]!;
        values[i] = values[j]!;
        i = j;
      }
    }
    values[i] = EMPTY;
  }

  /** Calls `fn` with every value. */
  forEachValue(fn: (value: number) => void): void {
    const values = this.values;
    for (let i = 0; i < values.length; i++) if (values[i] !== EMPTY) fn(values[i]!);
  }

  private resize(capacity: number): void {
    const { keys, values } = this;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
    this.count = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== EMPTY) this.insert(keys[i]!, values[i]!);
  }
}

/** Mixes both 32-bit halves of an integer id (ids may exceed 2^32). */
function hash(id: number): number {
  const lo = id >>> 0;
  const hi = Math.floor(id / 4294967296) >>> 0;
  return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 16) ^ lo;
}
