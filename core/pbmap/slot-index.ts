/**
 * An open-addressing hash table from a 4 KiB disk slot (global sector / 8) to the head of a list of
 * pages, in typed arrays: no object per entry, so millions of entries cost tens of MB, not hundreds.
 * Linear probing with backward-shift deletion (no tombstones, so lookups never slow down with churn).
 */
const EMPTY = -1;

function mix(key: number): number {
  // Keys are integers below 2^53; fold the high part in so slots of a second disk spread too.
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class SlotIndex {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  private used = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.used;
  }

  /** Bytes held by the table's arrays. */
  get byteLength(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }

  /** The value stored for `key`, or -1. */
  get(key: number): number {
    const { keys, vals, mask } = this;
    for (let i = mix(key) & mask; ; i = (i + 1) & mask) {
      const v = vals[i]!;
      if (v === EMPTY) return EMPTY;
      if (keys[i] === key) return v;
    }
  }

  /** Stores `value` (>= 0) for `key`, replacing any previous value. */
  set(key: number, value: number): void {
    if ((this.used + 1) * 2 > this.vals.length) this.resize(this.vals.length * 2);
    const { keys, vals, mask } = this;
    for (let i = mix(key) & mask; ; i = (i + 1) & mask) {
      if (vals[i] === EMPTY) {
        keys[i] = key;
        vals[i] = value;
        this.used++;
        return;
      }
      if (keys[i] === key) {
        vals[i] = value;
        return;
      }
    }
  }

  /** Removes `key` if present. */
  delete(key: number): void {
    const { keys, vals, mask } = this;
    let i = mix(key) & mask;
    for (; ; i = (i + 1) & mask) {
      if (vals[i] === EMPTY) return;
      if (keys[i] === key) break;
    }
    // Backward-shift: pull later members of the probe run into the hole so no run is ever broken.
    let hole = i;
    for (let j = (hole + 1) & mask; vals[j] !== EMPTY; j = (j + 1) & mask) {
      const home = mix(keys[j]!) & mask;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!stays) {
        keys[hole] = keys[j]!;
        vals[hole] = vals[j]!;
        hole = j;
      }
    }
    vals[hole] = EMPTY;
    this.used--;
  }

  private resize(cap: number): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.used = 0;
    for (let i = 0; i < oldVals.length; i++) if (oldVals[i] !== EMPTY) this.set(oldKeys[i]!, oldVals[i]!);
  }
}
