/**
 * The tracking session end to end on test doubles: disk events and log-dirty epochs into one stream,
 * revalidation of pages our own grant copies dirtied, quiesce/resume as the save needs them, log-dirty
 * unavailable, re-enabling after a save turned it off, trace recording, and the control socket.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replay } from '../../../backends/sim/replay.ts';
import { parseDelivery } from '../../../core/checkpoint/delivery.ts';
import { loadHasher } from '../../../core/hash.ts';
import { makeHeader, openTrace, TraceWriter } from '../../../core/trace/index.ts';
import { ControlClient, RemoteTrackedDomain, serveControl } from '../../../backends/xen/daemon/control.ts';
import { handOver, handOverWhenVerified, stageHandOver } from '../../../backends/xen/daemon/spawn.ts';
import { TrackingSession } from '../../../backends/xen/daemon/session.ts';
import { printStatus } from '../../../bin/commands/xen.ts';
import type { ContentTiming } from '../../../backends/xen/daemon/tracked-content.ts';
import { contentIdentity } from '../../../backends/xen/content/chunk-hashes.ts';
import { contentOf } from './fixtures/disks.ts';
import { MemoryDisk } from './support/memory-disk.ts';
import { MemoryXenstore } from './support/memory-xenstore.ts';
import { TestChannels, TestFrontend } from './support/test-frontend.ts';
import { TestGuest } from './support/test-guest.ts';
import { FakeLogDirty, testHost } from './support/test-host.ts';

const dir = mkdtempSync(join(tmpdir(), 'leanckpt-xen-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DOMID = 7;
const XVDA = 51712;

async function setup(
  opts: {
    unsupported?: boolean;
    record?: TraceWriter;
    logDirtyMs?: number;
    sectors?: number;
    contentTiming?: ContentTiming | false;
  } = {},
) {
  const xs = new MemoryXenstore();
  const guest = new TestGuest(128, 'hvm');
  const disk = new MemoryDisk(opts.sectors ?? 2048);
  for (let i = 0; i < disk.bytes.length; i++) disk.bytes[i] = (i * 31 + (i >> 9)) & 0xff;
  const channels = new TestChannels(new Map([[DOMID, guest]]));
  const host = testHost(DOMID, guest, xs, channels);
  host.fakeLogDirty.unsupported = opts.unsupported ?? false;
  const hasher = await loadHasher();
  const writer = opts.record;
  const session = new TrackingSession(
    host,
    [{ id: XVDA, vdev: 'xvda', path: 'memory', sectors: disk.sectors, store: disk }],
    {
      logDirtyMs: opts.logDirtyMs ?? 3_600_000,
      hasher,
      contentTiming: opts.contentTiming ?? false,
      ...(writer ? { record: (b) => writer.write(b) } : {}),
    },
  );
  const front = new TestFrontend(xs, guest, channels, DOMID, XVDA);
  await front.connect();
  return { xs, guest, disk, session, front, host, logDirty: host.fakeLogDirty as FakeLogDirty };
}

/** A restore's map of one page: page 44 holds sectors 960..967 of xvda. */
const page44At960 = () => ({
  length: 1,
  pfn: Uint32Array.of(44),
  disk: Uint32Array.of(XVDA),
  sector: Float64Array.of(960),
});

const mapped = (s: TrackingSession, pfn: number) => {
  const g = s.tracker.map.loc[pfn]!;
  return g < 0 ? undefined : g;
};

describe('tracking session', () => {
  it('keeps mappings whose pages only our own grant copies dirtied (hash revalidation)', async () => {
    const { session, front } = await setup();
    await front.request({ op: 'read', sector: 64, segs: [{ pfn: 3 }, { pfn: 4 }] });
    expect(session.logDirty.tick()).toBe(2); // both pages were grant-copy destinations
    expect([mapped(session, 3), mapped(session, 4)]).toEqual([64, 72]);
    expect(session.tracker.stats.keptByRevalidation).toBe(2);
    await session.release();
  });

  it('a guest CPU write to a mapped page kills the mapping at the next epoch', async () => {
    const { session, front, guest } = await setup();
    await front.request({ op: 'read', sector: 0, segs: [{ pfn: 5 }, { pfn: 6 }] });
    session.logDirty.tick();
    guest.cpuWrite(5, 100, 0x5a ^ guest.page(5)[100]!);
    session.logDirty.tick();
    expect([mapped(session, 5), mapped(session, 6)]).toEqual([undefined, 8]);
    expect(session.tracker.stats.killedByDirty).toBe(1);
    await session.release();
  });

  it('quiesce waits for in-flight I/O, closes the epoch and cuts the map; resume re-enables log-dirty', async () => {
    const { session, front, guest, disk, logDirty } = await setup();
    disk.delayMs = 15;
    const inflight = front.request({ op: 'read', sector: 16, segs: [{ pfn: 9 }] });
    await new Promise((r) => setTimeout(r, 1));
    const view = await session.quiesce();
    expect(await inflight).toBe(0);
    expect(view.get(9)).toEqual({ disk: XVDA, sector: 16 });
    expect(view.size).toBe(1);
    expect(session.status().state).toBe('quiesced');
    // `xl save` turns log-dirty off; the guest writes page 9 meanwhile, unseen.
    logDirty.disable();
    guest.page(9)[0] = guest.page(9)[0]! ^ 1;
    await session.resume();
    expect(session.status().logDirty.reenabled).toBe(1);
    expect(mapped(session, 9)).toBeUndefined(); // the full sweep after re-enabling caught it
    expect(await front.request({ op: 'read', sector: 24, segs: [{ pfn: 10 }] })).toBe(0);
    expect(mapped(session, 10)).toBe(24);
    await session.release();
  });

  it('says when log-dirty is unavailable and still tracks disk I/O', async () => {
    const { session, front } = await setup({ unsupported: true });
    const st = session.status();
    expect(st.logDirty.state).toBe('unavailable');
    expect(st.logDirty.reason).toMatch(/EOPNOTSUPP/);
    await front.request({ op: 'read', sector: 32, segs: [{ pfn: 11 }] });
    expect(mapped(session, 11)).toBe(32);
    expect((await session.quiesce()).get(11)).toEqual({ disk: XVDA, sector: 32 });
    await session.release();
  });

  it('turns log-dirty off with --log-dirty-ms 0, says so, and still tracks disk I/O', async () => {
    const { session, front, guest, logDirty } = await setup({ logDirtyMs: 0 });
    const st = session.status();
    expect(st.logDirty.state).toBe('unavailable');
    expect(st.logDirty.reason).toBe('turned off (--log-dirty-ms 0)');
    expect(guest.logDirtyOn).toBe(false);
    await front.request({ op: 'read', sector: 32, segs: [{ pfn: 11 }] });
    expect(mapped(session, 11)).toBe(32);
    expect((await session.quiesce()).get(11)).toEqual({ disk: XVDA, sector: 32 });
    await session.resume();
    expect(guest.logDirtyOn).toBe(false);
    expect(logDirty.cleans).toBe(0);
    await session.release();
  });

  it('records the real event stream as a v1 trace that replays to the same map', async () => {
    const path = join(dir, 'rec.jsonl');
    const writer = await TraceWriter.create(
      path,
      makeHeader(128, [{ id: XVDA, sectors: 2048 }], { source: 'test' }),
    );
    const { session, front, guest } = await setup({ record: writer });
    await front.request({ op: 'read', sector: 0, segs: [{ pfn: 1 }, { pfn: 2 }] });
    await front.request({ op: 'write', sector: 400, segs: [{ pfn: 2, first: 0, last: 3 }] });
    guest.cpuWrite(1, 0, guest.page(1)[0]! ^ 0xff);
    session.logDirty.tick();
    await session.quiesce();
    await session.release();
    const r = await writer.close();
    expect(r.events).toBe(session.tracker.stats.events);
    const trace = await openTrace(path);
    let events = 0;
    for await (const b of trace.batches) events += b.length;
    expect(events).toBe(r.events);
  });

  it('records a trace whose replay predicts the map the live tracker cut (revalidation included)', async () => {
    const path = join(dir, 'life.jsonl');
    const writer = await TraceWriter.create(
      path,
      // As the backend's recorder says: a read's data lands with its completion event.
      makeHeader(128, [{ id: XVDA, sectors: 2048 }], { source: 'test', readsLandAtCompletion: true }),
    );
    const { session, front, guest, disk } = await setup({ record: writer });
    const flip = (pfn: number) => guest.cpuWrite(pfn, 7, guest.page(pfn)[7]! ^ 0x3c);
    await front.request({ op: 'read', sector: 0, segs: [{ pfn: 1 }, { pfn: 2 }, { pfn: 3 }] });
    session.logDirty.tick(); // our grant copies dirtied 1..3: kept
    flip(2);
    session.logDirty.tick(); // the guest wrote 2: killed
    session.logDirty.tick(); // nothing dirty: an empty epoch, recorded too
    flip(5);
    await front.request({ op: 'write', sector: 400, segs: [{ pfn: 5 }] });
    session.logDirty.tick(); // the guest wrote 5, then wrote it out: kept
    flip(6);
    session.logDirty.tick();
    disk.delayMs = 20;
    const slow = front.request({ op: 'write', sector: 600, segs: [{ pfn: 6 }] });
    await new Promise((r) => setTimeout(r, 5));
    session.logDirty.tick(); // nothing dirty while the write flies: the epoch it was submitted in ends
    expect(await slow).toBe(0);
    disk.delayMs = 0;
    flip(6);
    session.logDirty.tick(); // the guest wrote 6 after it was written out: killed
    flip(20); // the page's last use, before a read into it
    disk.delayMs = 20;
    const slowRead = front.request({ op: 'read', sector: 160, segs: [{ pfn: 20 }] });
    await new Promise((r) => setTimeout(r, 5));
    session.logDirty.tick(); // 20 dirty while the read flies: a write before the copy, kept by its hash
    expect(await slowRead).toBe(0);
    disk.delayMs = 0;
    flip(1);
    await session.quiesce(); // the final epoch: the guest wrote 1, killed
    const live = new Map<number, number>();
    for (const pfn of [1, 2, 3, 5, 6, 20]) {
      const at = mapped(session, pfn);
      if (at !== undefined) live.set(pfn, at);
    }
    expect(live).toEqual(
      new Map([
        [3, 16],
        [5, 400],
        [20, 160],
      ]),
    );
    expect(session.tracker.stats).toMatchObject({ taintedSegments: 1, taintedKeptByRevalidation: 1 });
    await session.release();
    await writer.close();

    const predicted = async (delivery: string, readsLandAtCompletion?: boolean) => {
      const trace = await openTrace(path);
      const cuts: Map<number, number>[] = [];
      await replay(trace.header, trace.batches, {
        delivery: parseDelivery(delivery),
        policy: 'p2b',
        ...(readsLandAtCompletion === undefined ? {} : { readsLandAtCompletion }),
        onCheckpoint: async ({ cut }) => {
          cuts.push(new Map(Array.from(cut.mapping.pfn, (pfn, i) => [pfn, cut.mapping.sector[i]!])));
        },
      });
      return cuts;
    };
    expect(await predicted('precise+revalidate')).toEqual([live]);
    expect(await predicted('precise')).toEqual([new Map()]);
    // Replayed as if the dirty bit could be a write during the flight, the read into 20 is torn.
    const torn = new Map(live);
    torn.delete(20);
    expect(await predicted('precise+revalidate', false)).toEqual([torn]);
  });

  it('maps a read whose page an epoch reported dirty while it flew, when the page then holds its sectors', async () => {
    const { session, front, guest, disk } = await setup();
    guest.cpuWrite(20, 0, guest.page(20)[0]! ^ 0x11); // the page's last use, before the read
    disk.delayMs = 20;
    const slow = front.request({ op: 'read', sector: 160, segs: [{ pfn: 20 }, { pfn: 21 }] });
    await new Promise((r) => setTimeout(r, 5));
    expect(session.logDirty.tick()).toBe(1); // page 20, while the read is in flight: rule 6 taints it
    expect(await slow).toBe(0);
    expect([mapped(session, 20), mapped(session, 21)]).toEqual([160, 168]);
    expect(session.tracker.stats).toMatchObject({ taintedSegments: 1, taintedKeptByRevalidation: 1 });
    // It lives by the usual rules: the guest writes it, the next epoch kills it.
    guest.cpuWrite(20, 9, guest.page(20)[9]! ^ 0x22);
    session.logDirty.tick();
    expect(mapped(session, 20)).toBeUndefined();
    await session.release();
  });

  it('re-maps a page killed by an epoch while a read of its sectors flew, once the read restored it', async () => {
    const { session, front, guest, disk } = await setup();
    await front.request({ op: 'read', sector: 200, segs: [{ pfn: 30 }] });
    // The epoch reports 30 (our grant copy) while it is mapped: hashed ahead, in a batch, and kept.
    session.logDirty.tick();
    expect(mapped(session, 30)).toBe(200);
    // A later epoch ends while a read of the same sectors into 30 flies: the guest changed 30 before
    // the copy, so the read is tainted; the copy then restores the sectors, and only a fresh hash says so.
    guest.cpuWrite(30, 1, guest.page(30)[1]! ^ 0x44);
    disk.delayMs = 20;
    const slow = front.request({ op: 'read', sector: 200, segs: [{ pfn: 30 }] });
    await new Promise((r) => setTimeout(r, 5));
    session.logDirty.tick(); // 30 is mapped, prefetched (changed content), killed
    expect(mapped(session, 30)).toBeUndefined();
    expect(await slow).toBe(0);
    expect(mapped(session, 30)).toBe(200);
    expect(session.tracker.stats.taintedKeptByRevalidation).toBe(1);
    await session.release();
  });

  it("adopts a restore's pages before the domain runs; they then live by the usual rules", async () => {
    const { session, front, guest, disk } = await setup();
    // As `xl restore -p` leaves them: pages 40..43 hold sectors 800.., 808.., ... (the domain is paused).
    const pfns = [40, 41, 42, 43];
    for (const [i, pfn] of pfns.entries())
      guest.page(pfn).set(disk.bytes.subarray((800 + 8 * i) * 512, (808 + 8 * i) * 512));
    guest.page(43)[5] = guest.page(43)[5]! ^ 1; // something touched 43 after the restore wrote it
    const hasher = await loadHasher();
    const offer = {
      length: 4,
      pfn: Uint32Array.from(pfns),
      disk: Uint32Array.of(XVDA, XVDA, XVDA, XVDA),
      sector: Float64Array.of(800, 808, 816, 824),
      hash: BigUint64Array.from(pfns, (_, i) =>
        hasher.hash64(disk.bytes.subarray((800 + 8 * i) * 512, (808 + 8 * i) * 512)),
      ),
    };
    // One more entry, for a page past the guest's 128: left out, the rest still adopted.
    const withStray = {
      length: 5,
      pfn: Uint32Array.of(...offer.pfn, 500),
      disk: Uint32Array.of(...offer.disk, XVDA),
      sector: Float64Array.of(...offer.sector, 832),
      hash: BigUint64Array.of(...offer.hash, 0n),
    };
    expect(session.adoptRestored(withStray)).toEqual({ offered: 5, adopted: 3, rejected: 2 });
    expect(session.status().adoptedAtRestore).toEqual({ offered: 5, adopted: 3, rejected: 2 });
    expect(session.tracker.stats).toMatchObject({ adopted: 3, adoptionRejected: 1 });
    // Unpaused: our grant copies dirty nothing here, an epoch passes, the guest writes 41, writes
    // 42's sectors from another page.
    session.logDirty.tick();
    guest.cpuWrite(41, 0, guest.page(41)[0]! ^ 0x7f);
    session.logDirty.tick();
    await front.request({ op: 'write', sector: 816, segs: [{ pfn: 50 }] });
    const view = await session.quiesce(); // the next save
    expect([40, 41, 42, 43, 50].map((p) => view.get(p)?.sector)).toEqual([
      800,
      undefined,
      undefined,
      undefined,
      816,
    ]);
    expect(session.tracker.stats).toMatchObject({ killedByDirty: 1, killedByDiskChange: 1 });
    await session.release();
  });

  it("adopts a PV restore's unreadable pages once they can be read, each only if it equals its sectors then", async () => {
    // Real epochs every 10 ms: the deferred adoption is tried once per log-dirty interval.
    const { session, front, guest, disk, host } = await setup({ logDirtyMs: 10 });
    // No p2m yet (a PV domain `xl restore -p` has just built): no page can be read until "unpause".
    let readable = false;
    const { readPage, readPages } = host;
    host.readPage = (pfn, dst) => readable && readPage(pfn, dst);
    host.readPages = (pfns, each) => void (readable && readPages(pfns, each));
    const hasher = await loadHasher();
    const pfns = [40, 41, 42, 43];
    const sectorsOf = (i: number) => disk.bytes.subarray((800 + 8 * i) * 512, (808 + 8 * i) * 512);
    for (const [i, pfn] of pfns.entries()) guest.page(pfn).set(sectorsOf(i));
    const offer = {
      length: 4,
      pfn: Uint32Array.from(pfns),
      disk: Uint32Array.of(XVDA, XVDA, XVDA, XVDA),
      sector: Float64Array.of(800, 808, 816, 824),
      hash: BigUint64Array.from(pfns, (_, i) => hasher.hash64(sectorsOf(i))),
    };
    expect(session.adoptRestored(offer)).toEqual({ offered: 4, adopted: 0, rejected: 0, deferred: 4 });
    // The guest runs: it writes page 41, and writes 42's sectors from page 50 (its page 42 now stale).
    guest.cpuWrite(41, 0, guest.page(41)[0]! ^ 0x7f);
    await front.request({ op: 'write', sector: 816, segs: [{ pfn: 50 }] });
    readable = true;
    for (let i = 0; i < 100 && session.status().adoptedAtRestore?.deferred; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(session.status().adoptedAtRestore).toEqual({ offered: 4, adopted: 2, rejected: 2 });
    const view = await session.quiesce();
    expect([40, 41, 42, 43, 50].map((p) => view.get(p)?.sector)).toEqual([
      800,
      undefined,
      undefined,
      824,
      816,
    ]);
    await session.release();
  });

  it('refuses to adopt once the domain has made a disk request (one in flight, or done)', async () => {
    const { session, front, disk } = await setup();
    const offer = {
      length: 1,
      pfn: Uint32Array.of(40),
      disk: Uint32Array.of(XVDA),
      sector: Float64Array.of(800),
    };
    disk.delayMs = 20;
    const slow = front.request({ op: 'read', sector: 0, segs: [{ pfn: 1 }] });
    await new Promise((r) => setTimeout(r, 5));
    expect(session.tracker.inflightCount).toBe(1);
    expect(() => session.adoptRestored(offer)).toThrow(/made 1 disk request/);
    await slow;
    expect(() => session.adoptRestored(offer)).toThrow(/made 1 disk request/);
    expect(session.tracker.stats.adopted).toBe(0);
    await session.release();
  });

  it("takes the restore's hand-over over the control socket (adopt)", async () => {
    const { session, guest, disk } = await setup();
    guest.page(44).set(disk.bytes.subarray(960 * 512, 968 * 512));
    const sock = join(dir, 'dom7-adopt.sock');
    const server = await serveControl(session, sock, () => {});
    const report = await handOver(sock, {
      length: 1,
      pfn: Uint32Array.of(44),
      disk: Uint32Array.of(XVDA),
      sector: Float64Array.of(960),
    });
    expect(report).toEqual({ offered: 1, adopted: 1, rejected: 0 });
    const remote = await RemoteTrackedDomain.connect(sock);
    expect((await remote.status()).adoptedAtRestore).toEqual(report);
    expect((await remote.quiesce()).get(44)).toEqual({ disk: XVDA, sector: 960 });
    await expect(
      handOver(sock, {
        length: 1,
        pfn: Uint32Array.of(44),
        disk: Uint32Array.of(9),
        sector: Float64Array.of(0),
      }),
    ).rejects.toThrow(/tracking process: cannot adopt mappings while quiesced/);
    await remote.release();
    server.close();
  });

  it('adopts a map offered ahead only on adopt, on that connection; a dropped offer is never adopted', async () => {
    const { session, guest, disk } = await setup();
    guest.page(44).set(disk.bytes.subarray(960 * 512, 968 * 512));
    guest.page(45).set(disk.bytes.subarray(968 * 512, 976 * 512));
    const sock = join(dir, 'dom7-offer.sock');
    const server = await serveControl(session, sock, () => {});
    const one = (pfn: number, sector: number) => ({
      length: 1,
      pfn: Uint32Array.of(pfn),
      disk: Uint32Array.of(XVDA),
      sector: Float64Array.of(sector),
    });
    // Offered, then dropped (the restore failed): nothing is adopted.
    (await stageHandOver(sock, one(45, 968))).cancel();
    const remote = await RemoteTrackedDomain.connect(sock);
    expect((await remote.status()).adoptedAtRestore).toBeUndefined();
    // An adopt with no map on a connection that offered none is refused.
    const c = await ControlClient.connect(sock);
    await expect(c.request({ cmd: 'adopt' })).rejects.toThrow(/no map given or offered on this connection/);
    c.close();
    // Offered, then committed: exactly the offer is adopted.
    const staged = await stageHandOver(sock, one(44, 960));
    expect(session.tracker.stats.adopted).toBe(0);
    const report = await staged.commit();
    expect(report).toEqual({ offered: 1, adopted: 1, rejected: 0 });
    expect((await remote.quiesce()).get(44)).toEqual({ disk: XVDA, sector: 960 });
    expect((await remote.quiesce()).get(45)).toBeUndefined();
    await remote.release();
    server.close();
  });

  it('adopts restored pages only once the restore has verified them, and none if it fails', async () => {
    const { session, guest, disk } = await setup();
    guest.page(44).set(disk.bytes.subarray(960 * 512, 968 * 512));
    const sock = join(dir, 'dom7-verified.sock');
    const server = await serveControl(session, sock, () => {});
    const map = page44At960();
    let fail!: (e: Error) => void;
    const failing = handOverWhenVerified(sock, { map, verified: new Promise((_, r) => (fail = r)) });
    await new Promise((r) => setTimeout(r, 50));
    fail(new Error('page 44 refused'));
    await expect(failing).rejects.toThrow('page 44 refused');
    expect(session.tracker.stats.adopted).toBe(0);
    let pass!: () => void;
    const passing = handOverWhenVerified(sock, { map, verified: new Promise<void>((r) => (pass = r)) });
    await new Promise((r) => setTimeout(r, 50));
    // Offered, and decoded, but not adopted before the pages are verified.
    expect(session.tracker.stats.adopted).toBe(0);
    pass();
    expect(await passing).toEqual({ offered: 1, adopted: 1, rejected: 0 });
    expect(session.tracker.stats.adopted).toBe(1);
    await session.release();
    server.close();
  });

  it("keeps the disk's content hash current as the guest writes; a quiesce gives the disk's as it is", async () => {
    const hasher = await loadHasher();
    const { session, front, disk } = await setup({
      sectors: 32768,
      contentTiming: { firstMs: 0, everyMs: 5 },
    });
    const hashed = async (): Promise<void> => {
      while (session.status().content[0]!.stale > 0) await new Promise((r) => setTimeout(r, 5));
    };
    await hashed();
    expect(session.status().content).toEqual([{ id: XVDA, chunks: 16, stale: 0 }]);
    expect(printStatus({ tracked: true, status: session.status() })).toMatch(
      /xvda \(51712\) memory: connected, .*; content hash current for 16 of 16 chunks\n/,
    );
    // A write and a discard, each in another chunk; the guest's bytes land in the disk.
    await front.request({ op: 'write', sector: 2048 * 3 + 5, segs: [{ pfn: 9 }] });
    await front.request({ op: 'discard', sector: 2048 * 9, count: 16 });
    const sock = join(dir, 'content.sock');
    const server = await serveControl(session, sock, () => {});
    const remote = await RemoteTrackedDomain.connect(sock);
    // Only while quiesced: the hash is of the disk as the save freezes it.
    await expect(remote.quiescedContent()).rejects.toThrow(/only given while quiesced, not tracking/);
    const view = await remote.quiesce();
    // The tracking says where its time went (drain, cut; the stale chunks hashed for the content).
    expect(view.timing).toMatchObject({ drainMs: expect.any(Number), cutMs: expect.any(Number) });
    const given = await remote.quiescedContent();
    expect(given.chunksHashed).toBeLessThanOrEqual(2);
    expect(contentIdentity(given.hashes.get(XVDA)!)).toBe(contentIdentity(contentOf(hasher, disk.bytes)));
    await session.resume();
    await front.request({ op: 'write', sector: 2048 * 12, segs: [{ pfn: 10 }] });
    await session.quiesceCut();
    const after = await session.quiescedContent();
    expect(contentIdentity(after.hashes.get(XVDA)!)).toBe(contentIdentity(contentOf(hasher, disk.bytes)));
    server.close();
    await session.release();
  });

  it("takes the restore's chunk hashes with its pages, so the next save need not read the disk", async () => {
    const hasher = await loadHasher();
    const { session, guest, disk } = await setup({ sectors: 32768 });
    for (let i = 0; i < disk.bytes.length; i += 4096) disk.bytes[i] = (i >> 12) & 0xff;
    guest.page(44).set(disk.bytes.subarray(960 * 512, 968 * 512));
    const sock = join(dir, 'dom7-content.sock');
    const server = await serveControl(session, sock, () => {});
    const map = page44At960();
    const chunks = new BigUint64Array(16);
    for (let c = 0; c < 16; c++) chunks[c] = hasher.hash64(disk.bytes.subarray(c << 20, (c + 1) << 20));
    const content = Promise.resolve(new Map([[XVDA, { chunkSectors: 2048, chunks }]]));
    expect(session.status().content[0]!.stale).toBe(16);
    await handOverWhenVerified(sock, { map, verified: Promise.resolve(), content });
    expect(session.status().content[0]!.stale).toBe(0);
    await session.quiesceCut();
    const given = await session.quiescedContent();
    expect(given.chunksHashed).toBe(0);
    expect(contentIdentity(given.hashes.get(XVDA)!)).toBe(contentIdentity(contentOf(hasher, disk.bytes)));
    server.close();
    await session.release();
  });

  it('hashes every stale chunk at a quiesce, a disk never hashed before too', async () => {
    const hasher = await loadHasher();
    const { session, front, disk } = await setup({ sectors: 32768 });
    await front.request({ op: 'write', sector: 80, segs: [{ pfn: 12 }] });
    expect(session.status().content).toEqual([{ id: XVDA, chunks: 16, stale: 16 }]);
    await session.quiesceCut();
    const given = await session.quiescedContent();
    expect(given.chunksHashed).toBe(16);
    expect(contentIdentity(given.hashes.get(XVDA)!)).toBe(contentIdentity(contentOf(hasher, disk.bytes)));
    await session.release();
  });

  it('serves quiesce/resume/status/release over the control socket', async () => {
    const { session, front } = await setup();
    const sock = join(dir, 'dom7.sock');
    let stopped = false;
    const server = await serveControl(session, sock, () => (stopped = true));
    await front.request({ op: 'read', sector: 80, segs: [{ pfn: 12 }] });
    const remote = await RemoteTrackedDomain.connect(sock);
    expect(remote.domid).toBe(DOMID);
    expect(remote.disks()).toEqual([{ id: XVDA, vdev: 'xvda', path: 'memory', sectors: 2048 }]);
    const view = await remote.quiesce();
    expect(view.get(12)).toEqual({ disk: XVDA, sector: 80 });
    // The map came as a file beside the socket, removed once read.
    expect(existsSync(`${sock}.cut`)).toBe(false);
    expect(view.get(13)).toBeUndefined();
    await remote.resume();
    expect((await remote.status()).state).toBe('tracking');
    // Recording started and stopped at run time, through the socket.
    const client = await ControlClient.connect(sock);
    const tracePath = join(dir, 'live.lctrace');
    await client.request({ cmd: 'record-start', path: tracePath });
    await front.request({ op: 'read', sector: 96, segs: [{ pfn: 14 }, { pfn: 15 }] });
    session.logDirty.tick();
    const { trace } = await client.request({ cmd: 'record-stop' });
    client.close();
    expect(trace).toMatchObject({ path: tracePath, format: 'binary', events: 3 });
    const recorded = await openTrace(tracePath);
    expect(recorded.header.meta).toMatchObject({ source: 'xen', readsLandAtCompletion: true });
    await recorded.close();
    await remote.release();
    expect(stopped).toBe(true);
    server.close();
  });
});
