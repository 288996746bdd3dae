/**
 * inspectImage: everything a restore checks that needs neither guest memory nor disks (structure, order,
 * every checksum, page coverage), plus where the bytes go, for tools and size comparisons.
 */
import { loadHasher } from '../hash.ts';
import { FILE_HEADER_SIZE } from './format.ts';
import type { ImageSummary, RecordTotal } from './types.ts';
import { walkImage } from './walk.ts';

export async function inspectImage(path: string): Promise<ImageSummary> {
  const hasher = await loadHasher();
  const records: Record<string, RecordTotal> = { header: { count: 1, bytes: FILE_HEADER_SIZE } };
  const walked = await walkImage(path, hasher, {
    record(r) {
      const total = records[r.name] ?? { count: 0, bytes: 0 };
      records[r.name] = { count: total.count + 1, bytes: total.bytes + r.framed };
    },
  });
  return {
    path,
    bytes: walked.size,
    version: walked.version,
    pageSize: walked.geometry.pageSize,
    sectorSize: walked.geometry.sectorSize,
    pageCount: walked.geometry.pageCount,
    disks: walked.disks,
    stateBytes: walked.stateBytes,
    ...walked.counts,
    records,
  };
}

/** The page-to-block map stored in an image, as [pfn, disk, sector] in (disk, sector, pfn) order. */
export async function listMapping(path: string): Promise<[pfn: number, disk: number, sector: number][]> {
  const hasher = await loadHasher();
  const out: [number, number, number][] = [];
  await walkImage(path, hasher, {
    map(m) {
      for (let i = 0; i < m.count; i++) out.push([m.pfn[i]!, m.disk[i]!, m.sector[i]!]);
    },
  });
  return out;
}
