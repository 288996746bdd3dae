/**
 * The direct-fill restore's stream (docs/xen-stream.md, "Sparse stream"): the saved `xl save` stream
 * with each left-out page (its bytes on a disk, or zero) turned into an XALLOC entry of its PAGE_DATA
 * record, which libxc's restore populates without data (xg_sr_restore.c, page_type_to_populate). So
 * `xl restore` reads only what the image holds; the pages it allocated empty are filled afterwards,
 * straight from the disks into the paused domain (fill.ts), and checked there.
 *
 * Everything else passes through verbatim, in order. Every byte comes from image records whose checksums
 * the reader has verified; what no longer can be checked is the whole-stream hash, which covers bytes
 * this stream leaves out: fill.ts checks each of those pages against its own hash instead.
 */
import { ImageFormatError } from '../../../core/errors.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import {
  align8,
  LibxcRec,
  LibxlRec,
  PAGE_SIZE,
  PageType,
  pageTypeHasData,
  PFN_BITS,
  XL_HEADER_SIZE,
} from '../stream/format.ts';
import type { RestoredMap } from '../tracked-domain.ts';
import type { RecordedContent, XenDisk, XenEnd } from './format.ts';
import { XenImageReader, type MapEntries, type XenImageItem } from './reader.ts';
import type { StreamSink } from './rebuild.ts';

/** The pages a sparse stream leaves for the fill: the last word on each pfn it names. */
export interface FillPlan {
  /** Pages that must be all zero. */
  readonly zero: Uint32Array;
  /** Pages whose bytes are on a disk, with the hash the image recorded for them. */
  readonly mapped: RestoredMap & { readonly hash: BigUint64Array };
}

/**
 * Where a PV guest's own p2m lies, from the stream's X86_PV_INFO and X86_PV_P2M_FRAMES records: libxc's
 * restore writes the new pfn -> machine frame table into those pages (update_guest_p2m) before the
 * domain is left paused, and nothing else says where a paused, restored PV guest's pages are.
 */
export interface PvP2mFrames {
  /** Bytes per p2m entry: the guest's word size. */
  readonly width: number;
  /** Highest pfn the p2m covers. */
  readonly endPfn: number;
  /** pfns of the pages holding the p2m, in order. */
  readonly pfns: Float64Array;
}

export interface SparseResult {
  /** Bytes of the sparse stream. */
  readonly bytes: number;
  readonly plan: FillPlan;
  readonly disks: readonly XenDisk[];
  /** Whole-content hash of each disk, as recorded. */
  readonly diskHashes: ReadonlyMap<number, RecordedContent>;
  readonly end: XenEnd;
  /** PV streams only. */
  readonly p2m?: PvP2mFrames;
}

const LIBXC_HEADERS = 24 + 16;
/** The pfn bits (51-32) of a pfn word's high half. */
const PFN_HIGH_MASK = (1 << (PFN_BITS - 32)) - 1;
/** pfns below this are tracked in a typed array (64 GiB of guest), the rest in a Map. */
const LAST_DENSE = 1 << 24;
/** Pieces smaller than this are gathered before they reach the sink. */
const SINK_PIECE = 4 << 20;
const DIRECT_PIECE = 64 << 10;

const u32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

const broken = (message: string): ImageFormatError =>
  new ImageFormatError(`the image's stream cannot be walked: ${message}`, 'STREAM');

/**
 * Consecutive payload slots of one kind: kept pages (their bytes, valid until the cursor moves on), zero
 * pages, or pages of a MAP item (entries `from` .. `from + n - 1`). Handed out a run at a time, so a
 * record's pages are sorted out in a loop, not an await per page.
 */
type SlotRun =
  | { readonly kind: 'kept'; readonly n: number; readonly bytes: Uint8Array }
  | { readonly kind: 'zero'; readonly n: number }
  | { readonly kind: 'map'; readonly n: number; readonly entries: MapEntries; readonly from: number };

/** Reads the image's items as the stream they stand for: stream bytes, and left-out page slots. */
class ItemCursor {
  private item: XenImageItem | undefined;
  /** Position inside `item`: a byte offset (stream) or an entry/page index (map, zero). */
  private at = 0;
  private readonly page = new Uint8Array(PAGE_SIZE);

  constructor(private readonly items: AsyncIterator<XenImageItem>) {}

  private left(): number {
    const it = this.item!;
    return it.kind === 'stream'
      ? it.bytes.length - this.at
      : it.kind === 'zero'
        ? it.pages - this.at
        : it.entries.count - this.at;
  }

  /** The current item, once it has something left; undefined at the end of the image. */
  private async current(): Promise<XenImageItem | undefined> {
    while (!this.item || this.left() === 0) {
      const next = await this.items.next();
      if (next.done) return (this.item = undefined);
      this.item = next.value;
      this.at = 0;
    }
    return this.item;
  }

  private async streamItem(what: string): Promise<XenImageItem & { kind: 'stream' }> {
    const it = await this.current();
    if (!it) throw broken(`the image ends inside ${what}`);
    if (it.kind !== 'stream') throw broken(`left-out pages where the stream has ${what}`);
    return it;
  }

  /** The next `n` stream bytes, copied. */
  async read(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    for (let got = 0; got < n;) {
      const it = await this.streamItem(what);
      const take = Math.min(n - got, it.bytes.length - this.at);
      out.set(it.bytes.subarray(this.at, this.at + take), got);
      this.at += take;
      got += take;
    }
    return out;
  }

  /** Hands the next `n` stream bytes to `emit`, as views (each awaited before the cursor moves on). */
  async pass(n: number, what: string, emit: (b: Uint8Array) => Promise<void>): Promise<void> {
    while (n > 0) {
      const it = await this.streamItem(what);
      const take = Math.min(n, it.bytes.length - this.at);
      await emit(it.bytes.subarray(this.at, this.at + take));
      this.at += take;
      n -= take;
    }
  }

  /** The next run of at most `max` slots. */
  async slots(max: number): Promise<SlotRun> {
    const it = await this.current();
    if (!it) throw broken('the image ends inside a PAGE_DATA record');
    const from = this.at;
    if (it.kind === 'zero' || it.kind === 'map') {
      const n = Math.min(max, this.left());
      this.at += n;
      return it.kind === 'zero' ? { kind: 'zero', n } : { kind: 'map', n, entries: it.entries, from };
    }
    const n = Math.min(max, Math.floor(this.left() / PAGE_SIZE));
    if (n === 0) {
      // A page split between two STREAM records.
      this.page.set(await this.read(PAGE_SIZE, 'a page payload'));
      return { kind: 'kept', n: 1, bytes: this.page };
    }
    this.at += n * PAGE_SIZE;
    return { kind: 'kept', n, bytes: it.bytes.subarray(from, from + n * PAGE_SIZE) };
  }

  async atEnd(): Promise<boolean> {
    return (await this.current()) === undefined;
  }
}

/** The fill plan as it is gathered: every left-out slot in stream order, and which pfn came last. */
class PlanBuilder {
  private n = 0;
  private pfn = new Uint32Array(4096);
  private disk = new Uint32Array(4096);
  private sector = new Float64Array(4096);
  private hash = new BigUint64Array(4096);
  /**
   * pfn -> 1 + index of its last left-out slot, or -1 once a later slot kept it (0: never left out). A
   * typed array for the pfns of guests up to 64 GiB; a Map beyond.
   */
  private last = new Int32Array(1 << 16);
  private readonly lastFar = new Map<number, number>();

  private setLast(pfn: number, v: number): void {
    if (pfn >= LAST_DENSE) {
      this.lastFar.set(pfn, v);
      return;
    }
    if (pfn >= this.last.length) {
      let size = this.last.length;
      while (size <= pfn) size *= 2;
      const grown = new Int32Array(Math.min(size, LAST_DENSE));
      grown.set(this.last);
      this.last = grown;
    }
    this.last[pfn] = v;
  }

  private getLast(pfn: number): number {
    return pfn >= LAST_DENSE ? (this.lastFar.get(pfn) ?? 0) : (this.last[pfn] ?? 0);
  }

  private push(pfn: number, disk: number): number {
    if (this.n === this.pfn.length) this.grow();
    this.pfn[this.n] = pfn;
    this.disk[this.n] = disk;
    this.setLast(pfn, this.n + 1);
    return this.n++;
  }

  addZero(pfn: number): void {
    this.push(pfn, ZERO_DISK);
  }

  /** Entry `at` of a MAP record stands for `pfn`. */
  addMapped(pfn: number, e: MapEntries, at: number): void {
    const i = this.push(pfn, e.disk[at]!);
    this.sector[i] = e.sector[at]!;
    this.hash[i] = e.hash[at]!;
  }

  /** A page the stream carries: it supersedes any earlier left-out copy (libxc: the last one wins). */
  kept(pfn: number): void {
    if (this.getLast(pfn) > 0) this.setLast(pfn, -1);
  }

  private grow(): void {
    const size = this.pfn.length * 2;
    const pfn = new Uint32Array(size);
    const disk = new Uint32Array(size);
    const sector = new Float64Array(size);
    const hash = new BigUint64Array(size);
    pfn.set(this.pfn);
    disk.set(this.disk);
    sector.set(this.sector);
    hash.set(this.hash);
    this.pfn = pfn;
    this.disk = disk;
    this.sector = sector;
    this.hash = hash;
  }

  /** Zero pages are the entries with `disk` ZERO_DISK. */
  build(): FillPlan {
    let zeros = 0;
    let maps = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.getLast(this.pfn[i]!) !== i + 1) continue;
      if (this.disk[i] === ZERO_DISK) zeros++;
      else maps++;
    }
    const zero = new Uint32Array(zeros);
    const mapped = {
      length: maps,
      pfn: new Uint32Array(maps),
      disk: new Uint32Array(maps),
      sector: new Float64Array(maps),
      hash: new BigUint64Array(maps),
    };
    for (let i = 0, z = 0, m = 0; i < this.n; i++) {
      if (this.getLast(this.pfn[i]!) !== i + 1) continue;
      if (this.disk[i] === ZERO_DISK) {
        zero[z++] = this.pfn[i]!;
        continue;
      }
      mapped.pfn[m] = this.pfn[i]!;
      mapped.disk[m] = this.disk[i]!;
      mapped.sector[m] = this.sector[i]!;
      mapped.hash[m++] = this.hash[i]!;
    }
    return { zero, mapped };
  }
}

/** No blkif device number is this large (they fit in 28 bits): marks a zero page in the plan. */
const ZERO_DISK = 0xffff_ffff;

/** Gathers small pieces into large writes; large pieces reach the sink as they are. */
function piecewise(sink: StreamSink): {
  emit(b: Uint8Array): Promise<void>;
  drain(): Promise<void>;
  bytes(): number;
} {
  const pending = new Uint8Array(SINK_PIECE);
  let used = 0;
  let total = 0;
  const drain = async (): Promise<void> => {
    if (used === 0) return;
    await sink(pending.subarray(0, used));
    used = 0;
  };
  return {
    async emit(b) {
      total += b.length;
      if (b.length >= DIRECT_PIECE || used + b.length > pending.length) await drain();
      if (b.length >= DIRECT_PIECE) return sink(b);
      pending.set(b, used);
      used += b.length;
    },
    drain,
    bytes: () => total,
  };
}

/**
 * Writes the sparse stream of the image at `path` into `sink` and returns the fill plan. Refuses an
 * image whose stream has a VERIFY record (its later pages are compared, not written: a fill would
 * write them) or a left-out page table (XALLOC would drop its type).
 */
export async function sparseXenStream(
  path: string,
  hasher: Hasher64,
  sink: StreamSink,
): Promise<SparseResult> {
  const reader = await XenImageReader.open(path, hasher);
  const items = reader.items();
  const c = new ItemCursor(items);
  const out = piecewise(sink);
  const plan = new PlanBuilder();
  let record = new Uint8Array(0);
  let width = 0;
  let p2m: Omit<PvP2mFrames, 'width'> | undefined;

  const pageData = async (head: Uint8Array): Promise<void> => {
    const length = u32(head, 4);
    const pageHead = await c.read(8, 'a PAGE_DATA header');
    const count = u32(pageHead, 0);
    const pfnBytes = await c.read(8 * count, 'a PAGE_DATA pfn array');
    // Each pfn word as two 32-bit halves: type in bits 31-28 of the high half, pfn in its bits 19-0
    // and the low half. No BigInt per page: under an emulated CPU those and their garbage collection
    // had made this walk the slowest part of a restore.
    const half = new Uint32Array(pfnBytes.buffer, pfnBytes.byteOffset, 2 * count);
    let slots = 0;
    for (let i = 0; i < count; i++) if (pageTypeHasData(half[2 * i + 1]! >>> 28)) slots++;
    if (length !== 8 + 8 * count + PAGE_SIZE * slots) {
      throw broken(`a PAGE_DATA record of ${count} pages (${slots} with data) is ${length} bytes long`);
    }
    const payload = 16 + 8 * count;
    if (record.length < payload + PAGE_SIZE * slots) record = new Uint8Array(payload + PAGE_SIZE * slots);
    let kept = 0;
    let left = slots;
    let run: SlotRun | undefined;
    let j = 0;
    // Kept pages that follow each other in a run are copied into the record together.
    let copyFrom = 0;
    let copyN = 0;
    let copyTo = 0;
    const flush = (): void => {
      if (copyN > 0 && run?.kind === 'kept') {
        record.set(run.bytes.subarray(copyFrom * PAGE_SIZE, (copyFrom + copyN) * PAGE_SIZE), copyTo);
      }
      copyN = 0;
    };
    for (let i = 0; i < count; i++) {
      const high = half[2 * i + 1]!;
      const type = high >>> 28;
      if (!pageTypeHasData(type)) continue;
      const pfn = half[2 * i]! + (high & PFN_HIGH_MASK) * 2 ** 32;
      if (!run || j === run.n) {
        flush();
        run = await c.slots(left);
        j = 0;
      }
      left--;
      const k = j++;
      if (run.kind === 'kept' || (run.kind === 'zero' && type !== PageType.NOTAB)) {
        // A zero page table keeps its type, so it travels as 4096 zero bytes.
        const at = payload + PAGE_SIZE * kept++;
        if (run.kind === 'zero') record.fill(0, at, at + PAGE_SIZE);
        else if (copyN > 0 && k === copyFrom + copyN) copyN++;
        else {
          flush();
          copyFrom = k;
          copyTo = at;
          copyN = 1;
        }
        plan.kept(pfn);
        continue;
      }
      if (type !== PageType.NOTAB) throw broken(`pfn ${pfn} of type ${type} is left out as a disk page`);
      if (pfn > 0xffff_ffff) throw broken(`pfn ${pfn} is beyond what a fill plan holds`);
      half[2 * i + 1] = ((PageType.XALLOC << 28) | (high & 0x0fff_ffff)) >>> 0;
      if (run.kind === 'zero') {
        plan.addZero(pfn);
        continue;
      }
      const at = run.from + k;
      if (run.entries.pfn[at] !== pfn) {
        throw broken(`a MAP entry names pfn ${run.entries.pfn[at]} where the stream has pfn ${pfn}`);
      }
      plan.addMapped(pfn, run.entries, at);
    }
    flush();
    const bytes = payload + PAGE_SIZE * kept;
    record.set(head);
    new DataView(record.buffer).setUint32(4, bytes - 8, true);
    record.set(pageHead, 8);
    record.set(pfnBytes, 16);
    await out.emit(record.subarray(0, bytes));
  };

  /** The libxc stream up to its END (false) or a CHECKPOINT record, which hands back to libxl (true). */
  const libxc = async (withHeaders: boolean): Promise<boolean> => {
    if (withHeaders) await out.emit(await c.read(LIBXC_HEADERS, 'the libxc headers'));
    for (;;) {
      const head = await c.read(8, 'a libxc record header');
      const type = u32(head, 0);
      if (type === LibxcRec.PAGE_DATA) {
        await pageData(head);
        continue;
      }
      if (type === LibxcRec.VERIFY) {
        throw broken('its libxc stream has a VERIFY record; restore it with --fill stream');
      }
      if (type === LibxcRec.X86_PV_INFO || type === LibxcRec.X86_PV_P2M_FRAMES) {
        // Small records, read whole: u8 guest_width | ... and u32 start | u32 end | u64 pfn[].
        const body = await c.read(align8(u32(head, 4)), 'a PV record');
        if (type === LibxcRec.X86_PV_INFO) width = body[0]!;
        else if (u32(body, 0) === 0 && body.length >= 8) {
          const frames = new BigUint64Array(body.buffer, 8, (u32(head, 4) - 8) / 8);
          p2m = { endPfn: u32(body, 4), pfns: Float64Array.from(frames, Number) };
        }
        await out.emit(head);
        await out.emit(body);
        continue;
      }
      await out.emit(head);
      await c.pass(align8(u32(head, 4)), 'a libxc record', out.emit);
      if (type === LibxcRec.END) return false;
      if (type === LibxcRec.CHECKPOINT) return true;
    }
  };

  try {
    const xl = await c.read(XL_HEADER_SIZE, 'the xl header');
    await out.emit(xl);
    await c.pass(u32(xl, 44), 'the xl config', out.emit);
    await out.emit(await c.read(16, 'the libxl header'));
    let inCheckpoint = false;
    for (;;) {
      const head = await c.read(8, 'a libxl record header');
      const type = u32(head, 0);
      await out.emit(head);
      await c.pass(align8(u32(head, 4)), 'a libxl record', out.emit);
      if (type === LibxlRec.END) break;
      if (type === LibxlRec.LIBXC_CONTEXT) inCheckpoint = await libxc(true);
      // Checkpointed streams (Remus/COLO) hand back to libxc, which goes on with its records.
      else if (type === LibxlRec.CHECKPOINT_END && inCheckpoint) inCheckpoint = await libxc(false);
    }
    if (!(await c.atEnd())) throw broken('bytes follow the libxl END record');
    await out.drain();
  } finally {
    await items.return(undefined);
  }
  return {
    bytes: out.bytes(),
    plan: plan.build(),
    disks: reader.disks,
    diskHashes: reader.diskHashes,
    end: reader.end!,
    ...(p2m && width ? { p2m: { ...p2m, width } } : {}),
  };
}
