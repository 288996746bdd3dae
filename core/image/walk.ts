/**
 * Reads an image front to back and enforces everything that does not need the guest or its disks:
 * header, record framing and checksums (RecordSource), record order, each record's own validation,
 * MAP sort order, and that every page 0..pageCount-1 appears exactly once. Restore and inspect are
 * visitors on top; a visitor only ever sees records that passed all of this.
 */
import type { Hasher64 } from '../hash.ts';
import type { DiskIdentity } from '../ports.ts';
import type { FormatVersion } from './file-header.ts';
import { isKnownRecordType, isOptional, RecordType } from './format.ts';
import { formatError, type RecordContext } from './records/check.ts';
import { decodeDisk, validateDisk } from './records/disk.ts';
import { decodeEnd, validateEnd, type EndCounts } from './records/end.ts';
import { decodeGeometry, validateGeometry, type Geometry } from './records/geometry.ts';
import { decodeMap, validateMap, type MapEntries } from './records/map.ts';
import { decodePageData, validatePageData, type PageData } from './records/page-data.ts';
import { validateState } from './records/state.ts';
import { decodeZero, validateZero, type ZeroExtents } from './records/zero.ts';
import { RecordSource, type RawRecord } from './source.ts';

export interface ImageVisitor {
  geometry?(g: Geometry, at: number): void;
  disk?(d: DiskIdentity, at: number): void;
  /** `body` is a view valid only during the call. */
  state?(body: Uint8Array, at: number): void;
  map?(m: MapEntries, at: number): Promise<void> | void;
  zero?(z: ZeroExtents, at: number): void;
  /** `p.pages` is a view valid only during the call. */
  pageData?(p: PageData, at: number): void;
  end?(c: EndCounts, at: number): Promise<void> | void;
  /** Every record whose framing checked out, known or not, before anything else is done with it. */
  record?(r: RawRecord): void;
}

export interface WalkResult {
  readonly version: FormatVersion;
  readonly size: number;
  readonly bytesRead: number;
  readonly geometry: Geometry;
  readonly disks: readonly DiskIdentity[];
  readonly stateBytes: number;
  readonly counts: EndCounts;
}

/** Where each known record may appear: phases never go backwards. */
const PHASE = new Map<number, number>([
  [RecordType.GEOMETRY, 0],
  [RecordType.DISK, 1],
  [RecordType.STATE, 2],
  [RecordType.MAP, 3],
  [RecordType.ZERO, 4],
  [RecordType.PAGE_DATA, 4],
  [RecordType.END, 5],
]);
const ONCE = new Set<number>([RecordType.GEOMETRY, RecordType.STATE, RecordType.END]);

/** One bit per page: set once the image has supplied that page. */
class Coverage {
  private readonly bits: Uint8Array;
  constructor(readonly pageCount: number) {
    this.bits = new Uint8Array(Math.ceil(pageCount / 8));
  }

  claim(pfn: number, name: string, at: number): void {
    const mask = 1 << (pfn & 7);
    const i = pfn >>> 3;
    if ((this.bits[i]! & mask) !== 0) {
      throw formatError(name, at, `page ${pfn} appears twice in the image (again in this ${name} record)`);
    }
    this.bits[i]! |= mask;
  }

  /** The lowest page not claimed, or -1. */
  firstMissing(): number {
    for (let i = 0; i < this.bits.length; i++) {
      if (this.bits[i] === 0xff) continue;
      for (let pfn = i * 8; pfn < Math.min(this.pageCount, i * 8 + 8); pfn++) {
        if ((this.bits[i]! & (1 << (pfn & 7))) === 0) return pfn;
      }
    }
    return -1;
  }
}

export async function walkImage(path: string, hasher: Hasher64, visitor: ImageVisitor): Promise<WalkResult> {
  const src = await RecordSource.open(path, hasher);
  try {
    return await walk(src, visitor);
  } finally {
    await src.close();
  }
}

async function walk(src: RecordSource, visitor: ImageVisitor): Promise<WalkResult> {
  const version = await src.header();
  let geometry: Geometry | undefined;
  let coverage = new Coverage(0);
  const disks = new Map<number, DiskIdentity>();
  const ctx: RecordContext = {
    get pageCount() {
      return geometry?.pageCount ?? 0;
    },
    diskSectors: (id) => disks.get(id)?.sectors,
  };
  const seen = new Set<number>();
  let phase = -1;
  let previous = '';
  let stateBytes = 0;
  const counts = { pagesMapped: 0, pagesZero: 0, pagesData: 0 };
  // Last MAP entry, for the global (disk, sector, pfn) order across MAP records.
  let lastDisk = -1;
  let lastSector = -1;
  let lastPfn = -1;

  for (;;) {
    const rec = await src.next();
    if (rec === undefined) {
      throw formatError('END', src.size, `Image truncated: no END record before the end of the file`);
    }
    visitor.record?.(rec);
    const { type, name, at, body } = rec;
    if (!isKnownRecordType(type)) {
      if (isOptional(type)) continue;
      throw formatError(
        name,
        at,
        `Unknown mandatory record type ${name}: this build cannot restore the image`,
      );
    }
    const p = PHASE.get(type)!;
    if (phase < 0 && type !== RecordType.GEOMETRY) {
      throw formatError(name, at, `${name} record before GEOMETRY: GEOMETRY must be the first record`);
    }
    if (p < phase)
      throw formatError(name, at, `${name} record out of order: it must come before ${previous}`);
    if (ONCE.has(type) && seen.has(type)) throw formatError(name, at, `Duplicate ${name} record`);
    if (p > PHASE.get(RecordType.STATE)! && !seen.has(RecordType.STATE)) {
      throw formatError(name, at, `${name} record before STATE: the image has no STATE record`);
    }
    seen.add(type);
    phase = p;
    previous = name;

    switch (type) {
      case RecordType.GEOMETRY: {
        validateGeometry(body, at);
        geometry = decodeGeometry(body);
        coverage = new Coverage(geometry.pageCount);
        visitor.geometry?.(geometry, at);
        break;
      }
      case RecordType.DISK: {
        validateDisk(body, at);
        const d = decodeDisk(body);
        if (disks.has(d.id)) throw formatError(name, at, `Duplicate DISK record for disk ${d.id}`);
        disks.set(d.id, d);
        visitor.disk?.(d, at);
        break;
      }
      case RecordType.STATE: {
        validateState(body, at);
        stateBytes = body.length;
        visitor.state?.(body, at);
        break;
      }
      case RecordType.MAP: {
        validateMap(body, at, ctx);
        const m = decodeMap(body);
        for (let i = 0; i < m.count; i++) {
          const d = m.disk[i]!;
          const s = m.sector[i]!;
          const pfn = m.pfn[i]!;
          if ((d - lastDisk || s - lastSector || pfn - lastPfn) <= 0) {
            throw formatError(
              name,
              at,
              `MAP entry ${i} (page ${pfn}, disk ${d}, sector ${s}) is out of order: entries must be sorted by (disk, sector, pfn)`,
            );
          }
          lastDisk = d;
          lastSector = s;
          lastPfn = pfn;
          coverage.claim(pfn, name, at);
        }
        counts.pagesMapped += m.count;
        await visitor.map?.(m, at);
        break;
      }
      case RecordType.ZERO: {
        validateZero(body, at, ctx);
        const z = decodeZero(body);
        for (let i = 0; i < z.count; i++) {
          const end = z.start[i]! + z.pages[i]!;
          for (let pfn = z.start[i]!; pfn < end; pfn++) coverage.claim(pfn, name, at);
          counts.pagesZero += z.pages[i]!;
        }
        visitor.zero?.(z, at);
        break;
      }
      case RecordType.PAGE_DATA: {
        validatePageData(body, at, ctx);
        const pd = decodePageData(body);
        for (let i = 0; i < pd.count; i++) coverage.claim(pd.pfn[i]!, name, at);
        counts.pagesData += pd.count;
        visitor.pageData?.(pd, at);
        break;
      }
      case RecordType.END: {
        validateEnd(body, at);
        const end = decodeEnd(body);
        const missing = coverage.firstMissing();
        if (missing >= 0) throw formatError(name, at, `Page ${missing} is missing from the image`);
        if (
          end.pagesMapped !== counts.pagesMapped ||
          end.pagesZero !== counts.pagesZero ||
          end.pagesData !== counts.pagesData
        ) {
          throw formatError(
            name,
            at,
            `END counts (mapped ${end.pagesMapped}, zero ${end.pagesZero}, data ${end.pagesData}) disagree with the records (mapped ${counts.pagesMapped}, zero ${counts.pagesZero}, data ${counts.pagesData})`,
          );
        }
        if (src.offset !== src.size) {
          throw formatError(name, src.offset, `Unexpected data after END: ${src.size - src.offset} bytes`);
        }
        await visitor.end?.(end, at);
        return {
          version,
          size: src.size,
          bytesRead: src.bytesRead,
          geometry: geometry!,
          disks: [...disks.values()],
          stateBytes,
          counts,
        };
      }
    }
  }
}
