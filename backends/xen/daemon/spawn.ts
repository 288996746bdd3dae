/**
 * Starting a tracking process in the background (`xen create --daemon`, and after `xen restore`): the
 * `leanckpt xen track` command, detached, logging to a file, considered up once it signals that its
 * control socket listens (see detached.ts) and the socket answers.
 */
import { mkdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  AdoptionReport,
  DomainAttacher,
  RestoredDisk,
  RestoredMap,
  RestoredPages,
} from '../tracked-domain.ts';
import { ControlClient } from './control.ts';
import { DetachedChild, spawnDetached } from './detached.ts';
import { chunksToWire, mappingsToWire } from './map-view.ts';
import type { ChunkList } from '../content/chunk-hashes.ts';
import { logPath, runDir, socketPath } from './paths.ts';
import { renice } from './renice.ts';
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

/** Starts `xen track <domid>` detached and waits until it serves its control socket. */
export async function spawnTracker(
  domid: number,
  disks: readonly DiskSpec[],
  opts: SpawnOptions,
): Promise<Spawned> {
  const log = logPath(domid);
  mkdirSync(dirname(log), { recursive: true });
  const args = [...selfCommand(), 'xen', 'track', String(domid), ...trackArgs(disks, opts)];
  // cwd '/': a daemon must not keep the directory it was started from busy; its paths are absolute.
  const pid = await spawnDetached(args, { log, timeoutMs: opts.timeoutMs ?? START_TIMEOUT_MS }).catch(
    (err: unknown) => {
      throw new Error(`the tracking process for domain ${domid} failed: ${(err as Error).message}`);
    },
  );
  return { domid, pid, socket: await answering(domid), log };
}

/** Generous: a loaded or emulated dom0 can take a minute to start node and compile the project. */
const START_TIMEOUT_MS = 300_000;

/** `xen track`'s options for these disks and settings. */
function trackArgs(disks: readonly DiskSpec[], opts: SpawnOptions): string[] {
  return [
    ...disks.flatMap((d) => ['--disk', `${d.vdev}=${d.path}`]),
    '--log-dirty-ms',
    String(opts.logDirtyMs),
    ...(opts.unpause ? ['--unpause'] : []),
    ...(opts.record ? ['--record', opts.record] : []),
  ];
}

/** The domain's control socket, once one request proved that it is the new tracking process's. */
async function answering(domid: number): Promise<string> {
  const socket = socketPath(domid);
  const c = await ControlClient.connect(socket);
  try {
    await c.request({ cmd: 'status' });
  } finally {
    c.close();
  }
  return socket;
}

/** What a tracking process started ahead is told once the domain exists. */
export interface TrackAssignment extends SpawnOptions {
  readonly domid: number;
  readonly disks: readonly DiskSpec[];
}

/**
 * A tracking process started before its domain exists (`xen track --await-assignment`): it loads the
 * project, the Xen libraries and the tracker, says "loaded", and waits. A restore starts one first, so
 * that node's start (seconds in an emulated dom0) overlaps the rebuild and `xl restore` on another CPU.
 */
export class PreparedTracker {
  private constructor(
    private readonly child: DetachedChild,
    private readonly log: string,
  ) {}

  static start(): PreparedTracker {
    mkdirSync(runDir(), { recursive: true });
    const log = join(runDir(), `pending-${process.pid}-${Date.now()}.log`);
    const child = DetachedChild.spawn([...selfCommand(), 'xen', 'track', '--await-assignment'], { log });
    // It starts at a low priority: until the restore has a domain for it, the CPUs belong to the
    // restore's own work and `xl restore`; it loads in whatever time they leave.
    renice(child.pid, BOOT_NICENESS);
    return new PreparedTracker(child, log);
  }

  /** Lets it load at full priority from now on (it is needed soon). */
  hurry(): void {
    renice(this.child.pid, 0);
  }

  /** Hands it the domain; resolves once it serves the domain's control socket. */
  async assign(domid: number, disks: readonly DiskSpec[], opts: SpawnOptions): Promise<Spawned> {
    const timeout = opts.timeoutMs ?? START_TIMEOUT_MS;
    try {
      renice(this.child.pid, 0);
      await this.child.expect('loaded', timeout);
      const assignment: TrackAssignment = { ...opts, domid, disks };
      this.child.send(JSON.stringify(assignment));
      await this.child.expect('ready', timeout);
    } catch (err) {
      this.child.kill();
      throw new Error(`the tracking process for domain ${domid} failed: ${(err as Error).message}`);
    }
    this.child.release();
    // Its log, started before the domain existed, goes where the domain's log belongs.
    const log = logPath(domid);
    await rename(this.log, log).catch(() => undefined);
    return { domid, pid: this.child.pid, socket: await answering(domid), log };
  }

  /** When it said "loaded" and "ready" (performance.now()), once it has. */
  timeline(): { loaded?: number; ready?: number } {
    const at = this.child.heardAt;
    return { loaded: at.get('loaded'), ready: at.get('ready') };
  }

  /** Not needed after all (the restore failed): closing the link makes it exit. */
  cancel(): void {
    this.child.release();
    void rm(this.log, { force: true }).catch(() => undefined);
  }
}

/** The niceness a prepared tracking process loads at, before it has a domain. */
const BOOT_NICENESS = 10;

/** A map sent ahead to a tracking process (`offer`), not adopted yet. */
export interface StagedHandOver {
  /**
   * Has the tracking process adopt what was offered (`adopt`), with the disks' chunk hashes if given,
   * and says what it did.
   */
  commit(content?: ReadonlyMap<number, ChunkList>): Promise<AdoptionReport>;
  /** Drops the offer: the tracking process never adopts it. */
  cancel(): void;
}

/**
 * Sends the tracking process at `socket` the pages a restore read from the disks (`offer`), to adopt
 * later: it decodes and checks them while the restore still fills and checks guest memory, so that
 * only the adoption itself stands between the last check and the unpause.
 */
export async function stageHandOver(socket: string, restored: RestoredMap): Promise<StagedHandOver> {
  const c = await ControlClient.connect(socket);
  try {
    await c.request({ cmd: 'offer', map: mappingsToWire(restored) });
  } catch (err) {
    c.close();
    throw err;
  }
  return {
    async commit(content) {
      try {
        const { adoption } = await c.request({
          cmd: 'adopt',
          ...(content && content.size > 0 ? { content: chunksToWire(content) } : {}),
        });
        if (!adoption) throw new Error('the tracking process sent no adoption summary');
        return adoption;
      } finally {
        c.close();
      }
    },
    cancel: () => c.close(),
  };
}

/** Hands the tracking process at `socket` the pages a restore read from the disks, at once. */
export async function handOver(socket: string, restored: RestoredMap): Promise<AdoptionReport> {
  return (await stageHandOver(socket, restored)).commit();
}

/** A hand-over that failed costs the next save space, never correctness: the domain still runs. */
const failedHandOver = (offered: number, err: unknown): AdoptionReport => ({
  offered,
  adopted: 0,
  rejected: 0,
  error: err instanceof Error ? err.message : String(err),
});

/**
 * Offers the tracking process at `socket` the restored pages at once, and has it adopt them once they
 * are verified; rejects, adopting nothing, if they are not. A failed hand-over itself is no error (see
 * failedHandOver): the report says what went wrong.
 */
export async function handOverWhenVerified(
  socket: string,
  restored: RestoredPages,
): Promise<AdoptionReport | undefined> {
  const { map, verified } = restored;
  if (!map || map.length === 0) {
    await verified;
    return undefined;
  }
  const staging = stageHandOver(socket, map).catch((err: unknown) => failedHandOver(map.length, err));
  try {
    await verified;
  } catch (e) {
    const staged = await staging;
    if ('cancel' in staged) staged.cancel();
    throw e;
  }
  const staged = await staging;
  if (!('commit' in staged)) return staged;
  // The disks' chunk hashes, if the restore got them: the tracking then need not read the disks again.
  const content = await restored.content?.catch(() => undefined);
  return staged.commit(content).catch((err: unknown) => failedHandOver(map.length, err));
}

/**
 * Attaches a restored domain to a tracking process (started by prepare(), else now) and, before the
 * caller unpauses the domain, hands it the pages the restore read from the disks.
 */
export function spawningAttacher(logDirtyMs: number): DomainAttacher {
  let prepared: PreparedTracker | undefined;
  let started: PreparedTracker | undefined;
  return {
    prepare() {
      prepared ??= PreparedTracker.start();
      started = prepared;
    },
    timeline: () => started?.timeline() ?? {},
    hurry: () => prepared?.hurry(),
    abandon() {
      prepared?.cancel();
      prepared = undefined;
    },
    async attach(
      domid: number,
      disks: readonly RestoredDisk[],
      restored?: RestoredPages,
    ): Promise<AdoptionReport | void> {
      const specs = disks.map((d) => ({ vdev: d.vdev, path: d.path }));
      const opts = { logDirtyMs, unpause: false };
      const ahead = prepared;
      prepared = undefined;
      const t = ahead ? await ahead.assign(domid, specs, opts) : await spawnTracker(domid, specs, opts);
      return restored ? handOverWhenVerified(t.socket, restored) : undefined;
    },
  };
}
