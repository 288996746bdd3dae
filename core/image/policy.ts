/** The image policies the tools and benchmarks compare. */
import type { ImagePolicy } from './types.ts';

export const POLICIES: {
  readonly baseline: ImagePolicy;
  readonly p2b: ImagePolicy;
  readonly 'p2b+zero': ImagePolicy;
} = Object.freeze({
  /** Every page as data, like an unmodified Xen save: the reference point for size and speed. */
  baseline: Object.freeze({ useMap: false, elideZero: false, verifyMapped: false }),
  /** Mapped pages as references; verified, so a missed invalidation costs space, never correctness. */
  p2b: Object.freeze({ useMap: true, elideZero: false, verifyMapped: true }),
  /** As p2b, and all-zero pages as extents. */
  'p2b+zero': Object.freeze({ useMap: true, elideZero: true, verifyMapped: true }),
});
