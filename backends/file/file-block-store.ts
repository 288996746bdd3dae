/**
 * Disks as raw image files, described by a manifest (`disks.json`): the block store a restore reads
 * mapped pages from when the disks live on a filesystem. The identities in the manifest are what the
 * image's DISK records are checked against; every page read is still checked against its hash.
 * Reads are asynchronous (libuv's thread pool), so a caller can keep several in flight.
 */
import { openSync, read, readFileSync, closeSync, fstatSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SECTOR_SIZE, type BlockStore, type DiskIdentity } from '../../core/ports.ts';
import { adviseRandom } from './fadvise.ts';

export interface DiskManifestEntry extends DiskIdentity {
  /** Raw disk image, relative to the manifest. */
  readonly file: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export function readManifest(path: string): DiskManifestEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ManifestError(`Cannot read disk manifest ${path}: ${(err as Error).message}`);
  }
  const entries = (parsed as { disks?: unknown })?.disks;
  if (!Array.isArray(entries))
    throw new ManifestError(`${path}: expected {"disks":[{id, sectors, uuid, file}, ...]}`);
  return entries.map((e: unknown, i: number) => {
    const d = e as Partial<DiskManifestEntry>;
    if (
      !Number.isSafeInteger(d.id) ||
      !Number.isSafeInteger(d.sectors) ||
      typeof d.uuid !== 'string' ||
      typeof d.file !== 'string'
    ) {
      throw new ManifestError(`${path}: disk ${i} needs integer id and sectors and string uuid and file`);
    }
    return { id: d.id!, sectors: d.sectors!, uuid: d.uuid, file: resolve(dirname(path), d.file) };
  });
}

/** fs.read as a promise, without the FileHandle layer (one fd per disk, shared by concurrent reads). */
function readAt(
  fd: number,
  dst: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, dst, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

export class FileBlockStore implements BlockStore {
  readonly disks: readonly DiskIdentity[];
  private readonly fds = new Map<number, number>();

  constructor(manifest: readonly DiskManifestEntry[]) {
    this.disks = manifest.map(({ id, sectors, uuid }) => ({ id, sectors, uuid }));
    try {
      for (const d of manifest) {
        const fd = openSync(d.file, 'r');
        this.fds.set(d.id, fd);
        adviseRandom(fd);
        const size = fstatSync(fd).size;
        if (size !== d.sectors * SECTOR_SIZE) {
          throw new ManifestError(
            `disk ${d.id}: ${d.file} has ${size} bytes, the manifest says ${d.sectors} sectors`,
          );
        }
      }
    } catch (err) {
      this.close();
      if (err instanceof ManifestError) throw err;
      throw new ManifestError(`Cannot open disk image: ${(err as Error).message}`);
    }
  }

  async readSectors(disk: number, sector: number, count: number, dst: Uint8Array): Promise<void> {
    const fd = this.fds.get(disk);
    if (fd === undefined) throw new ManifestError(`no disk ${disk} in the manifest`);
    const want = count * SECTOR_SIZE;
    // A read may return fewer bytes than asked (a signal, a network file system): continue from there.
    for (let got = 0; got < want;) {
      const at = sector + Math.floor(got / SECTOR_SIZE);
      let n: number;
      try {
        n = await readAt(fd, dst, got, want - got, sector * SECTOR_SIZE + got);
      } catch (err) {
        throw new ManifestError(`disk ${disk}: cannot read at sector ${at}: ${(err as Error).message}`);
      }
      if (n === 0) throw new ManifestError(`disk ${disk}: unexpected end of file at sector ${at}`);
      got += n;
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
