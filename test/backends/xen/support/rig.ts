/** One guest, one served disk, a test frontend and a real core tracker, wired as the daemon wires them. */
import { PageBlockTracker } from '../../../../core/tracker/tracker.ts';
import { AttachedDisk } from '../../../../backends/xen/blkif/attach.ts';
import { EventBus } from '../../../../backends/xen/daemon/event-bus.ts';
import { MemoryDisk } from './memory-disk.ts';
import { MemoryXenstore } from './memory-xenstore.ts';
import { TestChannels, TestFrontend } from './test-frontend.ts';
import { TestGuest } from './test-guest.ts';

export const DOMID = 5;
export const XVDA = 51712;

export interface Rig {
  readonly xs: MemoryXenstore;
  readonly guest: TestGuest;
  readonly disk: MemoryDisk;
  readonly bus: EventBus;
  readonly tracker: PageBlockTracker;
  readonly attached: AttachedDisk;
  readonly front: TestFrontend;
  readonly channels: TestChannels;
  readonly log: string[];
}

export async function rig(
  opts: {
    kind?: 'pv' | 'hvm';
    pages?: number;
    sectors?: number;
    seed?: number;
    ringPages?: 1 | 2 | 4 | 8;
    abi?: '64' | '32';
  } = {},
): Promise<Rig> {
  const pages = opts.pages ?? 256;
  const sectors = opts.sectors ?? 4096;
  const xs = new MemoryXenstore();
  const guest = new TestGuest(pages, opts.kind ?? 'pv');
  const disk = new MemoryDisk(sectors);
  let x = opts.seed ?? 1;
  for (let i = 0; i < disk.bytes.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    disk.bytes[i] = x >>> 24;
  }
  const channels = new TestChannels(new Map([[DOMID, guest]]));
  const bus = new EventBus();
  const tracker = new PageBlockTracker({ pageCount: pages, disks: [{ id: XVDA, sectors }] });
  bus.batches.subscribe((b) => tracker.apply(b));
  const log: string[] = [];
  let id = 0;
  const attached = new AttachedDisk(
    { domid: DOMID, vdev: 'xvda', devid: XVDA, store: disk, path: 'memory' },
    {
      xs,
      connector: channels,
      mover: guest.mover(),
      table: () => guest.table,
      frames: guest.frames,
      events: bus,
      nextId: () => ++id,
      log: (m) => log.push(m),
    },
  );
  attached.start();
  // The ring lives in the last pages, out of the way of the data pages the tests use.
  const front = new TestFrontend(xs, guest, channels, DOMID, XVDA, {
    ringPages: opts.ringPages ?? 1,
    abi: opts.abi ?? '64',
  });
  await front.connect();
  return { xs, guest, disk, bus, tracker, attached, front, channels, log };
}

/** Every mapping the tracker holds, checked against the bytes: page content == the 8 sectors it names. */
export function falseMappings(r: Rig): number[] {
  const bad: number[] = [];
  const { loc } = r.tracker.map;
  for (let pfn = 0; pfn < loc.length; pfn++) {
    const g = loc[pfn]!;
    if (g < 0) continue;
    const page = r.guest.page(pfn);
    const sectors = r.disk.bytes.subarray(g * 512, g * 512 + 4096);
    if (!page.every((b, i) => b === sectors[i])) bad.push(pfn);
  }
  return bad;
}

export function mappedTo(r: Rig, pfn: number): number | undefined {
  const g = r.tracker.map.loc[pfn]!;
  return g < 0 ? undefined : g;
}
