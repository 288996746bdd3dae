/**
 * `xen save` keeps serving the guest's disk until the domain has suspended, and quiesces only then: a
 * guest freezing its tasks for the suspend waits for their disk I/O (a backend quiesced first made the
 * suspend fail in the lab). Runs the orchestration against the stand-in `xl` on PATH.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EnvironmentError } from '../../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { saveDomain } from '../../../../backends/xen/save.ts';
import { freezeCopy } from '../../../../backends/xen/disk-files.ts';
import { saveState, untilSuspended, type SaveState } from '../../../../backends/xen/suspend-wait.ts';
import type { DomainInfo } from '../../../../backends/xen/ffi/xenctrl.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { buildGuest, DISK_ID, type Guest } from '../fixtures/guest.ts';
import { streamBytes } from '../fixtures/stream-fixture.ts';
import { installFakeXl, restorePath } from '../support/fake-xl.ts';
import { RecordingDomain } from '../support/recording-domain.ts';

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let g: Guest;

beforeAll(async () => {
  hasher = await loadHasher();
  g = buildGuest(
    {
      guest: 'pv',
      kinds: Array.from({ length: 96 }, (_, i) => (i % 3 === 0 ? 'disk' : i % 3 === 1 ? 'zero' : 'random')),
      offsets: Array.from({ length: 96 }, (_, i) => i * 8),
      batch: 32,
      libxcVersion: 3,
      checkpoints: 0,
      verify: false,
      optionalRecords: false,
      seed: 5,
    },
    hasher,
  );
});
beforeEach(async () => {
  await tmp?.cleanup();
  tmp = await tempDir('leanckpt-xen-order-');
  await installFakeXl(tmp.path('xl'), streamBytes(g.spec));
  await writeFile(tmp.path('xvda.raw'), g.disks.bytes.get(DISK_ID)!);
});
afterAll(async () => {
  restorePath();
  await tmp.cleanup();
});

const domain = (journal: string[]): RecordingDomain =>
  new RecordingDomain(
    7,
    { id: DISK_ID, vdev: 'xvda', path: tmp.path('xvda.raw'), sectors: 2048 },
    g.map,
    journal,
  );

describe.each(['file', 'fifo'] as const)('xen save through a %s', (transport) => {
  it('waits for the suspend with xl running and the backend serving, then quiesces', async () => {
    const journal: string[] = [];
    let xlRunning: boolean | undefined;
    const saved = await saveDomain(domain(journal), tmp.path('g.lcxen'), {
      keepRunning: false,
      hasher,
      transport,
      untilSuspended: async (domid, xlDone) => {
        let settled = false;
        xlDone.then(
          () => (settled = true),
          () => (settled = true),
        );
        await Promise.resolve();
        xlRunning = !settled;
        expect(domid).toBe(7);
        journal.push('suspended');
      },
    });
    expect(xlRunning).toBe(true);
    expect(journal).toEqual(['suspended', 'quiesce', 'release']);
    expect(saved.pages.mapped).toBeGreaterThan(0);
    expect(saved.ms.suspend).toBeLessThanOrEqual(saved.ms.save);
  });

  it('releases the tracking while xl destroys the domain, and a failed release is reported', async () => {
    const xlLog = (): Promise<string> => readFile(tmp.path('xl/log'), 'utf8');
    const d = domain([]);
    let destroyedAtRelease: boolean | undefined;
    d.release = async () => {
      destroyedAtRelease = (await xlLog()).includes('destroy 7');
      throw new Error('tracking process gone');
    };
    const err = await saveDomain(d, tmp.path('g.lcxen'), { keepRunning: false, hasher, transport }).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/tracking process gone/);
    // The release began before xl had even started its destroy, which ran to its end all the same.
    expect(destroyedAtRelease).toBe(false);
    expect(await xlLog()).toContain('destroy 7');
    // The image was committed before either.
    await expect(stat(tmp.path('g.lcxen'))).resolves.toBeTruthy();
  });

  it('--keep-running: filters while the disks are copied, commits only once they are whole', async () => {
    const journal: string[] = [];
    const image = tmp.path('g.lcxen');
    const imageFiles = async (): Promise<string[]> =>
      (await tmp.files()).filter((f) => f.startsWith('g.lcxen') && !f.includes('.raw'));
    const saved = await saveDomain(domain(journal), image, {
      keepRunning: true,
      hasher,
      transport,
      copyDisk: async (src, dst) => {
        // Held until the filter has begun writing the image: a copy made before it would never end.
        while ((await imageFiles()).length === 0) await new Promise((r) => setTimeout(r, 5));
        await freezeCopy(src, dst);
        // A slow copy: the filter has time to finish meanwhile, and the commit must still wait.
        await new Promise((r) => setTimeout(r, 300));
        journal.push(`copied; image files then: ${(await imageFiles()).join(',')}`);
      },
    });
    // The image was still a temporary file when the copy was done: committed after it.
    expect(journal).toEqual([
      'quiesce',
      expect.stringMatching(/^copied; image files then: g\.lcxen\.tmp-\d+-[0-9a-f]+$/),
      'resume',
    ]);
    expect(saved.disks[0]!.path).toBe(tmp.path('g.lcxen.xvda.raw'));
    expect(await readFile(saved.disks[0]!.path)).toEqual(await readFile(tmp.path('xvda.raw')));
    expect(saved.ms.copy).toBeGreaterThan(0);
  });

  it('--keep-running without room for the copies is refused before xl suspends the guest', async () => {
    const journal: string[] = [];
    const err = await saveDomain(domain(journal), tmp.path('g.lcxen'), {
      keepRunning: true,
      hasher,
      transport,
      room: { free: async () => 0, shares: async () => false },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(String(err)).toMatch(/not enough room .* to copy xvda for --keep-running/);
    expect(journal).toEqual([]);
    // xl was never started: its log does not even exist.
    await expect(readFile(tmp.path('xl/log'), 'utf8')).rejects.toThrow(/ENOENT/);
    expect((await tmp.files()).filter((f) => !['xl', 'xvda.raw'].includes(f))).toEqual([]);
  });

  it('reports a disk copy the system refused, naming the disk, and lets the guest go on', async () => {
    // The copy's temporary file already there: the same path through the code as a full file system.
    await writeFile(tmp.path(`g.lcxen.xvda.raw.tmp-${process.pid}`), 'in the way');
    const journal: string[] = [];
    const err = await saveDomain(domain(journal), tmp.path('g.lcxen'), {
      keepRunning: true,
      hasher,
      transport,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).code).toBe('EEXIST');
    expect(String(err)).toMatch(/cannot copy disk xvda .*xvda\.raw.* for --keep-running: EEXIST/);
    expect(journal).toEqual(['quiesce', 'resume']);
    // No image, no copy, no stream file left behind. The failure counts at the commit, when xl has
    // finished and left the domain paused: it was unpaused.
    expect((await tmp.files()).filter((f) => !['xl', 'xvda.raw'].includes(f))).toEqual([]);
    const log = await readFile(tmp.path('xl/log'), 'utf8');
    expect(log).toContain('unpause 7');
  });

  it('never quiesces (nor resumes) a backend whose domain did not suspend, and reports xl', async () => {
    process.env['FAKE_XL_FAIL'] = 'save-early';
    const journal: string[] = [];
    const err = await saveDomain(domain(journal), tmp.path('g.lcxen'), {
      keepRunning: false,
      hasher,
      transport,
      untilSuspended: (_id, xlDone) => untilSuspended(() => 'running', xlDone, 5),
    }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/xl save failed .*does not exist/);
    expect(journal).toEqual([]);
  });
});

describe('untilSuspended', () => {
  const never = new Promise<never>(() => {});
  it('resolves when the domain reports the suspend', async () => {
    const states: SaveState[] = ['running', 'running', 'suspended'];
    let polls = 0;
    await untilSuspended(() => states[Math.min(polls++, 2)]!, never, 1);
    expect(polls).toBe(3);
  });
  it('resolves when xl finished first (xl save -p left the domain paused)', async () => {
    await expect(untilSuspended(() => 'running', Promise.resolve(), 1)).resolves.toBeUndefined();
  });
  it('rejects when xl failed first or the domain disappeared', async () => {
    const failed = Promise.reject(new Error('xl died'));
    failed.catch(() => undefined);
    await expect(untilSuspended(() => 'running', failed, 1)).rejects.toThrow(/before the domain suspended/);
    await expect(untilSuspended(() => 'gone', never, 1)).rejects.toThrow(/disappeared/);
  });
  it('reads the suspend from the domain info', () => {
    const info = (over: Partial<DomainInfo>): DomainInfo => ({
      domid: 7,
      kind: 'pv',
      dying: false,
      shutdown: false,
      shutdownReason: 0,
      paused: false,
      totPages: 1,
      maxPages: 1,
      sharedInfoFrame: 0n,
      vcpus: 1,
      ...over,
    });
    expect(saveState(info({}))).toBe('running');
    expect(saveState(info({ shutdown: true, shutdownReason: 2 }))).toBe('suspended');
    expect(saveState(info({ shutdown: true, shutdownReason: 0 }))).toBe('running');
    expect(saveState(info({ dying: true }))).toBe('gone');
    expect(saveState(undefined)).toBe('gone');
  });
});
