/**
 * The simulator's only source of randomness: mulberry32 (a small, fast 32-bit generator) behind a
 * seed mixer, so neighbouring seeds give unrelated streams. Same seed, same calls: same numbers on every
 * platform, which is what makes a simulation reproducible.
 */

/** Mixes an arbitrary safe integer (or any number) into a well-spread 32-bit state. */
function mixSeed(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let h = (lo ^ Math.imul(hi, 0x9e3779b1) ^ 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = mixSeed(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed, with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Log-normally distributed: half the draws fall below `median`; `sigma` is the log-space spread. */
  logNormal(median: number, sigma: number): number {
    const u = 1 - this.next();
    const v = this.next();
    return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }

  /**
   * An index in [0, n) skewed towards 0: `skew` 1 is uniform, larger values concentrate the draws on
   * the first indices (a cheap stand-in for Zipf-like popularity).
   */
  skewed(n: number, skew: number): number {
    return Math.min(n - 1, Math.floor(n * Math.pow(this.next(), skew)));
  }

  /** An independent generator derived from this one's state and `salt`. */
  fork(salt: number): Prng {
    return new Prng((this.next() * 4294967296) ^ Math.imul(salt, 0x9e3779b1));
  }
}
