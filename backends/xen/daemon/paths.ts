/** Where tracking processes listen: one Unix socket per domain. */
import { join } from 'node:path';

/** The run directory (LEANCKPT_RUN_DIR overrides /run/leanckpt, e.g. for tests). */
export function runDir(): string {
  return process.env['LEANCKPT_RUN_DIR'] ?? '/run/leanckpt';
}

export function socketPath(domid: number): string {
  return join(runDir(), `dom${domid}.sock`);
}

export function logPath(domid: number): string {
  return join(runDir(), `dom${domid}.log`);
}
