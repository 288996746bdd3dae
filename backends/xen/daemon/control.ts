/**
 * The control socket of a tracking process: newline-delimited JSON requests and answers over a Unix
 * socket, so `xen save` and `xen status` (other processes) reach the session that holds the map.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type {
  PageMapView,
  QuiescedContent,
  QuiesceTiming,
  TrackedDisk,
  TrackedDomain,
} from '../tracked-domain.ts';
import {
  chunksFromWire,
  contentFromWire,
  contentToWire,
  fromWire,
  mappingsFromWire,
  SnapshotView,
  type WireChunks,
  type WireContent,
  type WireMappings,
  type WireSnapshot,
  type WireSnapshotFile,
  readSnapshotFile,
  writeSnapshotFile,
} from './map-view.ts';
import type { Adoption, OfferedMappings } from '../../../core/tracker/tracker.ts';
import type { WriteResult } from '../../../core/trace/writer.ts';
import type { SessionStatus, TrackingSession } from './session.ts';
import { TraceRecorder } from './recorder.ts';

export type ControlRequest =
  | { readonly cmd: 'status' | 'quiesce' | 'content' | 'resume' | 'release' | 'stop' | 'record-stop' }
  /**
   * Seeds the map with the pages a restore read from the disks, before the domain first runs: these
   * (`map`), or those offered before on this connection.
   */
  | { readonly cmd: 'adopt'; readonly map?: WireMappings; readonly content?: WireChunks[] }
  /** Pages a restore is still checking, to adopt on this connection's next `adopt` (decoded now). */
  | { readonly cmd: 'offer'; readonly map: WireMappings }
  /** Records the event stream into a trace at `path` (absolute) until record-stop. */
  | { readonly cmd: 'record-start'; readonly path: string };

type Reply =
  | {
      readonly ok: true;
      readonly status?: SessionStatus;
      readonly map?: WireSnapshot;
      /** The quiesce's map (see writeSnapshotFile); `map` from tracking processes before it. */
      readonly mapFile?: WireSnapshotFile;
      readonly content?: WireContent[];
      readonly timing?: QuiesceTiming;
      readonly contentTiming?: { readonly ms: number; readonly chunksHashed: number };
      readonly trace?: WriteResult;
      readonly adoption?: Adoption;
    }
  | { readonly ok: false; readonly error: string };

/** Serves `session` at `path`; `onStop` runs after a `stop` (or `release`) request is answered. */
export async function serveControl(
  session: TrackingSession,
  path: string,
  onStop: () => void,
): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  // Where a quiesce's map is handed over (the client removes it once read).
  const cutPath = `${path}.cut`;
  let recorder: TraceRecorder | undefined;
  const handle = async (req: ControlRequest, conn: { offered?: OfferedMappings }): Promise<Reply> => {
    switch (req.cmd) {
      case 'record-start':
        if (recorder) return { ok: false, error: 'already recording' };
        recorder = await TraceRecorder.start(session, req.path);
        return { ok: true };
      case 'record-stop': {
        if (!recorder) return { ok: false, error: 'not recording' };
        const trace = await recorder.stop();
        recorder = undefined;
        return { ok: true, trace };
      }
      case 'status':
        return { ok: true, status: session.status() };
      case 'quiesce': {
        const cut = await session.quiesceCut();
        return { ok: true, mapFile: writeSnapshotFile(cut.snapshot, cutPath), timing: cut.timing };
      }
      case 'content': {
        const c = await session.quiescedContent();
        return {
          ok: true,
          content: contentToWire(c.hashes),
          contentTiming: { ms: c.ms, chunksHashed: c.chunksHashed },
        };
      }
      case 'resume':
        await session.resume();
        return { ok: true };
      case 'offer':
        conn.offered = mappingsFromWire(req.map);
        return { ok: true };
      case 'adopt': {
        const offer = req.map ? mappingsFromWire(req.map) : conn.offered;
        if (!offer) return { ok: false, error: 'adopt: no map given or offered on this connection' };
        conn.offered = undefined;
        const content = req.content ? chunksFromWire(req.content) : undefined;
        return { ok: true, adoption: session.adoptRestored(offer, content) };
      }
      case 'release':
      case 'stop':
        await session.release();
        rmSync(cutPath, { force: true });
        return { ok: true };
      default:
        return { ok: false, error: `unknown command ${JSON.stringify((req as { cmd: unknown }).cmd)}` };
    }
  };
  const server = createServer((sock) => {
    let buf = '';
    // What this connection offered: dropped with it if never adopted (the restore failed).
    const conn: { offered?: OfferedMappings } = {};
    let chain = Promise.resolve();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        chain = chain.then(async () => {
          let reply: Reply;
          let req: ControlRequest | undefined;
          try {
            req = JSON.parse(line) as ControlRequest;
            reply = await handle(req, conn);
          } catch (err) {
            reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
          }
          sock.write(`${JSON.stringify(reply)}\n`);
          if (reply.ok && (req?.cmd === 'stop' || req?.cmd === 'release')) onStop();
        });
      }
    });
    sock.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return server;
}

/** A client of one control socket; requests go one at a time. */
export class ControlClient {
  private buf = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private closedWith: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    const fail = (err: Error): void => {
      this.closedWith = err;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ ok: false, error: err.message }));
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('the tracking process closed the connection')));
  }

  /** Connects; rejects with the socket error (ENOENT, ECONNREFUSED: no tracking process). */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      sock.once('connect', () => resolve(new ControlClient(sock)));
      sock.once('error', reject);
    });
  }

  async request(req: ControlRequest): Promise<Exclude<Reply, { ok: false }>> {
    if (this.closedWith) throw this.closedWith;
    const line = await new Promise<string>((resolve) => {
      this.waiting.push(resolve);
      this.sock.write(`${JSON.stringify(req)}\n`);
    });
    const reply = JSON.parse(line) as Reply;
    if (!reply.ok) throw new Error(`tracking process: ${reply.error}`);
    return reply;
  }

  close(): void {
    this.sock.end();
  }
}

/** The TrackedDomain of a domain tracked by another process, through its control socket. */
export class RemoteTrackedDomain implements TrackedDomain {
  private constructor(
    private readonly client: ControlClient,
    private readonly status0: SessionStatus,
  ) {}

  static async connect(path: string): Promise<RemoteTrackedDomain> {
    const client = await ControlClient.connect(path);
    const { status } = await client.request({ cmd: 'status' });
    if (!status) throw new Error('tracking process sent no status');
    return new RemoteTrackedDomain(client, status);
  }

  get domid(): number {
    return this.status0.domid;
  }

  disks(): readonly TrackedDisk[] {
    return this.status0.disks.map(({ id, vdev, path, sectors }) => ({ id, vdev, path, sectors }));
  }

  async status(): Promise<SessionStatus> {
    const { status } = await this.client.request({ cmd: 'status' });
    if (!status) throw new Error('tracking process sent no status');
    return status;
  }

  async quiesce(): Promise<PageMapView> {
    const { map, mapFile, timing } = await this.client.request({ cmd: 'quiesce' });
    if (mapFile) return new SnapshotView(readSnapshotFile(mapFile), timing);
    if (!map) throw new Error('tracking process sent no map');
    return new SnapshotView(fromWire(map), timing);
  }

  async quiescedContent(): Promise<QuiescedContent> {
    const { content, contentTiming } = await this.client.request({ cmd: 'content' });
    if (!content || !contentTiming) throw new Error('tracking process sent no content hashes');
    return { hashes: contentFromWire(content), ...contentTiming };
  }

  async resume(): Promise<void> {
    await this.client.request({ cmd: 'resume' });
  }

  async release(): Promise<void> {
    await this.client.request({ cmd: 'release' });
    this.client.close();
  }

  close(): void {
    this.client.close();
  }
}
