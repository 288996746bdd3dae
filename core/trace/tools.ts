/** Whole-trace operations: validate, convert, statistics. All stream; none holds a trace in memory. */
import { stat } from 'node:fs/promises';
import { IoDir, Op } from '../events/batch.ts';
import type { TraceHeader } from './header.ts';
import { openTrace, type ReadOptions, type ReadTotals, type TraceFormat } from './reader.ts';
import { formatForPath, TraceWriter, type WriteOptions, type WriteResult } from './writer.ts';

export interface ValidateResult extends ReadTotals {
  readonly format: TraceFormat;
  readonly gzipped: boolean;
  readonly header: TraceHeader;
}

/** Reads the whole trace, checking everything a reader checks. Throws TraceError at the first fault. */
export async function validateTrace(path: string, opts: ReadOptions = {}): Promise<ValidateResult> {
  const trace = await openTrace(path, opts);
  for await (const _ of trace.batches) {
    // Reading is checking.
  }
  return { format: trace.format, gzipped: trace.gzipped, header: trace.header, ...trace.totals() };
}

export interface ConvertResult extends WriteResult {
  readonly from: TraceFormat;
  /** Bytes of the input file. */
  readonly inBytes: number;
}

/**
 * Rewrites the trace at `inPath` as `format` (default: from `outPath`'s name) at `outPath`, atomically.
 * The events are identical; so are timestamps.
 */
export async function convertTrace(
  inPath: string,
  outPath: string,
  format: TraceFormat = formatForPath(outPath),
  opts: Omit<WriteOptions, 'format' | 'validate'> = {},
): Promise<ConvertResult> {
  const trace = await openTrace(inPath);
  // The reader checked every event already.
  const w = await TraceWriter.create(outPath, trace.header, { ...opts, format, validate: false });
  try {
    for await (const b of trace.batches) await w.write(b);
  } catch (err) {
    await w.abort();
    throw err;
  }
  const result = await w.close();
  return { ...result, from: trace.format, inBytes: trace.totals().bytes };
}

export interface TraceStats {
  readonly format: TraceFormat;
  readonly gzipped: boolean;
  /** Size of the file. */
  readonly bytesOnDisk: number;
  readonly header: TraceHeader;
  /** Records (lines after the header, binary records). */
  readonly records: number;
  /** Core events (a `discard` record is two). */
  readonly events: number;
  /** Records per op, as the JSON Lines form names them. */
  readonly ops: {
    io_submit: number;
    io_complete: number;
    discard: number;
    mem_write: number;
    release: number;
    dirty: number;
    checkpoint: number;
  };
  readonly reads: number;
  readonly writes: number;
  /** Discard requests: instantaneous ones and in-flight ones. */
  readonly discards: number;
  /** Completions with ok false. */
  readonly failed: number;
  readonly sectorsRead: number;
  readonly sectorsWritten: number;
  readonly sectorsDiscarded: number;
  /** Read and write segments covering a whole page (sectors 0..7), and the others. */
  readonly segments: { fullPage: number; subPage: number };
  /** Pages named by mem_write, release and dirty records, with repeats. */
  readonly memWritePages: number;
  readonly releasedPages: number;
  readonly dirtyPages: number;
  /** Distinct pages any event names. */
  readonly pagesTouched: number;
  readonly checkpoints: number;
  /** Requests submitted and never completed. */
  readonly inFlightAtEnd: number;
  /** First and last timestamp (ns), if the trace has any. */
  readonly time: { first: number; last: number } | undefined;
}

/** Reads the whole trace (checking it) and counts what it holds. */
export async function traceStats(path: string, opts: ReadOptions = {}): Promise<TraceStats> {
  const trace = await openTrace(path, opts);
  const ops = { io_submit: 0, io_complete: 0, discard: 0, mem_write: 0, release: 0, dirty: 0, checkpoint: 0 };
  let reads = 0;
  let writes = 0;
  let discards = 0;
  let failed = 0;
  let sectorsRead = 0;
  let sectorsWritten = 0;
  let sectorsDiscarded = 0;
  let fullPage = 0;
  let subPage = 0;
  let memWritePages = 0;
  let releasedPages = 0;
  let dirtyPages = 0;
  let tFirst = NaN;
  let tLast = NaN;
  const pages = trace.header.pages;
  const touched = new Uint8Array(Math.ceil(pages / 8));
  for await (const b of trace.batches) {
    const t = b.t;
    for (let i = 0; i < b.length; i++) {
      const from = b.argStart[i]!;
      const to = b.argStart[i + 1]!;
      for (let k = from; k < to; k++) {
        const p = b.pfn[k]!;
        touched[p >>> 3]! |= 1 << (p & 7);
      }
      if (t !== undefined) {
        const ti = t[i]!;
        if (ti === ti) {
          if (!(tFirst === tFirst)) tFirst = ti;
          tLast = ti;
        }
      }
      switch (b.op[i]) {
        case Op.Submit: {
          const count = b.count[i]!;
          const dir = b.dir[i]!;
          if (dir === IoDir.Discard) {
            discards++;
            sectorsDiscarded += count;
            if (b.id[i]! < 0) ops.discard++;
            else ops.io_submit++;
            break;
          }
          ops.io_submit++;
          if (dir === IoDir.Read) {
            reads++;
            sectorsRead += count;
          } else {
            writes++;
            sectorsWritten += count;
          }
          for (let k = from; k < to; k++) {
            if (b.first[k] === 0 && b.last[k] === 7) fullPage++;
            else subPage++;
          }
          break;
        }
        case Op.Complete:
          if (b.id[i]! >= 0) ops.io_complete++;
          if (b.dir[i] === 0) failed++;
          break;
        case Op.MemWrite:
          ops.mem_write++;
          memWritePages += to - from;
          break;
        case Op.Release:
          ops.release++;
          releasedPages += to - from;
          break;
        case Op.Dirty:
          ops.dirty++;
          dirtyPages += to - from;
          break;
        case Op.Checkpoint:
          ops.checkpoint++;
          break;
      }
    }
  }
  let pagesTouched = 0;
  for (let k = 0; k < touched.length; k++) {
    let v = touched[k]!;
    while (v !== 0) {
      v &= v - 1;
      pagesTouched++;
    }
  }
  const totals = trace.totals();
  const { size } = await stat(path);
  return {
    format: trace.format,
    gzipped: trace.gzipped,
    bytesOnDisk: size,
    header: trace.header,
    records: totals.records,
    events: totals.events,
    ops,
    reads,
    writes,
    discards,
    failed,
    sectorsRead,
    sectorsWritten,
    sectorsDiscarded,
    segments: { fullPage, subPage },
    memWritePages,
    releasedPages,
    dirtyPages,
    pagesTouched,
    checkpoints: totals.checkpoints,
    inFlightAtEnd: totals.inFlight,
    time: tFirst === tFirst ? { first: tFirst, last: tLast } : undefined,
  };
}
