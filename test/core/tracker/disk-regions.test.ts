import { describe, expect, it } from 'vitest';
import { DiskRegions } from '../../../core/tracker/disk-regions.ts';

const REGION = 2048;

describe('DiskRegions', () => {
  it('finds the slots near a range, and keeps an emptied list for the next request', () => {
    const regions = new DiskRegions();
    regions.add(1, 0, 16);
    regions.add(2, REGION - 8, REGION + 8);
    const out: number[] = [];
    expect(out.slice(0, regions.near(10, 20, out)).sort()).toEqual([1, 2]);
    expect(out.slice(0, regions.near(REGION + 100, REGION + 200, out))).toEqual([2]);
    regions.remove(1, 0, 16);
    regions.remove(2, REGION - 8, REGION + 8);
    expect(regions.near(0, 16, out)).toBe(0);
    expect(regions.lists).toBe(2);
  });

  it('sweeps emptied lists, so memory follows the requests in flight', () => {
    const regions = new DiskRegions();
    regions.add(0, 0, 8);
    for (let r = 1; r <= 5000; r++) {
      regions.add(r, r * REGION, r * REGION + 8);
      regions.remove(r, r * REGION, r * REGION + 8);
    }
    expect(regions.lists).toBeLessThanOrEqual(1025 + 1);
    const out: number[] = [];
    expect(out.slice(0, regions.near(0, 8, out))).toEqual([0]);
    expect(regions.near(4000 * REGION, 4000 * REGION + 8, out)).toBe(0);
  });
});
