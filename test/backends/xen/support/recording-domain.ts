/** A TrackedDomain for save tests: serves a fixed map and logs each call, into a list it may share. */
import type {
  PageMapView,
  QuiescedContent,
  TrackedDisk,
  TrackedDomain,
} from '../../../../backends/xen/tracked-domain.ts';

export class RecordingDomain implements TrackedDomain {
  /** Set to play a tracking that keeps the disks' content hashes. */
  quiescedContent?: () => Promise<QuiescedContent>;
  constructor(
    readonly domid: number,
    private readonly disk: TrackedDisk,
    private readonly map: PageMapView,
    /** What was called, in order; pass a list to interleave other events with these. */
    readonly calls: string[] = [],
  ) {}
  disks(): readonly TrackedDisk[] {
    return [this.disk];
  }
  async quiesce(): Promise<PageMapView> {
    this.calls.push('quiesce');
    return this.map;
  }
  async resume(): Promise<void> {
    this.calls.push('resume');
  }
  async release(): Promise<void> {
    this.calls.push('release');
  }
}
