/**
 * The served disks' content hashes, kept current while the guest runs (content/chunk-hashes.ts), so a
 * save records them without reading every disk: the chunks are hashed in the background once, then
 * again only where the guest wrote. Fed from the domain's event stream: a chunk counts as written when
 * the Complete of a write or discard touching it is seen, which is after its data reached the file.
 */
import type { EventBatch } from '../../../core/events/batch.ts';
import { IoDir, Op } from '../../../core/events/batch.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import { ChunkHashes, type ChunkedContent, type ChunkList } from '../content/chunk-hashes.ts';
import type { DiskStore } from '../blkif/ports.ts';

export interface ContentDisk {
  readonly id: number;
  readonly sectors: number;
  readonly store: DiskStore;
}

export interface ContentTiming {
  /** When the first background pass starts (a restore hands its hashes over before then). */
  readonly firstMs: number;
  /** How often stale chunks are hashed again in the background. */
  readonly everyMs: number;
}

export const DEFAULT_CONTENT_TIMING: ContentTiming = { firstMs: 20_000, everyMs: 15_000 };

export interface DiskContentStatus {
  readonly id: number;
  readonly chunks: number;
  /** Chunks not hashed since their last write (all of them before the first pass). */
  readonly stale: number;
}

export class TrackedContent {
  private readonly disks: Map<number, { chunks: ChunkHashes; store: DiskStore }>;
  /** Writes and discards in flight: id -> [disk, sector, count]. */
  private readonly writing = new Map<number, readonly [number, number, number]>();
  /** The background pass or quiesce refresh running, if any: they take turns. */
  private work: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A quiesce is waiting: a background pass stops at its next chunk. */
  private quiescing = 0;

  constructor(
    disks: readonly ContentDisk[],
    private readonly hasher: Hasher64,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.disks = new Map(disks.map((d) => [d.id, { chunks: new ChunkHashes(d.sectors), store: d.store }]));
  }

  /** Notes the writes and discards of `b` that completed (called for every batch, in order). */
  observe(b: EventBatch): void {
    for (let i = 0; i < b.length; i++) {
      const op = b.op[i];
      if (op === Op.Submit && b.dir[i] !== IoDir.Read) {
        this.writing.set(b.id[i]!, [b.disk[i]!, b.sector[i]!, b.count[i]!]);
      } else if (op === Op.Complete) {
        const w = this.writing.get(b.id[i]!);
        if (!w) continue;
        this.writing.delete(b.id[i]!);
        this.disks.get(w[0])?.chunks.written(w[1], w[2]);
      }
    }
  }

  /** Starts the background passes. */
  start(timing: ContentTiming = DEFAULT_CONTENT_TIMING): void {
    const pass = (): void => {
      this.timer = undefined;
      if (this.stopped) return;
      this.work = this.work
        .then(() => this.refresh(() => this.stopped || this.quiescing > 0))
        .catch((err: unknown) => this.log(`disk content hashing failed: ${(err as Error).message ?? err}`))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(pass, timing.everyMs).unref();
        });
    };
    this.timer = setTimeout(pass, timing.firstMs).unref();
  }

  /** Takes a restore's chunk hashes for disk `id`, for chunks not written since; how many it took. */
  seed(id: number, given: ChunkList): number {
    const d = this.disks.get(id);
    if (!d || given.chunkSectors !== d.chunks.chunkSectors) return 0;
    return d.chunks.seed(given.chunks);
  }

  /**
   * The content hashes at a quiesce (no request in flight, every event applied): the stale chunks are
   * hashed now. The save asks for them once it has the map, and filters the stream meanwhile.
   */
  async atQuiesce(): Promise<{ hashes: ReadonlyMap<number, ChunkedContent>; chunksHashed: number }> {
    this.quiescing++;
    const settled = this.work.catch(() => undefined);
    const run = settled.then(async () => {
      const hashes = new Map<number, ChunkedContent>();
      let chunksHashed = 0;
      for (const [id, d] of this.disks) {
        chunksHashed += await d.chunks.refresh((s, dst) => d.store.read(s, dst), this.hasher);
        const c = d.chunks.digest(this.hasher);
        if (c) hashes.set(id, c);
      }
      return { hashes, chunksHashed };
    });
    this.work = run;
    return run.finally(() => this.quiescing--);
  }

  private async refresh(stop: () => boolean): Promise<void> {
    for (const d of this.disks.values()) {
      await d.chunks.refresh((s, dst) => d.store.read(s, dst), this.hasher, stop);
    }
  }

  status(): DiskContentStatus[] {
    return [...this.disks].map(([id, d]) => ({ id, chunks: d.chunks.chunks, stale: d.chunks.stale }));
  }

  /** Ends the background passes; resolves once none is reading (before the stores close). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.work.catch(() => undefined);
  }
}
