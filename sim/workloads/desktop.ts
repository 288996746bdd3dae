/**
 * A desktop session with a web browser: anonymous memory dominates (the browser's heap grows and is
 * collected, tabs come and go as processes), with file reads (libraries, fonts, icons, applications
 * started cold), the browser's disk cache (small files created, read and evicted), a history database
 * (small writes, fsync) and downloads.
 */
import { IdSet, KiB, MiB, type Workload } from './types.ts';

export const DESKTOP: Workload = {
  name: 'desktop',
  description: 'web browsing: anonymous-heavy, some file reads, cache churn',
  defaultEvents: (pages) => Math.max(200_000, pages * 4),
  start(os, rng) {
    os.boot();
    const mem = os.pages * 4096;
    const xorg = os.exec([os.systemFile(1), os.systemFile(2)], 0.04 * mem);
    const shell = os.exec([os.systemFile(2), os.systemFile(2), os.systemFile(2)], 0.06 * mem);
    const browserTarget = 0.2 * mem;
    const browser = os.exec([os.systemFile(1), os.systemFile(1), os.systemFile(2)], browserTarget / 2);
    const history = os.create(8 * MiB, browser);
    let download = -1;
    const cache = new IdSet();
    const tabs: number[] = [];
    const apps: number[] = [];
    return () => {
      const r = rng.next();
      if (r < 0.35) os.touch(browser, 32);
      else if (r < 0.37) {
        if (os.rss(browser) * 4096 < browserTarget) os.grow(browser, rng.between(1, 4) * MiB);
        else os.shrink(browser, rng.between(2, 8) * MiB);
      } else if (r < 0.375) {
        if (tabs.length < 6) tabs.push(os.spawn(rng.logNormal(0.03 * mem, 0.4)));
        else os.exit(tabs.shift()!);
      } else if (r < 0.53 && tabs.length > 0) os.touch(tabs[rng.int(tabs.length)]!, 32);
      else if (r < 0.65) {
        const f = os.systemFile(2);
        if (rng.chance(0.5)) os.mapFile(f);
        else os.readAll(f, browser);
      } else if (r < 0.77) {
        if (cache.size > 0 && rng.chance(0.5)) os.readAll(cache.pick(rng), browser);
        else cache.add(os.create(rng.logNormal(24 * KiB, 1.2), browser));
        if (cache.size > 3000) os.remove(cache.take(rng.int(cache.size)));
      } else if (r < 0.81) {
        if (download < 0 || os.fileBytes(download) > 64 * MiB) {
          if (download >= 0 && rng.chance(0.5)) os.remove(download);
          download = os.create(256 * KiB, browser);
        } else os.append(download, 256 * KiB, browser);
      } else if (r < 0.86) {
        const page = rng.int(os.filePages(history));
        os.read(history, page, 1, browser);
        os.write(history, page, 1, browser);
        if (rng.chance(0.2)) os.fsync(history);
      } else if (r < 0.865) {
        if (apps.length < 3) {
          const bins = [os.systemFile(1.2), os.systemFile(1.2), os.systemFile(1.2), os.systemFile(1.2)];
          apps.push(os.exec(bins, rng.logNormal(0.02 * mem, 0.5)));
        } else os.exit(apps.splice(rng.int(apps.length), 1)[0]!);
      } else {
        os.touch(xorg, 8);
        os.touch(shell, 4);
      }
    };
  },
};
