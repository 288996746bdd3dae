/**
 * One connected virtual disk: takes requests off the ring, resolves each segment to the guest page it
 * names, moves the data, answers, and reports every request to the core as Submit/Complete events.
 *
 * What the core's rules need from each request:
 * - reads and writes (also FLUSH_DISKCACHE/WRITE_BARRIER carrying data, which Linux uses for FUA
 *   writes) become Submit with one [pfn, first, last] segment per granted page, so whole-page segments
 *   map and partial ones invalidate (rule 4); Complete says whether the data movement succeeded, and a
 *   failed one invalidates whatever it may have touched (rule 8);
 * - discards become discard Submit/Complete (the sectors read as zeros afterwards);
 * - flushes change no content and produce no event;
 * - a request refused before any data moved (bad grant, sectors outside the disk, malformed) touched
 *   nothing and produces no event.
 */
import type { Segment } from '../../../core/events/batch.ts';
import type { BlkifRequest } from './codec.ts';
import { resolveGrant, type FrameTranslator, type GrantTable } from './grants.ts';
import { BlkifStatus, MAX_SEGMENTS, PAGE_BYTES } from './layout.ts';
import type { DataMover, DiskStore, GrantPiece, IoEvents } from './ports.ts';
import type { BackRing } from './ring.ts';

const SECTOR = 512;

export interface DeviceDeps {
  /** The disk id in the core's events (the virtual device number). */
  readonly diskId: number;
  readonly store: DiskStore;
  readonly ring: BackRing;
  readonly table: GrantTable;
  readonly frames: FrameTranslator;
  readonly mover: DataMover;
  readonly events: IoEvents;
  /** Sends an event-channel notification to the frontend. */
  readonly notify: () => void;
  /** Request ids for the core, unique across the domain's disks. */
  readonly nextId: () => number;
  readonly backendDomid: number;
  /** Called when a request is refused, with why (for the log; the guest sees an error status). */
  readonly onRefused?: (reason: string) => void;
  /** Called when the frontend broke the ring protocol; the device stops serving. */
  readonly onBroken?: (err: Error) => void;
}

export interface DeviceStats {
  requests: number;
  reads: number;
  writes: number;
  discards: number;
  flushes: number;
  failed: number;
  refused: number;
  wholePageSegments: number;
  partialSegments: number;
}

export function emptyStats(): DeviceStats {
  return {
    requests: 0,
    reads: 0,
    writes: 0,
    discards: 0,
    flushes: 0,
    failed: 0,
    refused: 0,
    wholePageSegments: 0,
    partialSegments: 0,
  };
}

type Planned =
  | { readonly ok: true; readonly pfns: readonly Segment[]; readonly pieces: readonly GrantPiece[] }
  | { readonly ok: false; readonly status: number; readonly reason: string };

export class BlkifDevice {
  readonly stats: DeviceStats = emptyStats();
  private inflight = 0;
  private paused = false;
  private broken = false;
  private idle: (() => void)[] = [];

  constructor(private readonly d: DeviceDeps) {}

  /** Requests taken off the ring whose data movement has not finished. */
  get inflightCount(): number {
    return this.inflight;
  }

  get isBroken(): boolean {
    return this.broken;
  }

  /** Takes and starts every request the frontend has produced (on a notification or a poll tick). */
  kick(): void {
    if (this.paused || this.broken) return;
    try {
      do {
        while (this.d.ring.unconsumed() > 0) this.start(this.d.ring.take());
      } while (this.d.ring.finalCheck());
    } catch (err) {
      this.broken = true;
      this.d.onBroken?.(err instanceof Error ? err : new Error(String(err)));
    }
    this.d.events.flush();
    this.publish();
  }

  /** Stops taking requests and waits until every taken one is answered: no data moves afterwards. */
  quiesce(): Promise<void> {
    this.paused = true;
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Takes requests again (those the guest queued meanwhile first). */
  resume(): void {
    this.paused = false;
    this.kick();
  }

  private start(req: BlkifRequest): void {
    this.stats.requests++;
    switch (req.kind) {
      case 'unsupported':
        return this.refuse(req.id, req.op, BlkifStatus.NotSupported, `operation ${req.op} is not supported`);
      case 'flush':
        this.stats.flushes++;
        return this.track(req.id, req.op, undefined, () => this.d.store.flush());
      case 'discard':
        return this.startDiscard(req);
      default:
        return this.startData(req);
    }
  }

  private startDiscard(req: Extract<BlkifRequest, { kind: 'discard' }>): void {
    const { store } = this.d;
    if (store.readOnly) return this.refuse(req.id, req.op, BlkifStatus.Error, 'discard on a read-only disk');
    if (!this.fits(req.sector, req.count)) {
      return this.refuse(
        req.id,
        req.op,
        BlkifStatus.Error,
        `discard ${req.sector}+${req.count} outside the disk`,
      );
    }
    this.stats.discards++;
    const id = this.d.nextId();
    this.d.events.submitDiscard(id, this.d.diskId, req.sector, req.count);
    this.track(req.id, req.op, id, () => store.discard(req.sector, req.count));
  }

  private startData(req: Extract<BlkifRequest, { kind: 'read' | 'write' }>): void {
    const plan = this.plan(req);
    if (!plan.ok) return this.refuse(req.id, req.op, plan.status, plan.reason);
    const bytes = plan.pieces.reduce((n, p) => n + p.len, 0);
    const { store, mover, events, diskId } = this.d;
    const id = this.d.nextId();
    events.submit(id, req.kind, diskId, req.sector, plan.pfns);
    if (req.kind === 'read') this.stats.reads++;
    else this.stats.writes++;
    this.track(req.id, req.op, id, async () => {
      const buf = mover.alloc(bytes);
      try {
        if (req.kind === 'read') {
          await store.read(req.sector, buf);
          if (!mover.toGuest(plan.pieces, buf)) throw new Error('grant copy to the guest failed');
        } else {
          if (!mover.fromGuest(plan.pieces, buf)) throw new Error('grant copy from the guest failed');
          if (req.flush) await store.flush();
          await store.write(req.sector, buf);
          if (req.flush) await store.flush();
        }
      } finally {
        mover.free(buf);
      }
    });
  }

  /** Checks the request and resolves its segments while the guest still grants them. */
  private plan(req: Extract<BlkifRequest, { kind: 'read' | 'write' }>): Planned {
    const refuse = (reason: string): Planned => ({ ok: false, status: BlkifStatus.Error, reason });
    if (req.declared < 1 || req.declared > MAX_SEGMENTS) return refuse(`${req.declared} segments`);
    if (req.kind === 'write' && this.d.store.readOnly) return refuse('write to a read-only disk');
    const pfns: Segment[] = [];
    const pieces: GrantPiece[] = [];
    let sectors = 0;
    for (const s of req.segs) {
      if (s.first > s.last || (s.last + 1) * SECTOR > PAGE_BYTES) {
        return refuse(`segment sectors ${s.first}..${s.last} do not fit a page`);
      }
      const pfn = resolveGrant(this.d.table, this.d.frames, s.gref, this.d.backendDomid, req.kind === 'read');
      if (typeof pfn === 'string') return refuse(pfn);
      pfns.push([pfn, s.first, s.last]);
      pieces.push({ gref: s.gref, offset: s.first * SECTOR, len: (s.last - s.first + 1) * SECTOR });
      sectors += s.last - s.first + 1;
    }
    if (!this.fits(req.sector, sectors)) return refuse(`sectors ${req.sector}+${sectors} outside the disk`);
    for (const [, first, last] of pfns) {
      if (first === 0 && last === 7) this.stats.wholePageSegments++;
      else this.stats.partialSegments++;
    }
    return { ok: true, pfns, pieces };
  }

  private fits(sector: number, count: number): boolean {
    return (
      Number.isSafeInteger(sector) && sector >= 0 && count >= 0 && sector + count <= this.d.store.sectors
    );
  }

  private refuse(guestId: bigint, op: number, status: number, reason: string): void {
    this.stats.refused++;
    this.d.onRefused?.(reason);
    this.d.ring.respond({ id: guestId, op, status });
  }

  /** Runs the I/O, then reports completion to the core before the guest can see the response. */
  private track(guestId: bigint, op: number, id: number | undefined, io: () => Promise<void>): void {
    this.inflight++;
    const done = (ok: boolean): void => {
      if (!ok) this.stats.failed++;
      if (id !== undefined) this.d.events.complete(id, ok);
      this.d.events.flush();
      this.d.ring.respond({ id: guestId, op, status: ok ? BlkifStatus.Okay : BlkifStatus.Error });
      this.publish();
      if (--this.inflight === 0) for (const wake of this.idle.splice(0)) wake();
    };
    io().then(
      () => done(true),
      () => done(false),
    );
  }

  /** Publishes responses and always notifies: see ring.ts on why a skipped notification is unsafe here. */
  private publish(): void {
    if (this.d.ring.unpushed === 0) return;
    this.d.ring.push();
    this.d.notify();
  }
}
