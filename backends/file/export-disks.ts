/**
 * Writes the disks of a block store as raw image files plus a manifest (`disks.json`), so an image
 * can later be restored from files. Each file is written atomically.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SECTOR_SIZE, type BlockStore } from '../../core/ports.ts';
import type { DiskManifestEntry } from './file-block-store.ts';

const CHUNK_SECTORS = 8192;

export async function exportDisks(blocks: BlockStore, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const buf = new Uint8Array(CHUNK_SECTORS * SECTOR_SIZE);
  const entries: DiskManifestEntry[] = [];
  for (const d of blocks.disks) {
    const file = `disk-${d.id}.img`;
    const tmp = join(dir, `.${file}.tmp-${process.pid}`);
    const fd = openSync(tmp, 'w');
    try {
      for (let s = 0; s < d.sectors; s += CHUNK_SECTORS) {
        const n = Math.min(CHUNK_SECTORS, d.sectors - s);
        await blocks.readSectors(d.id, s, n, buf.subarray(0, n * SECTOR_SIZE));
        writeSync(fd, buf, 0, n * SECTOR_SIZE, s * SECTOR_SIZE);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, file));
    entries.push({ id: d.id, sectors: d.sectors, uuid: d.uuid, file });
  }
  const manifest = join(dir, 'disks.json');
  writeFileSync(`${manifest}.tmp`, `${JSON.stringify({ disks: entries }, null, 2)}\n`);
  renameSync(`${manifest}.tmp`, manifest);
  return manifest;
}
