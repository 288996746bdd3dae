/**
 * Requests from a test frontend through the ring into a real core tracker and an in-memory disk: each
 * kind of request becomes what the invalidation rules need, and every mapping the tracker ends up with
 * is true of the bytes (page content == the sectors it names).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlkifStatus } from '../../../backends/xen/blkif/layout.ts';
import { falseMappings, mappedTo, rig, XVDA } from './support/rig.ts';

const disk = (r: Awaited<ReturnType<typeof rig>>, sector: number) =>
  r.disk.bytes.subarray(sector * 512, sector * 512 + 4096);

describe('blkif requests into the tracker', () => {
  for (const kind of ['pv', 'hvm'] as const) {
    it(`${kind}: a whole-page read maps the guest's pfn (not the granted frame) to its sectors`, async () => {
      const r = await rig({ kind });
      expect(await r.front.request({ op: 'read', sector: 80, segs: [{ pfn: 10 }, { pfn: 3 }] })).toBe(0);
      expect(r.guest.page(10)).toEqual(disk(r, 80));
      expect(r.guest.page(3)).toEqual(disk(r, 88));
      expect([mappedTo(r, 10), mappedTo(r, 3)]).toEqual([80, 88]);
      expect(falseMappings(r)).toEqual([]);
    });
  }

  it('a whole-page write maps its source page; a later overlapping write kills it', async () => {
    const r = await rig();
    r.guest.page(7).fill(0xab);
    expect(await r.front.request({ op: 'write', sector: 800, segs: [{ pfn: 7 }] })).toBe(0);
    expect(disk(r, 800).every((b) => b === 0xab)).toBe(true);
    expect(mappedTo(r, 7)).toBe(800);
    r.guest.page(9).fill(1);
    expect(await r.front.request({ op: 'write', sector: 803, segs: [{ pfn: 9, first: 0, last: 1 }] })).toBe(
      0,
    );
    expect(mappedTo(r, 7)).toBeUndefined();
    expect(mappedTo(r, 9)).toBeUndefined(); // a partial source maps nothing
    expect(falseMappings(r)).toEqual([]);
  });

  it('FUA writes (FLUSH_DISKCACHE with data) flush and map like writes', async () => {
    const r = await rig();
    expect(await r.front.request({ op: 'flush-write', sector: 64, segs: [{ pfn: 4 }] })).toBe(0);
    expect(r.disk.flushes).toBe(2);
    expect(mappedTo(r, 4)).toBe(64);
  });

  it('a partial read unmaps the page it lands in (rule 4)', async () => {
    const r = await rig();
    await r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 5 }] });
    expect(mappedTo(r, 5)).toBe(0);
    await r.front.request({ op: 'read', sector: 100, segs: [{ pfn: 5, first: 2, last: 3 }] });
    expect(mappedTo(r, 5)).toBeUndefined();
    expect(r.attached.stats().partialSegments).toBe(1);
    expect(falseMappings(r)).toEqual([]);
  });

  it('a discard kills mappings on its sectors and the sectors read as zeros', async () => {
    const r = await rig();
    await r.front.request({ op: 'read', sector: 200, segs: [{ pfn: 6 }, { pfn: 8 }] });
    expect(await r.front.request({ op: 'discard', sector: 204, count: 4 })).toBe(0);
    expect([mappedTo(r, 6), mappedTo(r, 8)]).toEqual([undefined, 208]);
    expect(
      disk(r, 200)
        .subarray(2048)
        .every((b) => b === 0),
    ).toBe(true);
    expect(falseMappings(r)).toEqual([]);
  });

  it('flushes reach the disk and produce no event', async () => {
    const r = await rig();
    const before = r.tracker.stats.events;
    expect(await r.front.request({ op: 'flush' })).toBe(0);
    expect(r.disk.flushes).toBe(1);
    expect(r.tracker.stats.events).toBe(before);
  });

  it('a failed read maps nothing and kills what its pages held (rule 8)', async () => {
    const r = await rig();
    await r.front.request({ op: 'read', sector: 40, segs: [{ pfn: 11 }] });
    r.disk.failingSectors.add(301);
    expect(await r.front.request({ op: 'read', sector: 296, segs: [{ pfn: 11 }] })).toBe(BlkifStatus.Error);
    expect(mappedTo(r, 11)).toBeUndefined();
    expect(r.tracker.stats.failedRequests).toBe(1);
  });

  it('a grant copy that fails half way fails the request and kills every target page', async () => {
    const r = await rig();
    await r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 12 }, { pfn: 13 }] });
    const status = r.front.request({ op: 'read', sector: 16, segs: [{ pfn: 12 }, { pfn: 13 }] });
    r.guest.failingGrants.add(r.guest['nextRef'] - 1);
    expect(await status).toBe(BlkifStatus.Error);
    expect([mappedTo(r, 12), mappedTo(r, 13)]).toEqual([undefined, undefined]);
    expect(falseMappings(r)).toEqual([]);
  });

  it('refuses bad grants, read-only grants for reads, sectors past the end and indirect requests, with no event', async () => {
    const r = await rig();
    const before = r.tracker.stats.events;
    expect(await r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 1, badGrant: true }] })).toBe(-1);
    expect(await r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 1, readOnly: true }] })).toBe(-1);
    expect(await r.front.request({ op: 'read', sector: 4090, segs: [{ pfn: 1 }] })).toBe(-1);
    expect(await r.front.request({ op: 'discard', sector: 4090, count: 16 })).toBe(-1);
    expect(await r.front.request({ op: 'indirect' })).toBe(BlkifStatus.NotSupported);
    expect(r.tracker.stats.events).toBe(before);
    expect(r.attached.stats().refused).toBe(5);
    expect(r.log.join('\n')).toMatch(/grant 4000 is outside the grant table/);
  });

  it('quiesce waits for in-flight I/O, leaves new requests in the ring, and resume serves them', async () => {
    const r = await rig();
    r.disk.delayMs = 20;
    const first = r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 20 }] });
    await Promise.resolve();
    expect(r.attached.inflight).toBe(1);
    await r.attached.quiesce();
    expect(r.attached.inflight).toBe(0);
    expect(await first).toBe(0);
    const queued = r.front.request({ op: 'read', sector: 8, segs: [{ pfn: 21 }] });
    await new Promise((res) => setTimeout(res, 50));
    expect(r.front.outstanding).toBe(1);
    expect(mappedTo(r, 21)).toBeUndefined();
    r.attached.resume();
    expect(await queued).toBe(0);
    expect(mappedTo(r, 21)).toBe(8);
  });

  it('finds requests the frontend never notified about when polled', async () => {
    const r = await rig();
    r.front.notifyBackend = false;
    const p = r.front.request({ op: 'read', sector: 0, segs: [{ pfn: 30 }] });
    await new Promise((res) => setTimeout(res, 5));
    expect(r.front.outstanding).toBe(1);
    r.attached.poll();
    expect(await p).toBe(0);
  });

  const property = (adopt: boolean) => async () => {
    const seg = fc.record({
      pfn: fc.integer({ min: 0, max: 23 }),
      first: fc.constantFrom(0, 0, 0, 2),
      last: fc.constantFrom(7, 7, 7, 5),
    });
    const step = fc.oneof(
      fc.record({
        op: fc.constantFrom('read' as const, 'write' as const),
        sector: fc.integer({ min: 0, max: 63 }).map((s) => s * 4),
        segs: fc.array(seg, { minLength: 1, maxLength: 4 }),
      }),
      fc.record({
        op: fc.constant('discard' as const),
        sector: fc.integer({ min: 0, max: 255 }),
        count: fc.integer({ min: 1, max: 24 }),
      }),
      fc.record({
        op: fc.constant('cpu' as const),
        pfn: fc.integer({ min: 0, max: 23 }),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ op: fc.constant('fail' as const), sector: fc.integer({ min: 0, max: 300 }) }),
    );
    let mapped = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(step, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }),
        async (bursts) => {
          const r = await rig({ pages: 64, sectors: 512 });
          if (adopt) {
            // As a restore leaves a paused domain: pages 0..23 hold sectors 8*p+8 and are handed over.
            const pfns = Uint32Array.from({ length: 24 }, (_, p) => p);
            for (const p of pfns)
              r.guest.page(p).set(r.disk.bytes.subarray((8 * p + 8) * 512, (8 * p + 16) * 512));
            const offer = {
              length: 24,
              pfn: pfns,
              disk: new Uint32Array(24).fill(XVDA),
              sector: Float64Array.from(pfns, (p) => 8 * p + 8),
            };
            expect(r.tracker.adoptVerifiedMappings(offer).adopted).toBe(24);
            expect(falseMappings(r)).toEqual([]);
          }
          for (const burst of bursts) {
            const pending: Promise<number>[] = [];
            for (const s of burst) {
              if (s.op === 'cpu') {
                // The guest CPU writes a page, and (precise delivery) the event says so at once.
                const page = r.guest.page(s.pfn);
                page[s.byte * 16] = page[s.byte * 16]! ^ 0xff;
                r.bus.add({ op: 'mem_write', pfns: [s.pfn] });
                r.bus.flush();
              } else if (s.op === 'fail') r.disk.failingSectors.add(s.sector);
              // A request's pages are not in use by another in the same burst unless fc says so: races are allowed.
              else if (r.front.slotsFree > 0) pending.push(r.front.request(s));
            }
            await Promise.all(pending);
            expect(falseMappings(r)).toEqual([]);
          }
          expect(r.tracker.inflightCount).toBe(0);
          mapped += r.tracker.stats.mappedByRead + r.tracker.stats.mappedByWrite;
        },
      ),
      { numRuns: 60 },
    );
    // Not vacuous: the runs did map pages (and every mapping was checked against the bytes).
    expect(mapped).toBeGreaterThan(100);
  };

  it(
    'property: any mix of requests, races, failures and guest writes leaves only true mappings',
    property(false),
  );

  it(
    "property: so it does after adopting a restore's pages (disk writes and guest writes kill them)",
    property(true),
  );
});
