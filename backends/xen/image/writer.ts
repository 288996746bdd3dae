/**
 * Writes a Xen image while the save stream passes through: kept bytes go into STREAM records, runs of
 * zero pages into ZERO records, pages found on disk into MAP records, each record framed in place and
 * written as soon as it is complete. Memory: one record buffer (1.5 MiB at most) whatever the guest size.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hasher64 } from '../../../core/hash.ts';
import { frameInPlace } from '../../../core/image/frame.ts';
import {
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

/** Output is written in pieces of this size (records are framed into it first). */
const OUT_BYTES = 4 << 20;

export class XenImageWriter {
  /** Bytes written to the file so far. */
  bytes = 0;
  private readonly buf = new Uint8Array(
    framedSize(Math.max(STREAM_CHUNK, 8 + MAP_ENTRY_SIZE * MAP_MAX_ENTRIES)),
  );
  private readonly view = new DataView(this.buf.buffer);
  private readonly out = new Uint8Array(OUT_BYTES);
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
    const head = new Uint8Array(XEN_HEADER_SIZE);
    const v = new DataView(head.buffer);
    head.set(XEN_MAGIC, 0);
    v.setUint16(8, XEN_FORMAT_VERSION.major, true);
    v.setUint16(10, XEN_FORMAT_VERSION.minor, true);
    v.setBigUint64(16, this.hasher.hash64(head.subarray(0, 16)), true);
    await this.write(head);
    const enc = new TextEncoder();
    for (const d of disks) {
      const vdev = enc.encode(d.vdev);
      const path = enc.encode(d.path);
      const body = this.body(XenRec.DISK);
      const b = REC_HEADER_SIZE;
      this.view.setUint32(b, d.id, true);
      this.view.setUint32(b + 4, vdev.length, true);
      this.view.setBigUint64(b + 8, BigInt(d.sectors), true);
      this.view.setUint32(b + 16, path.length, true);
      this.view.setUint32(b + 20, 0, true);
      body.set(vdev, DISK_FIXED_SIZE);
      body.set(path, DISK_FIXED_SIZE + vdev.length);
      this.used = DISK_FIXED_SIZE + vdev.length + path.length;
      await this.flush();
    }
  }

  /** Stream bytes kept verbatim. */
  async keep(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      if (this.pending !== XenRec.STREAM) {
        await this.flush();
        this.body(XenRec.STREAM);
      }
      const take = Math.min(bytes.length - at, STREAM_CHUNK - this.used);
      this.buf.set(bytes.subarray(at, at + take), REC_HEADER_SIZE + this.used);
      this.used += take;
      at += take;
      if (this.used === STREAM_CHUNK) await this.flush();
    }
  }

  /** The next page slot of the stream is all zero. */
  async zero(): Promise<void> {
    if (this.pending !== XenRec.ZERO || this.zeroRun === 0xffff_ffff) {
      await this.flush();
      this.body(XenRec.ZERO);
      this.used = 8;
    }
    this.zeroRun++;
  }

  /** The next page slot of the stream is page `pfn`, equal to sectors `sector..sector+7` of `disk`. */
  async mapped(pfn: number, disk: number, sector: number, hash: bigint): Promise<void> {
    if (this.pending !== XenRec.MAP || this.mapCount === MAP_MAX_ENTRIES) {
      await this.flush();
      this.body(XenRec.MAP);
      this.used = 8;
    }
    const at = REC_HEADER_SIZE + this.used;
    this.view.setUint32(at, pfn, true);
    this.view.setUint32(at + 4, disk, true);
    this.view.setBigUint64(at + 8, BigInt(sector), true);
    this.view.setBigUint64(at + 16, hash, true);
    this.used += MAP_ENTRY_SIZE;
    this.mapCount++;
  }

  /** Closes the stream part and records each disk's content hash. */
  async finish(end: XenEnd, hashes: readonly XenDiskHash[]): Promise<void> {
    await this.flush();
    for (const h of hashes) {
      this.body(XenRec.DISK_HASH);
      this.view.setUint32(REC_HEADER_SIZE, h.id, true);
      this.view.setUint32(REC_HEADER_SIZE + 4, 0, true);
      this.view.setBigUint64(REC_HEADER_SIZE + 8, h.hash, true);
      this.used = DISK_HASH_SIZE;
      await this.flush();
    }
    this.body(XenRec.END);
    const b = REC_HEADER_SIZE;
    this.view.setBigUint64(b, BigInt(end.streamBytes), true);
    this.view.setBigUint64(b + 8, end.streamHash, true);
    this.view.setBigUint64(b + 16, BigInt(end.pageSlots), true);
    this.view.setBigUint64(b + 24, BigInt(end.pagesMapped), true);
    this.view.setBigUint64(b + 32, BigInt(end.pagesZero), true);
    this.view.setUint32(b + 40, GuestCode[end.guest], true);
    this.view.setUint32(b + 44, 0, true);
    this.used = END_SIZE;
    await this.flush();
    await this.drain();
  }

  /** Starts a record of `type`; returns its body area. */
  private body(type: Pending): Uint8Array {
    this.pending = type;
    this.used = 0;
    this.zeroRun = 0;
    this.mapCount = 0;
    return this.buf.subarray(REC_HEADER_SIZE);
  }

  private async flush(): Promise<void> {
    if (this.pending === undefined) return;
    const b = REC_HEADER_SIZE;
    if (this.pending === XenRec.ZERO) {
      this.view.setUint32(b, this.zeroRun, true);
      this.view.setUint32(b + 4, 0, true);
    } else if (this.pending === XenRec.MAP) {
      this.view.setUint32(b, this.mapCount, true);
      this.view.setUint32(b + 4, 0, true);
    }
    const n = frameInPlace(this.buf, this.view, 0, this.pending, this.used, this.hasher);
    this.pending = undefined;
    await this.write(this.buf.subarray(0, n));
  }

  /**
   * Appends to the output buffer, written out in large pieces: a stream that alternates kept, zero and
   * mapped pages makes a record per page, and a write per record cost more than the filtering itself.
   */
  private async write(bytes: Uint8Array): Promise<void> {
    if (this.outUsed + bytes.length > this.out.length) await this.drain();
    if (bytes.length > this.out.length) await this.writeAll(bytes);
    else {
      this.out.set(bytes, this.outUsed);
      this.outUsed += bytes.length;
    }
    this.bytes += bytes.length;
  }

  private async drain(): Promise<void> {
    await this.writeAll(this.out.subarray(0, this.outUsed));
    this.outUsed = 0;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, at, bytes.length - at);
      at += bytesWritten;
    }
  }
}
