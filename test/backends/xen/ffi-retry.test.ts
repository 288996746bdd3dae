/**
 * retryInterrupted: a C call that fails because a signal arrived (EINTR) is made again; any other
 * failure, or success, is returned at once. In the lab a profiler's signals made gntdev's mapping of a
 * restored guest's ring fail with EINTR, and the guest's disk with it.
 */
import { describe, expect, it } from 'vitest';
import { EINTR, retryInterrupted } from '../../../backends/xen/ffi/load.ts';

/** A call that fails with each errno in `errnos` in turn, then succeeds (returns 0). */
function flaky(errnos: number[]): { call: () => number; errno: () => number; calls: () => number } {
  let n = 0;
  return {
    call: () => (n++ < errnos.length ? -1 : 0),
    errno: () => errnos[n - 1] ?? 0,
    calls: () => n,
  };
}
const failed = (rc: number): boolean => rc !== 0;

describe('retryInterrupted', () => {
  it('makes an interrupted call again until it succeeds, telling of each retry', () => {
    const f = flaky([EINTR, EINTR, EINTR]);
    let retries = 0;
    expect(retryInterrupted(f.call, failed, { errno: f.errno, onRetry: () => retries++ })).toBe(0);
    expect(f.calls()).toBe(4);
    expect(retries).toBe(3);
  });
  it('returns any other failure at once, for the caller to report', () => {
    const f = flaky([22 /* EINVAL */]);
    expect(retryInterrupted(f.call, failed, { errno: f.errno })).toBe(-1);
    expect(f.calls()).toBe(1);
  });
  it('stops after its tries, however often it is interrupted', () => {
    const f = flaky(Array.from({ length: 50 }, () => EINTR));
    expect(retryInterrupted(f.call, failed, { errno: f.errno, tries: 10 })).toBe(-1);
    expect(f.calls()).toBe(10);
  });
  it('does not call again after a success', () => {
    const f = flaky([]);
    expect(retryInterrupted(f.call, failed, { errno: f.errno })).toBe(0);
    expect(f.calls()).toBe(1);
  });
});
