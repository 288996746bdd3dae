/**
 * Tracking one domain: its disks served by the blkif backend, log-dirty epochs, and the core tracker fed
 * by both through one event stream (optionally recorded as a trace). It is the TrackedDomain the save
 * orchestration quiesces: at quiesce the backend stops taking requests, in-flight I/O completes, the
 * last log-dirty epoch is closed, and a checkpoint barrier cuts the map.
 */
import type { Subscription } from 'rxjs';
import type { EventBatch } from '../../../core/events/batch.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import type { MapSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import { trackPageBlocks } from '../../../core/tracker/operators/track-page-blocks.ts';
import { PageBlockTracker, type Adoption, type OfferedMappings } from '../../../core/tracker/tracker.ts';
import type { TrackerStats } from '../../../core/tracker/stats.ts';
import { AttachedDisk } from '../blkif/attach.ts';
import type { DeviceStats } from '../blkif/device.ts';
import type { DiskStore } from '../blkif/ports.ts';
import { LogDirtyEpochs, type LogDirtyStatus } from '../logdirty/epochs.ts';
import { contentProbe, type PrefetchingProbe } from '../logdirty/probe.ts';
import { switchedOff } from '../logdirty/ports.ts';
import type {
  PageMapView,
  QuiescedContent,
  QuiesceTiming,
  TrackedDisk,
  TrackedDomain,
} from '../tracked-domain.ts';
import { EventBus } from './event-bus.ts';
import type { DomainHost } from './host.ts';
import { SnapshotView } from './map-view.ts';
import { TrackedContent, type ContentTiming, type DiskContentStatus } from './tracked-content.ts';
import type { ChunkList } from '../content/chunk-hashes.ts';

export interface SessionDisk extends TrackedDisk {
  readonly store: DiskStore;
}

/** How often deferred adoption retries when there are no log-dirty epochs to pace it. */
const ADOPTION_RETRY_MS = 1000;

export interface SessionOptions {
  /** Log-dirty epoch length; 0: log-dirty off. */
  readonly logDirtyMs: number;
  readonly hasher: Hasher64;
  /** Receives every event batch in stream order (trace recording); awaited in order. */
  readonly record?: (batch: EventBatch) => Promise<void>;
  readonly log?: (message: string) => void;
  /** How often the rings are re-polled (covers lost notifications), ms. */
  readonly pollMs?: number;
  /** When the disks' content is hashed in the background (false: only at a quiesce). */
  readonly contentTiming?: ContentTiming | false;
  /** How often the tracker rehearses its checkpoint cut (tracker.rehearseCheckpoint); false: never. */
  readonly rehearseMs?: number | false;
}

/** The first rehearsal comes soon, for a restored domain saved again shortly; then now and then. */
const FIRST_REHEARSAL_MS = 5000;
const REHEARSAL_MS = 15_000;

/** What a quiesce cuts: the map, and the disks' content hashes where they were kept current. */
export interface QuiescedCut {
  readonly snapshot: MapSnapshot;
  readonly timing: QuiesceTiming;
}

export interface SessionStatus {
  readonly domid: number;
  readonly kind: string;
  readonly pages: number;
  readonly state: 'tracking' | 'quiesced' | 'released';
  readonly disks: readonly (TrackedDisk & { readonly connected: boolean; readonly io: DeviceStats })[];
  readonly logDirty: LogDirtyStatus;
  readonly mappedPages: number;
  readonly tracker: TrackerStats;
  readonly checkpoints: number;
  /** How far each disk's content hash is current (see TrackedContent). */
  readonly content: readonly DiskContentStatus[];
  /** The mappings `xen restore` handed over before the domain first ran (adoptRestored), if any. */
  readonly adoptedAtRestore?: SessionAdoption;
}

export class TrackingSession implements TrackedDomain {
  readonly bus = new EventBus();
  readonly tracker: PageBlockTracker;
  readonly logDirty: LogDirtyEpochs;
  private readonly attached: AttachedDisk[];
  private readonly subs: Subscription[] = [];
  private poller: NodeJS.Timeout | undefined;
  private state: SessionStatus['state'] = 'tracking';
  private lastCut: MapSnapshot | undefined;
  private cuts = 0;
  private recording: Promise<void> = Promise.resolve();
  private recorder: ((batch: EventBatch) => Promise<void>) | undefined;
  private failure: unknown;
  private readonly probe: PrefetchingProbe;
  private adoption: SessionAdoption | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly content: TrackedContent;

  constructor(
    readonly host: DomainHost,
    private readonly diskList: readonly SessionDisk[],
    private readonly opts: SessionOptions,
  ) {
    const log = opts.log ?? (() => {});
    // Dirty reports go through the prefetch: the mapped pages among them are hashed in batches first.
    const dirtySink = {
      dirty: (pfns: Uint32Array) => {
        this.prefetch(pfns);
        this.bus.dirty(pfns);
      },
      flush: () => {
        this.bus.flush();
        // The tracker has applied the dirty report the prefetch was for: leftovers are stale now.
        this.probe.forget();
      },
    };
    this.logDirty =
      opts.logDirtyMs > 0
        ? new LogDirtyEpochs(host.logDirty, dirtySink, host.pageCount, opts.logDirtyMs, log)
        : new LogDirtyEpochs(switchedOff(host.logDirty), dirtySink, host.pageCount, ADOPTION_RETRY_MS, log);
    const haveLogDirty = this.logDirty.start();
    if (!haveLogDirty) log(`log-dirty unavailable: ${this.logDirty.status().reason ?? 'unknown reason'}`);
    const geometry = {
      pageCount: host.pageCount,
      disks: diskList.map((d) => ({ id: d.id, sectors: d.sectors })),
    };
    const stores = new Map(diskList.map((d) => [d.id, d.store]));
    // Revalidation only makes sense with dirty reports to revalidate.
    this.probe = contentProbe({
      hash: opts.hasher.hash64,
      readPage: (pfn, dst) => host.readPage(pfn, dst),
      disks: stores,
      claimed: (pfn) => this.tracker.map.hash?.[pfn] ?? 0n,
    });
    this.tracker = new PageBlockTracker(geometry, { revalidate: haveLogDirty, probe: this.probe });
    this.recorder = opts.record;
    this.content = new TrackedContent(diskList, opts.hasher, log);
    this.subs.push(this.bus.batches.subscribe((b) => this.content.observe(b)));
    if (opts.contentTiming !== false) this.content.start(opts.contentTiming);
    if (opts.rehearseMs !== false) this.scheduleRehearsals(opts.rehearseMs ?? REHEARSAL_MS);
    this.subs.push(
      this.bus.batches.subscribe((b) => {
        const record = this.recorder;
        if (!record) return;
        this.recording = this.recording
          .then(() => record(b))
          .catch((err: unknown) => {
            // A trace that cannot take an event ends; tracking, which the saves depend on, goes on.
            if (this.recorder === record) this.recorder = undefined;
            log(`recording stopped: ${err instanceof Error ? err.message : String(err)}`);
          });
      }),
    );
    this.subs.push(
      this.bus.batches.pipe(trackPageBlocks(this.tracker)).subscribe({
        next: (cut) => {
          this.lastCut = cut.mapping;
          this.cuts++;
        },
        error: (err: unknown) => {
          this.failure ??= err;
          log(`tracking stopped: ${err instanceof Error ? err.message : String(err)}`);
        },
      }),
    );
    let id = 0;
    this.attached = diskList.map(
      (d) =>
        new AttachedDisk(
          { domid: host.domid, vdev: d.vdev, devid: d.id, store: d.store, path: d.path },
          {
            xs: host.xs,
            connector: host.connector,
            mover: host.mover,
            table: () => host.grantTable(),
            frames: host.frames,
            events: this.bus,
            nextId: () => ++id,
            log,
          },
        ),
    );
    for (const a of this.attached) a.start();
    this.poller = setInterval(() => this.attached.forEach((a) => a.poll()), opts.pollMs ?? 20);
    this.poller.unref();
  }

  /**
   * Keeps the code of a quiesce's cut compiled: it runs once per save, each time in a process that
   * had never run it, and under emulation its first run cost a save 0.5-1.3 s (lab run 57).
   */
  private scheduleRehearsals(everyMs: number): void {
    const rehearse = (): void => {
      if (this.state === 'tracking' && this.failure === undefined) this.tracker.rehearseCheckpoint();
    };
    const first = setTimeout(
      () => {
        rehearse();
        const again = setInterval(rehearse, everyMs);
        again.unref();
        this.timers.push(again);
      },
      Math.min(FIRST_REHEARSAL_MS, everyMs),
    );
    first.unref();
    this.timers.push(first);
  }

  /** Hashes, in batches, the pages of a dirty report that are mapped (the only ones revalidation reads). */
  private prefetch(pfns: Uint32Array): void {
    if (!this.tracker?.map.hash) return;
    const map = this.tracker.map;
    let n = 0;
    const mapped = new Uint32Array(pfns.length);
    for (const pfn of pfns) if (map.isMapped(pfn)) mapped[n++] = pfn;
    if (n > 0) this.probe.prefetch(mapped.subarray(0, n), (p, each) => this.host.readPages(p, each));
  }

  get domid(): number {
    return this.host.domid;
  }

  /** The entries of `offer` whose page and sectors this session tracks. */
  private trackable(offer: OfferedMappings): OfferedMappings {
    const sizes = new Map(this.diskList.map((d) => [d.id, d.sectors]));
    return selectEntries(offer, (i) => {
      const size = sizes.get(offer.disk[i]!);
      const sector = offer.sector[i]!;
      return (
        offer.pfn[i]! < this.host.pageCount &&
        size !== undefined &&
        Number.isSafeInteger(sector) &&
        sector >= 0 &&
        sector + 8 <= size
      );
    });
  }

  /**
   * Seeds the map with the pages `xen restore` read back from the disks and verified, so the next save
   * of the unchanged guest leaves them out again instead of starting from an empty map.
   *
   * Why this is sound: `xl restore -p` leaves the domain paused, and it stays paused until `xen restore`
   * has had this answered, so the guest has run no instruction since its pages were written and no
   * disk request is in flight (refused otherwise: only before the domain's first disk request). The
   * disks are only written through this backend, which has written nothing yet, so each disk still
   * holds what the restore verified (the entries' hashes, as the image recorded them, are the claims).
   * Log-dirty was enabled when this session started, before the unpause, so every later guest write is
   * reported and revalidated as usual, and every later disk write kills the mappings on its sectors.
   * With revalidation each page is also hashed now and adopted only if it holds what it claims, which
   * covers whatever else touched it after the restore wrote it (a toolstack fix-up, say).
   */
  adoptRestored(offer: OfferedMappings, content?: ReadonlyMap<number, ChunkList>): SessionAdoption {
    this.usable();
    if (this.state !== 'tracking') throw new Error(`cannot adopt mappings while ${this.state}`);
    const requests = this.attached.reduce((n, a) => n + a.stats().requests, 0);
    if (requests > 0) {
      throw new Error(
        `cannot adopt a restore's mappings: the domain has made ${requests} disk request(s) already`,
      );
    }
    // Every event so far is applied first: adoption happens at this point of the stream.
    this.bus.flush();
    this.usable();
    // Entries outside what this session tracks (a page past its page count, a disk it does not serve)
    // are left out rather than failing the whole hand-over: each only costs the next save its page.
    const usable = this.trackable(offer);
    const { adopted, rejected, unreadable } = this.adoptReadable(usable, true);
    const adoption: SessionAdoption = {
      offered: offer.length,
      adopted,
      rejected: offer.length - adopted - unreadable.length,
      ...(unreadable.length > 0 ? { deferred: unreadable.length } : {}),
    };
    (this.opts.log ?? (() => {}))(
      `adopted ${adoption.adopted} of ${offer.length} restored pages` +
        (offer.length > usable.length
          ? `; ${offer.length - usable.length} outside the tracked pages or disks`
          : '') +
        (rejected > 0 ? `; ${rejected} did not hold what they claim` : '') +
        (unreadable.length > 0
          ? `; ${unreadable.length} not readable yet, tried again as the guest runs`
          : ''),
    );
    this.addAdoption(adoption);
    if (unreadable.length > 0) this.deferAdoption(unreadable);
    // The disks' chunk hashes, as the restore read them: sound for the same reason (nothing wrote them).
    for (const [id, c] of content ?? []) {
      const took = this.content.seed(id, c);
      (this.opts.log ?? (() => {}))(`took the restore's content hashes of ${took} chunks of disk ${id}`);
    }
    return adoption;
  }

  /**
   * Hashes the pages of `offer` that can be read now and adopts those holding what they claim: the
   * offer's own hashes (`offerHashes`, the disk as the restore verified it) or, once the guest has run
   * and may have written its disk, the hash of the sectors as they are now (the tracker's claimHash).
   * Synchronous from the hashing to the adoption, so no log-dirty epoch falls between them.
   */
  private adoptReadable(
    offer: OfferedMappings,
    offerHashes: boolean,
  ): { adopted: number; rejected: number; unreadable: OfferedMappings } {
    const readable = new Set<number>();
    if (this.tracker.map.hash && offer.length > 0) {
      this.probe.prefetch(offer.pfn, (p, each) =>
        this.host.readPages(p, (pfn, page) => {
          readable.add(pfn);
          each(pfn, page);
        }),
      );
    } else {
      for (const pfn of offer.pfn) readable.add(pfn);
    }
    let now = selectEntries(offer, (i) => readable.has(offer.pfn[i]!));
    if (!offerHashes && now.hash) now = { ...now, hash: undefined };
    let result: Adoption;
    try {
      // Without the offer's hashes the tracker hashes each entry's sectors as they are now: read
      // together here, not a page at a time.
      if (!now.hash && this.tracker.map.hash) this.probe.prefetchSectors(now);
      result = this.tracker.adoptVerifiedMappings(now);
    } finally {
      this.probe.forget();
    }
    return {
      adopted: result.adopted,
      rejected: result.rejected,
      unreadable: selectEntries(offer, (i) => !readable.has(offer.pfn[i]!)),
    };
  }

  /**
   * A PV domain `xl restore -p` has just built may have no p2m the toolstack can map yet (seen in the
   * lab for a guest's first restore, not its second), so its pages cannot be read before the unpause.
   * Those entries are adopted later, at a quiet point (no request in flight, every event applied) once
   * their pages can be read: each then only if its page equals its sectors as they are at that point. That is as sound as
   * a read completing there: a guest write before the hash shows in the hash, one after it is reported
   * by a later epoch, and a disk write after it kills the mapping by the usual rule. Tried once per
   * log-dirty interval for a minute; needs log-dirty (without it nothing is deferred).
   */
  private deferAdoption(pending: OfferedMappings): void {
    if (this.logDirty.status().state !== 'active') return;
    let left = 60;
    const probeBuf = new Uint8Array(4096);
    const timer = setInterval(() => {
      if (this.state === 'released' || --left < 0 || pending.length === 0) {
        clearInterval(timer);
        return;
      }
      if (this.state !== 'tracking' || !this.host.readPage(pending.pfn[0]!, probeBuf)) return;
      clearInterval(timer);
      void this.atQuietPoint(() => {
        if (this.state !== 'tracking') return;
        const { adopted, rejected, unreadable } = this.adoptReadable(pending, false);
        this.addAdoption({ offered: 0, adopted, rejected: rejected + unreadable.length, deferred: 0 });
        (this.opts.log ?? (() => {}))(
          `adopted ${adopted} more restored pages once the guest ran` +
            (rejected + unreadable.length > 0 ? `; ${rejected + unreadable.length} not` : ''),
        );
      }).catch((err: unknown) => {
        (this.opts.log ?? (() => {}))(
          `deferred adoption failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    }, this.opts.logDirtyMs || ADOPTION_RETRY_MS);
    timer.unref();
    this.timers.push(timer);
  }

  private addAdoption(a: SessionAdoption): void {
    const b = this.adoption;
    const deferred = (b?.deferred ?? 0) + (a.deferred ?? 0) - (a.offered === 0 ? a.adopted + a.rejected : 0);
    this.adoption = {
      offered: (b?.offered ?? 0) + a.offered,
      adopted: (b?.adopted ?? 0) + a.adopted,
      rejected: (b?.rejected ?? 0) + a.rejected,
      ...(deferred > 0 ? { deferred } : {}),
    };
  }

  disks(): readonly TrackedDisk[] {
    return this.diskList.map(({ id, vdev, path, sectors }) => ({ id, vdev, path, sectors }));
  }

  /** The snapshot a quiesce cut, for the control socket. */
  async quiesceCut(): Promise<QuiescedCut> {
    this.usable();
    const t0 = performance.now();
    await Promise.all(this.attached.map((a) => a.quiesce()));
    const t1 = performance.now();
    this.logDirty.hold();
    this.logDirty.tick(true);
    this.state = 'quiesced';
    this.lastCut = undefined;
    this.bus.checkpoint(`quiesce-${this.cuts + 1}`);
    this.usable();
    const cut = this.lastCut as MapSnapshot | undefined;
    if (!cut) throw new Error('the tracker produced no cut at the barrier');
    return { snapshot: cut, timing: { drainMs: t1 - t0, cutMs: performance.now() - t1 } };
  }

  async quiesce(): Promise<PageMapView> {
    const { snapshot, timing } = await this.quiesceCut();
    return new SnapshotView(snapshot, timing);
  }

  async quiescedContent(): Promise<QuiescedContent> {
    this.usable();
    if (this.state !== 'quiesced')
      throw new Error(`the disks' content is only given while quiesced, not ${this.state}`);
    const t0 = performance.now();
    const { hashes, chunksHashed } = await this.content.atQuiesce();
    return { hashes, ms: performance.now() - t0, chunksHashed };
  }

  async resume(): Promise<void> {
    this.usable();
    this.logDirty.reenable();
    this.state = 'tracking';
    for (const a of this.attached) a.resume();
  }

  /**
   * Starts sending every batch to `write`, from a point with no request in flight, so the trace holds
   * the Submit of every Complete it holds.
   */
  async startRecording(write: (batch: EventBatch) => Promise<void>): Promise<void> {
    this.usable();
    await this.atQuietPoint(() => {
      this.recorder = write;
    });
  }

  /** Stops recording at a quiet point and waits until every recorded batch was written. */
  async stopRecording(): Promise<void> {
    await this.atQuietPoint(() => {
      this.recorder = undefined;
    });
    await this.recording;
  }

  get recordingActive(): boolean {
    return this.recorder !== undefined;
  }

  private async atQuietPoint(step: () => void): Promise<void> {
    const wasQuiesced = this.state === 'quiesced';
    await Promise.all(this.attached.map((a) => a.quiesce()));
    this.bus.flush();
    step();
    if (!wasQuiesced && this.state === 'tracking') for (const a of this.attached) a.resume();
  }

  async release(): Promise<void> {
    if (this.state === 'released') return;
    this.state = 'released';
    if (this.poller) clearInterval(this.poller);
    for (const t of this.timers) clearInterval(t);
    this.logDirty.stop();
    for (const a of this.attached) await a.stop().catch(() => {});
    await this.content.stop();
    this.bus.end();
    await this.recording;
    for (const s of this.subs) s.unsubscribe();
    for (const d of this.diskList) await d.store.close().catch(() => {});
  }

  status(): SessionStatus {
    return {
      domid: this.host.domid,
      kind: this.host.kind,
      pages: this.host.pageCount,
      state: this.state,
      disks: this.disks().map((d, i) => ({
        ...d,
        connected: this.attached[i]!.connected,
        io: this.attached[i]!.stats(),
      })),
      logDirty: this.logDirty.status(),
      mappedPages: this.tracker.map.size,
      tracker: { ...this.tracker.stats },
      checkpoints: this.cuts,
      content: this.content.status(),
      ...(this.adoption ? { adoptedAtRestore: this.adoption } : {}),
    };
  }

  /** Recording errors and tracker errors surface at the next call. */
  private usable(): void {
    if (this.state === 'released') throw new Error(`domain ${this.host.domid} is no longer tracked`);
    if (this.failure !== undefined) {
      throw this.failure instanceof Error ? this.failure : new Error(String(this.failure));
    }
  }
}

/** A restore's hand-over as the session saw it; `deferred` entries wait for their pages to be readable. */
export interface SessionAdoption extends Adoption {
  readonly deferred?: number;
}

/** The entries `keep(i)` selects, every column (the hashes too, if any) in the same order. */
function selectEntries(offer: OfferedMappings, keep: (i: number) => boolean): OfferedMappings {
  const idx: number[] = [];
  for (let i = 0; i < offer.length; i++) if (keep(i)) idx.push(i);
  if (idx.length === offer.length) return offer;
  return {
    length: idx.length,
    pfn: Uint32Array.from(idx, (i) => offer.pfn[i]!),
    disk: Uint32Array.from(idx, (i) => offer.disk[i]!),
    sector: Float64Array.from(idx, (i) => offer.sector[i]!),
    ...(offer.hash ? { hash: BigUint64Array.from(idx, (i) => offer.hash![i]!) } : {}),
  };
}
