import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { memoryContainer } from '../../../backends/memory/container.ts';
import type { GuestScript } from '../../../backends/memory/scripted-guest.ts';
import { FlatMemory, MemoryWorld } from '../../../backends/memory/world.ts';
import { deliveryName, parseDelivery, PRECISE, type Delivery } from '../../../core/checkpoint/delivery.ts';
import type { CheckpointRecord } from '../../../core/checkpoint/engine.ts';
import { loadHasher } from '../../../core/hash.ts';
import { POLICIES, restoreImage } from '../../../core/image/index.ts';
import { TOKENS } from '../../../core/tokens.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'leanckpt-engine-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Reads pages 0..3 from disk, checkpoints, then scribbles over them right after the barrier. */
const script: GuestScript = function* (w) {
  w.submit(1, 'read', 0, 0, [
    [0, 0, 7],
    [1, 0, 7],
    [2, 0, 7],
    [3, 0, 7],
  ]);
  w.complete(1, true);
  w.memWrite([5]);
  yield 'first';
  w.memWrite([0, 1]); // must not happen before the first image is written and checked
  w.submit(2, 'read', 0, 64, [[6, 0, 7]]); // still in flight at the second checkpoint
  yield 'second';
  w.complete(2, true);
};

async function run(delivery: Delivery, whilePaused: (r: CheckpointRecord, w: MemoryWorld) => Promise<void>) {
  const world = new MemoryWorld({ pageCount: 8, disks: [{ id: 0, sectors: 128 }] });
  const c = await memoryContainer(world, script, {
    delivery,
    images: [
      { name: 'p2b', policy: POLICIES.p2b },
      { name: 'baseline', policy: POLICIES.baseline },
    ],
    imagePath: (cut, name) => join(dir, `${cut.name}.${name}`),
    whilePaused: (r) => whilePaused(r, world),
  });
  const engine = c.get(TOKENS.CheckpointEngine);
  return { records: await lastValueFrom(engine.run().pipe(toArray())), engine };
}

describe('CheckpointEngine', () => {
  it('writes every configured image at every barrier while the guest is paused', async () => {
    const hasher = await loadHasher();
    const checked: string[] = [];
    const { records } = await run(PRECISE, async (r, world) => {
      for (const img of r.images) {
        const mem = new FlatMemory(world.pageCount);
        await restoreImage(img.path, { memory: mem, blocks: r.disks, hasher });
        expect(Buffer.from(mem.bytes).equals(Buffer.from(world.memory))).toBe(true);
        checked.push(`${r.cut.name}.${img.name}`);
      }
    });
    expect(checked).toEqual(['first.p2b', 'first.baseline', 'second.p2b', 'second.baseline']);
    expect(records.map((r) => [r.cut.name, r.images.map((i) => i.pagesMapped)])).toEqual([
      ['first', [4, 0]],
      ['second', [2, 0]],
    ]);
  });

  it('in epoch mode without revalidation, pages filled by DMA are reported dirty and lose their mapping', async () => {
    const { records } = await run(parseDelivery('epoch:100'), async () => {});
    expect(records[0]!.images[0]!.pagesMapped).toBe(0);
  });

  it('with hash revalidation, DMA-only dirty pages keep their mapping', async () => {
    const { records, engine } = await run(parseDelivery('epoch:100+revalidate'), async () => {});
    expect(records.map((r) => r.images[0]!.pagesMapped)).toEqual([4, 2]);
    expect(engine.tracker.stats.keptByRevalidation).toBeGreaterThan(0);
  });

  it('resumes the guest and reports the error when a checkpoint fails', async () => {
    await expect(
      run(PRECISE, async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
  });
});

describe('parseDelivery', () => {
  it('parses the four modes and rejects anything else', () => {
    expect(parseDelivery('precise')).toEqual(PRECISE);
    expect(parseDelivery('precise+revalidate')).toEqual({ kind: 'precise', revalidate: true });
    expect(deliveryName(parseDelivery('precise+revalidate'))).toBe('precise+revalidate');
    expect(deliveryName(PRECISE)).toBe('precise');
    expect(parseDelivery('epoch:5')).toEqual({ kind: 'epoch', epochEvents: 5, revalidate: false });
    expect(parseDelivery('epoch:5+revalidate')).toEqual({ kind: 'epoch', epochEvents: 5, revalidate: true });
    for (const bad of ['', 'epoch', 'epoch:0', 'epoch:x', 'exact', 'precise+', 'revalidate'])
      expect(() => parseDelivery(bad)).toThrow(RangeError);
  });
});
