/** What log-dirty tracking needs from the hypervisor: libxenctrl in dom0, a fake in tests. */

export interface LogDirtyPort {
  /** Bits in the bitmap: the domain's guest frames (max gpfn + 1). */
  readonly pages: number;
  /** Turns log-dirty mode on; returns why not if it cannot (e.g. EOPNOTSUPP). */
  enable(): string | undefined;
  disable(): void;
  /**
   * CLEAN: the pages dirtied since the previous CLEAN, and clears them (atomically: Xen pauses the
   * domain for the copy). `final` also reports pages Xen itself holds write-mapped (paused domain).
   * The returned bitmap is valid until the next call.
   */
  clean(final: boolean): Uint8Array;
}
