import { describe, expect, it } from 'vitest';
import { checkpointTime, costParams, COST_PROFILES, restoreTime } from '../../sim/experiments/cost-model.ts';

describe('cost model', () => {
  const c = costParams('ssd', {
    writeBandwidth: 100e6,
    copyRate: 4096e3,
    hashRate: 8192e3,
    zeroScanRate: 4096e3,
    fixedSeconds: 0.5,
  });

  it('adds fixed, copy, hash, zero-scan and write time', () => {
    const t = checkpointTime(
      { imageBytes: 200e6, dataPages: 1000, mappedPages: 1000, scannedPages: 2000 },
      c,
    );
    expect(t).toEqual({ fixed: 0.5, copy: 1, hash: 0.5, zeroScan: 2, write: 2, total: 6 });
  });

  it('charges restore one access per coalesced disk read', () => {
    const r = restoreTime(
      { imageBytes: 344e6, dataPages: 0, mappedPages: 0, diskReads: 10, diskBytes: 0 },
      { ...COST_PROFILES.disk2011, readBandwidth: 344e6 },
    );
    expect(r.imageRead).toBe(1);
    expect(r.diskRead).toBeCloseTo(0.08, 12);
  });

  it('rejects parameters that cannot be rates', () => {
    expect(() => costParams('ssd', { writeBandwidth: 0 })).toThrow(/writeBandwidth/);
    expect(() => costParams('disk2011', { hashRate: Number.NaN })).toThrow(/hashRate/);
    expect(costParams('ssd', { fixedSeconds: 0 }).fixedSeconds).toBe(0);
  });
});
