/**
 * The checkpoint engine: the one loop every backend runs. Events flow from the backend's source
 * through the delivery mode into the tracker; at each barrier (guest paused) the engine freezes the
 * disks, collects the device state, writes the image from the cut, and resumes the guest.
 */
import { concatMap, from, type Observable } from 'rxjs';
import type { Hasher64 } from '../hash.ts';
import { writeImage, type ImagePolicy, type ImageStats } from '../image/index.ts';
import type {
  BlockStore,
  ContentProbe,
  DiskSnapshotter,
  DomainControl,
  EventSource,
  GuestMemory,
} from '../ports.ts';
import { deliverInEpochs } from '../tracker/operators/deliver-in-epochs.ts';
import { trackPageBlocks } from '../tracker/operators/track-page-blocks.ts';
import { PageBlockTracker, type CheckpointCut } from '../tracker/tracker.ts';
import type { Delivery } from './delivery.ts';

export interface EngineDeps {
  readonly source: EventSource;
  readonly memory: GuestMemory;
  readonly snapshotter: DiskSnapshotter;
  readonly domain: DomainControl;
  readonly hasher: Hasher64;
  /** Needed for hash revalidation only. */
  readonly probe?: ContentProbe;
}

export interface EngineOptions {
  readonly delivery: Delivery;
  /** Images to write at each checkpoint, by name (e.g. the p2b image and a baseline to compare). */
  readonly images: readonly { readonly name: string; readonly policy: ImagePolicy }[];
  /** Where the image of a cut under a named policy goes. */
  readonly imagePath: (cut: CheckpointCut, imageName: string) => string;
  /** Runs after the images are written, while the guest is still paused (e.g. to verify them). */
  readonly whilePaused?: (record: CheckpointRecord) => Promise<void>;
}

export interface CheckpointRecord {
  readonly cut: CheckpointCut;
  /** One entry per configured image, in order. */
  readonly images: readonly (ImageStats & { readonly name: string })[];
  /** The frozen disks the image references: what a restore reads mapped pages from. */
  readonly disks: BlockStore;
  /** Size of the backend's device state blob stored in each image. */
  readonly stateBytes: number;
}

export class CheckpointEngine {
  readonly tracker: PageBlockTracker;

  constructor(
    private readonly deps: EngineDeps,
    private readonly opts: EngineOptions,
  ) {
    // In precise delivery, revalidation applies to the dirty events the source itself carries.
    const revalidate = opts.delivery.revalidate === true;
    this.tracker = new PageBlockTracker(deps.source.geometry, { revalidate, probe: deps.probe });
  }

  /** Runs the guest's event stream to its end, emitting one record per checkpoint written. */
  run(): Observable<CheckpointRecord> {
    const { source } = this.deps;
    const { delivery } = this.opts;
    const events =
      delivery.kind === 'precise'
        ? source.events()
        : source.events().pipe(deliverInEpochs(source.geometry.pageCount, delivery.epochEvents));
    return events.pipe(
      trackPageBlocks(this.tracker),
      concatMap((cut) => from(this.checkpoint(cut))),
    );
  }

  private async checkpoint(cut: CheckpointCut): Promise<CheckpointRecord> {
    const { memory, snapshotter, domain, hasher } = this.deps;
    const disks = await snapshotter.snapshot(cut.name);
    const state = await domain.saveState();
    const images: CheckpointRecord['images'][number][] = [];
    const record: CheckpointRecord = { cut, images, disks, stateBytes: state.length };
    try {
      for (const { name, policy } of this.opts.images) {
        const input = { memory, disks: disks.disks, state, mapping: cut.mapping, blocks: disks, hasher };
        images.push({ name, ...(await writeImage(this.opts.imagePath(cut, name), input, policy)) });
      }
      await this.opts.whilePaused?.(record);
    } finally {
      // A failed checkpoint must not leave the guest paused; the error still reaches the subscriber.
      await domain.resume();
    }
    return record;
  }
}
