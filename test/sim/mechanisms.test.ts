import { describe, expect, it } from 'vitest';
import { MiB, run } from './support.ts';

const small = { memBytes: 128 * MiB, seed: 3, events: 40_000 } as const;

describe('OS mechanisms show in the stream', () => {
  it('memory-hog reads far less through the page cache than kernel-build, and swaps', () => {
    const hog = run({ ...small, guest: 'pv-linux', workload: 'memory-hog' });
    const build = run({ ...small, guest: 'pv-linux', workload: 'kernel-build' });
    // Boot reads the same system files in both; after boot, memory-hog hardly touches files.
    expect(hog.counts.fsReads * 2).toBeLessThan(build.counts.fsReads);
    expect(hog.counts.swapWrites).toBeGreaterThan(0);
    expect(hog.counts.swapReads).toBeGreaterThan(0);
    expect(hog.sim.os.counters.swapInPages).toBeGreaterThan(0);
    expect(build.counts.swapReads).toBeLessThan(hog.counts.swapReads);
  });

  it('hvm-windows zeroes freed pages (memory writes), Linux does not', () => {
    // Every write reported (no coalescing), so each page the zero thread clears is a reported write.
    const opts = { ...small, workload: 'kernel-build', coalesceWrites: false } as const;
    const win = run({ ...opts, guest: 'hvm-windows' });
    const lin = run({ ...opts, guest: 'hvm-linux' });
    expect(win.sim.os.counters.zeroedPages).toBeGreaterThan(1000);
    expect(lin.sim.os.counters.zeroedPages).toBe(0);
    expect(win.sim.stats.memWritePages).toBeGreaterThan(win.sim.os.counters.zeroedPages);
    expect(win.sim.os.counters.relocatedPages).toBeGreaterThan(0);
  });

  it('a 1 KiB-block file system on a 63-sector partition gives unaligned and sub-page I/O', () => {
    const aligned = run({ ...small, guest: 'pv-linux', workload: 'postmark' });
    const old = run({
      ...small,
      guest: 'pv-linux',
      workload: 'postmark',
      fsBlockSize: 1024,
      partitionStart: 63,
    });
    expect(aligned.counts.unalignedRequests).toBe(0);
    expect(aligned.counts.subPageSegments).toBe(0);
    expect(old.counts.unalignedRequests).toBeGreaterThan(old.counts.submits / 10);
    expect(old.counts.subPageSegments).toBeGreaterThan(1000);
    expect(old.sim.os.counters.partialPages).toBeGreaterThan(0);
  });

  it('the emulated IDE path gives sub-page transfers and bounce copies; blkfront does not', () => {
    const ide = run({ ...small, guest: 'hvm-linux', workload: 'file-copy' });
    const pv = run({ ...small, guest: 'pv-linux', workload: 'file-copy' });
    expect(ide.counts.subPageSegments).toBeGreaterThan(100);
    expect(pv.counts.subPageSegments).toBe(0);
    // Bounce copies: data reaches the page cache by CPU copy, so fewer pages end up mapped.
    expect(ide.tracker.stats.mappedByRead).toBeLessThan(pv.tracker.stats.mappedByRead);
  });

  it('postmark deletes files and discards their blocks; metadata is journaled', () => {
    const r = run({ ...small, guest: 'pv-linux', workload: 'postmark' });
    expect(r.counts.discards).toBeGreaterThan(100);
    expect(r.sim.os.counters.filesDeleted).toBeGreaterThan(100);
    expect(r.sim.os.counters.journalCommits).toBeGreaterThan(0);
  });

  it('database reads into and writes from its buffer pool with O_DIRECT, and logs in sub-page writes', () => {
    const r = run({ ...small, guest: 'pv-linux', workload: 'database' });
    expect(r.sim.os.counters.directReadPages).toBeGreaterThan(1000);
    expect(r.sim.os.counters.directWritePages).toBeGreaterThan(0);
    expect(r.counts.subPageSegments).toBeGreaterThan(100);
    expect(r.tracker.stats.mappedByRead).toBeGreaterThan(1000);
  });

  it('self-ballooning releases free pages', () => {
    const r = run({ ...small, guest: 'pv-linux', workload: 'idle', balloon: true, events: 30_000 });
    expect(r.counts.releases).toBeGreaterThan(0);
    expect(r.sim.os.counters.balloonedPages).toBeGreaterThan(0);
    const off = run({ ...small, guest: 'pv-linux', workload: 'idle', events: 30_000 });
    expect(off.counts.releases).toBe(0);
  });

  it('maps most pages of a PV guest copying files, fewer on the emulated paths', () => {
    const frac = (guest: 'pv-linux' | 'hvm-linux'): number => {
      const r = run({ ...small, guest, workload: 'file-copy', events: 60_000 });
      return r.tracker.map.size / r.sim.config.pages;
    };
    const pv = frac('pv-linux');
    expect(pv).toBeGreaterThan(0.5);
    expect(frac('hvm-linux')).toBeLessThan(pv);
  });
});
