/**
 * Waiting for a domain to suspend during `xl save`: the disk backend must serve the guest until then,
 * because a guest freezing its tasks for the suspend waits for their disk I/O.
 */
import type { DomainInfo } from './ffi/xenctrl.ts';

/** Where a domain stands, as far as a save cares. */
export type SaveState = 'running' | 'suspended' | 'gone';

/** SHUTDOWN_suspend, the reason a domain suspended for a save reports. */
const SHUTDOWN_SUSPEND = 2;

export function saveState(info: DomainInfo | undefined): SaveState {
  if (!info || info.dying) return 'gone';
  return info.shutdown && info.shutdownReason === SHUTDOWN_SUSPEND ? 'suspended' : 'running';
}

export class DomainNotSuspendedError extends Error {
  override readonly name = 'DomainNotSuspendedError';
}

/**
 * Resolves once `state()` says suspended, or once xl has finished successfully (`xl save -p` then leaves
 * the domain paused: nothing runs either way). Rejects if xl fails first or the domain disappears.
 */
export async function untilSuspended(
  state: () => SaveState,
  xlDone: Promise<unknown>,
  pollMs = 20,
): Promise<void> {
  let xl: 'running' | 'ok' | 'failed' = 'running';
  xlDone.then(
    () => (xl = 'ok'),
    () => (xl = 'failed'),
  );
  for (;;) {
    const s = state();
    if (s === 'suspended') return;
    if (s === 'gone') throw new DomainNotSuspendedError('the domain disappeared during the save');
    // Read after the state: a success seen here came after a state that was not yet "suspended".
    const outcome: string = xl;
    if (outcome === 'ok') return;
    if (outcome === 'failed') throw new DomainNotSuspendedError('xl save failed before the domain suspended');
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
