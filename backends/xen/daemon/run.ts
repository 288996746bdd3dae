/**
 * A tracking process's life: open the disks, attach the backend, serve the control socket, unpause the
 * domain if asked, and run until the domain is gone or a client says stop.
 */
import { rmSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Hasher64 } from '../../../core/hash.ts';
import { FileDisk } from '../blkif/file-disk.ts';
import { vdevNumber } from '../blkif/vdev.ts';
import { serveControl } from './control.ts';
import type { DiskSpec } from './disk-spec.ts';
import type { DomainHost } from './host.ts';
import { TraceRecorder } from './recorder.ts';
import { TrackingSession, type SessionDisk } from './session.ts';

export interface TrackOptions {
  readonly disks: readonly DiskSpec[];
  readonly logDirtyMs: number;
  readonly socket: string;
  readonly unpause: boolean;
  readonly hasher: Hasher64;
  readonly log: (message: string) => void;
  /** Record the whole event stream, from before the domain runs, into this trace. */
  readonly record?: string;
  /** How often to check that the domain still exists, ms. */
  readonly watchMs?: number;
}

export interface Tracking {
  readonly session: TrackingSession;
  readonly server: Server;
  /** Resolves once tracking has ended and everything is closed. */
  readonly done: Promise<'stopped' | 'domain gone'>;
  stop(): void;
}

export async function startTracking(host: DomainHost, opts: TrackOptions): Promise<Tracking> {
  const disks: SessionDisk[] = [];
  try {
    for (const d of opts.disks) {
      const store = await FileDisk.open(d.path);
      disks.push({ id: vdevNumber(d.vdev)!, vdev: d.vdev, path: d.path, sectors: store.sectors, store });
    }
  } catch (err) {
    for (const d of disks) await d.store.close();
    throw err;
  }
  const session = new TrackingSession(host, disks, {
    logDirtyMs: opts.logDirtyMs,
    hasher: opts.hasher,
    log: opts.log,
  });
  let finish: (why: 'stopped' | 'domain gone') => void = () => {};
  const ended = new Promise<'stopped' | 'domain gone'>((resolve) => (finish = resolve));
  const recorder = opts.record ? await TraceRecorder.start(session, opts.record) : undefined;
  const server = await serveControl(session, opts.socket, () => finish('stopped'));
  const watch = setInterval(() => {
    if (!host.alive()) finish('domain gone');
  }, opts.watchMs ?? 1000);
  if (opts.unpause) host.unpause();
  const done = ended.then(async (why) => {
    clearInterval(watch);
    if (recorder) {
      await recorder.stop().then(
        (r) => opts.log(`recorded ${r.events} events into ${r.path}`),
        (err: unknown) => opts.log(`no trace: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
    await session.release();
    server.close();
    rmSync(opts.socket, { force: true });
    host.close();
    return why;
  });
  return { session, server, done, stop: () => finish('stopped') };
}
