/**
 * A disk file's identity stands in for its content only once settled: every write after it is stamped
 * later than the change it recorded, so any write shows, even one that puts back the same bytes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFile, writeFile } from 'node:fs/promises';
import {
  fileIdentity,
  sameIdentity,
  settledIdentity,
  settleMarginMs,
  systemClock,
  type Clock,
} from '../../../../backends/xen/content/file-identity.ts';
import { tempDir } from '../../../support/image-fakes.ts';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir('leanckpt-identity-');
});
afterEach(async () => {
  await tmp.cleanup();
});

/** The system clock, with every sleep recorded and `during` run in place of the first one. */
function watchedClock(during?: () => Promise<void>): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    nowNs: systemClock.nowNs,
    async sleep(ms) {
      slept.push(ms);
      await systemClock.sleep(ms);
      await during?.();
    },
  };
}

describe('file identity', () => {
  it('changes with every write, even of the same bytes, once settled', async () => {
    const path = tmp.path('disk.raw');
    const bytes = new Uint8Array(64 * 1024).fill(7);
    await writeFile(path, bytes);
    const settled = await settledIdentity(path);
    expect(settled).toBeDefined();
    expect(sameIdentity(settled!, await fileIdentity(path))).toBe(true);
    await writeFile(path, bytes); // the same content, written again
    expect(sameIdentity(settled!, await fileIdentity(path))).toBe(false);
  });

  it('waits out the margin past a fresh change before it vouches for the file', async () => {
    const path = tmp.path('disk.raw');
    await writeFile(path, 'fresh');
    const clock = watchedClock();
    const settled = await settledIdentity(path, clock);
    expect(clock.slept).toHaveLength(1);
    const margin = settleMarginMs(settled!.ctimeNs);
    expect(clock.slept[0]).toBeGreaterThan(0);
    expect(clock.slept[0]).toBeLessThanOrEqual(margin);
    expect(settled!.settledNs - settled!.ctimeNs).toBeGreaterThanOrEqual(BigInt(margin) * 1_000_000n);
    // Already settled: no wait.
    const again = watchedClock();
    await settledIdentity(path, again);
    expect(again.slept).toEqual([]);
  });

  it('vouches for nothing when the file changes during the wait', async () => {
    const path = tmp.path('disk.raw');
    await writeFile(path, 'fresh');
    const clock = watchedClock(() => appendFile(path, '!'));
    expect(await settledIdentity(path, clock)).toBeUndefined();
  });

  it('vouches for nothing when the change lies ahead of the clock by more than a margin', async () => {
    const path = tmp.path('disk.raw');
    await writeFile(path, 'x');
    const behind: Clock = { nowNs: () => systemClock.nowNs() - 60_000_000_000n, sleep: systemClock.sleep };
    expect(await settledIdentity(path, behind)).toBeUndefined();
  });

  it('allows whole-second stamps a longer margin', () => {
    expect(settleMarginMs(1_700_000_000_000_000_000n)).toBeGreaterThanOrEqual(2000);
    expect(settleMarginMs(1_700_000_000_123_456_789n)).toBeLessThan(1000);
  });
});
