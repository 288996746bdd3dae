/**
 * Log-dirty epochs as the core's epoch delivery: every interval, CLEAN the bitmap and append one Dirty
 * event with its pages to the domain's event stream. Pages our own grant copies filled are dirty too
 * (Xen marks grant-copy destinations); the tracker's hash revalidation keeps those mappings when the
 * page still hashes like its sectors.
 *
 * Where log-dirty is unavailable (PV guests on a hypervisor built without shadow paging), tracking
 * runs on disk events only and says so in its status: the save then relies on its byte-for-byte check
 * of every left-out page against the disk, which holds without any memory-write stream.
 */
import { dirtyPfns } from './bitmap.ts';
import type { LogDirtyPort } from './ports.ts';

export interface DirtySink {
  dirty(pfns: Uint32Array): void;
  flush(): void;
}

export interface LogDirtyStatus {
  readonly state: 'active' | 'unavailable' | 'stopped';
  /** Why log-dirty is unavailable. */
  readonly reason?: string;
  readonly intervalMs: number;
  readonly epochs: number;
  readonly dirtyPages: number;
  /** Milliseconds the last and the slowest CLEAN took. */
  readonly lastCleanMs: number;
  readonly maxCleanMs: number;
  /** Times log-dirty was turned back on after something (`xl save`) turned it off. */
  readonly reenabled: number;
}

export class LogDirtyEpochs {
  private timer: NodeJS.Timeout | undefined;
  private state: LogDirtyStatus['state'] = 'stopped';
  private reason: string | undefined;
  private epochs = 0;
  private dirtyPages = 0;
  private lastCleanMs = 0;
  private maxCleanMs = 0;
  private reenabled = 0;

  constructor(
    private readonly port: LogDirtyPort,
    private readonly sink: DirtySink,
    /** Pages the tracker knows (bits past it are ignored). */
    private readonly pageCount: number,
    readonly intervalMs: number,
    private readonly onError: (message: string) => void = () => {},
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`log-dirty interval must be > 0 ms, got ${intervalMs}`);
  }

  /** Enables log-dirty and starts the epochs; false (status says why) if log-dirty is unavailable. */
  start(): boolean {
    const why = this.port.enable();
    if (why !== undefined) {
      this.state = 'unavailable';
      this.reason = why;
      return false;
    }
    // Whatever the guest wrote before tracking started is already covered: nothing is mapped yet.
    this.port.clean(false);
    this.state = 'active';
    this.schedule();
    return true;
  }

  get active(): boolean {
    return this.state === 'active';
  }

  /** Ends the current epoch now (before a checkpoint barrier); returns its dirty page count. */
  tick(final = false): number {
    if (this.state !== 'active') return 0;
    const t0 = performance.now();
    let bits: Uint8Array;
    try {
      bits = this.port.clean(final);
    } catch (err) {
      // Someone turned log-dirty off under us (a concurrent `xl save`): every page is suspect.
      this.onError(`log-dirty CLEAN failed: ${err instanceof Error ? err.message : String(err)}`);
      this.allDirty();
      return this.pageCount;
    }
    const ms = performance.now() - t0;
    this.lastCleanMs = ms;
    this.maxCleanMs = Math.max(this.maxCleanMs, ms);
    const pfns = dirtyPfns(bits, this.pageCount);
    this.epochs++;
    this.dirtyPages += pfns.length;
    this.sink.dirty(pfns);
    this.sink.flush();
    return pfns.length;
  }

  /**
   * After `xl save` (its cleanup turns log-dirty off): turn it back on and report every page dirty,
   * since writes made while it was off were not seen. Revalidation keeps the mappings still true.
   */
  reenable(): boolean {
    if (this.state === 'unavailable') return false;
    this.stopTimer();
    const why = this.port.enable();
    if (why !== undefined) {
      this.state = 'unavailable';
      this.reason = why;
      this.allDirty();
      return false;
    }
    this.port.clean(false);
    this.reenabled++;
    this.allDirty();
    this.state = 'active';
    this.schedule();
    return true;
  }

  stop(): void {
    this.stopTimer();
    if (this.state === 'active') this.port.disable();
    if (this.state !== 'unavailable') this.state = 'stopped';
  }

  /** Pauses the epochs without turning log-dirty off (while a save owns the domain). */
  hold(): void {
    this.stopTimer();
  }

  status(): LogDirtyStatus {
    return {
      state: this.state,
      ...(this.reason !== undefined ? { reason: this.reason } : {}),
      intervalMs: this.intervalMs,
      epochs: this.epochs,
      dirtyPages: this.dirtyPages,
      lastCleanMs: this.lastCleanMs,
      maxCleanMs: this.maxCleanMs,
      reenabled: this.reenabled,
    };
  }

  private allDirty(): void {
    const all = new Uint32Array(this.pageCount);
    for (let i = 0; i < all.length; i++) all[i] = i;
    this.sink.dirty(all);
    this.sink.flush();
  }

  private schedule(): void {
    this.stopTimer();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
