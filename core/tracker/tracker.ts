/**
 * The page-block tracker: applies the event stream to the page-to-block map, one invalidation rule per
 * method (numbered as in docs/invalidation.md). It is synchronous and allocation-light: the rxjs
 * operator in track-page-blocks.ts feeds it whole batches.
 */
import { IoDir, Op, type EventBatch } from '../events/batch.ts';
import { EventError } from '../errors.ts';
import { SECTORS_PER_PAGE, type ContentProbe, type GuestGeometry } from '../ports.ts';
import { DiskSpace } from '../pbmap/disk-space.ts';
import { sortedSnapshot, type MapSnapshot } from '../pbmap/map-snapshot.ts';
import { PageBlockMap } from '../pbmap/page-block-map.ts';
import { InflightTable } from './inflight.ts';
import { emptyStats, type TrackerStats } from './stats.ts';

export interface TrackerOptions {
  /**
   * Hash revalidation for epoch delivery: keep a 64-bit hash of each mapping's disk content, and on a
   * dirty report keep the mapping if the page still hashes the same. Needs `probe`.
   */
  readonly revalidate?: boolean;
  readonly probe?: ContentProbe;
}

/**
 * Mappings established outside the event stream, offered to adoptVerifiedMappings(): e.g. the pages a
 * restore read back from the disks and verified. Entry i claims page `pfn[i]` holds the 8 sectors
 * from `sector[i]` of disk `disk[i]`.
 */
export interface OfferedMappings extends MapSnapshot {
  /**
   * Hash of each entry's disk content (what the mapping claims), where the caller already has it (the
   * image recorded it and the restore verified the sectors against it). Else the probe hashes the disk.
   */
  readonly hash?: BigUint64Array;
}

/** What adoptVerifiedMappings() did with the offer. */
export interface Adoption {
  readonly offered: number;
  /** Entries now in the map. */
  readonly adopted: number;
  /** Entries whose page did not hash like the content they claim (revalidation on): not mapped. */
  readonly rejected: number;
}

/** A checkpoint barrier as the tracker saw it: the mappings an image may use at that instant. */
export interface CheckpointCut {
  readonly name: string;
  /** Number of events the tracker had applied when it reached the barrier. */
  readonly seq: number;
  readonly mapping: MapSnapshot;
}

const FULL_FIRST = 0;
const FULL_LAST = SECTORS_PER_PAGE - 1;

export class PageBlockTracker {
  readonly map: PageBlockMap;
  readonly space: DiskSpace;
  readonly stats: TrackerStats = emptyStats();
  private readonly inflight: InflightTable;
  private readonly probe: ContentProbe | undefined;
  private seq = 0;

  constructor(
    readonly geometry: GuestGeometry,
    opts: TrackerOptions = {},
  ) {
    if (opts.revalidate && !opts.probe) throw new TypeError('hash revalidation needs a content probe');
    this.space = new DiskSpace(geometry.disks);
    this.map = new PageBlockMap(geometry.pageCount, { withHashes: opts.revalidate === true });
    this.inflight = new InflightTable(geometry.pageCount);
    this.probe = opts.revalidate ? opts.probe : undefined;
  }

  /** Requests submitted and not yet completed. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Applies every event of `batch` in order; calls `onCheckpoint` at each barrier. */
  apply(batch: EventBatch, onCheckpoint: (cut: CheckpointCut) => void = () => {}): void {
    const pages = this.map.pageCount;
    for (let i = 0; i < batch.length; i++) {
      this.seq++;
      this.stats.events++;
      const from = batch.argStart[i]!;
      const to = batch.argStart[i + 1]!;
      switch (batch.op[i]) {
        case Op.Submit:
          this.submit(batch, i, from, to);
          break;
        case Op.Complete:
          this.complete(batch.id[i]!, batch.dir[i] === 1);
          break;
        case Op.MemWrite:
          for (let k = from; k < to; k++) {
            const pfn = batch.pfn[k]!;
            this.memWrite(pfn < pages ? pfn : this.page(pfn));
          }
          break;
        case Op.Release:
          for (let k = from; k < to; k++) this.release(this.page(batch.pfn[k]!));
          break;
        case Op.Dirty:
          for (let k = from; k < to; k++) this.dirty(this.page(batch.pfn[k]!));
          break;
        case Op.Checkpoint:
          onCheckpoint({ name: batch.labels.get(i) ?? '', seq: this.seq, mapping: this.checkpointMapping() });
          break;
        default:
          throw new EventError(`event ${i}: unknown op ${batch.op[i]}`);
      }
    }
  }

  private submit(b: EventBatch, i: number, from: number, to: number): void {
    const id = b.id[i]!;
    const dir = b.dir[i]! as IoDir;
    if (this.inflight.slotOf(id) >= 0)
      throw new EventError(`request ${id} submitted while already in flight`);
    if (dir !== IoDir.Read && dir !== IoDir.Write && dir !== IoDir.Discard) {
      throw new EventError(`request ${id}: unknown direction ${dir}`);
    }
    let count = b.count[i]!;
    if (dir === IoDir.Discard) to = from;
    else {
      if (to === from)
        throw new EventError(`request ${id}: a ${dir === IoDir.Read ? 'read' : 'write'} with no segments`);
      count = 0;
      const pages = this.map.pageCount;
      for (let k = from; k < to; k++) {
        const first = b.first[k]!;
        const last = b.last[k]!;
        // Column values are unsigned integers: only the upper bound can fail.
        if (b.pfn[k]! >= pages) this.page(b.pfn[k]!);
        if (first > last || last > FULL_LAST) {
          throw new EventError(
            `request ${id}: segment ${k - from} has sectors ${first}..${last}, want 0 <= first <= last <= 7`,
          );
        }
        count += last - first + 1;
      }
    }
    const start = this.space.toGlobal(b.disk[i]!, b.sector[i]!, count);
    // The segments stay in the batch's columns: batches are immutable once emitted.
    this.inflight.add({ id, dir, start, end: start + count, segs: b, from, to, submitSeq: this.seq });
  }

  private complete(id: number, ok: boolean): void {
    const slot = this.inflight.slotOf(id);
    if (slot < 0) throw new EventError(`completion of request ${id}, which is not in flight`);
    // Removed only afterwards: the rule 6 record of its pages lives as long as the request.
    this.completeInflight(slot, ok);
    this.inflight.remove(slot);
  }

  private completeInflight(slot: number, ok: boolean): void {
    if (!ok) {
      this.stats.failedRequests++;
      this.killUndefined(slot);
    } else if (this.inflight.conflicted(slot)) {
      this.stats.conflictedRequests++;
      this.killUndefined(slot);
    } else if (this.inflight.dir(slot) === IoDir.Read) this.completeRead(slot);
    else this.completeWrite(slot);
  }

  /** Rules 1, 4, 6: a read maps each untouched full-page segment and kills every other target page. */
  private completeRead(slot: number): void {
    const { pfn: pfns, first: firsts, last: lasts } = this.inflight.segments(slot);
    const to = this.inflight.segTo(slot);
    let g = this.inflight.start(slot);
    for (let k = this.inflight.segFrom(slot); k < to; k++) {
      const pfn = pfns[k]!;
      const first = firsts[k]!;
      const last = lasts[k]!;
      if (first !== FULL_FIRST || last !== FULL_LAST) {
        // Rule 4: part disk, part old content.
        if (this.map.isMapped(pfn)) this.stats.killedByPartialRead++;
        this.map.unmap(pfn);
      } else if (this.inflight.isTainted(slot, pfn)) {
        // Rule 6: the guest wrote the page while the DMA was under way; its content is undefined.
        this.stats.taintedSegments++;
        if (this.probe) this.revalidateTainted(pfn, g);
        else this.map.unmap(pfn);
      } else {
        // Rule 1: the page now holds exactly these sectors.
        this.map.map(pfn, g, this.claimHash(pfn, g));
        this.stats.mappedByRead++;
      }
      g += last - first + 1;
    }
  }

  /** Rules 2, 3, 6: a write kills every mapping on its sectors, then maps untouched full-page sources. */
  private completeWrite(slot: number): void {
    const start = this.inflight.start(slot);
    this.stats.killedByDiskChange += this.map.unmapOverlapping(start, this.inflight.end(slot));
    if (this.inflight.dir(slot) === IoDir.Discard) return;
    const { pfn: pfns, first: firsts, last: lasts } = this.inflight.segments(slot);
    const to = this.inflight.segTo(slot);
    let g = start;
    for (let k = this.inflight.segFrom(slot); k < to; k++) {
      const pfn = pfns[k]!;
      const first = firsts[k]!;
      const last = lasts[k]!;
      if (first === FULL_FIRST && last === FULL_LAST) {
        if (this.inflight.isTainted(slot, pfn)) this.stats.taintedSegments++;
        else {
          this.map.map(pfn, g, this.claimHash(pfn, g));
          this.stats.mappedByWrite++;
        }
      }
      g += last - first + 1;
    }
  }

  /** Rules 7, 8: a failed or racing request maps nothing; whatever it may have touched is undefined. */
  private killUndefined(slot: number): void {
    if (this.inflight.dir(slot) === IoDir.Read) this.unmapSegmentPages(slot);
    else {
      const end = this.inflight.end(slot);
      this.stats.killedByDiskChange += this.map.unmapOverlapping(this.inflight.start(slot), end);
    }
  }

  private unmapSegmentPages(slot: number): void {
    const pfns = this.inflight.segments(slot).pfn;
    const to = this.inflight.segTo(slot);
    for (let k = this.inflight.segFrom(slot); k < to; k++) this.map.unmap(pfns[k]!);
  }

  /** Rule 5 (and rule 6's record): the guest changed the page now. */
  private memWrite(pfn: number): void {
    this.inflight.noteMemWrite(pfn, this.seq);
    if (this.map.isMapped(pfn)) this.stats.killedByMemWrite++;
    this.map.unmap(pfn);
  }

  /** Rule 5: the page was given back; its content is gone. */
  private release(pfn: number): void {
    this.inflight.noteMemWrite(pfn, this.seq);
    if (this.map.isMapped(pfn)) this.stats.killedByRelease++;
    this.map.unmap(pfn);
  }

  /**
   * Epoch delivery: the page may have changed at any time since the last epoch, so it counts as written
   * for in-flight requests (rule 6) and its mapping dies unless revalidation proves the content intact.
   */
  private dirty(pfn: number): void {
    this.inflight.noteMemWrite(pfn, this.seq);
    if (!this.map.isMapped(pfn)) return;
    if (this.probe && this.probe.hashPage(pfn) === this.map.hash![pfn]) {
      this.stats.keptByRevalidation++;
      return;
    }
    this.stats.killedByDirty++;
    this.map.unmap(pfn);
  }

  /**
   * Rule 6 with hash revalidation: a full-page read segment whose page was reported written (or dirty)
   * while the request flew. With log-dirty a page a read fills has often been dirtied shortly before
   * (its previous use, an earlier read into it, a grant copy the completion event had not yet
   * followed), so an epoch that ends while the read flies taints it although the transfer then
   * overwrites every byte. Instead of dropping the page, decide by content: map it iff the page
   * hashes, now, like the sectors it was read from (the claim is the disk's hash, as for every
   * mapping, so the page cannot vouch for itself).
   *
   * Sound: the hash is taken now, at the completion (the probe is synchronous: no later event of this
   * page can be applied before the decision). A guest write before the hash is in the bytes hashed, so
   * a page it changed does not match and is not mapped. A write after the hash happens after the
   * completion in stream order and reaches the tracker as a later memory write or dirty report, which
   * kills (or revalidates) the mapping by the usual rule 5 / epoch rule. A page that cannot be read
   * gets a hash that cannot match its claim (the probe's contract), so it stays unmapped. The mapping is
   * put in first so that the probe sees the claim it is checked against.
   */
  private revalidateTainted(pfn: number, g: number): void {
    const claim = this.claimHash(pfn, g);
    this.map.map(pfn, g, claim);
    if (this.probe!.hashPage(pfn) === claim) this.stats.taintedKeptByRevalidation++;
    else this.map.unmap(pfn);
  }

  /**
   * Takes over mappings established outside the event stream, e.g. the pages a restore read back from
   * the disks and verified, so a tracker started for the restored domain does not start empty.
   *
   * Only at a quiet point: refused (throws) while any request is in flight, since an in-flight read
   * could overwrite an adopted page and an in-flight write its sectors with nothing in the stream to
   * say when. The caller vouches that the disk still holds what each entry claims (the restore
   * verified the sectors, and the disk is only written through the backend that feeds this tracker);
   * a later write or discard over the sectors kills the mapping by rules 2 and 3 as for any other.
   * With revalidation each page is also hashed now and adopted only if it equals its claim: a write
   * before this instant (e.g. the toolstack fixing up a page after the restore wrote it) is in the
   * bytes hashed, one after it is reported by a later epoch and revalidated as usual. Without
   * revalidation the entries are adopted as offered: the caller guarantees the guest has not run since
   * the pages were written (and the save's check of every left-out page is the last word anyway).
   * An entry replaces whatever mapping its page had; a rejected one leaves its page unmapped.
   */
  adoptVerifiedMappings(offer: OfferedMappings): Adoption {
    if (this.inflight.size > 0) {
      throw new EventError(
        `cannot adopt mappings while ${this.inflight.size} request(s) are in flight: only at a quiet point`,
      );
    }
    const n = offer.length;
    if (offer.pfn.length !== n || offer.disk.length !== n || offer.sector.length !== n) {
      throw new EventError(`offered mappings: columns of different lengths (${n} entries announced)`);
    }
    if (offer.hash && offer.hash.length !== n) {
      throw new EventError(`offered mappings: ${offer.hash.length} hashes for ${n} entries`);
    }
    // Checked in full before anything changes: a bad offer adopts nothing.
    const globals = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.page(offer.pfn[i]!);
      globals[i] = this.space.toGlobal(offer.disk[i]!, offer.sector[i]!, SECTORS_PER_PAGE);
    }
    let adopted = 0;
    for (let i = 0; i < n; i++) {
      const pfn = offer.pfn[i]!;
      const g = globals[i]!;
      const claim = this.probe ? (offer.hash?.[i] ?? this.claimHash(pfn, g)) : 0n;
      this.map.map(pfn, g, claim);
      if (this.probe && this.probe.hashPage(pfn) !== claim) {
        this.map.unmap(pfn);
        continue;
      }
      adopted++;
    }
    this.stats.adopted += adopted;
    this.stats.adoptionRejected += n - adopted;
    return { offered: n, adopted, rejected: n - adopted };
  }

  /** The content hash a new mapping claims: that of the disk sectors, which is what it promises. */
  private claimHash(pfn: number, g: number): bigint {
    if (!this.probe) return 0n;
    const { disk, sector } = this.space.fromGlobal(g);
    return this.probe.hashSectors(disk, sector);
  }

  /**
   * The cut a barrier would take now, computed and dropped, nothing counted: a long-lived tracker runs
   * this between events so that the code of its next real barrier is compiled already. (Its first cut
   * took 0.5-1.3 s of a save under emulation, against 24 ms natively; the JIT's first run is the cost.)
   */
  rehearseCheckpoint(): number {
    const excluded = this.stats.excludedAtCheckpoint;
    const n = this.checkpointMapping().length;
    this.stats.excludedAtCheckpoint = excluded;
    return n;
  }

  /**
   * Rule 9: at a barrier, pages targeted by in-flight reads and mappings onto sectors targeted by
   * in-flight writes or discards are undefined; everything else mapped goes into the cut.
   */
  private checkpointMapping(): MapSnapshot {
    const excluded = new Set<number>();
    const inflight = this.inflight;
    inflight.forEachSlot((slot) => {
      if (inflight.dir(slot) === IoDir.Read) {
        const pfns = inflight.segments(slot).pfn;
        for (let k = inflight.segFrom(slot); k < inflight.segTo(slot); k++) {
          if (this.map.isMapped(pfns[k]!)) excluded.add(pfns[k]!);
        }
      } else {
        this.map.forEachOverlapping(inflight.start(slot), inflight.end(slot), (pfn) => excluded.add(pfn));
      }
    });
    this.stats.excludedAtCheckpoint += excluded.size;
    const n = this.map.size - excluded.size;
    const pfns = new Uint32Array(n);
    const disks = new Uint32Array(n);
    const sectors = new Float64Array(n);
    const loc = this.map.loc;
    let j = 0;
    for (let pfn = 0; pfn < loc.length; pfn++) {
      const g = loc[pfn]!;
      if (g < 0 || excluded.has(pfn)) continue;
      const k = this.space.diskIndexOf(g);
      pfns[j] = pfn;
      disks[j] = this.space.ids[k]!;
      sectors[j] = g - this.space.baseOf(k);
      j++;
    }
    return sortedSnapshot(pfns, disks, sectors);
  }

  private page(pfn: number): number {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.map.pageCount) {
      throw new EventError(`page ${pfn} outside the guest's 0..${this.map.pageCount - 1}`);
    }
    return pfn;
  }
}
