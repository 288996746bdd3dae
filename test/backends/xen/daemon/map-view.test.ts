/** SnapshotView: the save's per-page lookup into a checkpoint cut of the map. */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DENSE_PFN_LIMIT,
  readSnapshotFile,
  SnapshotView,
  writeSnapshotFile,
} from '../../../../backends/xen/daemon/map-view.ts';

const snapshot = (pfns: readonly number[]) => ({
  length: pfns.length,
  pfn: Uint32Array.from(pfns),
  disk: Uint32Array.from(pfns, (p) => 51712 + (p % 3)),
  sector: Float64Array.from(pfns, (p) => p * 8 + 1),
});

it('finds exactly the mapped pfns, with their disk and sector, dense or sparse', () => {
  const pfnSets = fc.uniqueArray(
    fc.oneof(fc.nat(5000), fc.integer({ min: DENSE_PFN_LIMIT, max: 2 ** 32 - 1 })),
    { maxLength: 200 },
  );
  fc.assert(
    fc.property(pfnSets, fc.array(fc.nat(2 ** 32 - 1), { maxLength: 50 }), (pfns, probes) => {
      const view = new SnapshotView(snapshot(pfns));
      expect(view.size).toBe(pfns.length);
      const mapped = new Set(pfns);
      for (const p of [...pfns, ...probes, 0, 5001]) {
        expect(view.get(p)).toEqual(mapped.has(p) ? { disk: 51712 + (p % 3), sector: p * 8 + 1 } : undefined);
      }
    }),
    { numRuns: 200 },
  );
});

it('hands a snapshot over as a file, column for column, removed once read; a short file is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leanckpt-cut-'));
  try {
    const s = snapshot([3, 5, 70000, 12]);
    const file = writeSnapshotFile(s, join(dir, 'dom7.sock.cut'));
    expect(file).toEqual({ path: join(dir, 'dom7.sock.cut'), length: 4 });
    const back = readSnapshotFile(file);
    expect(back).toEqual(s);
    expect(existsSync(file.path)).toBe(false);
    writeSnapshotFile(s, file.path);
    expect(() => readSnapshotFile({ ...file, length: 5 })).toThrow(/has 64 bytes, not 80/);
    expect(readSnapshotFile(writeSnapshotFile(snapshot([]), file.path)).length).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
