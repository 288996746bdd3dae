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

/**
 * A port whose log-dirty is switched off by the user (`--log-dirty-ms 0`): tracking then runs as where
 * the hypervisor has none, and every page a save leaves out is still checked against the disk.
 */
export function switchedOff(port: LogDirtyPort): LogDirtyPort {
  return {
    pages: port.pages,
    enable: () => 'turned off (--log-dirty-ms 0)',
    disable: () => {},
    clean: () => {
      throw new Error('log-dirty is turned off');
    },
  };
}
