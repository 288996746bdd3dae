/**
 * Reads a Xen image front to back and hands out its records only after checking, in this order: the
 * header (magic, major version, checksum); per record its framing (header present, length bounds, fits
 * in the file, checksum) before any body byte is looked at; then type, order and the record's own
 * rules; at END the recount of pages and stream bytes. Nothing unverified ever reaches a caller.
 */
import { stat } from 'node:fs/promises';
import { ImageFormatError } from '../../../core/errors.ts';
import type { Hasher64 } from '../../../core/hash.ts';
import { chunkCount, digestChunks } from '../content/chunk-hashes.ts';
import { hex64 } from '../../../core/image/format.ts';
import { decodeMap, type MapEntries } from '../../../core/image/records/map.ts';
import { ByteSource } from '../stream/byte-source.ts';
import { reusedFileChunks } from '../stream/file-chunks.ts';
import {
  DISK_CHUNKS_FIXED_SIZE,
  DISK_CHUNKS_MAX,
  DISK_FILE_SIZE,
  DISK_FIXED_SIZE,
  DISK_HASH_SIZE,
  DISK_TEXT_MAX,
  END_SIZE,
  framedSize,
  MAP_ENTRY_SIZE,
  MAP_MAX_ENTRIES,
  REC_CHECKSUM_SIZE,
  REC_HEADER_SIZE,
  REC_LENGTH_MAX,
  XEN_FORMAT_VERSION,
  XEN_HEADER_SIZE,
  XEN_MAGIC,
  XenRec,
  xenRecordName,
  type RecordedContent,
  type XenDisk,
  type XenEnd,
} from './format.ts';

export type { MapEntries };

export type XenImageItem =
  | { readonly kind: 'stream'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: 'zero'; readonly at: number; readonly pages: number }
  | { readonly kind: 'map'; readonly at: number; readonly entries: MapEntries };

/** The image is read 4 MiB at a time. */
const READ_CHUNK = 4 << 20;

const fail = (record: string, at: number, message: string): ImageFormatError =>
  new ImageFormatError(`${message} (${record} record at offset ${at})`, record, at);

export class XenImageReader {
  readonly disks: XenDisk[] = [];
  /** Each disk's recorded content: hash, and where the image has them, chunks and file identity. */
  readonly diskHashes = new Map<number, RecordedContent>();
  /** DISK_CHUNKS parts read so far, by disk id (moved into diskHashes once whole). */
  private readonly chunkParts = new Map<number, { chunks: BigUint64Array; have: number }>();
  end: XenEnd | undefined;
  version = { major: 0, minor: 0 };
  private readonly diskSectors = new Map<number, number>();

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly src: ByteSource,
    private readonly hasher: Hasher64,
  ) {}

  static async open(path: string, hasher: Hasher64): Promise<XenImageReader> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new ImageFormatError(`Cannot open image ${path}: ${(err as Error).message}`, 'file', 0);
    }
    const src = new ByteSource(reusedFileChunks(path, READ_CHUNK));
    const reader = new XenImageReader(path, size, src, hasher);
    try {
      await reader.header();
    } catch (err) {
      await src.close();
      throw err;
    }
    return reader;
  }

  /** Whether `bytes` (the start of a file) look like a Xen image: the magic alone. */
  static sniff(bytes: Uint8Array): boolean {
    return bytes.length >= XEN_MAGIC.length && XEN_MAGIC.every((b, i) => bytes[i] === b);
  }

  private async header(): Promise<void> {
    const first = await this.src.read(Math.min(this.size, XEN_HEADER_SIZE), 'header');
    if (!XenImageReader.sniff(first)) throw fail('header', 0, 'Not a leanckpt Xen image: bad magic');
    if (this.size < XEN_HEADER_SIZE) {
      throw fail(
        'header',
        0,
        `Image truncated in the file header: ${this.size} bytes, expected ${XEN_HEADER_SIZE}`,
      );
    }
    const v = new DataView(first.buffer, first.byteOffset, XEN_HEADER_SIZE);
    const major = v.getUint16(8, true);
    const minor = v.getUint16(10, true);
    if (major !== XEN_FORMAT_VERSION.major) {
      throw fail(
        'header',
        8,
        `Unsupported Xen image version ${major}.${minor}: this build reads ${XEN_FORMAT_VERSION.major}.x`,
      );
    }
    const stored = v.getBigUint64(16, true);
    const actual = this.hasher.hash64(first.subarray(0, 16));
    if (stored !== actual) {
      throw fail(
        'header',
        16,
        `File header checksum mismatch (stored ${hex64(stored)}, computed ${hex64(actual)})`,
      );
    }
    this.version = { major, minor };
  }

  /** The records after the header, verified; ends after END. Stopping early closes the file. */
  async *items(): AsyncGenerator<XenImageItem> {
    try {
      yield* this.records();
    } finally {
      await this.src.close();
    }
  }

  private async *records(): AsyncGenerator<XenImageItem> {
    let streamStarted = false;
    let hashesStarted = false;
    let zero = 0;
    let mapped = 0;
    let kept = 0;
    for (;;) {
      const at = this.src.offset;
      const left = this.size - at;
      if (left === 0) throw fail('END', at, 'Image truncated: the file ends without an END record');
      if (left < REC_HEADER_SIZE + REC_CHECKSUM_SIZE) {
        throw fail('record', at, `Record truncated: ${left} bytes left, a record takes at least 16`);
      }
      const hdr = await this.src.read(REC_HEADER_SIZE, 'record header');
      const type = new DataView(hdr.buffer, hdr.byteOffset, 8).getUint32(0, true);
      const length = new DataView(hdr.buffer, hdr.byteOffset, 8).getUint32(4, true);
      const name = xenRecordName(type);
      if (length > REC_LENGTH_MAX)
        throw fail(name, at, `${name} record length ${length} exceeds the maximum ${REC_LENGTH_MAX}`);
      const framed = framedSize(length);
      if (framed > left)
        throw fail(name, at, `${name} record truncated: needs ${framed} bytes, the file has ${left} left`);
      const rest = await this.src.read(framed - REC_HEADER_SIZE, `${name} record`);
      const sumAt = rest.length - REC_CHECKSUM_SIZE;
      const stored = new DataView(rest.buffer, rest.byteOffset + sumAt, 8).getBigUint64(0, true);
      const actual = this.checksum(hdr, rest.subarray(0, sumAt), type, length);
      if (stored !== actual) {
        throw fail(
          name,
          at,
          `${name} record checksum mismatch (stored ${hex64(stored)}, computed ${hex64(actual)})`,
        );
      }
      const body = rest.subarray(0, length);
      const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
      switch (type) {
        case XenRec.DISK:
          if (streamStarted)
            throw fail(name, at, 'DISK record out of order: DISK records come before the stream');
          this.disk(v, body, at);
          break;
        case XenRec.DISK_HASH:
        case XenRec.DISK_CHUNK_HASH:
          this.diskHash(v, at, name, type === XenRec.DISK_CHUNK_HASH);
          hashesStarted = true;
          break;
        case XenRec.DISK_CHUNKS:
          this.diskChunks(v, at);
          break;
        case XenRec.DISK_FILE:
          this.diskFile(v, at);
          break;
        case XenRec.STREAM:
          if (hashesStarted)
            throw fail(name, at, 'STREAM record out of order: it must come before DISK_HASH');
          if (length === 0) throw fail(name, at, 'STREAM record is empty');
          streamStarted = true;
          kept += length;
          yield { kind: 'stream', at, bytes: body };
          break;
        case XenRec.ZERO: {
          if (hashesStarted) throw fail(name, at, 'ZERO record out of order: it must come before DISK_HASH');
          if (length !== 8) throw fail(name, at, `ZERO record wrong size: length ${length}, expected 8`);
          const pages = v.getUint32(0, true);
          if (pages === 0) throw fail(name, at, 'ZERO record with 0 pages');
          streamStarted = true;
          zero += pages;
          yield { kind: 'zero', at, pages };
          break;
        }
        case XenRec.MAP: {
          if (hashesStarted) throw fail(name, at, 'MAP record out of order: it must come before DISK_HASH');
          const entries = this.map(v, at);
          streamStarted = true;
          mapped += entries.count;
          yield { kind: 'map', at, entries };
          break;
        }
        case XenRec.END:
          this.finish(v, at, { zero, mapped, kept });
          if (this.src.offset !== this.size) {
            throw fail(name, at, `${this.size - this.src.offset} bytes after the END record`);
          }
          return;
        default:
          if ((type & XenRec.OPTIONAL) === 0) {
            throw fail(
              name,
              at,
              `Unknown mandatory record type ${name}: this build cannot restore the image`,
            );
          }
      }
    }
  }

  /**
   * XXH64 of a record's header and body. Where the two still lie side by side in the reader's buffer
   * (nearly always), one call hashes them in place: a streaming hash per record costs six foreign calls,
   * and an image has a record per run of kept, zero or disk pages (tens of thousands). Otherwise the
   * header is rebuilt from its fields, as `hdr` may have been overwritten by the body's read.
   */
  private checksum(hdr: Uint8Array, body: Uint8Array, type: number, length: number): bigint {
    if (hdr.buffer === body.buffer && hdr.byteOffset + REC_HEADER_SIZE === body.byteOffset) {
      return this.hasher.hash64(new Uint8Array(body.buffer, hdr.byteOffset, REC_HEADER_SIZE + body.length));
    }
    const head = new Uint8Array(REC_HEADER_SIZE);
    const v = new DataView(head.buffer);
    v.setUint32(0, type, true);
    v.setUint32(4, length, true);
    return this.hasher.streaming().update(head).update(body).digest();
  }

  private disk(v: DataView, body: Uint8Array, at: number): void {
    if (body.length < DISK_FIXED_SIZE)
      throw fail('DISK', at, `DISK record truncated: length ${body.length}, min ${DISK_FIXED_SIZE}`);
    const id = v.getUint32(0, true);
    const vdevLen = v.getUint32(4, true);
    const sectors = Number(v.getBigUint64(8, true));
    const pathLen = v.getUint32(16, true);
    if (vdevLen > DISK_TEXT_MAX || pathLen > DISK_TEXT_MAX)
      throw fail('DISK', at, `DISK ${id}: device name or path longer than ${DISK_TEXT_MAX}`);
    const expected = DISK_FIXED_SIZE + vdevLen + pathLen;
    if (body.length !== expected)
      throw fail('DISK', at, `DISK record wrong size: length ${body.length}, expected ${expected}`);
    if (!Number.isSafeInteger(sectors))
      throw fail('DISK', at, `DISK ${id}: ${sectors} sectors is out of range`);
    if (this.diskSectors.has(id)) throw fail('DISK', at, `DISK ${id} appears twice`);
    const dec = new TextDecoder();
    this.diskSectors.set(id, sectors);
    this.disks.push({
      id,
      sectors,
      vdev: dec.decode(body.subarray(DISK_FIXED_SIZE, DISK_FIXED_SIZE + vdevLen)),
      path: dec.decode(body.subarray(DISK_FIXED_SIZE + vdevLen, expected)),
    });
  }

  private diskHash(v: DataView, at: number, name: string, chunked: boolean): void {
    if (v.byteLength !== DISK_HASH_SIZE) {
      throw fail(name, at, `${name} record wrong size: length ${v.byteLength}, expected ${DISK_HASH_SIZE}`);
    }
    const id = v.getUint32(0, true);
    if (!this.diskSectors.has(id)) throw fail(name, at, `${name} for disk ${id}, which has no DISK record`);
    if (this.diskHashes.has(id)) throw fail(name, at, `a second content hash for disk ${id}`);
    const chunkSectors = v.getUint32(4, true);
    if (chunked && chunkSectors === 0) throw fail(name, at, `${name} for disk ${id} has chunks of 0 sectors`);
    this.diskHashes.set(id, { hash: v.getBigUint64(8, true), chunkSectors: chunked ? chunkSectors : 0 });
  }

  /** The content hash DISK_CHUNKS or DISK_FILE add to: it must come first. */
  private recorded(name: string, at: number, id: number): RecordedContent {
    const c = this.diskHashes.get(id);
    if (!c) throw fail(name, at, `${name} for disk ${id} before its content hash`);
    return c;
  }

  /** A part of a disk's chunk hashes: in order, whole at the last, and then digesting to the hash. */
  private diskChunks(v: DataView, at: number): void {
    const name = 'DISK_CHUNKS';
    const id = v.getUint32(0, true);
    const chunkSectors = v.getUint32(4, true);
    const first = v.getBigUint64(8, true);
    const count = (v.byteLength - DISK_CHUNKS_FIXED_SIZE) / 8;
    if (!Number.isInteger(count) || count < 1 || count > DISK_CHUNKS_MAX) {
      throw fail(name, at, `${name} record wrong size: length ${v.byteLength}`);
    }
    const c = this.recorded(name, at, id);
    if (c.chunkSectors === 0 || chunkSectors !== c.chunkSectors)
      throw fail(
        name,
        at,
        `${name} for disk ${id}: chunks of ${chunkSectors} sectors, its hash has ${c.chunkSectors}`,
      );
    if (c.chunks) throw fail(name, at, `${name} for disk ${id}, whose chunk hashes are complete`);
    const total = chunkCount(this.diskSectors.get(id)!, chunkSectors);
    const part = this.chunkParts.get(id) ?? { chunks: new BigUint64Array(total), have: 0 };
    if (first !== BigInt(part.have) || part.have + count > total) {
      throw fail(name, at, `${name} for disk ${id}: chunks ${first}.. out of order or beyond its ${total}`);
    }
    for (let i = 0; i < count; i++)
      part.chunks[part.have + i] = v.getBigUint64(DISK_CHUNKS_FIXED_SIZE + 8 * i, true);
    part.have += count;
    this.chunkParts.set(id, part);
    if (part.have < total) return;
    this.chunkParts.delete(id);
    if (digestChunks(this.hasher, part.chunks) !== c.hash)
      throw fail(name, at, `${name} for disk ${id}: the chunks' hashes do not digest to its content hash`);
    this.diskHashes.set(id, { ...c, chunks: part.chunks });
  }

  private diskFile(v: DataView, at: number): void {
    const name = 'DISK_FILE';
    if (v.byteLength !== DISK_FILE_SIZE)
      throw fail(name, at, `${name} record wrong size: length ${v.byteLength}, expected ${DISK_FILE_SIZE}`);
    const id = v.getUint32(0, true);
    const c = this.recorded(name, at, id);
    if (c.file) throw fail(name, at, `a second ${name} for disk ${id}`);
    const size = v.getBigUint64(24, true);
    if (size !== BigInt(this.diskSectors.get(id)!) * 512n)
      throw fail(
        name,
        at,
        `${name} for disk ${id}: ${size} bytes, its DISK record says ${this.diskSectors.get(id)! * 512}`,
      );
    const file = {
      dev: v.getBigUint64(8, true),
      ino: v.getBigUint64(16, true),
      size,
      mtimeNs: v.getBigInt64(32, true),
      ctimeNs: v.getBigInt64(40, true),
      settledNs: v.getBigInt64(48, true),
    };
    this.diskHashes.set(id, { ...c, file });
  }

  private map(v: DataView, at: number): MapEntries {
    if (v.byteLength < 8) throw fail('MAP', at, `MAP record truncated: length ${v.byteLength}, min 8`);
    const count = v.getUint32(0, true);
    if (count === 0 || count > MAP_MAX_ENTRIES)
      throw fail('MAP', at, `MAP record count ${count} outside 1..${MAP_MAX_ENTRIES}`);
    const expected = 8 + MAP_ENTRY_SIZE * count;
    if (v.byteLength !== expected)
      throw fail('MAP', at, `MAP record wrong size: length ${v.byteLength}, expected ${expected}`);
    // Entries are laid out as in the core image's MAP record: decode with its decoder, check here.
    const e = decodeMap(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    for (let i = 0; i < count; i++) {
      const disk = e.disk[i]!;
      const sector = e.sector[i]!;
      const sectors = this.diskSectors.get(disk);
      if (sectors === undefined)
        throw fail(
          'MAP',
          at,
          `MAP entry ${i} (page ${e.pfn[i]}) names disk ${disk}, which has no DISK record`,
        );
      if (sector < 0 || sector + 8 > sectors) {
        throw fail(
          'MAP',
          at,
          `MAP entry ${i} (page ${e.pfn[i]}): sectors ${sector < 0 ? '>= 2^53' : `${sector}..${sector + 7}`} beyond disk ${disk} (${sectors} sectors)`,
        );
      }
    }
    return e;
  }

  private finish(v: DataView, at: number, seen: { zero: number; mapped: number; kept: number }): void {
    if (v.byteLength !== END_SIZE)
      throw fail('END', at, `END record wrong size: length ${v.byteLength}, expected ${END_SIZE}`);
    const n = (o: number): number => Number(v.getBigUint64(o, true));
    const guest = v.getUint32(40, true);
    if (guest !== 1 && guest !== 2) throw fail('END', at, `END record: unknown guest type ${guest}`);
    const end: XenEnd = {
      streamBytes: n(0),
      streamHash: v.getBigUint64(8, true),
      pageSlots: n(16),
      pagesMapped: n(24),
      pagesZero: n(32),
      guest: guest === 1 ? 'pv' : 'hvm',
    };
    if (end.pagesMapped !== seen.mapped || end.pagesZero !== seen.zero) {
      throw fail(
        'END',
        at,
        `END counts disagree with the image: ${end.pagesMapped} mapped and ${end.pagesZero} zero recorded, ${seen.mapped} and ${seen.zero} found`,
      );
    }
    const rebuilt = seen.kept + 4096 * (seen.mapped + seen.zero);
    if (end.streamBytes !== rebuilt) {
      throw fail(
        'END',
        at,
        `END says the stream has ${end.streamBytes} bytes, the image rebuilds ${rebuilt}`,
      );
    }
    for (const d of this.disks) {
      if (!this.diskHashes.has(d.id))
        throw fail('END', at, `disk ${d.id} has no DISK_HASH or DISK_CHUNK_HASH record`);
    }
    for (const id of this.chunkParts.keys())
      throw fail('END', at, `disk ${id}: its DISK_CHUNKS are incomplete`);
    if (end.pageSlots < seen.mapped + seen.zero)
      throw fail('END', at, `END: ${end.pageSlots} page slots, fewer than the pages left out`);
    this.end = end;
  }
}
