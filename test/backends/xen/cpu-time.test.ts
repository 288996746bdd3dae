import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cpuMark, cpuSince } from '../../../backends/xen/cpu-time.ts';

describe('cpuSince', () => {
  it('counts the CPU time spent since the mark, in milliseconds, and not time spent waiting', async () => {
    const mark = cpuMark();
    await new Promise((r) => setTimeout(r, 60));
    const idle = cpuSince(mark);
    const busy = cpuMark();
    const until = performance.now() + 60;
    const h = createHash('sha256');
    while (performance.now() < until) h.update('leanckpt');
    h.digest();
    const used = cpuSince(busy);
    expect(used.user + used.system).toBeGreaterThan(30);
    expect(used.user + used.system).toBeLessThan(2000);
    // 60 ms asleep cost far less than 60 ms of CPU.
    expect(idle.user + idle.system).toBeLessThan(used.user + used.system);
  });
});
