/**
 * Opening a trace for streaming: detects the format by its first bytes (binary magic, gzip, else JSON
 * Lines), reads the header at once and the events lazily, batch by batch.
 */
import type { Readable } from 'node:stream';
import { loadHasher } from '../hash.ts';
import { DEFAULT_BATCH_SIZE, type TraceBatch } from './batch.ts';
import { BINARY_MAGIC, BinaryReader } from './binary.ts';
import { TraceError } from './errors.ts';
import type { TraceHeader } from './header.ts';
import { JsonlReader, type ReadTotals } from './jsonl.ts';
import { ByteSource, fileSource, gunzipIfNeeded } from './source.ts';

export type TraceFormat = 'jsonl' | 'binary';

export interface ReadOptions {
  /**
   * Events per batch (default 65536). A batch also ends right after every checkpoint, and a `discard`
   * line is never split from its completion, so a batch may hold one event more.
   */
  readonly batchSize?: number;
}

/** An open trace: its header, and its events as batches to iterate once. */
export interface Trace {
  readonly header: TraceHeader;
  readonly format: TraceFormat;
  /** True if the input was gzip-compressed. */
  readonly gzipped: boolean;
  /**
   * The events. Iterate once; the input is read as the iteration goes and closed when it ends (also on
   * `break` or an error). Malformed input throws TraceError from the iteration.
   */
  readonly batches: AsyncIterable<TraceBatch>;
  /** What has been read so far; after a complete iteration, the whole trace. */
  totals(): ReadTotals;
  /** Releases the input without reading further. */
  close(): Promise<void>;
}

export type { ReadTotals };

function isMagic(head: Buffer): boolean {
  return head.length >= BINARY_MAGIC.length && BINARY_MAGIC.every((b, k) => head[k] === b);
}

async function openSource(src0: ByteSource, opts: ReadOptions): Promise<Trace> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    await src0.close();
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  let src = src0;
  try {
    src = await gunzipIfNeeded(src0);
    const gzipped = src !== src0;
    const binary = isMagic(await src.peek(BINARY_MAGIC.length));
    const reader = binary
      ? new BinaryReader(src, batchSize, await loadHasher())
      : new JsonlReader(src, batchSize);
    const header = await reader.readHeader();
    let started = false;
    const source = src;
    const batches: AsyncIterable<TraceBatch> = {
      [Symbol.asyncIterator]() {
        if (started) throw new TraceError(`trace ${source.name} can be iterated only once`);
        started = true;
        return (async function* () {
          try {
            yield* reader.read();
          } finally {
            await source.close();
          }
        })();
      },
    };
    return {
      header,
      format: binary ? 'binary' : 'jsonl',
      gzipped,
      batches,
      // Progress is measured in bytes of the input as stored (compressed, if gzipped).
      totals: () => ({ ...reader.totals(), bytes: src0.position }),
      close: () => source.close(),
    };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/** Opens the trace file at `path` (JSON Lines, binary, either gzipped). */
export async function openTrace(path: string, opts: ReadOptions = {}): Promise<Trace> {
  return openSource(await fileSource(path), opts);
}

/** Reads a trace from a stream or any async iterable of bytes (e.g. process.stdin). */
export async function readTrace(
  input: Readable | AsyncIterable<Uint8Array>,
  opts: ReadOptions & { readonly name?: string } = {},
): Promise<Trace> {
  return openSource(new ByteSource(input as AsyncIterable<Uint8Array>, opts.name ?? 'input'), opts);
}
