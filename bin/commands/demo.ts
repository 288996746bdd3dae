/**
 * `leanckpt demo`: the built-in default job. Runs the demo guest on the in-memory backend, writes a
 * p2b, a p2b+zero and a baseline image at every checkpoint, restores each from the frozen disks while
 * the guest is paused, and checks the result against guest memory byte for byte.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { demoScript, demoWorld, type DemoOptions } from '../../backends/memory/demo-workload.ts';
import { memoryContainer } from '../../backends/memory/container.ts';
import { FlatMemory } from '../../backends/memory/world.ts';
import { deliveryName } from '../../core/checkpoint/delivery.ts';
import type { CheckpointRecord } from '../../core/checkpoint/engine.ts';
import { POLICIES, restoreImage } from '../../core/image/index.ts';
import { VerificationError } from '../../core/errors.ts';
import { PAGE_SIZE } from '../../core/ports.ts';
import { TOKENS } from '../../core/tokens.ts';
import type { TrackerStats } from '../../core/tracker/stats.ts';
import type { DemoCliOptions } from '../cli.ts';
import { deliveryOf } from '../options.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

export interface DemoImageResult {
  name: string;
  path: string;
  bytes: number;
  pagesMapped: number;
  pagesZero: number;
  pagesData: number;
  pagesDemoted: number;
  writeSeconds: number;
  restoreSeconds: number;
  restoreDiskReads: number;
  verified: boolean;
}

export interface DemoResult {
  guest: { pages: number; memoryBytes: number; diskSectors: number; seed: number };
  delivery: string;
  outDir: string | null;
  checkpoints: { name: string; events: number; mapped: number; images: DemoImageResult[] }[];
  tracker: TrackerStats;
}

const IMAGES = [
  { name: 'p2b+zero', policy: POLICIES['p2b+zero'] },
  { name: 'p2b', policy: POLICIES.p2b },
  { name: 'baseline', policy: POLICIES.baseline },
] as const;

export async function demo(opts: DemoCliOptions): Promise<DemoResult> {
  const delivery = deliveryOf(opts);
  if (opts.diskSectors < 4096)
    throw new ExitError('--disk-sectors must be at least 4096 (2 MiB)', EXIT.usage);
  const o: DemoOptions = {
    pages: opts.pages,
    diskSectors: opts.diskSectors,
    seed: opts.seed,
    checkpoints: opts.checkpoints,
    opsPerCheckpoint: opts.ops,
  };
  const outDir = opts.out ? resolve(opts.out) : mkdtempSync(join(tmpdir(), 'leanckpt-demo-'));
  mkdirSync(outDir, { recursive: true });
  const world = demoWorld(o);
  const checkpoints: DemoResult['checkpoints'] = [];
  try {
    const container = await memoryContainer(world, demoScript(o), {
      delivery,
      images: IMAGES,
      imagePath: (cut, name) => join(outDir, `${cut.name}.${name}.lckpt`),
      whilePaused: async (record) => {
        checkpoints.push({
          name: record.cut.name,
          events: record.cut.seq,
          mapped: record.cut.mapping.length,
          images: await verifyImages(record),
        });
      },
    });
    const engine = container.get(TOKENS.CheckpointEngine);
    await lastValueFrom(engine.run().pipe(toArray()));
    return {
      guest: { pages: o.pages, memoryBytes: o.pages * PAGE_SIZE, diskSectors: o.diskSectors, seed: o.seed },
      delivery: deliveryName(delivery),
      outDir: opts.out ? outDir : null,
      checkpoints,
      tracker: { ...engine.tracker.stats },
    };
  } finally {
    if (!opts.out) rmSync(outDir, { recursive: true, force: true });
  }

  /** Restores each image of the checkpoint from its frozen disks and compares with the paused guest. */
  async function verifyImages(record: CheckpointRecord): Promise<DemoImageResult[]> {
    const hasher = await (await import('../../core/hash.ts')).loadHasher();
    const results: DemoImageResult[] = [];
    for (const img of record.images) {
      const target = new FlatMemory(world.pageCount);
      const restored = await restoreImage(img.path, { memory: target, blocks: record.disks, hasher });
      const bad = firstDifferentPage(target.bytes, world.memory);
      if (bad >= 0) {
        throw new VerificationError(
          `${img.name} image of ${record.cut.name}: restored page ${bad} differs from the guest`,
          bad,
        );
      }
      results.push({
        name: img.name,
        path: img.path,
        bytes: img.bytes,
        pagesMapped: img.pagesMapped,
        pagesZero: img.pagesZero,
        pagesData: img.pagesData,
        pagesDemoted: img.pagesDemoted,
        writeSeconds: img.seconds,
        restoreSeconds: restored.seconds,
        restoreDiskReads: restored.diskReads,
        verified: true,
      });
    }
    return results;
  }
}

function firstDifferentPage(a: Uint8Array, b: Uint8Array): number {
  for (let off = 0; off < a.length; off += PAGE_SIZE) {
    if (
      !Buffer.from(a.buffer, a.byteOffset + off, PAGE_SIZE).equals(
        Buffer.from(b.buffer, b.byteOffset + off, PAGE_SIZE),
      )
    ) {
      return off / PAGE_SIZE;
    }
  }
  return -1;
}

const mib = (n: number): string => `${(n / 1048576).toFixed(2)} MiB`;
const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;

/** The human-readable table. */
export function printDemo(r: DemoResult): string {
  const lines = [
    `leanckpt demo: ${r.guest.pages} pages (${mib(r.guest.memoryBytes)}), disk ${mib(r.guest.diskSectors * 512)}, ` +
      `seed ${r.guest.seed}, ${r.delivery} delivery`,
    '',
    '| checkpoint | image | mapped | zero | data | size | vs baseline | write | restore | verified |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of r.checkpoints) {
    const base = c.images.find((i) => i.name === 'baseline')!;
    for (const i of c.images) {
      const reduction = i === base ? '-' : `${(100 * (1 - i.bytes / base.bytes)).toFixed(1)} % less`;
      lines.push(
        `| ${c.name} | ${i.name} | ${i.pagesMapped} | ${i.pagesZero} | ${i.pagesData} | ${mib(i.bytes)} | ${reduction} | ` +
          `${ms(i.writeSeconds)} | ${ms(i.restoreSeconds)} | ${i.verified ? 'yes, byte for byte' : 'NO'} |`,
      );
    }
  }
  const t = r.tracker;
  lines.push(
    '',
    `tracker: ${t.events} events; mapped ${t.mappedByRead} by reads, ${t.mappedByWrite} by writes; killed ` +
      `${t.killedByDiskChange} by disk changes, ${t.killedByMemWrite} by memory writes, ${t.killedByPartialRead} by ` +
      `sub-page reads, ${t.killedByRelease} by releases, ${t.killedByDirty} by dirty epochs; ` +
      `${t.taintedSegments} tainted segments, ${t.conflictedRequests} racing and ${t.failedRequests} failed requests, ` +
      `${t.excludedAtCheckpoint} left out for in-flight I/O`,
  );
  if (r.outDir) lines.push(`images kept in ${r.outDir}`);
  return `${lines.join('\n')}\n`;
}
