/**
 * The oracle and the image accounting over symbolic content. Seeds are exact content keys (equal seeds
 * are equal bytes, seed 0 is the all-zero sector), so nothing is materialised: a checkpoint of a 1 GiB
 * guest is classified in about a second, where hashing real bytes would take minutes per checkpoint.
 */
import {
  matchPagesToDisks,
  PAGE_MATCHED,
  PAGE_OTHER,
  type DiskKeys,
  type OracleResult,
} from '../../core/oracle/index.ts';
import type { MapSnapshot } from '../../core/pbmap/map-snapshot.ts';
import { SECTORS_PER_PAGE } from '../../core/ports.ts';
import { RUN_MAX_GAP_SECTORS, RUN_MAX_SECTORS } from '../../core/image/sector-runs.ts';
import type { ReplayWorld } from '../replay/replay-world.ts';
import { initialPlace } from '../content/seeds.ts';

const SPP = SECTORS_PER_PAGE;

/** The world's disks as they are now (the guest is paused at a checkpoint, so this is the snapshot). */
export function worldDiskKeys(world: ReplayWorld): DiskKeys[] {
  return [...world.disks].map(([id, d]) => ({
    id,
    sectors: d.sectors,
    read(sector: number, count: number, dst: Float64Array) {
      for (let i = 0; i < count; i++) dst[i] = d.get(sector + i);
    },
  }));
}

/** Views of only the sector runs each disk ever wrote (everything else still holds initial seeds). */
function writtenDiskKeys(world: ReplayWorld): DiskKeys[] {
  return [...world.disks].flatMap(([id, d]) =>
    d.writtenRuns().map(({ from, to }) => ({
      id,
      first: from,
      sectors: to - from,
      read(sector: number, count: number, dst: Float64Array) {
        for (let i = 0; i < count; i++) dst[i] = d.get(from + sector + i);
      },
    })),
  );
}

/**
 * The oracle without scanning a whole disk per checkpoint (a 16 GiB disk is 32 M sectors, which made
 * the scan the cost of an experiment). A match lies either wholly inside written runs, found by
 * scanning only those, or has a sector outside them, which still holds its initial seed: that seed
 * names its own place, so the page's matching range is at most 8 places to check directly. Same
 * result as scanning everything (test/experiments/symbolic-oracle.test.ts).
 */
export async function symbolicOracle(world: ReplayWorld): Promise<OracleResult> {
  const r = await matchPagesToDisks({ pageKeys: world.memory, disks: writtenDiskKeys(world) });
  const byIndex = new Map([...world.disks].map(([id, d]) => [d.index, { id, d }]));
  const { kind, disk, sector } = r;
  let matched = r.matchedPages;
  const keys = world.memory;
  for (let p = 0; p < kind.length; p++) {
    if (kind[p] !== PAGE_OTHER) continue;
    for (let j = 0; j < SPP; j++) {
      const place = initialPlace(keys[p * SPP + j]!);
      const at = place && byIndex.get(place.diskIndex);
      if (!place || !at) continue;
      const start = place.sector - j;
      if (start < 0 || start + SPP > at.d.sectors) continue;
      let same = true;
      for (let i = 0; i < SPP && same; i++) same = keys[p * SPP + i] === at.d.get(start + i);
      if (!same) continue;
      kind[p] = PAGE_MATCHED;
      disk[p] = at.id;
      sector[p] = start;
      matched++;
      break;
    }
  }
  return { ...r, matchedPages: matched };
}

/** How the image writer would treat each page at this checkpoint, counted without writing. */
export interface MapCheck {
  /** 1 for pages kept in MAP (their sectors hold their content), else 0. */
  readonly mapped: Uint8Array;
  readonly mappedPages: number;
  /** Entries whose disk sectors did not hold the page: a writer demotes them (a tracker bug if > 0). */
  readonly demoted: number;
  /** Reads a restore makes for the kept entries, coalesced as core/image/sector-runs does. */
  readonly diskReads: number;
  readonly diskBytes: number;
}

export function checkMapping(world: ReplayWorld, m: MapSnapshot): MapCheck {
  const mapped = new Uint8Array(world.pageCount);
  let mappedPages = 0;
  let demoted = 0;
  let diskReads = 0;
  let diskSectors = 0;
  let runDisk = -1;
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; i < m.length; i++) {
    const pfn = m.pfn[i]!;
    const id = m.disk[i]!;
    const sector = m.sector[i]!;
    const disk = world.disks.get(id);
    let same = disk !== undefined;
    for (let j = 0; j < SPP && same; j++) same = world.memory[pfn * SPP + j] === disk!.get(sector + j);
    if (!same) {
      demoted++;
      continue;
    }
    mapped[pfn] = 1;
    mappedPages++;
    const fits =
      runDisk === id &&
      sector >= runStart &&
      sector <= runEnd + RUN_MAX_GAP_SECTORS &&
      Math.max(runEnd, sector + SPP) - runStart <= RUN_MAX_SECTORS;
    if (fits) runEnd = Math.max(runEnd, sector + SPP);
    else {
      if (runDisk !== -1) diskSectors += runEnd - runStart;
      diskReads++;
      runDisk = id;
      runStart = sector;
      runEnd = sector + SPP;
    }
  }
  if (runDisk !== -1) diskSectors += runEnd - runStart;
  return { mapped, mappedPages, demoted, diskReads, diskBytes: diskSectors * 512 };
}

/** Zero pages outside MAP and the ZERO extents they form, as the writer's page scan finds them. */
export function zeroPages(world: ReplayWorld, mapped: Uint8Array): { pages: number; extents: number } {
  let pages = 0;
  let extents = 0;
  let prev = false;
  for (let p = 0; p < world.pageCount; p++) {
    let zero = mapped[p] === 0;
    for (let j = 0; j < SPP && zero; j++) zero = world.memory[p * SPP + j] === 0;
    if (zero) {
      pages++;
      if (!prev) extents++;
    }
    prev = zero;
  }
  return { pages, extents };
}

/** Mapped pages the oracle also found (the capture's numerator). */
export function capturedPages(oracle: OracleResult, mapped: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < mapped.length; p++) if (mapped[p] && oracle.kind[p] === PAGE_MATCHED) n++;
  return n;
}
