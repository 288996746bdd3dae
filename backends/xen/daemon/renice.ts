/** Scheduling priority of another process, all its threads. */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Sets the niceness of every thread of `pid` (Linux keeps one per thread, and threads started while it
 * was low, node's worker pool among them, would keep it). Best effort: only root may raise a priority
 * again, and a process that has gone has none; it decides only when the process gets a CPU.
 */
export function renice(pid: number, niceness: number): void {
  if (pid <= 0) return;
  let tids: string[] = [String(pid)];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // No /proc: the main thread alone.
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), niceness);
    } catch {
      // Gone, or not ours to change.
    }
  }
}
