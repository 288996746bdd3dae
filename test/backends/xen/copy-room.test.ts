/** Room for --keep-running's disk copies: checked before the save, sparing shared (reflinked) copies. */
import { readdir, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { checkRoomForCopies, fileSystemRoom, type RoomProbe } from '../../../backends/xen/copy-room.ts';
import { EnvironmentError } from '../../../core/errors.ts';
import { tempDir } from '../../support/image-fakes.ts';

const MiB = 2 ** 20;
const disks = [
  { vdev: 'xvda', path: '/srv/a.img', sectors: (256 * MiB) / 512 },
  { vdev: 'xvdb', path: '/srv/b.img', sectors: (64 * MiB) / 512 },
];
/** A file system with `free` bytes that shares the extents of the disks in `sharing`. */
const room = (free: number, sharing: string[], probed: string[] = []): RoomProbe => ({
  free: async () => free,
  shares: async (src) => {
    probed.push(src);
    return sharing.includes(src);
  },
});

describe('checkRoomForCopies', () => {
  it('is content with room for plain copies, without trying to share', async () => {
    const probed: string[] = [];
    await expect(checkRoomForCopies(disks, '/srv', room(320 * MiB, [], probed))).resolves.toBeUndefined();
    expect(probed).toEqual([]);
  });
  it('counts only the disks whose extents cannot be shared', async () => {
    await expect(checkRoomForCopies(disks, '/srv', room(64 * MiB, ['/srv/a.img']))).resolves.toBeUndefined();
    await expect(
      checkRoomForCopies(disks, '/srv', room(0, ['/srv/a.img', '/srv/b.img'])),
    ).resolves.toBeUndefined();
  });
  it('refuses with ENOSPC, naming the disks, what they need and what is free', async () => {
    const err = await checkRoomForCopies(disks, '/srv', room(100 * MiB, ['/srv/b.img'])).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).code).toBe('ENOSPC');
    expect(String(err)).toMatch(
      /not enough room in \/srv to copy xvda for --keep-running: 256 MiB needed, 100 MiB free/,
    );
  });
  it('measures a real file system and leaves no probe behind', async () => {
    const tmp = await tempDir('leanckpt-room-');
    try {
      await writeFile(tmp.path('disk.img'), new Uint8Array(4096));
      expect(await fileSystemRoom.free(tmp.dir)).toBeGreaterThan(0);
      expect(typeof (await fileSystemRoom.shares(tmp.path('disk.img'), tmp.dir))).toBe('boolean');
      expect(await readdir(tmp.dir)).toEqual(['disk.img']);
    } finally {
      await tmp.cleanup();
    }
  });
});
