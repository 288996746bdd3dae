/** Helpers for the trace tests: temporary files, reading a whole trace, and a realistic trace generator. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestEvent } from '../../../core/events/batch.ts';
import { BatchBuilder } from '../../../core/events/builder.ts';
import { batchEvents } from '../../../core/events/to-events.ts';
import { makeHeader, openTrace, type TraceBatch, type TraceHeader } from '../../../core/trace/index.ts';

export async function tempDir(): Promise<{ path: (name: string) => string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'trace-test-'));
  return { path: (name) => join(dir, name), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** All events of the trace at `path`, as objects, and the batches' lengths. */
export async function readAll(
  path: string,
  batchSize?: number,
): Promise<{ header: TraceHeader; events: GuestEvent[]; batches: TraceBatch[] }> {
  const trace = await openTrace(path, batchSize === undefined ? {} : { batchSize });
  const batches: TraceBatch[] = [];
  const events: GuestEvent[] = [];
  for await (const b of trace.batches) {
    batches.push(b);
    events.push(...batchEvents(b));
  }
  return { header: trace.header, events, batches };
}

/** A small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RealisticOptions {
  readonly events: number;
  readonly pages?: number;
  readonly diskSectors?: number;
  readonly seed?: number;
  /** A checkpoint every this many events. */
  readonly checkpointEvery?: number;
  /** Events per emitted batch. */
  readonly batchSize?: number;
}

/**
 * A trace like a guest's: up to 32 requests in flight, reads and writes of 1..11 full pages (sometimes
 * sub-page), mostly sequential runs on disk, pages drawn from a page cache, completions roughly in
 * order, memory writes of a few pages, occasional discards (most instantaneous) and checkpoints.
 */
export function realisticTrace(opts: RealisticOptions): { header: TraceHeader; batches: TraceBatch[] } {
  const pages = opts.pages ?? 262144;
  const sectors = opts.diskSectors ?? 2 ** 26;
  const rand = rng(opts.seed ?? 1);
  const int = (n: number): number => Math.floor(rand() * n);
  const header = makeHeader(pages, [{ id: 0, sectors }], {
    generator: 'realisticTrace',
    seed: opts.seed ?? 1,
  });
  const batchSize = opts.batchSize ?? 65536;
  const every = opts.checkpointEvery ?? 50000;
  const b = new BatchBuilder();
  const batches: TraceBatch[] = [];
  const inflight: number[] = [];
  let nextId = 1;
  let discardId = -1;
  let cursor = int(sectors - 1024);
  let pageCursor = int(pages);
  let events = 0;
  let sinceCheckpoint = 0;
  let checkpoints = 0;
  const emit = (n: number): void => {
    events += n;
    sinceCheckpoint += n;
    if (b.length >= batchSize) batches.push(b.build());
  };
  while (events < opts.events) {
    const r = rand();
    if (sinceCheckpoint >= every) {
      b.checkpoint(`c${++checkpoints}`);
      sinceCheckpoint = 0;
      emit(1);
    } else if (inflight.length > 0 && (inflight.length >= 32 || r < 0.42)) {
      // Mostly the oldest request; sometimes one a little younger.
      const k = rand() < 0.8 ? 0 : int(Math.min(4, inflight.length));
      const [id] = inflight.splice(k, 1);
      b.complete(id!, rand() > 0.001);
      emit(1);
    } else if (r < 0.75) {
      const n = 1 + int(11);
      if (rand() < 0.3) cursor = int(sectors - 1024);
      if (cursor + n * 8 >= sectors) cursor = 0;
      if (rand() < 0.5) pageCursor = int(pages - 16);
      const segs: [number, number, number][] = [];
      for (let s = 0; s < n; s++) {
        const pfn = rand() < 0.7 ? (pageCursor + s) % pages : int(pages);
        if (segs.some(([p]) => p === pfn)) continue;
        segs.push(rand() < 0.97 ? [pfn, 0, 7] : [pfn, 0, int(8)]);
      }
      const id = nextId++;
      b.submit(id, rand() < 0.6 ? 'read' : 'write', 0, cursor, segs);
      cursor += segs.reduce((sum, [, a, z]) => sum + z - a + 1, 0);
      pageCursor = (pageCursor + n) % pages;
      inflight.push(id);
      emit(1);
    } else if (r < 0.985) {
      const n = 1 + int(6);
      const pfns = Array.from({ length: n }, () => int(pages));
      b.memWrite(pfns);
      emit(1);
    } else if (r < 0.99) {
      b.release([int(pages)]);
      emit(1);
    } else {
      const count = 8 * (1 + int(64));
      const at = int(sectors - count);
      if (rand() < 0.8) {
        const id = discardId--;
        b.submitDiscard(id, 0, at, count).complete(id, true);
        emit(2);
      } else {
        const id = nextId++;
        b.submitDiscard(id, 0, at, count);
        inflight.push(id);
        emit(1);
      }
    }
  }
  if (b.length > 0) batches.push(b.build());
  return { header, batches };
}
