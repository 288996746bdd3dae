/**
 * Serving one disk to one domain: the handshake, and on connect a ring, an event channel and a
 * BlkifDevice. Everything that touches Xen comes in through ports, so tests run this exact code.
 */
import { BlkifDevice, emptyStats, type DeviceStats } from './device.ts';
import type { FrameTranslator, GrantTable } from './grants.ts';
import { BlkifHandshake, type FrontendRing } from './handshake.ts';
import { abiOf } from './layout.ts';
import type { DataMover, DiskStore, IoEvents } from './ports.ts';
import { BackRing } from './ring.ts';
import type { XenstorePort } from './xenstore-port.ts';

export interface MappedRing {
  readonly bytes: Uint8Array;
  unmap(): void;
}

export interface EventChannel {
  notify(): void;
  close(): void;
}

/** Grant-mapping the ring pages and binding the frontend's event channel. */
export interface RingConnector {
  mapRing(domid: number, refs: readonly number[]): MappedRing;
  bindEventChannel(domid: number, remotePort: number, onEvent: () => void): EventChannel;
}

export interface AttachDeps {
  readonly xs: XenstorePort;
  readonly connector: RingConnector;
  readonly mover: DataMover;
  /** The guest's grant table (read at each request: the view must stay current). */
  readonly table: () => GrantTable;
  readonly frames: FrameTranslator;
  readonly events: IoEvents;
  readonly nextId: () => number;
  readonly log: (message: string) => void;
  readonly backendDomid?: number;
}

export interface AttachedDiskSpec {
  readonly domid: number;
  readonly vdev: string;
  readonly devid: number;
  readonly store: DiskStore;
  readonly path: string;
}

/** A disk being served: connected or waiting for its frontend. */
export class AttachedDisk {
  readonly handshake: BlkifHandshake;
  private device: BlkifDevice | undefined;
  private ring: MappedRing | undefined;
  private channel: EventChannel | undefined;
  private paused = false;
  /** Counters of earlier connections (a frontend may reconnect). */
  private readonly past: DeviceStats[] = [];

  constructor(
    readonly spec: AttachedDiskSpec,
    private readonly deps: AttachDeps,
  ) {
    const { store } = spec;
    this.handshake = new BlkifHandshake(
      deps.xs,
      spec.domid,
      spec.devid,
      spec.vdev,
      { sectors: store.sectors, readOnly: store.readOnly, path: spec.path },
      {
        connect: (r) => this.connect(r),
        disconnect: () => this.disconnect(),
        onError: (m) => deps.log(m),
      },
      deps.backendDomid ?? 0,
    );
  }

  start(): void {
    this.handshake.create();
  }

  get connected(): boolean {
    return this.device !== undefined;
  }

  /** Re-checks the ring (the poll timer's job: covers notifications lost to the missing fences). */
  poll(): void {
    this.device?.kick();
  }

  async quiesce(): Promise<void> {
    this.paused = true;
    await this.device?.quiesce();
  }

  resume(): void {
    this.paused = false;
    this.device?.resume();
  }

  get inflight(): number {
    return this.device?.inflightCount ?? 0;
  }

  stats(): DeviceStats {
    const all = [...this.past, ...(this.device ? [this.device.stats] : [])];
    const sum = { ...emptyStats() };
    for (const s of all) for (const k of Object.keys(sum) as (keyof DeviceStats)[]) sum[k] += s[k];
    return sum;
  }

  async stop(): Promise<void> {
    await this.quiesce();
    this.handshake.destroy();
  }

  private connect(r: FrontendRing): void {
    const abi = abiOf(r.protocol);
    if (!abi) throw new Error(`unknown protocol "${r.protocol}"`);
    const { deps, spec } = this;
    const ring = deps.connector.mapRing(spec.domid, r.refs);
    try {
      const back = new BackRing(ring.bytes, r.refs.length, abi);
      // The channel exists before the device it wakes; notifications before then find nothing to do.
      const wake = { kick: (): void => {} };
      const channel = deps.connector.bindEventChannel(spec.domid, r.eventChannel, () => wake.kick());
      const device = new BlkifDevice({
        diskId: spec.devid,
        store: spec.store,
        ring: back,
        table: deps.table(),
        frames: deps.frames,
        mover: deps.mover,
        events: deps.events,
        notify: () => channel.notify(),
        nextId: deps.nextId,
        backendDomid: deps.backendDomid ?? 0,
        onRefused: (m) => deps.log(`${spec.vdev}: refused a request: ${m}`),
        onBroken: (e) => deps.log(`${spec.vdev}: ${e.message}; no longer serving`),
      });
      wake.kick = () => device.kick();
      this.ring = ring;
      this.channel = channel;
      this.device = device;
      if (this.paused) void device.quiesce();
      // Requests may already be waiting: blkfront does not notify for ones queued before connect.
      queueMicrotask(() => device.kick());
    } catch (err) {
      ring.unmap();
      throw err;
    }
  }

  private disconnect(): void {
    if (this.device) this.past.push({ ...this.device.stats });
    this.device = undefined;
    this.channel?.close();
    this.channel = undefined;
    this.ring?.unmap();
    this.ring = undefined;
  }
}
