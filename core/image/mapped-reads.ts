/**
 * A restore's mapped pages, read from the disks while the walk goes on through the image's page
 * records: the image file and the disks are read at the same time instead of one after the other.
 * MAP entries are queued as their records are walked (in file order, so reads stay sector-ordered);
 * the first failure is kept and stops the rest, and the walk checks for it at every record.
 */
import type { MapEntries } from './records/map.ts';
import type { SectorRuns } from './sector-runs.ts';

export class MappedReads {
  /** The queued reads, one after another; never rejects (a failure is kept in `failure`). */
  private chain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private stopped = false;

  constructor(private readonly runs: SectorRuns) {}

  /** Queues the reads of a MAP record's entries (in (disk, sector) order, as the walk checked). */
  add(m: MapEntries): void {
    this.then(async () => {
      const runs = this.runs;
      for (let i = 0; i < m.count && !this.stopped; i++) {
        const disk = m.disk[i]!;
        const sector = m.sector[i]!;
        if (!runs.fits(disk, sector)) await runs.submit();
        runs.add(m.pfn[i]!, disk, sector, m.hash[i]!);
      }
    });
  }

  /** Throws the first failure, if there was one. */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Reads and visits everything queued, then throws the first failure, if any. */
  async finish(): Promise<void> {
    this.then(() => this.runs.flush());
    await this.chain;
    this.check();
  }

  /** After the walk failed: stops queued reads and waits for those in flight, so none outlives the restore. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
    await this.runs.abandon();
  }

  private then(work: () => Promise<void>): void {
    this.chain = this.chain
      .then(() => (this.stopped || this.failure ? undefined : work()))
      .catch((error: unknown) => {
        this.stopped = true;
        this.failure ??= { error };
      });
  }
}
