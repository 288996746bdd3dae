/**
 * The single pass over guest memory in pfn order that writes every page not in MAP: all-zero pages as
 * ZERO extents (if the policy elides them), the rest as PAGE_DATA records of up to 1024 pages.
 *
 * Memory that offers page views is not copied at all: a record's pfns go into the sink's buffer and
 * its pages are written and checksummed from the views (gathered writes), views that lie next to each
 * other in the same buffer joined into one part. Other memory is read straight into the record being
 * built in the sink's buffer, so each page is copied once. Both produce the same bytes.
 */
import { PAGE_SIZE, type GuestMemory } from '../ports.ts';
import { PAGE_DATA_MAX_PAGES, RecordType, ZERO_MAX_EXTENTS } from './format.ts';
import { encodePageDataHeader, pageDataLength, pageDataPagesOffset } from './records/page-data.ts';
import { encodeZero } from './records/zero.ts';
import type { RecordSink } from './sink.ts';

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

export interface PageCounts {
  pagesZero: number;
  pagesData: number;
  /** Runs of consecutive zero pages, one ZERO extent each. */
  zeroExtents: number;
}

/** Zero extents in typed arrays, emitted as a ZERO record when full and at the end. */
class ZeroExtents {
  count = 0;
  readonly start = new Uint32Array(ZERO_MAX_EXTENTS);
  readonly pages = new Uint32Array(ZERO_MAX_EXTENTS);

  /**
   * Adds zero page `pfn` (ascending) and counts it; returns false, adding nothing, when it needs a new
   * extent and the record is full: the caller emits take() first (after the data record before it).
   */
  add(pfn: number, counts: PageCounts): boolean {
    const last = this.count - 1;
    if (last >= 0 && this.start[last]! + this.pages[last]! === pfn) this.pages[last]!++;
    else if (this.count === ZERO_MAX_EXTENTS) return false;
    else {
      this.start[this.count] = pfn;
      this.pages[this.count] = 1;
      this.count++;
      counts.zeroExtents++;
    }
    counts.pagesZero++;
    return true;
  }

  take(): Uint8Array {
    const body = encodeZero(this);
    this.count = 0;
    return body;
  }
}

/** The pfns a pass writes, ascending: every page (or those of `only`) except those in `skip`. */
class PagesToWrite {
  private j = 0;
  private s = 0;
  private readonly total: number;

  constructor(
    pageCount: number,
    private readonly skip: Uint32Array,
    private readonly only: Uint32Array | undefined,
  ) {
    this.total = only ? only.length : pageCount;
  }

  /** The next pfn to write, or -1 when there is none. */
  next(): number {
    const { skip, only } = this;
    while (this.j < this.total) {
      const pfn = only ? only[this.j++]! : this.j++;
      if (this.s < skip.length && skip[this.s] === pfn) this.s++;
      else return pfn;
    }
    return -1;
  }

  /** At most how many pfns next() returns from here on, the one it last returned included. */
  get left(): number {
    return this.total - this.j + 1;
  }
}

/**
 * Writes all pages not in `skip` (ascending pfns), or with `only` just those pages (ascending); returns
 * how many went to ZERO and PAGE_DATA.
 */
export async function writePages(
  sink: RecordSink,
  memory: GuestMemory,
  elideZero: boolean,
  skip: Uint32Array,
  only?: Uint32Array,
): Promise<PageCounts> {
  if (offersViews(memory)) return writePageViews(sink, memory, elideZero, skip, only);
  const counts: PageCounts = { pagesZero: 0, pagesData: 0, zeroExtents: 0 };
  const pfns = new Uint32Array(PAGE_DATA_MAX_PAGES);
  const zeros = new ZeroExtents();
  let body = -1;
  let n = 0;
  // Pages of the record being filled sit after room for the most pfns it can still get.
  let fill = 0;

  const closeData = (): void => {
    if (body >= 0 && n > 0) {
      const buf = sink.buf;
      // A record that got fewer pages than it had room for has a shorter pfn array: move its pages up.
      const pagesAt = body + pageDataPagesOffset(n);
      if (pagesAt !== body + fill) buf.copyWithin(pagesAt, body + fill, body + fill + n * PAGE_SIZE);
      encodePageDataHeader(sink.view, body, pfns, n);
      sink.commit(RecordType.PAGE_DATA, pageDataLength(n));
    }
    body = -1;
    n = 0;
  };

  const pages = new PagesToWrite(memory.pageCount, skip, only);
  for (let pfn = pages.next(); pfn >= 0; pfn = pages.next()) {
    if (body < 0) {
      const room = Math.min(PAGE_DATA_MAX_PAGES, pages.left);
      body = await sink.reserve(pageDataLength(room));
      fill = pageDataPagesOffset(room);
    }
    const buf = sink.buf;
    const slot = body + fill + n * PAGE_SIZE;
    memory.readPage(pfn, buf.subarray(slot, slot + PAGE_SIZE));
    if (elideZero && buf.compare(ZERO_PAGE, 0, PAGE_SIZE, slot, slot + PAGE_SIZE) === 0) {
      if (!zeros.add(pfn, counts)) {
        closeData();
        await sink.putRecord(RecordType.ZERO, zeros.take());
        zeros.add(pfn, counts);
      }
      continue;
    }
    pfns[n++] = pfn;
    counts.pagesData++;
    if (n === PAGE_DATA_MAX_PAGES) closeData();
  }
  closeData();
  if (zeros.count > 0) await sink.putRecord(RecordType.ZERO, zeros.take());
  return counts;
}

/**
 * The pages of one PAGE_DATA record as views of guest memory: its pfns, and its pages as parts, each
 * run of views that follow one another in the same buffer joined into one.
 */
class ViewRecord {
  n = 0;
  readonly pfns = new Uint32Array(PAGE_DATA_MAX_PAGES);
  readonly parts: Uint8Array[] = [];
  /** The run being extended: `runLength` bytes of `runBuffer` from `runStart`. */
  private runBuffer: ArrayBufferLike | undefined;
  private runStart = 0;
  private runLength = 0;

  add(pfn: number, page: Uint8Array): void {
    if (page.length !== PAGE_SIZE) throw new RangeError(`page view of pfn ${pfn} has ${page.length} bytes`);
    this.pfns[this.n++] = pfn;
    if (page.buffer === this.runBuffer && page.byteOffset === this.runStart + this.runLength) {
      this.runLength += PAGE_SIZE;
      return;
    }
    this.endRun();
    this.runBuffer = page.buffer;
    this.runStart = page.byteOffset;
    this.runLength = PAGE_SIZE;
  }

  /** Frames the record in the sink (if it has pages) and starts over. */
  async emit(sink: RecordSink): Promise<void> {
    if (this.n === 0) return;
    this.endRun();
    const head = pageDataPagesOffset(this.n);
    const bytes = this.n * PAGE_SIZE;
    const at = await sink.reservePieces(head, bytes);
    encodePageDataHeader(sink.view, at, this.pfns, this.n);
    sink.commitPieces(RecordType.PAGE_DATA, head, this.parts, bytes);
    this.n = 0;
    this.parts.length = 0;
  }

  private endRun(): void {
    if (this.runBuffer === undefined) return;
    this.parts.push(new Uint8Array(this.runBuffer, this.runStart, this.runLength));
    this.runBuffer = undefined;
  }
}

type ViewedMemory = GuestMemory & { pageView(pfn: number): Uint8Array };

function offersViews(memory: GuestMemory): memory is ViewedMemory {
  return memory.pageView !== undefined;
}

/** writePages for memory with page views: no page is copied (see the top of this file). */
async function writePageViews(
  sink: RecordSink,
  memory: ViewedMemory,
  elideZero: boolean,
  skip: Uint32Array,
  only?: Uint32Array,
): Promise<PageCounts> {
  const counts: PageCounts = { pagesZero: 0, pagesData: 0, zeroExtents: 0 };
  const record = new ViewRecord();
  const zeros = new ZeroExtents();
  const pages = new PagesToWrite(memory.pageCount, skip, only);
  for (let pfn = pages.next(); pfn >= 0; pfn = pages.next()) {
    const page = memory.pageView(pfn);
    if (elideZero && Buffer.compare(page, ZERO_PAGE) === 0) {
      if (!zeros.add(pfn, counts)) {
        await record.emit(sink);
        await sink.putRecord(RecordType.ZERO, zeros.take());
        zeros.add(pfn, counts);
      }
      continue;
    }
    record.add(pfn, page);
    counts.pagesData++;
    if (record.n === PAGE_DATA_MAX_PAGES) await record.emit(sink);
  }
  await record.emit(sink);
  if (zeros.count > 0) await sink.putRecord(RecordType.ZERO, zeros.take());
  return counts;
}
