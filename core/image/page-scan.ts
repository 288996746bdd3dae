/**
 * The single pass over guest memory in pfn order that writes every page not in MAP: all-zero pages as
 * ZERO extents (if the policy elides them), the rest as PAGE_DATA records of up to 1024 pages. Pages are
 * read straight into the record being built in the sink's buffer, so each page is copied once.
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

  /** Extends the last extent if pfn follows it; returns false if a new extent is needed. */
  extend(pfn: number): boolean {
    const last = this.count - 1;
    if (last < 0 || this.start[last]! + this.pages[last]! !== pfn) return false;
    this.pages[last]!++;
    return true;
  }

  open(pfn: number): void {
    this.start[this.count] = pfn;
    this.pages[this.count] = 1;
    this.count++;
  }

  take(): Uint8Array {
    const body = encodeZero(this);
    this.count = 0;
    return body;
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

  const total = only ? only.length : memory.pageCount;
  for (let j = 0, s = 0; j < total; j++) {
    const pfn = only ? only[j]! : j;
    if (s < skip.length && skip[s] === pfn) {
      s++;
      continue;
    }
    if (body < 0) {
      const room = Math.min(PAGE_DATA_MAX_PAGES, total - j);
      body = await sink.reserve(pageDataLength(room));
      fill = pageDataPagesOffset(room);
    }
    const buf = sink.buf;
    const slot = body + fill + n * PAGE_SIZE;
    memory.readPage(pfn, buf.subarray(slot, slot + PAGE_SIZE));
    if (elideZero && buf.compare(ZERO_PAGE, 0, PAGE_SIZE, slot, slot + PAGE_SIZE) === 0) {
      counts.pagesZero++;
      if (zeros.extend(pfn)) continue;
      if (zeros.count === ZERO_MAX_EXTENTS) {
        closeData();
        await sink.putRecord(RecordType.ZERO, zeros.take());
      }
      zeros.open(pfn);
      counts.zeroExtents++;
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
