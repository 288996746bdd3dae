/**
 * JSON Lines traces (docs/trace-format.md): a streaming reader that splits lines itself (one UTF-8
 * decode per input chunk, one JSON.parse per line) and fills batch columns directly, and the record
 * sink that writes lines.
 */
import { IoDir, Op } from '../events/batch.ts';
import { BatchAssembler, type TraceBatch } from './batch.ts';
import { LONE_SURROGATE, MAX_ID, MAX_T, TraceChecker } from './checker.ts';
import { Fault, TraceError, fault } from './errors.ts';
import { checkHeader, headerJson, MAX_DISK_ID } from './header-check.ts';
import type { TraceHeader } from './header.ts';
import type { RecordSink } from './records.ts';
import type { ByteSource } from './source.ts';
import { withRoom } from './varint.ts';

/** Longest line a reader accepts. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

/** Splits a byte source into blocks of whole lines: strings without the final newline. */
class LineBlocks {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private ended = false;

  constructor(
    private readonly src: ByteSource,
    /** Line number of the first line of the next block, for the too-long message. */
    private readonly lineOf: () => number,
  ) {}

  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.ended) return undefined;
      const chunk = await this.src.chunk();
      if (chunk === undefined) {
        this.ended = true;
        if (this.carryBytes === 0) return undefined;
        return this.take(undefined, 0);
      }
      const nl = chunk.lastIndexOf(10);
      if (nl < 0) {
        this.carry.push(chunk);
        this.carryBytes += chunk.length;
        if (this.carryBytes > MAX_LINE_BYTES) {
          throw new TraceError(`line ${this.lineOf()}: longer than ${MAX_LINE_BYTES} bytes`, {
            line: this.lineOf(),
          });
        }
        continue;
      }
      return this.take(chunk, nl);
    }
  }

  /** The carried bytes plus `chunk[0 .. nl)` as text; the rest of `chunk` is carried. */
  private take(chunk: Buffer | undefined, nl: number): string {
    let text: string;
    if (this.carryBytes === 0) text = chunk!.toString('utf8', 0, nl);
    else {
      if (chunk !== undefined) this.carry.push(chunk.subarray(0, nl));
      text = Buffer.concat(this.carry).toString('utf8');
    }
    this.carry = [];
    this.carryBytes = 0;
    if (chunk !== undefined && nl + 1 < chunk.length) {
      this.carry.push(chunk.subarray(nl + 1));
      this.carryBytes = chunk.length - nl - 1;
    }
    return text;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

type Obj = Record<string, unknown>;

function nat(e: Obj, key: string, max: number): number {
  const v = e[key];
  if (typeof v === 'number' && v >= 0 && v <= max && Number.isInteger(v)) return v;
  if (v === undefined) fault(`missing "${key}"`);
  fault(`"${key}" must be an integer in 0..${max === MAX_ID ? '2^53-1' : max}, got ${show(v)}`);
}

function array(e: Obj, key: string): unknown[] {
  const v = e[key];
  if (Array.isArray(v)) return v;
  if (v === undefined) fault(`missing "${key}"`);
  fault(`"${key}" must be an array, got ${show(v)}`);
}

/** What a reader has seen, once it has read to the end. */
export interface ReadTotals {
  /** Records: lines other than the header and blank lines (JSON Lines), records (binary). */
  records: number;
  /** Core events yielded (a `discard` record is two: submit and completion). */
  events: number;
  batches: number;
  checkpoints: number;
  /** Requests still in flight at the end of the trace. */
  inFlight: number;
  /** Bytes of the input read so far, as stored (before gunzip): for progress against the file size. */
  bytes: number;
}

const DIGIT_0 = 48;
const COMMA = 44;
const OPEN = 91;
const CLOSE = 93;
const BRACE_CLOSE = 125;

/**
 * Decodes lines into batch columns, stateful checks included. Lines in the exact shape the writer
 * produces (fields in schema order, no spaces, plain integers) take a scanner that reads the text
 * directly; any other line, and any line the scanner is unsure of, goes through JSON.parse and the
 * field checks that name what is wrong. Both end in the same semantic checks.
 */
export class JsonlDecoder {
  readonly checker: TraceChecker;
  readonly asm: BatchAssembler;
  private readonly pages: number;
  /** Next id for an instantaneous discard. */
  private discardId = -1;
  records = 0;
  checkpoints = 0;
  /** Op of the line being decoded, for messages. */
  private op = '';
  /** Line being decoded. */
  private at = 0;
  /** Scanner state: the line and the position in it. */
  private s = '';
  private p = 0;
  /** End of the line in `s`. */
  private e = 0;

  constructor(
    header: TraceHeader,
    batchSize: number,
    /** Use the scanner for lines in the writer's shape (tests compare both paths). */
    private readonly useScanner = true,
  ) {
    this.checker = new TraceChecker(header, 'line');
    this.asm = new BatchAssembler(batchSize);
    this.pages = header.pages;
  }

  /**
   * Decodes line `lineNo`. Returns true when the batch must end after it (full, or a checkpoint).
   * Throws TraceError.
   */
  line(block: string, start: number, end: number, lineNo: number): boolean {
    this.op = '';
    this.at = lineNo;
    const asm = this.asm;
    const n = asm.n;
    const nArgs = asm.nArgs;
    try {
      const fast = this.useScanner ? this.scan(block, start, end) : -1;
      if (fast >= 0) return fast === 1 || asm.full;
      // Not in the writer's shape: undo what the scanner began and take the general path.
      asm.n = n;
      asm.nArgs = nArgs;
      this.op = '';
      return this.decode(block.slice(start, end));
    } catch (err) {
      if (err instanceof Fault) {
        const op = this.op === '' ? '' : `${this.op}: `;
        throw new TraceError(`line ${lineNo}: ${op}${err.message}`, { line: lineNo });
      }
      throw err;
    }
  }

  // ---- the scanner: -1 means "not sure, use JSON.parse"; it never reports a fault of its own ----

  private lit(word: string): boolean {
    if (!this.s.startsWith(word, this.p)) return false;
    this.p += word.length;
    return true;
  }

  /** A plain non-negative integer literal of at most 15 digits, or -1. */
  private num(): number {
    const s = this.s;
    let p = this.p;
    let c = s.charCodeAt(p) - DIGIT_0;
    if (!(c >= 0 && c <= 9)) return -1;
    let v = c;
    const start = p++;
    if (c === 0) {
      c = s.charCodeAt(p) - DIGIT_0;
      if (c >= 0 && c <= 9) return -1;
    } else {
      for (;;) {
        c = s.charCodeAt(p) - DIGIT_0;
        if (!(c >= 0 && c <= 9)) break;
        v = v * 10 + c;
        p++;
      }
      if (p - start > 15) return -1;
    }
    // A fraction or exponent: leave it to JSON.parse.
    const d = s.charCodeAt(p);
    if (d === 46 || d === 101 || d === 69) return -1;
    this.p = p;
    return v;
  }

  /** `}` or `,"t":N}` ending the line: the timestamp (NaN for none), or -1. */
  private tail(): number {
    const s = this.s;
    if (s.charCodeAt(this.p) === BRACE_CLOSE) return this.p + 1 === this.e ? NaN : -1;
    if (!this.lit(',"t":')) return -1;
    const t = this.num();
    if (t < 0 || s.charCodeAt(this.p) !== BRACE_CLOSE || this.p + 1 !== this.e) return -1;
    return t;
  }

  /** 1: decoded, batch ends here; 0: decoded; -1: not in the writer's shape. */
  private scan(text: string, start: number, end: number): number {
    this.s = text;
    this.p = start;
    this.e = end;
    if (!this.lit('{"op":"')) return -1;
    const asm = this.asm;
    const c = text.charCodeAt(this.p);
    if (c === 105 /* i */) {
      if (this.lit('io_submit","id":')) {
        const id = this.num();
        if (id < 0) return -1;
        if (this.lit(',"dir":"read","disk":')) return this.scanSubmit(id, IoDir.Read);
        if (this.lit(',"dir":"write","disk":')) return this.scanSubmit(id, IoDir.Write);
        if (!this.lit(',"dir":"discard","disk":')) return -1;
        const disk = this.num();
        if (disk < 0 || disk > MAX_DISK_ID || !this.lit(',"sector":')) return -1;
        const sector = this.num();
        if (sector < 0 || !this.lit(',"count":')) return -1;
        const count = this.num();
        if (count < 1) return -1;
        const t = this.tail();
        if (t < 0) return -1;
        this.records++;
        this.op = 'io_submit';
        this.discardSubmit(id, disk, sector, count, t);
        return 0;
      }
      if (!this.lit('io_complete","id":')) return -1;
      const id = this.num();
      if (id < 0) return -1;
      let ok: boolean;
      if (this.lit(',"ok":true')) ok = true;
      else if (this.lit(',"ok":false')) ok = false;
      else return -1;
      const t = this.tail();
      if (t < 0) return -1;
      this.records++;
      this.op = 'io_complete';
      this.checker.complete(id);
      asm.complete(id, ok, t);
      return 0;
    }
    let op: Op;
    if (this.lit('mem_write","pfns":[')) op = Op.MemWrite;
    else if (this.lit('release","pfns":[')) op = Op.Release;
    else if (this.lit('dirty","pfns":[')) op = Op.Dirty;
    else if (this.lit('discard","disk":')) {
      const disk = this.num();
      if (disk < 0 || disk > MAX_DISK_ID || !this.lit(',"sector":')) return -1;
      const sector = this.num();
      if (sector < 0 || !this.lit(',"count":')) return -1;
      const count = this.num();
      if (count < 1) return -1;
      const t = this.tail();
      if (t < 0) return -1;
      this.records++;
      this.op = 'discard';
      this.instantDiscard(disk, sector, count, t);
      return 0;
    } else if (this.lit('checkpoint","name":"')) {
      const from = this.p;
      const close = text.indexOf('"', from);
      if (close < 0 || close >= end) return -1;
      for (let k = from; k < close; k++) {
        const ch = text.charCodeAt(k);
        if (ch < 0x20 || ch === 92 /* backslash */) return -1;
      }
      this.p = close + 1;
      const t = this.tail();
      if (t < 0) return -1;
      this.records++;
      asm.checkpoint(text.slice(from, close), t);
      this.checkpoints++;
      return 1;
    } else return -1;
    // Page lists.
    asm.begin(op, NaN);
    if (text.charCodeAt(this.p) !== CLOSE) {
      for (;;) {
        const pfn = this.num();
        if (pfn < 0 || pfn >= this.pages) return -1;
        asm.arg(pfn, 0, 7);
        const ch = text.charCodeAt(this.p++);
        if (ch === CLOSE) break;
        if (ch !== COMMA) return -1;
      }
    } else this.p++;
    const t = this.tail();
    if (t < 0) return -1;
    if (t === t) this.retime(t);
    this.records++;
    return 0;
  }

  /** Gives the event begun last the timestamp `t` (the scanner learns it at the end of the line). */
  private retime(t: number): void {
    const asm = this.asm;
    const i = asm.n - 1;
    if (asm.t === undefined) asm.t = new Float64Array(asm.op.length).fill(NaN);
    asm.t[i] = t;
  }

  private scanSubmit(id: number, dir: typeof IoDir.Read | typeof IoDir.Write): number {
    const disk = this.num();
    if (disk < 0 || disk > MAX_DISK_ID || !this.lit(',"sector":')) return -1;
    const sector = this.num();
    if (sector < 0 || !this.lit(',"segs":[')) return -1;
    const s = this.s;
    const asm = this.asm;
    const i = asm.submit(id, dir, disk, sector, NaN);
    const from = asm.nArgs;
    if (s.charCodeAt(this.p) === CLOSE) return -1; // no segments: let the general path say so
    let p = this.p;
    for (;;) {
      // [pfn,first,last] with a plain pfn of at most 10 digits and one-digit first and last.
      if (s.charCodeAt(p) !== OPEN) return -1;
      let c = s.charCodeAt(++p) - DIGIT_0;
      if (!(c >= 0 && c <= 9)) return -1;
      const start = p;
      let pfn = c;
      for (;;) {
        c = s.charCodeAt(++p) - DIGIT_0;
        if (!(c >= 0 && c <= 9)) break;
        pfn = pfn * 10 + c;
      }
      if (p - start > 10 || (p - start > 1 && s.charCodeAt(start) === DIGIT_0) || pfn > 0xffffffff) return -1;
      const a = s.charCodeAt(p + 1) - DIGIT_0;
      const b = s.charCodeAt(p + 3) - DIGIT_0;
      if (!(a >= 0 && a <= 9 && b >= 0 && b <= 9)) return -1;
      if (s.charCodeAt(p) !== COMMA || s.charCodeAt(p + 2) !== COMMA || s.charCodeAt(p + 4) !== CLOSE)
        return -1;
      asm.arg(pfn, a, b);
      const ch = s.charCodeAt(p + 5);
      p += 6;
      if (ch === CLOSE) break;
      if (ch !== COMMA) return -1;
    }
    this.p = p;
    const t = this.tail();
    if (t < 0) return -1;
    if (t === t) this.retime(t);
    this.records++;
    this.op = 'io_submit';
    this.finishSubmit(i, id, dir === IoDir.Read ? 'read' : 'write', disk, sector, from);
    return 0;
  }

  // ---- shared by both paths: the semantic checks ----

  private finishSubmit(
    i: number,
    id: number,
    dir: 'read' | 'write',
    disk: number,
    sector: number,
    from: number,
  ): void {
    const asm = this.asm;
    const c = this.checker;
    const count = c.segments(dir, asm.pfn, asm.first, asm.last, from, asm.nArgs);
    asm.count[i] = count;
    c.range(disk, sector, count);
    c.submit(id, this.at);
  }

  private discardSubmit(id: number, disk: number, sector: number, count: number, t: number): void {
    this.checker.range(disk, sector, count);
    this.checker.submit(id, this.at);
    this.asm.count[this.asm.submit(id, IoDir.Discard, disk, sector, t)] = count;
  }

  private instantDiscard(disk: number, sector: number, count: number, t: number): void {
    this.checker.range(disk, sector, count);
    const id = this.discardId--;
    this.asm.count[this.asm.submit(id, IoDir.Discard, disk, sector, t)] = count;
    this.asm.complete(id, true, t);
  }

  // ---- the general path ----

  private decode(text: string): boolean {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      if (text.trim() === '') return false;
      fault(`bad JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      fault(`expected a JSON object, got ${show(v)}`);
    const e = v as Obj;
    const tv = e['t'];
    let t = NaN;
    if (tv !== undefined) {
      if (typeof tv !== 'number' || !(tv >= 0 && tv <= MAX_T) || !Number.isInteger(tv)) {
        fault(`"t" must be an integer number of nanoseconds in 0..2^53-1, got ${show(tv)}`);
      }
      t = tv;
    }
    const asm = this.asm;
    this.records++;
    const op = e['op'];
    switch (op) {
      case 'io_submit': {
        this.op = 'io_submit';
        const id = nat(e, 'id', MAX_ID);
        const dir = e['dir'];
        if (dir === 'read' || dir === 'write') {
          const disk = nat(e, 'disk', MAX_DISK_ID);
          const sector = nat(e, 'sector', Number.MAX_SAFE_INTEGER);
          const segs = array(e, 'segs');
          const i = asm.submit(id, dir === 'read' ? IoDir.Read : IoDir.Write, disk, sector, t);
          const from = asm.nArgs;
          for (let k = 0; k < segs.length; k++) {
            const s = segs[k];
            if (!Array.isArray(s) || s.length !== 3)
              fault(`segment ${k} must be [pfn, first, last], got ${show(s)}`);
            const p: unknown = s[0];
            const a: unknown = s[1];
            const b: unknown = s[2];
            if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
              fault(`segment ${k}: pfn must be a non-negative integer, got ${show(p)}`);
            }
            if (p >= this.pages) fault(`segment ${k}: page ${p} outside the guest's 0..${this.pages - 1}`);
            if (
              typeof a !== 'number' ||
              typeof b !== 'number' ||
              !Number.isInteger(a) ||
              !Number.isInteger(b)
            ) {
              fault(`segment ${k}: first and last must be integers, got ${show(s)}`);
            }
            if (!(a >= 0 && a <= b && b <= 7)) {
              fault(`segment ${k} has sectors ${a}..${b}, want 0 <= first <= last <= 7`);
            }
            asm.arg(p, a, b);
          }
          this.finishSubmit(i, id, dir, disk, sector, from);
        } else if (dir === 'discard') {
          const disk = nat(e, 'disk', MAX_DISK_ID);
          const sector = nat(e, 'sector', Number.MAX_SAFE_INTEGER);
          const count = nat(e, 'count', Number.MAX_SAFE_INTEGER);
          if (count === 0) fault('"count" must be at least 1');
          this.discardSubmit(id, disk, sector, count, t);
        } else if (dir === undefined) fault('missing "dir"');
        else fault(`"dir" must be "read", "write" or "discard", got ${show(dir)}`);
        break;
      }
      case 'io_complete': {
        this.op = 'io_complete';
        const id = nat(e, 'id', MAX_ID);
        const ok = e['ok'];
        if (typeof ok !== 'boolean') {
          fault(ok === undefined ? 'missing "ok"' : `"ok" must be true or false, got ${show(ok)}`);
        }
        this.checker.complete(id);
        asm.complete(id, ok, t);
        break;
      }
      case 'discard': {
        this.op = 'discard';
        const disk = nat(e, 'disk', MAX_DISK_ID);
        const sector = nat(e, 'sector', Number.MAX_SAFE_INTEGER);
        const count = nat(e, 'count', Number.MAX_SAFE_INTEGER);
        if (count === 0) fault('"count" must be at least 1');
        this.instantDiscard(disk, sector, count, t);
        break;
      }
      case 'mem_write':
      case 'release':
      case 'dirty': {
        this.op = op;
        const pfns = array(e, 'pfns');
        asm.begin(op === 'mem_write' ? Op.MemWrite : op === 'release' ? Op.Release : Op.Dirty, t);
        for (let k = 0; k < pfns.length; k++) {
          const p: unknown = pfns[k];
          if (typeof p !== 'number' || !Number.isInteger(p) || p < 0) {
            fault(`pfns[${k}] must be a non-negative integer, got ${show(p)}`);
          }
          if (p >= this.pages) fault(`pfns[${k}]: page ${p} outside the guest's 0..${this.pages - 1}`);
          asm.arg(p, 0, 7);
        }
        break;
      }
      case 'checkpoint': {
        this.op = 'checkpoint';
        const name = e['name'];
        if (typeof name !== 'string') {
          fault(name === undefined ? 'missing "name"' : `"name" must be a string, got ${show(name)}`);
        }
        if (LONE_SURROGATE.test(name)) fault('"name" is not well-formed Unicode (a lone surrogate)');
        asm.checkpoint(name, t);
        this.checkpoints++;
        return true;
      }
      case undefined:
        fault('missing "op"');
        break;
      default:
        fault(`unknown op ${show(op)}`);
    }
    return asm.full;
  }
}

/** A JSON Lines trace being read: the header is known, the events stream. */
export class JsonlReader {
  private readonly lines: LineBlocks;
  private lineNo = 0;
  /** Text after the header line in the first block. */
  private rest: string | undefined;
  private decoder!: JsonlDecoder;
  header!: TraceHeader;
  batches = 0;
  events = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly batchSize: number,
  ) {
    this.lines = new LineBlocks(src, () => this.lineNo + 1);
  }

  async readHeader(): Promise<TraceHeader> {
    let block = await this.lines.next();
    if (block === undefined) throw new TraceError('line 1: missing header: the trace is empty', { line: 1 });
    if (block.charCodeAt(0) === 0xfeff) block = block.slice(1);
    const nl = block.indexOf('\n');
    const first = nl < 0 ? block : block.slice(0, nl);
    this.rest = nl < 0 ? undefined : block.slice(nl + 1);
    this.lineNo = 1;
    let v: unknown;
    try {
      v = JSON.parse(first);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new TraceError(`line 1: missing header: bad JSON: ${why}`, { line: 1 });
    }
    try {
      this.header = checkHeader(v);
    } catch (err) {
      if (err instanceof Fault) throw new TraceError(`line 1: ${err.message}`, { line: 1 });
      throw err;
    }
    this.decoder = new JsonlDecoder(this.header, this.batchSize);
    return this.header;
  }

  async *read(): AsyncGenerator<TraceBatch> {
    let block = this.rest;
    this.rest = undefined;
    if (block === undefined) block = await this.lines.next();
    while (block !== undefined) {
      yield* this.decodeBlock(block);
      block = await this.lines.next();
    }
    if (this.decoder.asm.n > 0) yield this.take();
  }

  /** Decodes the lines of `block`; returns the batches they completed. */
  private decodeBlock(block: string): TraceBatch[] {
    const d = this.decoder;
    const out: TraceBatch[] = [];
    let pos = 0;
    const len = block.length;
    let lineNo = this.lineNo;
    for (;;) {
      let end = block.indexOf('\n', pos);
      if (end < 0) end = len;
      if (d.line(block, pos, end, ++lineNo)) out.push(this.take());
      if (end >= len) break;
      pos = end + 1;
    }
    this.lineNo = lineNo;
    return out;
  }

  private take(): TraceBatch {
    const b = this.decoder.asm.build();
    this.batches++;
    this.events += b.length;
    return b;
  }

  totals(): ReadTotals {
    return {
      records: this.decoder.records,
      events: this.events,
      batches: this.batches,
      checkpoints: this.decoder.checkpoints,
      inFlight: this.decoder.checker.inFlight,
      bytes: this.src.position,
    };
  }
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0));
const W = {
  submitRead: ascii('{"op":"io_submit","id":'),
  read: ascii(',"dir":"read","disk":'),
  write: ascii(',"dir":"write","disk":'),
  discardDir: ascii(',"dir":"discard","disk":'),
  sector: ascii(',"sector":'),
  segs: ascii(',"segs":['),
  count: ascii(',"count":'),
  complete: ascii('{"op":"io_complete","id":'),
  okTrue: ascii(',"ok":true'),
  okFalse: ascii(',"ok":false'),
  discard: ascii('{"op":"discard","disk":'),
  memWrite: ascii('{"op":"mem_write","pfns":['),
  release: ascii('{"op":"release","pfns":['),
  dirty: ascii('{"op":"dirty","pfns":['),
  checkpoint: ascii('{"op":"checkpoint","name":'),
  t: ascii(',"t":'),
};
const NL = 10;

/**
 * Writes records as JSON lines, straight into bytes (the lines are ASCII but for checkpoint names):
 * no string per line. The owner takes the bytes whenever it likes.
 */
export class JsonlSink implements RecordSink {
  protected buf = new Uint8Array(1 << 21);
  protected n = 0;

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.n;
  }

  /** The bytes written so far; the sink starts over. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.n));
    this.n = 0;
    return out;
  }

  private room(extra: number): void {
    this.buf = withRoom(this.buf, this.n, extra);
  }

  private put(word: Uint8Array): void {
    const buf = this.buf;
    let n = this.n;
    for (let k = 0; k < word.length; k++) buf[n++] = word[k]!;
    this.n = n;
  }

  /** A non-negative safe integer in decimal. */
  private num(v: number): void {
    const buf = this.buf;
    if (v < 10) {
      buf[this.n++] = 48 + v;
      return;
    }
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let n = this.n + digits;
    this.n = n;
    if (v < 0x80000000) {
      for (let x = v; n > this.n - digits; x = (x / 10) | 0) buf[--n] = 48 + (x % 10);
    } else {
      for (let x = v; n > this.n - digits; x = Math.floor(x / 10)) buf[--n] = 48 + (x % 10);
    }
  }

  private end(t: number): void {
    this.room(48);
    if (t === t) {
      this.put(W.t);
      this.num(t);
    }
    this.buf[this.n++] = 125; // }
    this.buf[this.n++] = NL;
  }

  header(h: TraceHeader): void {
    const bytes = Buffer.from(headerJson(h) + '\n', 'utf8');
    this.room(bytes.length);
    this.buf.set(bytes, this.n);
    this.n += bytes.length;
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
    this.room(160 + 16 * (to - from));
    this.put(W.submitRead);
    this.num(id);
    this.put(dir === IoDir.Read ? W.read : W.write);
    this.num(disk);
    this.put(W.sector);
    this.num(sector);
    this.put(W.segs);
    const buf = this.buf;
    for (let k = from; k < to; k++) {
      if (k !== from) buf[this.n++] = 44; // ,
      buf[this.n++] = 91; // [
      this.num(pfn[k]!);
      const n = this.n;
      buf[n] = 44;
      buf[n + 1] = 48 + first[k]!;
      buf[n + 2] = 44;
      buf[n + 3] = 48 + last[k]!;
      buf[n + 4] = 93; // ]
      this.n = n + 5;
    }
    buf[this.n++] = 93;
    this.end(t);
  }

  submitDiscard(id: number, disk: number, sector: number, count: number, t: number): void {
    this.room(160);
    this.put(W.submitRead);
    this.num(id);
    this.put(W.discardDir);
    this.num(disk);
    this.put(W.sector);
    this.num(sector);
    this.put(W.count);
    this.num(count);
    this.end(t);
  }

  complete(id: number, ok: boolean, t: number): void {
    this.room(64);
    this.put(W.complete);
    this.num(id);
    this.put(ok ? W.okTrue : W.okFalse);
    this.end(t);
  }

  discard(disk: number, sector: number, count: number, t: number): void {
    this.room(128);
    this.put(W.discard);
    this.num(disk);
    this.put(W.sector);
    this.num(sector);
    this.put(W.count);
    this.num(count);
    this.end(t);
  }

  pages(
    op: typeof Op.MemWrite | typeof Op.Release | typeof Op.Dirty,
    pfn: Uint32Array,
    from: number,
    to: number,
    t: number,
  ): void {
    this.room(32 + 11 * (to - from));
    this.put(op === Op.MemWrite ? W.memWrite : op === Op.Release ? W.release : W.dirty);
    for (let k = from; k < to; k++) {
      if (k !== from) this.buf[this.n++] = 44;
      this.num(pfn[k]!);
    }
    this.buf[this.n++] = 93;
    this.end(t);
  }

  checkpoint(name: string, t: number): void {
    const text = Buffer.from(JSON.stringify(name), 'utf8');
    this.room(32 + text.length);
    this.put(W.checkpoint);
    this.buf.set(text, this.n);
    this.n += text.length;
    this.end(t);
  }
}
