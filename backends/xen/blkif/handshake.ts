/**
 * The XenStore side of one leanckpt-served disk: creates the backend and frontend directories (libxl
 * does not know this device, so leanckpt owns its lifecycle), then follows the frontend through the
 * blkif state machine (blkif.h "Feature and Parameter Negotiation", QEMU xen-block's transitions).
 *
 * The backend kind is one nothing else in dom0 watches: the kernel's blkback owns `vbd`, QEMU owns
 * `qdisk`. `feature-persistent` is never advertised (Linux would copy through private pages, and the
 * frames we see would not be page-cache pages) and `trusted` is 1 (else blkfront bounces everything).
 */
import type { XenstorePort } from './xenstore-port.ts';

export const BACKEND_KIND = 'lckvbd';

export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
} as const;

/** What the frontend wrote for the backend to connect. */
export interface FrontendRing {
  readonly refs: readonly number[];
  readonly eventChannel: number;
  readonly protocol: string | undefined;
}

export interface DiskInfo {
  readonly sectors: number;
  readonly readOnly: boolean;
  /** Where the disk lives, recorded as `params` for people reading the store. */
  readonly path: string;
}

export interface HandshakeHooks {
  /** Maps the ring and binds the event channel; throws (with a reason) if it cannot. */
  connect(ring: FrontendRing): void;
  /** Undoes connect (the frontend went away or reset). */
  disconnect(): void;
  onError?(message: string): void;
}

export class BlkifHandshake {
  readonly backendPath: string;
  readonly frontendPath: string;
  private unwatch: (() => void) | undefined;
  private connected = false;

  constructor(
    private readonly xs: XenstorePort,
    readonly domid: number,
    readonly devid: number,
    readonly vdev: string,
    private readonly disk: DiskInfo,
    private readonly hooks: HandshakeHooks,
    readonly backendDomid = 0,
  ) {
    this.backendPath = `/local/domain/${backendDomid}/backend/${BACKEND_KIND}/${domid}/${devid}`;
    this.frontendPath = `/local/domain/${domid}/device/vbd/${devid}`;
  }

  get state(): number {
    return Number(this.xs.read(`${this.backendPath}/state`) ?? XenbusState.Unknown);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Creates both directories as libxl would, advertises the features, and waits in InitWait. */
  create(): void {
    const { xs, domid, devid, backendPath: be, frontendPath: fe, backendDomid: bd } = this;
    xs.transaction((tx) => {
      tx.rm(be);
      tx.rm(fe);
      tx.mkdir(be);
      tx.setPermissions(be, [
        { domid: bd, perm: 'n' },
        { domid, perm: 'r' },
      ]);
      tx.mkdir(fe);
      tx.setPermissions(fe, [
        { domid, perm: 'n' },
        { domid: bd, perm: 'r' },
      ]);
      const backend: Record<string, string> = {
        frontend: fe,
        'frontend-id': String(domid),
        online: '1',
        removable: '0',
        bootable: '1',
        state: String(XenbusState.Initialising),
        dev: this.vdev,
        type: BACKEND_KIND,
        mode: this.disk.readOnly ? 'r' : 'w',
        'device-type': 'disk',
        params: this.disk.path,
        'feature-flush-cache': '1',
        'feature-discard': this.disk.readOnly ? '0' : '1',
        'discard-granularity': '4096',
        'discard-alignment': '0',
        'max-ring-page-order': '3',
        'sector-size': '512',
        'physical-sector-size': '512',
        sectors: String(this.disk.sectors),
        info: this.disk.readOnly ? '4' : '0',
        'hotplug-status': 'connected',
      };
      for (const [k, v] of Object.entries(backend)) tx.write(`${be}/${k}`, v);
      const frontend: Record<string, string> = {
        backend: be,
        'backend-id': String(bd),
        state: String(XenbusState.Initialising),
        'virtual-device': String(devid),
        'device-type': 'disk',
        trusted: '1',
      };
      for (const [k, v] of Object.entries(frontend)) tx.write(`${fe}/${k}`, v);
    });
    this.setState(XenbusState.InitWait);
    this.unwatch = this.xs.watch(`${fe}/state`, () => this.frontendChanged());
  }

  /** Disconnects and removes both directories (the guest sees the disk vanish if it still runs). */
  destroy(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.drop();
    this.xs.transaction((tx) => {
      tx.rm(this.backendPath);
      tx.rm(this.frontendPath);
    });
  }

  private setState(s: number): void {
    this.xs.write(`${this.backendPath}/state`, String(s));
  }

  private drop(): void {
    if (!this.connected) return;
    this.connected = false;
    this.hooks.disconnect();
  }

  /** The transitions, as QEMU's xen-block makes them. */
  private frontendChanged(): void {
    const raw = this.xs.read(`${this.frontendPath}/state`);
    const fe = raw === undefined ? XenbusState.Unknown : Number(raw);
    const be = this.state;
    switch (fe) {
      case XenbusState.Initialised:
      case XenbusState.Connected:
        if (be === XenbusState.InitWait) this.tryConnect();
        break;
      case XenbusState.Closing:
        if (be !== XenbusState.Closed) this.setState(XenbusState.Closing);
        break;
      case XenbusState.Closed:
      case XenbusState.Unknown:
        this.drop();
        if (raw !== undefined) this.setState(XenbusState.Closed);
        break;
      case XenbusState.Initialising:
        // The frontend starts over (guest resume, kexec): offer the device again.
        if (be === XenbusState.Closed || be === XenbusState.Connected) {
          this.drop();
          this.setState(XenbusState.InitWait);
        }
        break;
    }
  }

  private tryConnect(): void {
    const ring = this.readRing();
    if (typeof ring === 'string') {
      this.hooks.onError?.(`${this.frontendPath}: ${ring}`);
      this.setState(XenbusState.Closing);
      return;
    }
    try {
      this.hooks.connect(ring);
    } catch (err) {
      this.hooks.onError?.(`${this.frontendPath}: ${err instanceof Error ? err.message : String(err)}`);
      this.setState(XenbusState.Closing);
      return;
    }
    this.connected = true;
    this.setState(XenbusState.Connected);
  }

  private readRing(): FrontendRing | string {
    const fe = this.frontendPath;
    const num = (key: string): number | undefined => {
      const v = this.xs.read(`${fe}/${key}`);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    const order = num('ring-page-order');
    const refs: number[] = [];
    if (order === undefined) {
      const ref = num('ring-ref');
      if (ref === undefined) return 'no ring-ref';
      refs.push(ref);
    } else {
      if (order > 3) return `ring-page-order ${order} above the advertised 3`;
      for (let i = 0; i < 1 << order; i++) {
        const ref = num(`ring-ref${i}`);
        if (ref === undefined) return `no ring-ref${i}`;
        refs.push(ref);
      }
    }
    const eventChannel = num('event-channel');
    if (eventChannel === undefined) return 'no event-channel';
    if (num('multi-queue-num-queues') !== undefined && num('multi-queue-num-queues')! > 1) {
      return 'multiple queues were not offered';
    }
    return { refs, eventChannel, protocol: this.xs.read(`${fe}/protocol`) };
  }
}
