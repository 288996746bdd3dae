/**
 * Starting a tracking process in the background (`xen create --daemon`, and after `xen restore`): the
 * `leanckpt xen track` command, detached, logging to a file, considered up once it signals that its
 * control socket listens (see detached.ts) and the socket answers.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdoptionReport, DomainAttacher, RestoredDisk, RestoredMap } from '../tracked-domain.ts';
import { ControlClient } from './control.ts';
import { spawnDetached } from './detached.ts';
import { mappingsToWire } from './map-view.ts';
import { logPath, socketPath } from './paths.ts';
import type { DiskSpec } from './disk-spec.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The node arguments that start this same CLI again: the running entry with its loader flags (tsx's,
 * or none for the bundled CLI), else the project's entry through tsx (e.g. under a test runner).
 */
export function selfCommand(
  entry = process.argv[1],
  execArgv: readonly string[] = process.execArgv,
): string[] {
  if (entry && /leanckpt\.(ts|mjs|js)$/.test(entry)) return [...execArgv, entry];
  return ['--import', 'tsx', join(ROOT, 'bin/leanckpt.ts')];
}

export interface SpawnOptions {
  readonly logDirtyMs: number;
  readonly unpause: boolean;
  /** Record the whole event stream into this trace (absolute path). */
  readonly record?: string;
  /** How long to wait for the control socket, ms. */
  readonly timeoutMs?: number;
}

export interface Spawned {
  readonly domid: number;
  readonly pid: number;
  readonly socket: string;
  readonly log: string;
}

export async function spawnTracker(
  domid: number,
  disks: readonly DiskSpec[],
  opts: SpawnOptions,
): Promise<Spawned> {
  const socket = socketPath(domid);
  const log = logPath(domid);
  mkdirSync(dirname(log), { recursive: true });
  const args = [
    ...selfCommand(),
    'xen',
    'track',
    String(domid),
    ...disks.flatMap((d) => ['--disk', `${d.vdev}=${d.path}`]),
    '--log-dirty-ms',
    String(opts.logDirtyMs),
    ...(opts.unpause ? ['--unpause'] : []),
    ...(opts.record ? ['--record', opts.record] : []),
  ];
  // Generous: a loaded or emulated dom0 can take a minute to start node and compile the project.
  // cwd '/': a daemon must not keep the directory it was started from busy; its paths are absolute.
  const pid = await spawnDetached(args, { log, timeoutMs: opts.timeoutMs ?? 300_000, cwd: '/' }).catch(
    (err: unknown) => {
      throw new Error(`the tracking process for domain ${domid} failed: ${(err as Error).message}`);
    },
  );
  // It signals once its control socket listens; one request proves the socket is its.
  const c = await ControlClient.connect(socket);
  try {
    await c.request({ cmd: 'status' });
  } finally {
    c.close();
  }
  return { domid, pid, socket, log };
}

/** Hands the tracking process at `socket` the pages a restore read from the disks (`adopt`). */
export async function handOver(socket: string, restored: RestoredMap): Promise<AdoptionReport> {
  const c = await ControlClient.connect(socket);
  try {
    const { adoption } = await c.request({ cmd: 'adopt', map: mappingsToWire(restored) });
    if (!adoption) throw new Error('the tracking process sent no adoption summary');
    return adoption;
  } finally {
    c.close();
  }
}

/**
 * Attaches a restored domain by starting a tracking process for it and, before the caller unpauses
 * the domain, handing it the pages the restore read from the disks.
 */
export function spawningAttacher(logDirtyMs: number): DomainAttacher {
  return {
    async attach(
      domid: number,
      disks: readonly RestoredDisk[],
      restored?: RestoredMap,
    ): Promise<AdoptionReport | void> {
      const t = await spawnTracker(
        domid,
        disks.map((d) => ({ vdev: d.vdev, path: d.path })),
        { logDirtyMs, unpause: false },
      );
      if (!restored || restored.length === 0) return;
      // A failed hand-over costs the next save space, never correctness: the domain still runs.
      return handOver(t.socket, restored).catch((err: unknown) => ({
        offered: restored.length,
        adopted: 0,
        rejected: 0,
        error: err instanceof Error ? err.message : String(err),
      }));
    },
  };
}
