/**
 * The TrackedDomain port's view of a checkpoint cut, and its compact wire form for the control socket
 * (also the form in which `xen restore` hands a new tracking process the pages it read from the disks).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { MapSnapshot } from '../../../core/pbmap/map-snapshot.ts';
import type { OfferedMappings } from '../../../core/tracker/tracker.ts';
import type { PageLocation, PageMapView, QuiesceTiming } from '../tracked-domain.ts';
import type { ChunkedContent, ChunkList } from '../content/chunk-hashes.ts';

/** Highest pfn indexed by a typed array (256 GiB of guest address space); above it, a Map. */
export const DENSE_PFN_LIMIT = 1 << 26;

export class SnapshotView implements PageMapView {
  /**
   * Entry number + 1 by pfn (0: not mapped): a typed array over pfns up to the highest mapped, 4 bytes
   * a page (64 MiB for a 64 GiB guest). The save looks up every page of the stream here; a Map cost a
   * profiled lab save half a second just to build. A guest with pfns beyond DENSE_PFN_LIMIT gets one.
   */
  private readonly index: Uint32Array | Map<number, number>;

  constructor(
    readonly snapshot: MapSnapshot,
    readonly timing?: QuiesceTiming,
  ) {
    let top = -1;
    for (let i = 0; i < snapshot.length; i++) top = Math.max(top, snapshot.pfn[i]!);
    if (top < DENSE_PFN_LIMIT) {
      const dense = new Uint32Array(top + 1);
      for (let i = 0; i < snapshot.length; i++) dense[snapshot.pfn[i]!] = i + 1;
      this.index = dense;
    } else {
      const sparse = new Map<number, number>();
      for (let i = 0; i < snapshot.length; i++) sparse.set(snapshot.pfn[i]!, i + 1);
      this.index = sparse;
    }
  }

  get size(): number {
    return this.snapshot.length;
  }

  get(pfn: number): PageLocation | undefined {
    const i = ((this.index instanceof Map ? this.index.get(pfn) : this.index[pfn]) ?? 0) - 1;
    if (i < 0) return undefined;
    return { disk: this.snapshot.disk[i]!, sector: this.snapshot.sector[i]! };
  }
}

export interface WireSnapshot {
  readonly length: number;
  readonly pfn: string;
  readonly disk: string;
  readonly sector: string;
}

/** A map with the hash each entry claims (a restore's verified pages): the snapshot's form plus a column. */
export interface WireMappings extends WireSnapshot {
  readonly hash?: string;
}

const b64 = (a: Uint32Array | Float64Array | BigUint64Array): string =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/**
 * Content hashes on the wire: the hash in hex (JSON has no 64-bit integers), the chunks' hashes as
 * base64 little-endian u64s.
 */
export interface WireContent {
  readonly id: number;
  readonly chunkSectors: number;
  readonly hash: string;
  readonly chunks: string;
}

export const contentToWire = (m: ReadonlyMap<number, ChunkedContent>): WireContent[] =>
  [...m].map(([id, c]) => ({
    id,
    chunkSectors: c.chunkSectors,
    hash: c.hash.toString(16),
    chunks: b64(c.chunks),
  }));

export function contentFromWire(w: readonly WireContent[]): Map<number, ChunkedContent> {
  const out = new Map<number, ChunkedContent>();
  for (const c of w) {
    const chunks = typeof c.chunks === 'string' ? Buffer.from(c.chunks, 'base64') : undefined;
    if (
      !Number.isSafeInteger(c.id) ||
      !Number.isSafeInteger(c.chunkSectors) ||
      !/^[0-9a-f]{1,16}$/.test(c.hash) ||
      !chunks ||
      chunks.length % 8 !== 0
    )
      throw new Error('malformed content hashes from the tracking process');
    out.set(c.id, {
      hash: BigInt(`0x${c.hash}`),
      chunkSectors: c.chunkSectors,
      chunks: new BigUint64Array(chunks.buffer.slice(chunks.byteOffset, chunks.byteOffset + chunks.length)),
    });
  }
  return out;
}

/** A restore's chunk hashes on the wire: the chunks' hashes as base64 little-endian u64s. */
export interface WireChunks {
  readonly id: number;
  readonly chunkSectors: number;
  readonly chunks: string;
}

export const chunksToWire = (m: ReadonlyMap<number, ChunkList>): WireChunks[] =>
  [...m].map(([id, c]) => ({ id, chunkSectors: c.chunkSectors, chunks: b64(c.chunks) }));

export function chunksFromWire(w: readonly WireChunks[]): Map<number, ChunkList> {
  const out = new Map<number, ChunkList>();
  for (const c of w) {
    const buf = Buffer.from(c.chunks, 'base64');
    if (!Number.isSafeInteger(c.id) || !Number.isSafeInteger(c.chunkSectors) || buf.length % 8 !== 0)
      throw new Error('malformed chunk hashes to adopt');
    const chunks = new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    out.set(c.id, { chunkSectors: c.chunkSectors, chunks });
  }
  return out;
}

/**
 * A quiesce's snapshot handed over as a file beside the control socket: the three columns raw, one
 * after the other. In base64 on the socket, its trip and decoding took a save 0.5-1.3 s under
 * emulation (about 10 ms natively), and the save waits for it before it filters a page.
 */
export interface WireSnapshotFile {
  readonly path: string;
  readonly length: number;
}

const SNAPSHOT_ENTRY_BYTES = 4 + 4 + 8;

export function writeSnapshotFile(s: MapSnapshot, path: string): WireSnapshotFile {
  const bytes = (a: Uint32Array | Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  writeFileSync(path, Buffer.concat([bytes(s.sector), bytes(s.pfn), bytes(s.disk)]), { mode: 0o600 });
  return { path, length: s.length };
}

/** Reads the snapshot a tracking process handed over as a file (see writeSnapshotFile), and removes it. */
export function readSnapshotFile(w: WireSnapshotFile): MapSnapshot {
  if (!Number.isSafeInteger(w.length) || w.length < 0 || typeof w.path !== 'string')
    throw new Error('malformed map from the tracking process');
  const buf = readFileSync(w.path);
  rmSync(w.path, { force: true });
  if (buf.length !== w.length * SNAPSHOT_ENTRY_BYTES)
    throw new Error(
      `map from the tracking process: ${w.path} has ${buf.length} bytes, not ${w.length * SNAPSHOT_ENTRY_BYTES}`,
    );
  // Copied out (the columns must be aligned); the f64 column first keeps the copy's source aligned too.
  const column = (from: number, bytes: number): ArrayBuffer =>
    buf.buffer.slice(buf.byteOffset + from, buf.byteOffset + from + bytes);
  const n = w.length;
  return {
    length: n,
    sector: new Float64Array(column(0, n * 8)),
    pfn: new Uint32Array(column(n * 8, n * 4)),
    disk: new Uint32Array(column(n * 12, n * 4)),
  };
}

export function toWire(s: MapSnapshot): WireSnapshot {
  return { length: s.length, pfn: b64(s.pfn), disk: b64(s.disk), sector: b64(s.sector) };
}

export function fromWire(w: WireSnapshot, what = 'map from the tracking process'): MapSnapshot {
  if (!Number.isSafeInteger(w.length) || w.length < 0) throw new Error(`malformed ${what}`);
  const bytes = (text: string, width: number): ArrayBuffer => {
    const buf = Buffer.from(text, 'base64');
    if (buf.length !== w.length * width) throw new Error(`malformed ${what}`);
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  };
  return {
    length: w.length,
    pfn: new Uint32Array(bytes(w.pfn, 4)),
    disk: new Uint32Array(bytes(w.disk, 4)),
    sector: new Float64Array(bytes(w.sector, 8)),
  };
}

export function mappingsToWire(m: OfferedMappings): WireMappings {
  return { ...toWire(m), ...(m.hash ? { hash: b64(m.hash) } : {}) };
}

export function mappingsFromWire(w: WireMappings): OfferedMappings {
  const what = 'mappings to adopt';
  const snapshot = fromWire(w, what);
  if (w.hash === undefined) return snapshot;
  const buf = Buffer.from(w.hash, 'base64');
  if (buf.length !== w.length * 8) throw new Error(`malformed ${what}`);
  return {
    ...snapshot,
    hash: new BigUint64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)),
  };
}
