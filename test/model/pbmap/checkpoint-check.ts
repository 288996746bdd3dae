/**
 * What must hold at every checkpoint: every page in the cut equals its disk sectors byte for byte; in
 * precise mode the cut is exactly the naive model's; and the image written from the cut restores,
 * from the disk snapshot, to exactly the guest's memory.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { FlatMemory } from '../../../backends/memory/world.ts';
import { POLICIES, restoreImage, writeImage } from '../../../core/image/index.ts';
import type { NaiveModel, Place } from './naive-model.ts';
import type { Real } from './system.ts';

export async function checkCheckpoint(m: NaiveModel, r: Real): Promise<void> {
  const n = ++r.checkpoints;
  r.world.checkpoint(`c${n}`);
  r.flush();
  const cut = r.cuts.at(-1)!;
  expect(cut.name).toBe(`c${n}`);
  const cutMap = new Map<number, Place>();
  for (let i = 0; i < cut.mapping.length; i++) {
    const pfn = cut.mapping.pfn[i]!;
    const place = { disk: cut.mapping.disk[i]!, sector: cut.mapping.sector[i]! };
    cutMap.set(pfn, place);
    // The naive reference of last resort: the bytes themselves.
    const page = r.world.page(pfn);
    const onDisk = r.world.sectors(place.disk, place.sector, 8);
    if (!Buffer.from(page).equals(Buffer.from(onDisk))) {
      throw new Error(
        `checkpoint c${n}: page ${pfn} is mapped to disk ${place.disk} sector ${place.sector} but differs`,
      );
    }
  }
  if (r.delivery === 'precise') expect(sortedEntries(cutMap)).toEqual(sortedEntries(m.checkpointMap()));

  const memoryAtCheckpoint = r.world.snapshotMemory();
  const disks = r.world.snapshotDisks();
  const path = join(r.dir, `c${n}.lckpt`);
  const written = await writeImage(
    path,
    {
      memory: r.world,
      disks: disks.disks,
      state: new Uint8Array([n]),
      mapping: cut.mapping,
      blocks: disks,
      hasher: r.hasher,
    },
    POLICIES['p2b+zero'],
  );
  expect(written.pagesDemoted).toBe(0);
  expect(written.pagesMapped).toBe(cut.mapping.length);
  const restored = new FlatMemory(r.world.pageCount);
  const stats = await restoreImage(path, { memory: restored, blocks: disks, hasher: r.hasher });
  expect([...stats.state]).toEqual([n]);
  expect(Buffer.from(restored.bytes).equals(Buffer.from(memoryAtCheckpoint))).toBe(true);
}

const sortedEntries = (m: Map<number, Place>): [number, string][] =>
  [...m].sort((a, b) => a[0] - b[0]).map(([pfn, p]) => [pfn, `${p.disk}:${p.sector}`]);
