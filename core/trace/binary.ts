/**
 * The binary trace format (docs/trace-format.md, "Binary format"): a checksummed header holding the
 * JSON header, then chunks, each a columnar, delta-encoded serialization of up to a few tens of
 * thousands of records, deflated and checksummed, then an end chunk. Readers stream chunk by chunk.
 */
import { inflateRawSync, deflateRawSync } from 'node:zlib';
import { IoDir, Op } from '../events/batch.ts';
import type { Hasher64 } from '../hash.ts';
import { BatchAssembler, type TraceBatch } from './batch.ts';
import { MAX_ID, MAX_T, TraceChecker } from './checker.ts';
import { Fault, TraceError, describeError, fault } from './errors.ts';
import { checkHeader, headerJson, MAX_DISK_ID } from './header-check.ts';
import type { TraceHeader } from './header.ts';
import type { ReadTotals } from './jsonl.ts';
import type { RecordSink } from './records.ts';
import type { ByteSource } from './source.ts';
import { ByteCursor, ByteSink } from './varint.ts';

/** `\x89 L C K T R \r \n`. */
export const BINARY_MAGIC = Uint8Array.of(0x89, 0x4c, 0x43, 0x4b, 0x54, 0x52, 0x0d, 0x0a);
export const BINARY_MAJOR = 1;
export const BINARY_MINOR = 0;
/** magic, major, minor, header length. */
export const FILE_HEADER_FIXED = 16;
export const MAX_HEADER_JSON = 16 * 1024 * 1024;
export const CHUNK_HEADER_SIZE = 24;
export const CHECKSUM_SIZE = 8;
/** Limits a reader enforces on a chunk. */
export const MAX_CHUNK_RECORDS = 1 << 24;
export const MAX_CHUNK_BYTES = 1 << 28;
/** Records per chunk a writer aims at. */
export const DEFAULT_CHUNK_RECORDS = 65536;
/** Chunk flag: the payload has the two timestamp sections. */
export const FLAG_TIMES = 1;

/** Record kinds: one byte per record in the `kinds` section. */
export const Kind = {
  Read: 0,
  Write: 1,
  /** A discard in flight until its io_complete (the io_submit extension). */
  DiscardSubmit: 2,
  CompleteOk: 3,
  CompleteFailed: 4,
  MemWrite: 5,
  Release: 6,
  Dirty: 7,
  Checkpoint: 8,
  /** An instantaneous discard (the `discard` line). */
  Discard: 9,
} as const;

/** Payload sections, in order; the last two only with FLAG_TIMES. */
export const SECTIONS = [
  'kinds',
  'ids',
  'disks',
  'sectors',
  'counts',
  'argCounts',
  'pfns',
  'sectorsInPage',
  'labels',
  'timePresence',
  'times',
] as const;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The file header: magic, versions, the header JSON and its checksum. */
export function encodeFileHeader(h: TraceHeader, hasher: Hasher64): Buffer {
  const json = utf8.encode(headerJson(h));
  const out = Buffer.alloc(FILE_HEADER_FIXED + json.length + CHECKSUM_SIZE);
  out.set(BINARY_MAGIC, 0);
  out.writeUInt16LE(BINARY_MAJOR, 8);
  out.writeUInt16LE(BINARY_MINOR, 10);
  out.writeUInt32LE(json.length, 12);
  out.set(json, FILE_HEADER_FIXED);
  out.writeBigUInt64LE(
    hasher.hash64(out.subarray(0, FILE_HEADER_FIXED + json.length)),
    FILE_HEADER_FIXED + json.length,
  );
  return out;
}

/** A chunk's records, encoded and not yet compressed. */
export interface ChunkPayload {
  readonly records: number;
  readonly args: number;
  readonly flags: number;
  readonly raw: Uint8Array;
}

/** A framed chunk: header, stored (deflated) payload, checksum. */
export function frameChunk(chunk: ChunkPayload, stored: Uint8Array, hasher: Hasher64): Buffer {
  const { records, args, flags } = chunk;
  const raw = chunk.raw.length;
  const out = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + stored.length + CHECKSUM_SIZE);
  out.writeUInt32LE(records, 0);
  out.writeUInt32LE(args, 4);
  out.writeUInt32LE(raw, 8);
  out.writeUInt32LE(stored.length, 12);
  out.writeUInt32LE(flags, 16);
  out.writeUInt32LE(0, 20);
  out.set(stored, CHUNK_HEADER_SIZE);
  const end = CHUNK_HEADER_SIZE + stored.length;
  out.writeBigUInt64LE(hasher.hash64(out.subarray(0, end)), end);
  return out;
}

/** The end chunk: no records. */
export function endChunk(hasher: Hasher64): Buffer {
  return frameChunk({ records: 0, args: 0, flags: 0, raw: new Uint8Array(0) }, new Uint8Array(0), hasher);
}

/** Encodes records into chunk columns. */
export class BinarySink implements RecordSink {
  private readonly kinds = new ByteSink(1 << 16);
  private readonly ids = new ByteSink(1 << 16);
  private readonly disks = new ByteSink(1 << 14);
  private readonly sectors = new ByteSink(1 << 16);
  private readonly counts = new ByteSink(1 << 10);
  private readonly argCounts = new ByteSink(1 << 16);
  private readonly pfns = new ByteSink(1 << 17);
  private readonly sip = new ByteSink(1 << 16);
  private readonly labels = new ByteSink(1 << 10);
  private readonly timePresence = new ByteSink(1 << 10);
  private readonly times = new ByteSink(1 << 10);
  private hasTimes = false;
  records = 0;
  args = 0;
  private prevSubmit = 0;
  private prevComplete = 0;
  private prevEnd = 0;
  private prevPfn = 0;
  private prevT = 0;

  constructor(
    private readonly hasher: Hasher64,
    /** zlib deflate level. */
    readonly level = 1,
  ) {}

  private time(t: number): void {
    if (t === t) {
      if (!this.hasTimes) {
        this.hasTimes = true;
        this.timePresence.ensure(this.records);
        this.timePresence.buf.fill(0, 0, this.records);
        this.timePresence.n = this.records;
      }
      this.timePresence.u8(1);
      this.times.svar(t - this.prevT);
      this.prevT = t;
    } else if (this.hasTimes) this.timePresence.u8(0);
    this.records++;
  }

  private place(disk: number, sector: number, count: number): void {
    this.disks.uvar(disk);
    this.sectors.svar(sector - this.prevEnd);
    this.prevEnd = sector + count;
  }

  submit(
    id: number,
    dir: typeof IoDir.Read | typeof IoDir.Write,
    disk: number,
    sector: number,
    pfn: Uint32Array,
    first: Uint8Array,
    last: Uint8Array,
    from: number,
    to: number,
    t: number,
  ): void {
    this.kinds.u8(dir === IoDir.Read ? Kind.Read : Kind.Write);
    this.ids.svar(id - this.prevSubmit);
    this.prevSubmit = id;
    let count = 0;
    const pfns = this.pfns;
    const sip = this.sip;
    let prev = this.prevPfn;
    for (let k = from; k < to; k++) {
      const p = pfn[k]!;
      pfns.svar(p - prev);
      prev = p;
      const a = first[k]!;
      const b = last[k]!;
      sip.u8((a << 3) | b);
      count += b - a + 1;
    }
    this.prevPfn = prev;
    this.argCounts.uvar(to - from);
    this.args += to - from;
    this.place(disk, sector, count);
    this.time(t);
  }

  submitDiscard(id: number, disk: number, sector: number, count: number, t: number): void {
    this.kinds.u8(Kind.DiscardSubmit);
    this.ids.svar(id - this.prevSubmit);
    this.prevSubmit = id;
    this.counts.uvar(count);
    this.place(disk, sector, count);
    this.time(t);
  }

  complete(id: number, ok: boolean, t: number): void {
    this.kinds.u8(ok ? Kind.CompleteOk : Kind.CompleteFailed);
    this.ids.svar(id - this.prevComplete);
    this.prevComplete = id;
    this.time(t);
  }

  discard(disk: number, sector: number, count: number, t: number): void {
    this.kinds.u8(Kind.Discard);
    this.counts.uvar(count);
    this.place(disk, sector, count);
    this.time(t);
  }

  pages(
    op: typeof Op.MemWrite | typeof Op.Release | typeof Op.Dirty,
    pfn: Uint32Array,
    from: number,
    to: number,
    t: number,
  ): void {
    this.kinds.u8(op === Op.MemWrite ? Kind.MemWrite : op === Op.Release ? Kind.Release : Kind.Dirty);
    const pfns = this.pfns;
    let prev = this.prevPfn;
    for (let k = from; k < to; k++) {
      const p = pfn[k]!;
      pfns.svar(p - prev);
      prev = p;
    }
    this.prevPfn = prev;
    this.argCounts.uvar(to - from);
    this.args += to - from;
    this.time(t);
  }

  checkpoint(name: string, t: number): void {
    this.kinds.u8(Kind.Checkpoint);
    const bytes = utf8.encode(name);
    this.labels.uvar(bytes.length);
    this.labels.bytes(bytes);
    this.time(t);
  }

  /** The records so far as one chunk's payload, not yet compressed (undefined if none); starts a new chunk. */
  takePayload(): ChunkPayload | undefined {
    if (this.records === 0) return undefined;
    const sections = [
      this.kinds,
      this.ids,
      this.disks,
      this.sectors,
      this.counts,
      this.argCounts,
      this.pfns,
      this.sip,
      this.labels,
      ...(this.hasTimes ? [this.timePresence, this.times] : []),
    ];
    const payload = new ByteSink(sections.reduce((n, s) => n + s.n + 8, 0));
    for (const s of sections) {
      payload.uvar(s.n);
      payload.bytes(s.view());
    }
    if (payload.n > MAX_CHUNK_BYTES) {
      throw new TraceError(`a chunk of ${payload.n} bytes exceeds the binary format's ${MAX_CHUNK_BYTES}`);
    }
    const chunk: ChunkPayload = {
      records: this.records,
      args: this.args,
      flags: this.hasTimes ? FLAG_TIMES : 0,
      raw: payload.view(),
    };
    for (const s of sections) s.reset();
    this.timePresence.reset();
    this.times.reset();
    this.hasTimes = false;
    this.records = 0;
    this.args = 0;
    this.prevSubmit = 0;
    this.prevComplete = 0;
    this.prevEnd = 0;
    this.prevPfn = 0;
    this.prevT = 0;
    return chunk;
  }

  /** The records so far as one framed chunk (undefined if none), compressed here and now. */
  flush(): Buffer | undefined {
    const chunk = this.takePayload();
    if (chunk === undefined) return undefined;
    return frameChunk(chunk, deflateRawSync(chunk.raw, { level: this.level }), this.hasher);
  }
}

/** A binary trace being read, chunk by chunk. */
export class BinaryReader {
  header!: TraceHeader;
  private checker!: TraceChecker;
  private asm!: BatchAssembler;
  private chunkNo = 0;
  private records = 0;
  private checkpoints = 0;
  private batches = 0;
  private events = 0;
  private discardId = -1;
  private pages = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly batchSize: number,
    private readonly hasher: Hasher64,
  ) {}

  async readHeader(): Promise<TraceHeader> {
    const fixed = await this.src.read(FILE_HEADER_FIXED);
    const bad = (offset: number, what: string): TraceError =>
      new TraceError(`byte ${offset}: ${what}`, { offset });
    if (fixed.length < FILE_HEADER_FIXED) throw bad(0, 'truncated binary trace header');
    if (!BINARY_MAGIC.every((b, k) => fixed[k] === b))
      throw bad(0, 'not a leanckpt binary trace (bad magic)');
    const major = fixed.readUInt16LE(8);
    if (major !== BINARY_MAJOR) {
      throw bad(
        8,
        `unsupported binary trace version ${major}.${fixed.readUInt16LE(10)}; this reader reads ${BINARY_MAJOR}.x`,
      );
    }
    const len = fixed.readUInt32LE(12);
    if (len > MAX_HEADER_JSON) throw bad(12, `header length ${len} exceeds ${MAX_HEADER_JSON}`);
    const rest = await this.src.read(len + CHECKSUM_SIZE);
    if (rest.length < len + CHECKSUM_SIZE) throw bad(FILE_HEADER_FIXED, 'truncated binary trace header');
    const all = Buffer.concat([fixed, rest.subarray(0, len)]);
    if (this.hasher.hash64(all) !== rest.readBigUInt64LE(len))
      throw bad(FILE_HEADER_FIXED + len, 'header checksum mismatch');
    let v: unknown;
    try {
      v = JSON.parse(utf8Decoder.decode(rest.subarray(0, len)));
    } catch (err) {
      throw bad(FILE_HEADER_FIXED, `header: bad JSON: ${describeError(err)}`);
    }
    try {
      this.header = checkHeader(v);
    } catch (err) {
      if (err instanceof Fault) throw bad(FILE_HEADER_FIXED, err.message);
      throw err;
    }
    this.checker = new TraceChecker(this.header, 'record');
    this.asm = new BatchAssembler(this.batchSize);
    this.pages = this.header.pages;
    return this.header;
  }

  async *read(): AsyncGenerator<TraceBatch> {
    for (;;) {
      const at = this.src.position;
      const where = { chunk: this.chunkNo, offset: at };
      const fail = (what: string): TraceError =>
        new TraceError(`chunk ${this.chunkNo} at byte ${at}: ${what}`, where);
      const head = await this.src.read(CHUNK_HEADER_SIZE);
      if (head.length === 0) throw fail('the trace ends without an end chunk (truncated)');
      if (head.length < CHUNK_HEADER_SIZE) throw fail('truncated chunk header');
      const records = head.readUInt32LE(0);
      const args = head.readUInt32LE(4);
      const raw = head.readUInt32LE(8);
      const stored = head.readUInt32LE(12);
      const flags = head.readUInt32LE(16);
      if (records > MAX_CHUNK_RECORDS)
        throw fail(`${records} records exceed the limit of ${MAX_CHUNK_RECORDS}`);
      if (raw > MAX_CHUNK_BYTES || stored > MAX_CHUNK_BYTES)
        throw fail(`chunk larger than ${MAX_CHUNK_BYTES} bytes`);
      const body = await this.src.read(stored + CHECKSUM_SIZE);
      if (body.length < stored + CHECKSUM_SIZE) throw fail('truncated chunk');
      const sum = this.hasher.streaming().update(head).update(body.subarray(0, stored)).digest();
      if (sum !== body.readBigUInt64LE(stored)) throw fail('checksum mismatch');
      if ((flags & ~FLAG_TIMES) !== 0 || head.readUInt32LE(20) !== 0) throw fail(`unknown flags ${flags}`);
      if (records === 0) {
        if (args !== 0 || raw !== 0 || stored !== 0) throw fail('corrupt end chunk');
        const after = await this.src.peek(1);
        if (after.length > 0)
          throw new TraceError(`byte ${this.src.position}: data after the end chunk`, {
            offset: this.src.position,
          });
        break;
      }
      let payload: Buffer;
      try {
        payload = inflateRawSync(body.subarray(0, stored), { maxOutputLength: Math.max(raw, 1) });
      } catch (err) {
        throw fail(`corrupt payload: ${describeError(err)}`);
      }
      if (payload.length !== raw) throw fail(`corrupt payload: ${payload.length} bytes, header says ${raw}`);
      let out: TraceBatch[];
      const first = this.records;
      try {
        out = this.decode(payload, records, args, (flags & FLAG_TIMES) !== 0);
      } catch (err) {
        if (err instanceof Fault) {
          const rec = this.records > first ? `record ${this.records}: ` : '';
          throw new TraceError(`chunk ${this.chunkNo} at byte ${at}: ${rec}${err.message}`, {
            ...where,
            ...(this.records > first ? { record: this.records } : {}),
          });
        }
        throw err;
      }
      this.chunkNo++;
      yield* out;
    }
    if (this.asm.n > 0) yield this.take();
  }

  private take(): TraceBatch {
    const b = this.asm.build();
    this.batches++;
    this.events += b.length;
    return b;
  }

  /** Decodes one chunk's payload into the assembler, checking every record; returns the batches completed. */
  private decode(payload: Buffer, records: number, args: number, timed: boolean): TraceBatch[] {
    const cursors: ByteCursor[] = [];
    const head = new ByteCursor(payload, 0, payload.length, 'lengths');
    const n = timed ? SECTIONS.length : SECTIONS.length - 2;
    for (let s = 0; s < n; s++) {
      const len = head.uvar();
      if (head.pos + len > payload.length)
        fault(`corrupt payload: section ${SECTIONS[s]} overruns the payload`);
      cursors.push(new ByteCursor(payload, head.pos, head.pos + len, SECTIONS[s]!));
      head.pos += len;
    }
    if (head.pos !== payload.length) fault('corrupt payload: bytes after the last section');
    const [kinds, ids, disks, sectors, counts, argCounts, pfns, sip, labels] = cursors as [
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
      ByteCursor,
    ];
    if (kinds.end - kinds.pos !== records)
      fault(`corrupt payload: ${kinds.end - kinds.pos} kinds for ${records} records`);
    // Every page argument takes at least a byte of pfns: a bound before anything is allocated for them.
    if (args > pfns.end - pfns.pos)
      fault(`corrupt payload: ${args} page arguments in ${pfns.end - pfns.pos} bytes`);
    const presence = cursors[9];
    const times = cursors[10];
    const asm = this.asm;
    const c = this.checker;
    const pages = this.pages;
    const out: TraceBatch[] = [];
    let prevSubmit = 0;
    let prevComplete = 0;
    let prevEnd = 0;
    let prevPfn = 0;
    let prevT = 0;
    let argsSeen = 0;
    const kindBytes = payload;
    for (let r = 0; r < records; r++) {
      const kind = kindBytes[kinds.pos++]!;
      this.records++;
      let t = NaN;
      if (presence !== undefined && times !== undefined && presence.u8() !== 0) {
        t = prevT + times.svar();
        if (!(t >= 0 && t <= MAX_T)) fault(`timestamp ${t} outside 0..2^53-1`);
        prevT = t;
      }
      switch (kind) {
        case Kind.Read:
        case Kind.Write: {
          const what = kind === Kind.Read ? 'read' : 'write';
          const id = prevSubmit + ids.svar();
          prevSubmit = id;
          if (!(id >= 0 && id <= MAX_ID)) fault(`io_submit: request id ${id} outside 0..2^53-1`);
          const disk = disks.uvar();
          if (disk > MAX_DISK_ID) fault(`io_submit: disk ${disk} is not a u32`);
          const sector = prevEnd + sectors.svar();
          if (!(sector >= 0 && sector <= Number.MAX_SAFE_INTEGER))
            fault(`io_submit: sector ${sector} outside 0..2^53-1`);
          const nArgs = argCounts.uvar();
          argsSeen += nArgs;
          if (argsSeen > args) fault(`corrupt payload: more page arguments than the ${args} the header says`);
          const i = asm.submit(id, kind === Kind.Read ? IoDir.Read : IoDir.Write, disk, sector, t);
          const from = asm.nArgs;
          if (from + nArgs > asm.pfn.length) asm.growArgs(from + nArgs);
          for (let k = 0; k < nArgs; k++) {
            const p = prevPfn + pfns.svar();
            prevPfn = p;
            if (!(p >= 0 && p < pages))
              fault(`io_submit: segment ${k}: page ${p} outside the guest's 0..${pages - 1}`);
            const s = sip.u8();
            asm.arg(p, s >> 3, s & 7);
          }
          try {
            const count = c.segments(what, asm.pfn, asm.first, asm.last, from, asm.nArgs);
            asm.count[i] = count;
            prevEnd = sector + count;
            c.range(disk, sector, count);
            c.submit(id, this.records);
          } catch (err) {
            if (err instanceof Fault) fault(`io_submit: ${err.message}`);
            throw err;
          }
          break;
        }
        case Kind.DiscardSubmit:
        case Kind.Discard: {
          const op = kind === Kind.Discard ? 'discard' : 'io_submit';
          const id = kind === Kind.Discard ? this.discardId-- : prevSubmit + ids.svar();
          if (kind === Kind.DiscardSubmit) {
            prevSubmit = id;
            if (!(id >= 0 && id <= MAX_ID)) fault(`io_submit: request id ${id} outside 0..2^53-1`);
          }
          const disk = disks.uvar();
          if (disk > MAX_DISK_ID) fault(`${op}: disk ${disk} is not a u32`);
          const sector = prevEnd + sectors.svar();
          if (!(sector >= 0 && sector <= Number.MAX_SAFE_INTEGER))
            fault(`${op}: sector ${sector} outside 0..2^53-1`);
          const count = counts.uvar();
          if (count === 0) fault(`${op}: "count" must be at least 1`);
          prevEnd = sector + count;
          try {
            c.range(disk, sector, count);
            if (kind === Kind.DiscardSubmit) c.submit(id, this.records);
          } catch (err) {
            if (err instanceof Fault) fault(`${op}: ${err.message}`);
            throw err;
          }
          asm.count[asm.submit(id, IoDir.Discard, disk, sector, t)] = count;
          if (kind === Kind.Discard) asm.complete(id, true, t);
          break;
        }
        case Kind.CompleteOk:
        case Kind.CompleteFailed: {
          const id = prevComplete + ids.svar();
          prevComplete = id;
          if (!(id >= 0 && id <= MAX_ID)) fault(`io_complete: request id ${id} outside 0..2^53-1`);
          try {
            c.complete(id);
          } catch (err) {
            if (err instanceof Fault) fault(`io_complete: ${err.message}`);
            throw err;
          }
          asm.complete(id, kind === Kind.CompleteOk, t);
          break;
        }
        case Kind.MemWrite:
        case Kind.Release:
        case Kind.Dirty: {
          const op = kind === Kind.MemWrite ? Op.MemWrite : kind === Kind.Release ? Op.Release : Op.Dirty;
          const nArgs = argCounts.uvar();
          argsSeen += nArgs;
          if (argsSeen > args) fault(`corrupt payload: more page arguments than the ${args} the header says`);
          asm.begin(op, t);
          if (asm.nArgs + nArgs > asm.pfn.length) asm.growArgs(asm.nArgs + nArgs);
          for (let k = 0; k < nArgs; k++) {
            const p = prevPfn + pfns.svar();
            prevPfn = p;
            if (!(p >= 0 && p < pages)) {
              const name = kind === Kind.MemWrite ? 'mem_write' : kind === Kind.Release ? 'release' : 'dirty';
              fault(`${name}: pfns[${k}]: page ${p} outside the guest's 0..${pages - 1}`);
            }
            asm.arg(p, 0, 7);
          }
          break;
        }
        case Kind.Checkpoint: {
          const len = labels.uvar();
          let name: string;
          try {
            name = utf8Decoder.decode(labels.bytes(len));
          } catch (err) {
            if (err instanceof Fault) throw err;
            fault('checkpoint: name is not valid UTF-8');
          }
          asm.checkpoint(name, t);
          this.checkpoints++;
          out.push(this.take());
          continue;
        }
        default:
          fault(`corrupt payload: unknown record kind ${kind}`);
      }
      if (asm.full) out.push(this.take());
    }
    if (argsSeen !== args) fault(`corrupt payload: ${argsSeen} page arguments, the header says ${args}`);
    for (const cur of cursors) {
      if (!cur.atEnd) fault(`corrupt payload: section ${cur.section} has bytes left over`);
    }
    return out;
  }

  totals(): ReadTotals {
    return {
      records: this.records,
      events: this.events,
      batches: this.batches,
      checkpoints: this.checkpoints,
      inFlight: this.checker.inFlight,
      bytes: this.src.position,
    };
  }
}
