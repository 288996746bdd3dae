/**
 * The `xen` commands as plain functions: each checks first that this is a Xen dom0 (so elsewhere every
 * one exits 2 naming the missing library or device), then works through the Xen backend's container.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { TOKENS } from '../../core/tokens.ts';
import { XEN_TOKENS, xenContainer } from '../../backends/xen/container.ts';
import { ControlClient } from '../../backends/xen/daemon/control.ts';
import { socketPath } from '../../backends/xen/daemon/paths.ts';
import { parseDiskSpec, type DiskSpec } from '../../backends/xen/daemon/disk-spec.ts';
import type { SessionStatus } from '../../backends/xen/daemon/session.ts';
import type { DiskContentStatus } from '../../backends/xen/daemon/tracked-content.ts';
import { parentLink, signalReady } from '../../backends/xen/daemon/detached.ts';
import { spawnTracker, type Spawned, type TrackAssignment } from '../../backends/xen/daemon/spawn.ts';
import { NoSuchDomainError } from '../../backends/xen/daemon/xen-host.ts';
import { XenUnavailableError } from '../../backends/xen/ffi/load.ts';
import { XenCtrl, type DomainInfo } from '../../backends/xen/ffi/xenctrl.ts';
import type { OracleReport, RebuildResult } from '../../backends/xen/commands/tools.ts';
import type { XenRestoreResult } from '../../backends/xen/restore.ts';
import type { XenSaveResult } from '../../backends/xen/save.ts';
import { runXl, XlError } from '../../backends/xen/xl-process.ts';
import { dom0Directory, domainIdOf } from '../../backends/xen/domain-directory.ts';
import type { WriteResult } from '../../core/trace/writer.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

/** Turns the Xen backend's expected failures into user-facing exits. */
async function guarded<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof XenUnavailableError || err instanceof NoSuchDomainError || err instanceof RangeError) {
      throw new ExitError(err.message, EXIT.usage);
    }
    if (err instanceof XlError) throw new ExitError(err.message, EXIT.backendUnavailable);
    throw err;
  }
}

/** Fails unless this is a dom0 with the Xen libraries (exit 2 naming what is missing). */
function dom0(): XenCtrl {
  return XenCtrl.open();
}

/**
 * A domain id, or a name looked up in xenstore (see domainIdOf). A xenstore that cannot be reached is
 * the toolstack's failure, said as such (exit 4), not an internal error.
 */
async function domainId(domain: string): Promise<number> {
  try {
    return await domainIdOf(domain, dom0Directory);
  } catch (err) {
    if (err instanceof NoSuchDomainError || err instanceof XenUnavailableError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ExitError(`cannot look up domain ${domain}: ${why}`, EXIT.backendUnavailable);
  }
}

async function control(domid: number): Promise<ControlClient> {
  try {
    return await ControlClient.connect(socketPath(domid));
  } catch {
    throw new ExitError(
      `domain ${domid} is not tracked by leanckpt (no tracking process at ${socketPath(domid)}); ` +
        'start guests with `leanckpt xen create`',
      EXIT.usage,
    );
  }
}

export interface XenCreateOptions {
  disk: string[];
  daemon?: boolean;
  logDirtyMs: number;
  record?: string;
  json?: boolean;
}

export type XenCreateResult =
  | ({ readonly mode: 'daemon' } & Spawned)
  | {
      readonly mode: 'foreground';
      readonly domid: number;
      readonly ended: string;
      readonly status: SessionStatus;
    };

/**
 * `xl create -p` the guest, attach leanckpt's disk backend, unpause. In the foreground, runs until the
 * domain is gone (or a `stop` on the control socket); `onStarted` reports the domid at once.
 */
export function xenCreate(
  cfg: string,
  opts: XenCreateOptions,
  onStarted: (domid: number, socket: string) => void = () => {},
): Promise<XenCreateResult> {
  return guarded(async () => {
    const xc = dom0();
    if (!existsSync(cfg)) throw new ExitError(`no such guest config: ${cfg}`, EXIT.usage);
    // Absolute: the tracking process may run elsewhere (a daemon's cwd is /), and images record them.
    const disks = opts.disk.map(parseDiskSpec).map((d) => ({ ...d, path: resolve(d.path) }));
    if (disks.length === 0) throw new ExitError('give at least one --disk <vdev>=<file>', EXIT.usage);
    for (const d of disks)
      if (!existsSync(d.path)) throw new ExitError(`no such disk file: ${d.path}`, EXIT.usage);
    const before = new Set(xc.domains().map((d) => d.domid));
    await runXl(['create', '-p', '-e', cfg]);
    const created = xc.domains().filter((d) => !before.has(d.domid));
    xc.close();
    if (created.length !== 1)
      throw new Error(`expected one new domain after xl create, found ${created.length}`);
    const domid = created[0]!.domid;
    try {
      if (opts.daemon) {
        const spawned = await spawnTracker(domid, disks, {
          logDirtyMs: opts.logDirtyMs,
          unpause: true,
          ...(opts.record ? { record: resolve(opts.record) } : {}),
        });
        return { mode: 'daemon', ...spawned };
      }
      return await foreground(domid, disks, opts.logDirtyMs, true, onStarted, opts.record);
    } catch (err) {
      await runXl(['destroy', String(domid)]).catch(() => undefined);
      throw err;
    }
  });
}

async function foreground(
  domid: number,
  disks: readonly DiskSpec[],
  logDirtyMs: number,
  unpause: boolean,
  onStarted: (domid: number, socket: string) => void,
  record?: string,
): Promise<Extract<XenCreateResult, { mode: 'foreground' }>> {
  const c = await xenContainer({ logDirtyMs });
  // Loaded only here: the tracker and rxjs cost seconds to start in an emulated dom0, and the other
  // commands (save, restore) never need them.
  const { startTracking } = await import('../../backends/xen/daemon/run.ts');
  const log = (m: string): void => void process.stderr.write(`leanckpt[dom${domid}]: ${m}\n`);
  const host = c.get(XEN_TOKENS.HostFactory)(domid, log);
  const socket = socketPath(domid);
  const t = await startTracking(host, {
    disks,
    logDirtyMs,
    socket,
    unpause,
    ...(record ? { record: resolve(record) } : {}),
    hasher: c.get(TOKENS.Hasher),
    log,
  });
  process.once('SIGTERM', () => t.stop());
  onStarted(domid, socket);
  signalReady();
  const status = t.session.status();
  const ended = await t.done;
  return { mode: 'foreground', domid, ended, status: { ...status, ...t.session.status() } };
}

export interface XenTrackOptions {
  disk: string[];
  logDirtyMs: number;
  unpause?: boolean;
  record?: string;
}

/** The tracking process: serve and track an existing (paused) domain until it is gone. */
export function xenTrack(domain: string, opts: XenTrackOptions): Promise<XenCreateResult> {
  return guarded(async () => {
    dom0().close();
    const domid = await domainId(domain);
    const disks = opts.disk.map(parseDiskSpec);
    return foreground(
      domid,
      disks,
      opts.logDirtyMs,
      opts.unpause === true,
      (id, socket) => process.stderr.write(`leanckpt: tracking domain ${id}, control socket ${socket}\n`),
      opts.record,
    );
  });
}

export interface XenSaveFlags {
  keepRunning?: boolean;
  stream?: 'file' | 'fifo';
}

/**
 * `xen track --await-assignment`: everything a tracking process needs is loaded first (the Xen
 * libraries, the hasher, the tracker), then the parent that started it ahead (see PreparedTracker)
 * names the domain and the `xen track` options; undefined if the parent gave up first.
 */
export function xenTrackAssigned(): Promise<XenCreateResult | undefined> {
  return guarded(async () => {
    const link = parentLink();
    if (!link)
      throw new ExitError('--await-assignment is for a tracking process `xen restore` starts', EXIT.usage);
    dom0().close();
    await xenContainer({ logDirtyMs: 1000 });
    await import('../../backends/xen/daemon/run.ts');
    link.say('loaded');
    const line = await link.hear();
    if (line === undefined) return undefined;
    const a = JSON.parse(line) as TrackAssignment;
    return foreground(
      a.domid,
      a.disks,
      a.logDirtyMs,
      a.unpause,
      (id, socket) => process.stderr.write(`leanckpt: tracking domain ${id}, control socket ${socket}\n`),
      a.record,
    );
  });
}

export function xenSave(domain: string, image: string, opts: XenSaveFlags): Promise<XenSaveResult> {
  return guarded(async () => {
    dom0().close();
    const domid = await domainId(domain);
    (await control(domid)).close();
    const c = await xenContainer({ logDirtyMs: 1000 });
    const tracked = await c.get(XEN_TOKENS.Tracked)(domid);
    // Loaded only here: the tracking process (slow to start in an emulated dom0) never needs them.
    const { saveDomain } = await import('../../backends/xen/save.ts');
    const { saveState, untilSuspended } = await import('../../backends/xen/suspend-wait.ts');
    const xc = dom0();
    try {
      return await saveDomain(tracked, image, {
        keepRunning: opts.keepRunning === true,
        hasher: c.get(TOKENS.Hasher),
        transport: opts.stream ?? 'file',
        untilSuspended: (id, xlDone) => untilSuspended(() => saveState(xc.domain(id)), xlDone),
      });
    } finally {
      xc.close();
      tracked.close();
    }
  });
}

export interface XenRestoreFlags {
  disk: string[];
  logDirtyMs: number;
  stream?: 'file' | 'fifo';
  fill?: 'direct' | 'stream';
  diskCheck?: 'identity' | 'content';
}

export function xenRestore(image: string, opts: XenRestoreFlags): Promise<XenRestoreResult> {
  return guarded(async () => {
    dom0().close();
    const disks: Record<string, string> = {};
    for (const d of opts.disk.map(parseDiskSpec)) disks[d.vdev] = resolve(d.path);
    const c = await xenContainer({ logDirtyMs: opts.logDirtyMs });
    const { restoreDomain } = await import('../../backends/xen/restore.ts');
    return restoreDomain(image, c.get(XEN_TOKENS.Attacher), {
      disks,
      hasher: c.get(TOKENS.Hasher),
      transport: opts.stream ?? 'fifo',
      fill: opts.fill ?? 'direct',
      diskCheck: opts.diskCheck ?? 'identity',
      memory: c.get(XEN_TOKENS.GuestMemory),
      directory: c.get(XEN_TOKENS.Directory),
    });
  });
}

export type XenStatusResult =
  | { readonly tracked: true; readonly status: SessionStatus }
  | { readonly tracked: false; readonly domain: DomainInfo; readonly pages: number };

export function xenStatus(domain: string): Promise<XenStatusResult> {
  return guarded(async () => {
    const xc = dom0();
    try {
      const domid = await domainId(domain);
      if (existsSync(socketPath(domid))) {
        const client = await control(domid);
        try {
          const { status } = await client.request({ cmd: 'status' });
          if (status) return { tracked: true, status };
        } finally {
          client.close();
        }
      }
      const info = xc.domain(domid);
      if (!info) throw new NoSuchDomainError(`no domain ${domid}`);
      return { tracked: false, domain: info, pages: xc.gpfns(domid) };
    } finally {
      xc.close();
    }
  });
}

/** Records the tracked domain's event stream for `seconds` into a trace. */
export function traceRecordXen(domain: string, out: string, seconds: number): Promise<WriteResult> {
  return guarded(async () => {
    dom0().close();
    const domid = await domainId(domain);
    const client = await control(domid);
    try {
      await client.request({ cmd: 'record-start', path: resolve(out) });
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const { trace } = await client.request({ cmd: 'record-stop' });
      if (!trace) throw new Error('the tracking process sent no trace summary');
      return trace;
    } finally {
      client.close();
    }
  });
}

/** How far a disk's content hash is current: a save reads the disk unless nearly all of it is. */
const contentLine = (c: DiskContentStatus | undefined): string =>
  c === undefined ? '' : `; content hash current for ${c.chunks - c.stale} of ${c.chunks} chunks`;

export function printStatus(r: XenStatusResult): string {
  if (!r.tracked) {
    const d = r.domain;
    return (
      `domain ${d.domid}: ${d.kind}, ${r.pages} pages, ${d.paused ? 'paused' : 'running'}; ` +
      'not tracked by leanckpt (its disks are not served by leanckpt)\n'
    );
  }
  const s = r.status;
  const ld = s.logDirty;
  const lines = [
    `domain ${s.domid}: ${s.kind}, ${s.pages} pages, ${s.state}`,
    `  log-dirty: ${ld.state}${ld.reason ? ` (${ld.reason}; save relies on its byte check of every left-out page)` : ''}` +
      (ld.state === 'active'
        ? `, every ${ld.intervalMs} ms, ${ld.epochs} epochs, last CLEAN ${ld.lastCleanMs.toFixed(2)} ms`
        : ''),
    `  mapped pages: ${s.mappedPages}; events ${s.tracker.events}; kept by revalidation ${s.tracker.keptByRevalidation}` +
      `; tainted segments ${s.tracker.taintedSegments} (reads kept by revalidation ${s.tracker.taintedKeptByRevalidation})`,
    ...(s.adoptedAtRestore
      ? [
          `  adopted at restore: ${s.adoptedAtRestore.adopted} of ${s.adoptedAtRestore.offered} pages` +
            (s.adoptedAtRestore.rejected ? ` (${s.adoptedAtRestore.rejected} rejected)` : '') +
            (s.adoptedAtRestore.deferred ? `; ${s.adoptedAtRestore.deferred} waiting to be readable` : ''),
        ]
      : []),
    ...s.disks.map(
      (d) =>
        `  ${d.vdev} (${d.id}) ${d.path}: ${d.connected ? 'connected' : 'waiting for the frontend'}, ` +
        `${d.io.reads} reads, ${d.io.writes} writes, ${d.io.discards} discards, ${d.io.failed} failed, ${d.io.refused} refused` +
        contentLine(s.content?.find((c) => c.id === d.id)),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** Offline tools (any machine): the stream an image rebuilds to, and the oracle / capture ratio. */
export async function xenRebuild(image: string, out: string, disk: string[]): Promise<RebuildResult> {
  const { rebuildToFile } = await import('../../backends/xen/commands/tools.ts');
  return rebuildToFile(image, out, diskMap(disk));
}

export async function xenOracle(source: string, disk: string[]): Promise<OracleReport> {
  const { oracle } = await import('../../backends/xen/commands/tools.ts');
  return oracle(source, diskMap(disk));
}

function diskMap(disk: string[]): Record<string, string> {
  const disks: Record<string, string> = {};
  try {
    for (const d of disk.map(parseDiskSpec)) disks[d.vdev] = resolve(d.path);
  } catch (err) {
    throw new ExitError(err instanceof Error ? err.message : String(err), EXIT.usage);
  }
  return disks;
}
