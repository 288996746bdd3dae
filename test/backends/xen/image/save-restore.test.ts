/**
 * The save/restore orchestration end to end against a stand-in `xl` placed on PATH (Xen itself is not
 * on this machine): FIFO plumbing, the order of xl calls, disk freezing, refusal of a changed disk.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RestoreError } from '../../../../core/errors.ts';
import { loadHasher, type Hasher64 } from '../../../../core/hash.ts';
import { XenUnavailableError } from '../../../../backends/xen/ffi/load.ts';
import { restoreDomain } from '../../../../backends/xen/restore.ts';
import { frozenDiskPath, saveDomain } from '../../../../backends/xen/save.ts';
import type {
  AdoptionReport,
  DomainAttacher,
  RestoredDisk,
  RestoredMap,
  RestoredPages,
} from '../../../../backends/xen/tracked-domain.ts';
import { tempDir } from '../../../support/image-fakes.ts';
import { buildGuest, DISK_ID, type Guest, type PageKind } from '../fixtures/guest.ts';
import { chunked, streamBytes, streamPieces } from '../fixtures/stream-fixture.ts';
import { contentOf } from '../fixtures/disks.ts';
import {
  digestChunks,
  type ChunkList,
  type ChunkedContent,
} from '../../../../backends/xen/content/chunk-hashes.ts';
import { MemoryGuest } from '../support/memory-guest.ts';
import { XenImageReader } from '../../../../backends/xen/image/reader.ts';
import { inspectXenImage, printXenInspect } from '../../../../backends/xen/image/inspect.ts';
import { fileIdentity, sameIdentity } from '../../../../backends/xen/content/file-identity.ts';
import { installFakeXl, restorePath } from '../support/fake-xl.ts';
import { RecordingDomain } from '../support/recording-domain.ts';

class FakeAttacher implements DomainAttacher {
  attached: [number, readonly RestoredDisk[]][] = [];
  restored: (RestoredMap | undefined)[] = [];
  content: (ReadonlyMap<number, ChunkList> | undefined)[] = [];
  calls: string[] = [];
  /** As a tracking process started ahead: loaded when prepared, ready when attached. */
  readonly times: { loaded?: number; ready?: number } = {};
  prepare(): void {
    this.calls.push('prepare');
    this.times.loaded = performance.now();
  }
  timeline(): { loaded?: number; ready?: number } {
    return this.times;
  }
  hurry(): void {
    this.calls.push('hurry');
  }
  abandon(): void {
    this.calls.push('abandon');
  }
  async attach(
    domid: number,
    disks: readonly RestoredDisk[],
    pages?: RestoredPages,
  ): Promise<AdoptionReport> {
    this.calls.push('attach');
    this.times.ready = performance.now();
    this.attached.push([domid, disks]);
    // The map is known at once; it is taken only once the restore says the pages are checked.
    const offered = pages?.map;
    await pages?.verified;
    this.calls.push('handed over');
    this.restored.push(offered);
    this.content.push(await pages?.content);
    const n = offered?.length ?? 0;
    return { offered: n, adopted: n, rejected: 0 };
  }
}

let hasher: Hasher64;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let g: Guest;
let stream: Uint8Array;
let xlDir: string;

beforeAll(async () => {
  hasher = await loadHasher();
  const kinds: PageKind[] = ['zero', 'disk', 'disk', 'random', 'stale', 'disk'];
  g = buildGuest(
    {
      guest: 'pv',
      kinds: Array.from({ length: 600 }, (_, i) => kinds[i % kinds.length]!),
      offsets: Array.from({ length: 600 }, (_, i) => (i * 8) % 2000),
      batch: 128,
      libxcVersion: 3,
      checkpoints: 0,
      verify: false,
      optionalRecords: false,
      seed: 3,
    },
    hasher,
  );
  stream = streamBytes(g.spec);
});
beforeEach(async () => {
  await tmp?.cleanup();
  tmp = await tempDir('leanckpt-xen-orch-');
  xlDir = await installFakeXl(tmp.path('xl'), stream);
  await writeFile(tmp.path('xvda.raw'), g.disks.bytes.get(DISK_ID)!);
});
afterAll(async () => {
  restorePath();
  await tmp.cleanup();
});

/**
 * The attacher's first calls: prepared at the start, and through a FIFO hurried once xl has the whole
 * stream (staged in a file, xl gets it only when it is complete).
 */
const started = (transport: 'file' | 'fifo'): string[] =>
  transport === 'fifo' ? ['prepare', 'hurry'] : ['prepare'];

/** What a restore asks xl, after the save's two calls: the name is free, restore, the new domid, unpause. */
const RESTORE_CALLS = [
  'domid fixture-pv',
  expect.stringMatching(/^restore -p -e \/.*(\/stream|\.xlstream-\d+)$/),
  'domid fixture-pv',
  'unpause 20',
];

/** A copy of the disk in which one byte of the sectors page 1 maps to differs; returns those sectors. */
async function changedDisk(name: string) {
  const where = g.map.get(1)!;
  const bytes = Uint8Array.from(g.disks.bytes.get(DISK_ID)!);
  bytes[where.sector * 512 + 100] = bytes[where.sector * 512 + 100]! ^ 0xff;
  await writeFile(tmp.path(name), bytes);
  return where;
}

const domain = (): RecordingDomain =>
  new RecordingDomain(7, { id: DISK_ID, vdev: 'xvda', path: tmp.path('xvda.raw'), sectors: 2048 }, g.map);
const xlLog = async (): Promise<string[]> =>
  (await readFile(join(xlDir, 'log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

describe.each(['file', 'fifo'] as const)(
  'xen save, and restore of the whole stream, through xl and a %s',
  (transport) => {
    it('saves (domain destroyed), restores the identical stream, attaches and unpauses', async () => {
      const d = domain();
      const image = tmp.path('guest.lcxen');
      const saved = await saveDomain(d, image, { keepRunning: false, hasher, transport });
      expect(d.calls).toEqual(['quiesce', 'release']);
      const log = await xlLog();
      expect(log[0]).toMatch(
        transport === 'fifo' ? /^save -p 7 \/.*\/stream$/ : /^save -p 7 \/.*\/\.guest\.lcxen\.xlstream-\d+$/,
      );
      expect(log[1]).toBe('destroy 7');
      expect(saved.streamBytes).toBe(stream.length);
      expect(saved.pages).toMatchObject({ inStream: 600, zero: 100, mapped: 300, kept: 200, demoted: 100 });
      expect(saved.imageBytes).toBe((await readFile(image)).length);
      expect(saved.reduction).toBeGreaterThan(0.6);
      expect(saved.ms.xl).toBeGreaterThan(0);
      expect(saved.ms.xl).toBeLessThanOrEqual(saved.ms.save);
      // This process's own CPU time, all threads: parsing and filtering 600 pages is not free.
      expect(saved.cpuMs.user + saved.cpuMs.system).toBeGreaterThan(0);
      // Only a stream read from xl's growing file waits for it (and says how often).
      if (transport === 'file') expect(saved.streamWaits).toBeGreaterThanOrEqual(0);
      else expect(saved.streamWaits).toBeUndefined();
      expect(saved.disks[0]).toMatchObject({ id: DISK_ID, vdev: 'xvda', path: tmp.path('xvda.raw') });

      const attacher = new FakeAttacher();
      const restored = await restoreDomain(image, attacher, { hasher, transport, fill: 'stream' });
      expect(Buffer.compare(await readFile(join(xlDir, 'restored')), stream)).toBe(0);
      expect(restored).toMatchObject({ domid: 20, name: 'fixture-pv', guest: 'pv', pagesMapped: 300 });
      expect(restored.cpuMs.user + restored.cpuMs.system).toBeGreaterThan(0);
      expect(attacher.attached).toEqual([[20, [{ id: DISK_ID, vdev: 'xvda', path: tmp.path('xvda.raw') }]]]);
      // The tracking process is started ahead, before anything else of the restore.
      expect(attacher.calls).toEqual([...started(transport), 'attach', 'handed over']);
      expect((await xlLog()).slice(2)).toEqual(RESTORE_CALLS);
      // The attach is timed in its two parts, and the tracking's own times are counted from the start.
      expect(restored.ms.tracking + restored.ms.unpause).toBeCloseTo(restored.ms.attach, 6);
      expect(restored.ms.trackerLoaded).toBeGreaterThanOrEqual(0);
      expect(restored.ms.trackerReady).toBeGreaterThan(restored.ms.verify + restored.ms.restore - 1);
      expect(restored.ms.trackerReady).toBeLessThanOrEqual(restored.ms.total);
    });

    it('saves a stream that xl writes slowly, in pieces at odd offsets, identically', async () => {
      // The file transport reads whatever has arrived into one reused buffer: every record and page
      // batch that straddles two reads must still reach the image intact.
      process.env['FAKE_XL_SAVE_PIECE'] = '12345';
      const image = tmp.path('slow.lcxen');
      const saved = await saveDomain(domain(), image, { keepRunning: false, hasher, transport });
      expect(saved.pages).toMatchObject({ inStream: 600, zero: 100, mapped: 300, kept: 200, demoted: 100 });
      await restoreDomain(image, new FakeAttacher(), { hasher, transport, fill: 'stream' });
      expect(Buffer.compare(await readFile(join(xlDir, 'restored')), stream)).toBe(0);
    });

    it('hands the new tracking every page it read from the disk, with its hash, before unpausing', async () => {
      const image = tmp.path('seed.lcxen');
      await saveDomain(domain(), image, { keepRunning: false, hasher, transport });
      const attacher = new FakeAttacher();
      const restored = await restoreDomain(image, attacher, { hasher, transport, fill: 'stream' });
      const seed = attacher.restored[0]!;
      expect(seed.length).toBe(300);
      expect(restored.adoption).toEqual({ offered: 300, adopted: 300, rejected: 0 });
      const disk = g.disks.bytes.get(DISK_ID)!;
      for (let i = 0; i < seed.length; i++) {
        const pfn = seed.pfn[i]!;
        const sector = seed.sector[i]!;
        expect(g.map.get(pfn)).toEqual({ disk: DISK_ID, sector });
        expect(seed.disk[i]).toBe(DISK_ID);
        expect(seed.hash![i]).toBe(hasher.hash64(disk.subarray(sector * 512, sector * 512 + 4096)));
      }
      // Every one of them is a page the restored stream holds exactly those sectors for.
      expect(new Set(seed.pfn).size).toBe(300);
      // And the disk's chunk hashes, as the restore checked them, so the tracking need not read it.
      const content = attacher.content[0]!.get(DISK_ID)!;
      expect(content.chunkSectors).toBe(2048);
      expect(digestChunks(hasher, content.chunks)).toBe(contentOf(hasher, disk).hash);
      expect((await xlLog()).at(-1)).toBe('unpause 20');
    });

    it('with --keep-running freezes a copy of the disk, resumes the backend and unpauses', async () => {
      const d = domain();
      const image = tmp.path('live.lcxen');
      const saved = await saveDomain(d, image, { keepRunning: true, hasher, transport });
      expect(d.calls).toEqual(['quiesce', 'resume']);
      expect((await xlLog())[1]).toBe('unpause 7');
      const copy = frozenDiskPath(image, 'xvda');
      expect(saved.disks[0]!.path).toBe(copy);
      // The copy's identity, not the disk's: the disk is written again once the guest resumes.
      expect(saved.disks[0]!.identity).toBe(true);
      const recorded = await XenImageReader.open(image, hasher);
      for await (const item of recorded.items()) void item;
      const identity = await fileIdentity(copy);
      expect(sameIdentity(recorded.diskHashes.get(DISK_ID)!.file!, identity)).toBe(true);
      const shown = printXenInspect(await inspectXenImage(image, hasher));
      expect(shown).toMatch(
        new RegExp(
          `\n  file identity: device ${identity.dev}, inode ${identity.ino}, changed \\d{4}-.*\\.\\d{9}Z, settled`,
        ),
      );
      // The guest goes on writing its disk; the image still restores from the frozen copy.
      await writeFile(tmp.path('xvda.raw'), new Uint8Array(2048 * 512));
      await restoreDomain(image, new FakeAttacher(), { hasher, transport, fill: 'stream' });
      expect(Buffer.compare(await readFile(join(xlDir, 'restored')), stream)).toBe(0);
    });

    it('records the content hash the tracking kept, which a restore checks against the disk file', async () => {
      const bytes = g.disks.bytes.get(DISK_ID)!;
      const withContent = (c: ChunkedContent) => {
        const d = domain();
        d.quiescedContent = async () => ({ hashes: new Map([[DISK_ID, c]]), ms: 1, chunksHashed: 0 });
        return d;
      };
      // Untracked, the save reads the disk for it: chunked, as the tracking keeps it.
      const read = await saveDomain(domain(), tmp.path('read.lcxen'), {
        keepRunning: false,
        hasher,
        transport,
      });
      const chunked = contentOf(hasher, bytes);
      expect(read.disks[0]).toMatchObject({
        contentHash: 'read',
        identity: true,
        hash: chunked.hash.toString(16).padStart(16, '0'),
      });
      const tracked = await saveDomain(withContent(chunked), tmp.path('tracked.lcxen'), {
        keepRunning: false,
        hasher,
        transport,
      });
      expect(tracked.disks[0]!.contentHash).toBe('tracked');
      await restoreDomain(tmp.path('tracked.lcxen'), new FakeAttacher(), {
        hasher,
        transport,
        fill: 'stream',
      });
      const gone = () => execFileSync('xl', ['destroy', 'fixture-pv']); // the next restore needs the name
      gone();
      // The recorded hash is the tracking's, not one the save read: a wrong one is refused at restore.
      const chunks = chunked.chunks.slice();
      chunks[0] = chunks[0]! ^ 1n;
      const wrong = { ...chunked, chunks, hash: digestChunks(hasher, chunks) };
      await saveDomain(withContent(wrong), tmp.path('wrong.lcxen'), {
        keepRunning: false,
        hasher,
        transport,
      });
      await expect(
        restoreDomain(tmp.path('wrong.lcxen'), new FakeAttacher(), { hasher, transport, fill: 'stream' }),
      ).rejects.toThrow(/^disk 51712 \(xvda\): its content is not the one the image was saved with/);
      // An image with the whole-file hash of format 1.0 (DISK_HASH) still restores, and is still checked.
      const flat = contentOf(hasher, bytes, 0);
      await saveDomain(withContent(flat), tmp.path('flat.lcxen'), { keepRunning: false, hasher, transport });
      await restoreDomain(tmp.path('flat.lcxen'), new FakeAttacher(), { hasher, transport, fill: 'stream' });
      gone();
      await saveDomain(withContent({ ...flat, hash: flat.hash ^ 1n }), tmp.path('flat-wrong.lcxen'), {
        keepRunning: false,
        hasher,
        transport,
      });
      await expect(
        restoreDomain(tmp.path('flat-wrong.lcxen'), new FakeAttacher(), {
          hasher,
          transport,
          fill: 'stream',
        }),
      ).rejects.toThrow(/^disk 51712 \(xvda\): its content is not the one the image was saved with \(xxh64:/);
    });

    it('refuses a disk changed after the save, naming page and sector, before the domain runs', async () => {
      const image = tmp.path('guest.lcxen');
      await saveDomain(domain(), image, { keepRunning: false, hasher, transport });
      const where = await changedDisk('changed.raw');
      const attacher = new FakeAttacher();
      const err = await restoreDomain(image, attacher, {
        hasher,
        transport,
        fill: 'stream',
        disks: { xvda: tmp.path('changed.raw') },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RestoreError);
      expect(attacher.calls).toEqual(['prepare', 'abandon']);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^page 1 \\(disk ${DISK_ID}, sector ${where.sector}\\): content hash mismatch, the disk changed since the save`,
        ),
      );
      const log = (await xlLog()).slice(2);
      if (transport === 'file') {
        // Staged: xl never saw the stream.
        expect(log.some((l) => l.startsWith('restore'))).toBe(false);
      } else {
        // Streamed: xl's paused domain is destroyed, never unpaused.
        expect(log).toContain('destroy fixture-pv');
        expect(log.some((l) => l.startsWith('unpause'))).toBe(false);
      }
      await expect(
        restoreDomain(image, new FakeAttacher(), { hasher, disks: { xvdb: 'x' } }),
      ).rejects.toThrow('the image has no disk xvdb (it has xvda)');
    });

    it('refuses a disk changed only where no page points, naming the disk, before the domain runs', async () => {
      const image = tmp.path('guest.lcxen');
      await saveDomain(domain(), image, { keepRunning: false, hasher, transport });
      const bytes = Uint8Array.from(g.disks.bytes.get(DISK_ID)!);
      const used = new Set([...g.map.entries.values()].map((w) => Math.floor(w.sector / 8)));
      const spare = Array.from({ length: 256 }, (_, i) => i).find((p) => !used.has(p))!;
      bytes[spare * 4096 + 7] = bytes[spare * 4096 + 7]! ^ 0x5a;
      await writeFile(tmp.path('elsewhere.raw'), bytes);
      const attacher = new FakeAttacher();
      await expect(
        restoreDomain(image, attacher, {
          hasher,
          transport,
          fill: 'stream',
          disks: { xvda: tmp.path('elsewhere.raw') },
        }),
      ).rejects.toThrow(/^disk 51712 \(xvda\): its content is not the one the image was saved with/);
      // Staged, the check comes before xl; through a FIFO after it, once the new tracking was told the
      // domain: it never gets the pages, and the domain it attached to is destroyed.
      expect(attacher.calls).toEqual(
        transport === 'file' ? ['prepare', 'abandon'] : [...started(transport), 'attach', 'abandon'],
      );
      expect((await xlLog()).some((l) => l.startsWith('unpause'))).toBe(false);
    });

    it("reports xl's own error when the save fails, and leaves no image", async () => {
      for (const mode of ['save-early', 'save-midway']) {
        process.env['FAKE_XL_FAIL'] = mode;
        const d = domain();
        const image = tmp.path(`${mode}.lcxen`);
        const err = await saveDomain(d, image, { keepRunning: true, hasher, transport }).catch(
          (e: unknown) => e,
        );
        expect((err as Error).message).toMatch(
          mode === 'save-early'
            ? /xl save failed \(exit 1\): libxl: error: Domain 7 does not exist/
            : /Failed to save domain/,
        );
        expect(await exists(image)).toBe(false);
        expect(await exists(frozenDiskPath(image, 'xvda'))).toBe(false);
        expect((await tmp.files()).filter((f) => f.includes('.tmp-'))).toEqual([]);
        expect(d.calls).toEqual(['quiesce', 'resume']);
      }
    });

    it('reports a stream leanckpt cannot parse, and puts the guest back as it was', async () => {
      const bad = Uint8Array.from(stream);
      const cfgLen = new DataView(bad.buffer).getUint32(44, true);
      // The first libxc record (after xl header, config, libxl header and record, libxc headers).
      new DataView(bad.buffer).setUint32(48 + cfgLen + 16 + 8 + 40, 0x44, true);
      await writeFile(join(xlDir, 'stream'), bad);
      const d = domain();
      const image = tmp.path('bad.lcxen');
      const err = await saveDomain(d, image, { keepRunning: false, hasher, transport }).catch(
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(/^Unknown mandatory libxc record type UNKNOWN\(0x00000044\)/);
      expect(await exists(image)).toBe(false);
      expect(d.calls).toEqual(['quiesce', 'resume']);
      // Into a file xl completes its save and leaves the domain paused; into a FIFO it fails and resumes it.
      expect((await xlLog()).includes('unpause 7')).toBe(transport === 'file');
    });

    it('says which command is missing when there is no xl', async () => {
      // Only mkfifo on PATH: no xl.
      const only = tmp.path('only-mkfifo');
      await mkdir(only);
      await symlink(execFileSync('sh', ['-c', 'command -v mkfifo']).toString().trim(), join(only, 'mkfifo'));
      process.env['PATH'] = only;
      const err = await saveDomain(domain(), tmp.path('x.lcxen'), {
        keepRunning: false,
        hasher,
        transport,
      }).catch((e: unknown) => e);
      restorePath(); // beforeEach puts the stand-in back
      expect(err).toBeInstanceOf(XenUnavailableError);
      expect((err as Error).message).toBe(
        'not a Xen dom0: the xl command (Debian package xen-utils-4.17) missing',
      );
    });
  },
);

describe.each(['file', 'fifo'] as const)(
  'xen restore with a direct fill, through xl and a %s',
  (transport) => {
    /** The fake domain's memory, built from what the stand-in xl restored, as the fill asks for it. */
    let guest: MemoryGuest | undefined;
    const memory = async (): Promise<MemoryGuest> =>
      (guest = await MemoryGuest.fromStream(createReadStream(join(xlDir, 'restored'))));
    const saved = async (name: string): Promise<string> => {
      const image = tmp.path(name);
      await saveDomain(domain(), image, { keepRunning: false, hasher, transport: 'fifo' });
      guest = undefined;
      return image;
    };

    it('gives xl only the kept pages, fills the rest into the paused domain, then attaches and unpauses', async () => {
      const image = await saved('direct.lcxen');
      const attacher = new FakeAttacher();
      const r = await restoreDomain(image, attacher, { hasher, transport, memory });
      expect(r).toMatchObject({ fill: 'direct', domid: 20, name: 'fixture-pv', pagesMapped: 300 });
      // Through a FIFO the whole-disk hash starts once the stream is written, before xl is done.
      if (transport === 'fifo') {
        expect(r.ms.streamWritten).toBeGreaterThan(r.ms.verify);
        expect(r.ms.streamWritten).toBeLessThanOrEqual(r.ms.verify + r.ms.restore);
      } else expect(r.ms.streamWritten).toBeUndefined();
      expect(r.xlBytes).toBe(stream.length - 400 * 4096);
      expect(r.streamBytes).toBe(stream.length);
      expect((await readFile(join(xlDir, 'restored'))).length).toBe(r.xlBytes);
      // The domain's memory is what the original stream would have made it, page for page.
      const want = await MemoryGuest.fromStream(chunked(streamPieces(g.spec)));
      expect(guest!.pages.size).toBe(want.pages.size);
      for (const [pfn, page] of want.pages)
        expect(Buffer.compare(guest!.pages.get(pfn)!, page), `pfn ${pfn}`).toBe(0);
      expect(guest!.closed).toBe(true);
      expect(attacher.restored[0]!.length).toBe(300);
      expect(attacher.calls).toEqual([...started(transport), 'attach', 'handed over']);
      expect((await xlLog()).slice(2)).toEqual(RESTORE_CALLS);
    });

    it('refuses a page whose sectors changed, naming page and sector, and destroys the domain unrun', async () => {
      const image = await saved('direct-changed.lcxen');
      const where = await changedDisk('changed.raw');
      const attacher = new FakeAttacher();
      const err = await restoreDomain(image, attacher, {
        hasher,
        transport,
        memory,
        disks: { xvda: tmp.path('changed.raw') },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RestoreError);
      expect((err as Error).message).toMatch(
        new RegExp(`^page 1 \\(disk ${DISK_ID}, sector ${where.sector}\\): content hash mismatch`),
      );
      // The new tracking was told the domain while the fill ran; it never got the pages.
      expect(attacher.calls).toEqual([...started(transport), 'attach', 'abandon']);
      expect(guest!.closed).toBe(true);
      const log = (await xlLog()).slice(2);
      expect(log).toContain('destroy 20');
      expect(log.some((l) => l.startsWith('unpause'))).toBe(false);
    });

    it('refuses an image whose saved config names no domain, before asking xl anything', async () => {
      xlDir = await installFakeXl(tmp.path('xl-nameless'), streamBytes({ ...g.spec, name: '' }));
      const image = await saved('nameless.lcxen');
      const attacher = new FakeAttacher();
      await expect(restoreDomain(image, attacher, { hasher, transport, memory })).rejects.toThrow(
        /nameless\.lcxen: the saved xl config names no domain \(c_info\.name\)$/,
      );
      expect((await xlLog()).slice(2)).toEqual([]);
      expect(attacher.calls).toEqual(['prepare', 'abandon']);
    });

    it('takes the unchanged disk on its recorded identity; reads it once written, and refuses it changed', async () => {
      const image = await saved('direct-identity.lcxen');
      const proven = async (opts: { diskCheck?: 'content' } = {}) => {
        const attacher = new FakeAttacher();
        const r = await restoreDomain(image, attacher, { hasher, transport, memory, ...opts });
        execFileSync('xl', ['destroy', 'fixture-pv']); // the next restore needs the name
        // Either way the new tracking gets the disk's chunk hashes as they are.
        expect(digestChunks(hasher, attacher.content[0]!.get(DISK_ID)!.chunks)).toBe(
          contentOf(hasher, g.disks.bytes.get(DISK_ID)!).hash,
        );
        return r.disks[0]!.provenBy;
      };
      expect(await proven()).toBe('identity');
      expect(await proven({ diskCheck: 'content' })).toBe('content');
      // Written again with the same bytes: no longer the file the save recorded, so it is read.
      await writeFile(tmp.path('xvda.raw'), g.disks.bytes.get(DISK_ID)!);
      expect(await proven()).toBe('content');
      // Changed in place where no page points: only reading the whole disk can tell.
      const bytes = Uint8Array.from(g.disks.bytes.get(DISK_ID)!);
      const used = new Set([...g.map.entries.values()].map((w) => Math.floor(w.sector / 8)));
      const spare = Array.from({ length: 256 }, (_, i) => i).find((p) => !used.has(p))!;
      bytes[spare * 4096 + 7] = bytes[spare * 4096 + 7]! ^ 0x5a;
      await writeFile(tmp.path('xvda.raw'), bytes);
      await expect(restoreDomain(image, new FakeAttacher(), { hasher, transport, memory })).rejects.toThrow(
        /^disk 51712 \(xvda\): its content is not the one the image was saved with/,
      );
    });

    it('refuses a disk changed only where no page points, and destroys the domain unrun', async () => {
      const image = await saved('direct-elsewhere.lcxen');
      const bytes = Uint8Array.from(g.disks.bytes.get(DISK_ID)!);
      const used = new Set([...g.map.entries.values()].map((w) => Math.floor(w.sector / 8)));
      const spare = Array.from({ length: 256 }, (_, i) => i).find((p) => !used.has(p))!;
      bytes[spare * 4096 + 7] = bytes[spare * 4096 + 7]! ^ 0x5a;
      await writeFile(tmp.path('elsewhere.raw'), bytes);
      await expect(
        restoreDomain(image, new FakeAttacher(), {
          hasher,
          transport,
          memory,
          disks: { xvda: tmp.path('elsewhere.raw') },
        }),
      ).rejects.toThrow(/^disk 51712 \(xvda\): its content is not the one the image was saved with/);
      const log = (await xlLog()).slice(2);
      expect(log).toContain('destroy 20');
      expect(log.some((l) => l.startsWith('unpause'))).toBe(false);
    });
  },
);
