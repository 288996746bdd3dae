/**
 * A disk file's identity stands in for its content only once settled: once the file system stamps
 * later than the file's last change, every write after it shows, even one that puts back the same bytes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import {
  fileIdentity,
  fileSystemStamps,
  sameIdentity,
  settledIdentity,
  SETTLE_MAX_MS,
  type Stamps,
} from '../../../../backends/xen/content/file-identity.ts';
import { tempDir } from '../../../support/image-fakes.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let path: string;
beforeEach(async () => {
  tmp = await tempDir('leanckpt-identity-');
  path = tmp.path('disk.raw');
  await writeFile(path, new Uint8Array(64 * 1024).fill(7));
});
afterEach(async () => {
  await tmp.cleanup();
});

/** Stamps that give `ctime` (no later) `times` times, then a later one; `during` runs in each sleep. */
async function laggingStamps(
  times: number,
  during?: () => Promise<void>,
): Promise<Stamps & { slept: number[] }> {
  const { ctimeNs } = await fileIdentity(path);
  const slept: number[] = [];
  let asked = 0;
  return {
    slept,
    now: async () => (asked++ < times ? ctimeNs : ctimeNs + 1n),
    async sleep(ms) {
      slept.push(ms);
      await during?.();
    },
  };
}

describe('file identity', () => {
  it('changes with every write after it settled, even one of the same bytes', async () => {
    const settled = await settledIdentity(path);
    expect(settled).toBeDefined();
    expect(settled!.settledNs).toBeGreaterThan(settled!.ctimeNs);
    expect(sameIdentity(settled!, await fileIdentity(path))).toBe(true);
    await writeFile(path, new Uint8Array(64 * 1024).fill(7)); // the same content, written again
    expect(sameIdentity(settled!, await fileIdentity(path))).toBe(false);
  });

  it('probes the file system beside the disk, and leaves nothing there', async () => {
    const stamp = await fileSystemStamps.now(path);
    expect(stamp).toBeGreaterThanOrEqual((await fileIdentity(path)).ctimeNs);
    expect(await readdir(tmp.path('.'))).toEqual(['disk.raw']);
  });

  it('waits until the file system stamps later than the last change', async () => {
    const stamps = await laggingStamps(3);
    const settled = await settledIdentity(path, stamps);
    expect(stamps.slept).toHaveLength(3);
    expect(settled!.settledNs).toBe(settled!.ctimeNs + 1n);
  });

  it('vouches for nothing when the file changes during the wait', async () => {
    const stamps = await laggingStamps(1, () => appendFile(path, '!'));
    expect(await settledIdentity(path, stamps)).toBeUndefined();
  });

  it('vouches for nothing but a regular file (writes to a device do not stamp its node)', async () => {
    expect(await settledIdentity(tmp.path('.'))).toBeUndefined();
    expect(await settledIdentity('/dev/null')).toBeUndefined();
    expect(await readdir('/dev')).not.toContain('.null.stamp-' + process.pid);
  });

  it('vouches for nothing when no later stamp comes (a clock set back)', async () => {
    const stamps = await laggingStamps(Number.MAX_SAFE_INTEGER);
    expect(await settledIdentity(path, stamps)).toBeUndefined();
    expect(stamps.slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(SETTLE_MAX_MS);
  });

  it('vouches for nothing where the file system cannot be probed', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: a probe that fails stands in for a read-only directory
      expect(
        await settledIdentity(path, { now: async () => undefined, sleep: async () => {} }),
      ).toBeUndefined();
      return;
    }
    const dir = tmp.path('ro');
    await mkdir(dir);
    const disk = `${dir}/disk.raw`;
    await writeFile(disk, 'x');
    await chmod(dir, 0o555);
    expect(await settledIdentity(disk)).toBeUndefined();
    await chmod(dir, 0o755);
  });
});
