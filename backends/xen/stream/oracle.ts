/**
 * The oracle over a saved stream: which of its pages hold exactly the bytes of some 4 KiB disk range
 * (at 512 B steps), found by exhaustive matching with the core's oracle. It is what a perfect tracker
 * could leave out, so `pagesMapped / matchedPages` of a leanckpt save is its capture ratio.
 * Works on a stream file (e.g. a plain `xl save` of the same state): one streaming pass records where
 * each page's bytes are, then the matcher reads pages back from the file by offset.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Hasher64 } from '../../../core/hash.ts';
import { matchBytes, PAGE_MATCHED } from '../../../core/oracle/index.ts';
import type { BlockStore, GuestMemory } from '../../../core/ports.ts';
import { PageType, PAGE_SIZE } from './format.ts';
import { SaveStreamParser } from './parser.ts';

export interface StreamOracleResult {
  /** Page payloads in the stream (a pfn sent twice counts twice). */
  readonly pages: number;
  readonly zeroPages: number;
  /** Non-zero pages equal to some disk range. */
  readonly matchedPages: number;
  /** Of those, ordinary (NOTAB) pages: what a save may leave out. */
  readonly matchedOrdinary: number;
}

/** The stream's pages as read-only "memory", page i being the i-th payload of the stream. */
class StreamPages implements GuestMemory {
  constructor(
    private readonly fd: number,
    private readonly offsets: Float64Array,
  ) {}
  get pageCount(): number {
    return this.offsets.length;
  }
  readPage(i: number, dst: Uint8Array): void {
    let got = 0;
    while (got < PAGE_SIZE) {
      const n = readSync(this.fd, dst, got, PAGE_SIZE - got, this.offsets[i]! + got);
      if (n === 0) throw new Error(`stream file ended inside page ${i}`);
      got += n;
    }
  }
  writePage(): void {
    throw new Error('stream pages are read-only');
  }
}

export async function streamOracle(
  path: string,
  blocks: BlockStore,
  hasher: Hasher64,
): Promise<StreamOracleResult> {
  let offsets = new Float64Array(1 << 16);
  let types = new Uint8Array(1 << 16);
  let n = 0;
  for await (const e of new SaveStreamParser(createReadStream(path, { highWaterMark: 4 << 20 })).events()) {
    if (e.kind !== 'pages') continue;
    if (n + e.batch.count > offsets.length) {
      const size = Math.max(offsets.length * 2, n + e.batch.count);
      const o = new Float64Array(size);
      o.set(offsets);
      offsets = o;
      const t = new Uint8Array(size);
      t.set(types);
      types = t;
    }
    for (let i = 0; i < e.batch.count; i++) {
      offsets[n] = e.batch.offset + i * PAGE_SIZE;
      types[n++] = e.batch.types[i]!;
    }
  }
  const fd = openSync(path, 'r');
  try {
    const r = await matchBytes(new StreamPages(fd, offsets.subarray(0, n)), blocks, hasher);
    let ordinary = 0;
    for (let i = 0; i < n; i++) if (r.kind[i] === PAGE_MATCHED && types[i] === PageType.NOTAB) ordinary++;
    return { pages: n, zeroPages: r.zeroPages, matchedPages: r.matchedPages, matchedOrdinary: ordinary };
  } finally {
    closeSync(fd);
  }
}
