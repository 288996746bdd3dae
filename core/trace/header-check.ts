/** Checks a decoded header object (the first line of JSON Lines, the header record of binary). */
import { fault } from './errors.ts';
import { makeHeader, TRACE_FORMAT, TRACE_VERSION, type TraceHeader } from './header.ts';

/** Most pages a trace can name: pfns are u32. */
export const MAX_PAGES = 2 ** 32;
/** Disk ids are u32 (blkif virtual device numbers). */
export const MAX_DISK_ID = 2 ** 32 - 1;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNat(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

/** The header `v` as a TraceHeader, or a Fault saying what is wrong with it. Unknown fields are ignored. */
export function checkHeader(v: unknown): TraceHeader {
  if (!isObject(v))
    fault('missing header: the first line must be a JSON object {"format":"leanckpt-trace",...}');
  if (v['format'] === undefined) {
    if (typeof v['op'] === 'string') {
      fault(
        `missing header: the first line is an event ("op":${JSON.stringify(v['op'])}), not a trace header`,
      );
    }
    fault('missing header: the first line has no "format":"leanckpt-trace"');
  }
  if (v['format'] !== TRACE_FORMAT) {
    fault(`not a leanckpt trace: "format" is ${JSON.stringify(v['format'])}, expected "${TRACE_FORMAT}"`);
  }
  if (v['version'] !== TRACE_VERSION) {
    fault(
      `unsupported trace version ${JSON.stringify(v['version'])}; this reader reads version ${TRACE_VERSION}`,
    );
  }
  if (v['pageSize'] !== 4096) fault(`header: "pageSize" must be 4096, got ${JSON.stringify(v['pageSize'])}`);
  if (v['sectorSize'] !== 512)
    fault(`header: "sectorSize" must be 512, got ${JSON.stringify(v['sectorSize'])}`);
  const pages = v['pages'];
  if (!isNat(pages, MAX_PAGES) || pages === 0) {
    fault(`header: "pages" must be an integer in 1..${MAX_PAGES}, got ${JSON.stringify(pages)}`);
  }
  const disksIn = v['disks'];
  if (!Array.isArray(disksIn)) fault(`header: "disks" must be an array, got ${JSON.stringify(disksIn)}`);
  const disks: { id: number; sectors: number }[] = [];
  const seen = new Set<number>();
  for (let k = 0; k < disksIn.length; k++) {
    const d: unknown = disksIn[k];
    if (!isObject(d)) fault(`header: disks[${k}] must be an object {"id":N,"sectors":S}`);
    const { id, sectors } = d;
    if (!isNat(id, MAX_DISK_ID)) fault(`header: disks[${k}].id must be an integer in 0..${MAX_DISK_ID}`);
    if (!isNat(sectors, Number.MAX_SAFE_INTEGER)) {
      fault(`header: disks[${k}].sectors must be a non-negative integer, got ${JSON.stringify(sectors)}`);
    }
    if (seen.has(id)) fault(`header: disk ${id} is declared twice`);
    seen.add(id);
    disks.push({ id, sectors });
  }
  const meta = v['meta'] ?? {};
  if (!isObject(meta)) fault('header: "meta" must be a JSON object');
  return makeHeader(pages, disks, meta);
}

/** The header as its canonical JSON text (fields in schema order), as both formats store it. */
export function headerJson(h: TraceHeader): string {
  const canonical = checkHeader(h);
  return JSON.stringify({
    format: canonical.format,
    version: canonical.version,
    pageSize: canonical.pageSize,
    sectorSize: canonical.sectorSize,
    pages: canonical.pages,
    disks: canonical.disks.map((d) => ({ id: d.id, sectors: d.sectors })),
    meta: canonical.meta,
  });
}
