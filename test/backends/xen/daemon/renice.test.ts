import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { expect, it } from 'vitest';
import { renice } from '../../../../backends/xen/daemon/renice.ts';

it.skipIf(process.platform !== 'linux')(
  'renices every thread of a process, not only its main one',
  async () => {
    // A node process has several threads (its worker pool, V8's) by the time it runs code.
    const child = spawn(process.execPath, [
      '-e',
      'require("fs").readFile(__filename, () => {}); setTimeout(() => {}, 20000)',
    ]);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const tids = readdirSync(`/proc/${child.pid}/task`).map(Number);
      expect(tids.length).toBeGreaterThan(1);
      renice(child.pid!, 7);
      expect(tids.map((t) => getPriority(t))).toEqual(tids.map(() => 7));
      // A process that has gone, or no process: nothing to do, and no error.
      expect(() => renice(-1, 3)).not.toThrow();
      expect(() => renice(0x3fffffff, 3)).not.toThrow();
    } finally {
      child.kill();
    }
  },
);
