/**
 * Writes a Xen image while the save stream passes through: kept bytes go into STREAM records, runs of
 * zero pages into ZERO records, pages found on disk into MAP records, each record framed in place in
 * the output buffer and written with the records before it, 2.5 to 4 MiB at a time. Memory: that one
 * 4 MiB buffer, whatever the guest size.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hasher64 } from '../../../core/hash.ts';
import { frameInPlace } from '../../../core/image/frame.ts';
import {
  DISK_CHUNKS_FIXED_SIZE,
  DISK_CHUNKS_MAX,
  DISK_FILE_SIZE,
  DISK_FIXED_SIZE,
  DISK_HASH_SIZE,
  END_SIZE,
  GuestCode,
  MAP_ENTRY_SIZE,
  MAP_MAX_ENTRIES,
  REC_HEADER_SIZE,
  STREAM_CHUNK,
  XEN_FORMAT_VERSION,
  XEN_HEADER_SIZE,
  XEN_MAGIC,
  XenRec,
  framedSize,
  type XenDisk,
  type XenDiskHash,
  type XenEnd,
} from './format.ts';

type Pending = number | undefined;

/** The largest framed record: a full MAP (a STREAM or a full DISK_CHUNKS record is smaller). */
const RECORD_MAX = framedSize(
  Math.max(STREAM_CHUNK, 8 + MAP_ENTRY_SIZE * MAP_MAX_ENTRIES, DISK_CHUNKS_FIXED_SIZE + 8 * DISK_CHUNKS_MAX),
);

/** Output is written in pieces of up to this size; records are framed in place in it. */
const OUT_BYTES = 4 << 20;

export class XenImageWriter {
  /** Bytes written to the file so far. */
  bytes = 0;
  /**
   * Records are built and framed where they will be written from: a kept page is copied once, into
   * this buffer, and a stream alternating kept, zero and mapped pages (a record per page) costs no
   * write per record.
   */
  private readonly out = new Uint8Array(OUT_BYTES);
  private readonly view = new DataView(this.out.buffer);
  /** Bytes of `out` holding complete records, not yet written. */
  private outUsed = 0;
  private pending: Pending;
  /** Body bytes of the pending record (for ZERO: its page count lives in `zeroRun`). */
  private used = 0;
  private zeroRun = 0;
  private mapCount = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly hasher: Hasher64,
  ) {}

  async begin(disks: readonly XenDisk[]): Promise<void> {
    const head = this.out.subarray(0, XEN_HEADER_SIZE);
    head.fill(0);
    head.set(XEN_MAGIC, 0);
    this.view.setUint16(8, XEN_FORMAT_VERSION.major, true);
    this.view.setUint16(10, XEN_FORMAT_VERSION.minor, true);
    this.view.setBigUint64(16, this.hasher.hash64(head.subarray(0, 16)), true);
    this.outUsed = XEN_HEADER_SIZE;
    this.bytes = XEN_HEADER_SIZE;
    const enc = new TextEncoder();
    for (const d of disks) {
      const vdev = enc.encode(d.vdev);
      const path = enc.encode(d.path);
      const b = await this.start(XenRec.DISK);
      this.view.setUint32(b, d.id, true);
      this.view.setUint32(b + 4, vdev.length, true);
      this.view.setBigUint64(b + 8, BigInt(d.sectors), true);
      this.view.setUint32(b + 16, path.length, true);
      this.view.setUint32(b + 20, 0, true);
      this.out.set(vdev, b + DISK_FIXED_SIZE);
      this.out.set(path, b + DISK_FIXED_SIZE + vdev.length);
      this.used = DISK_FIXED_SIZE + vdev.length + path.length;
      this.close();
    }
  }

  /** Stream bytes kept verbatim. */
  async keep(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      if (this.pending !== XenRec.STREAM) {
        this.close();
        await this.start(XenRec.STREAM);
      }
      const take = Math.min(bytes.length - at, STREAM_CHUNK - this.used);
      this.out.set(bytes.subarray(at, at + take), this.outUsed + REC_HEADER_SIZE + this.used);
      this.used += take;
      at += take;
      if (this.used === STREAM_CHUNK) this.close();
    }
  }

  /** The next `pages` page slots of the stream are all zero (at most 2^32 - 1 at once). */
  async zero(pages = 1): Promise<void> {
    if (this.pending !== XenRec.ZERO || this.zeroRun + pages > 0xffff_ffff) {
      this.close();
      await this.start(XenRec.ZERO);
      this.used = 8;
    }
    this.zeroRun += pages;
  }

  /**
   * The next page slots of the stream are entries `from .. to - 1` of these columns: page `pfn[i]`,
   * equal to sectors `sector[i]..sector[i]+7` of `disk[i]`, hashing to `hash[i]`. One call per run of
   * such pages, as for keep() and zero(): a call (and an await) per page cost an emulated dom0's save
   * a microtask per page found on disk.
   */
  async mapped(
    pfn: Float64Array,
    disk: Uint32Array,
    sector: Float64Array,
    hash: BigUint64Array,
    from: number,
    to: number,
  ): Promise<void> {
    for (let i = from; i < to; i++) {
      if (this.pending !== XenRec.MAP || this.mapCount === MAP_MAX_ENTRIES) {
        this.close();
        await this.start(XenRec.MAP);
        this.used = 8;
      }
      const at = this.outUsed + REC_HEADER_SIZE + this.used;
      this.view.setUint32(at, pfn[i]!, true);
      this.view.setUint32(at + 4, disk[i]!, true);
      this.view.setBigUint64(at + 8, BigInt(sector[i]!), true);
      this.view.setBigUint64(at + 16, hash[i]!, true);
      this.used += MAP_ENTRY_SIZE;
      this.mapCount++;
    }
  }

  /** Closes the stream part and records each disk's content: hash, chunks' hashes, file identity. */
  async finish(end: XenEnd, hashes: readonly XenDiskHash[]): Promise<void> {
    this.close();
    for (const h of hashes) {
      const b = await this.start(h.chunkSectors === 0 ? XenRec.DISK_HASH : XenRec.DISK_CHUNK_HASH);
      this.view.setUint32(b, h.id, true);
      this.view.setUint32(b + 4, h.chunkSectors, true);
      this.view.setBigUint64(b + 8, h.hash, true);
      this.used = DISK_HASH_SIZE;
      this.close();
      if (h.chunks && h.chunkSectors > 0) await this.chunks(h.id, h.chunkSectors, h.chunks);
      if (h.file) {
        const f = await this.start(XenRec.DISK_FILE);
        this.view.setUint32(f, h.id, true);
        this.view.setUint32(f + 4, 0, true);
        this.view.setBigUint64(f + 8, h.file.dev, true);
        this.view.setBigUint64(f + 16, h.file.ino, true);
        this.view.setBigUint64(f + 24, h.file.size, true);
        this.view.setBigInt64(f + 32, h.file.mtimeNs, true);
        this.view.setBigInt64(f + 40, h.file.ctimeNs, true);
        this.view.setBigInt64(f + 48, h.file.settledNs, true);
        this.used = DISK_FILE_SIZE;
        this.close();
      }
    }
    const b = await this.start(XenRec.END);
    this.view.setBigUint64(b, BigInt(end.streamBytes), true);
    this.view.setBigUint64(b + 8, end.streamHash, true);
    this.view.setBigUint64(b + 16, BigInt(end.pageSlots), true);
    this.view.setBigUint64(b + 24, BigInt(end.pagesMapped), true);
    this.view.setBigUint64(b + 32, BigInt(end.pagesZero), true);
    this.view.setUint32(b + 40, GuestCode[end.guest], true);
    this.view.setUint32(b + 44, 0, true);
    this.used = END_SIZE;
    this.close();
    await this.drain();
  }

  /** DISK_CHUNKS records for disk `id`: its chunks' hashes, in order, DISK_CHUNKS_MAX to a record. */
  private async chunks(id: number, chunkSectors: number, chunks: BigUint64Array): Promise<void> {
    for (let first = 0; first < chunks.length; first += DISK_CHUNKS_MAX) {
      const part = chunks.subarray(first, first + DISK_CHUNKS_MAX);
      const b = await this.start(XenRec.DISK_CHUNKS);
      this.view.setUint32(b, id, true);
      this.view.setUint32(b + 4, chunkSectors, true);
      this.view.setBigUint64(b + 8, BigInt(first), true);
      for (let i = 0; i < part.length; i++) {
        this.view.setBigUint64(b + DISK_CHUNKS_FIXED_SIZE + 8 * i, part[i]!, true);
      }
      this.used = DISK_CHUNKS_FIXED_SIZE + 8 * part.length;
      this.close();
    }
  }

  /** Starts a record of `type` at the end of `out` (written out first if a record may not fit). */
  private async start(type: Pending): Promise<number> {
    if (this.outUsed + RECORD_MAX > this.out.length) await this.drain();
    this.pending = type;
    this.used = 0;
    this.zeroRun = 0;
    this.mapCount = 0;
    return this.outUsed + REC_HEADER_SIZE;
  }

  /** Frames the pending record in place: its bytes join those to be written. */
  private close(): void {
    if (this.pending === undefined) return;
    const b = this.outUsed + REC_HEADER_SIZE;
    if (this.pending === XenRec.ZERO) {
      this.view.setUint32(b, this.zeroRun, true);
      this.view.setUint32(b + 4, 0, true);
    } else if (this.pending === XenRec.MAP) {
      this.view.setUint32(b, this.mapCount, true);
      this.view.setUint32(b + 4, 0, true);
    }
    const n = frameInPlace(this.out, this.view, this.outUsed, this.pending, this.used, this.hasher);
    this.pending = undefined;
    this.outUsed += n;
    this.bytes += n;
  }

  private async drain(): Promise<void> {
    let at = 0;
    while (at < this.outUsed) {
      const { bytesWritten } = await this.file.write(this.out, at, this.outUsed - at);
      at += bytesWritten;
    }
    this.outUsed = 0;
  }
}
