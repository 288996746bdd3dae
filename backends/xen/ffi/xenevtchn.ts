/**
 * libxenevtchn (libxenevtchn1, soname libxenevtchn.so.1; stable ABI) over /dev/xen/evtchn. One handle
 * serves every channel of the process: its fd is polled by libuv (koffi's poll handle), and each
 * pending port is dispatched to its listener, then unmasked.
 */
import { cfunc, check, isNull, koffi, library, requireDevice, type PollHandle, type Ptr } from './load.ts';

interface Fns {
  open(l: Ptr, f: number): Ptr;
  close(h: Ptr): number;
  fd(h: Ptr): number;
  bind(h: Ptr, domid: number, port: number): number;
  unbind(h: Ptr, port: number): number;
  notify(h: Ptr, port: number): number;
  pending(h: Ptr): number;
  unmask(h: Ptr, port: number): number;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const lib = library('libxenevtchn.so.1', 'libxenevtchn1');
  fns = {
    open: cfunc(lib, 'void *xenevtchn_open(void *l, unsigned int f)'),
    close: cfunc(lib, 'int xenevtchn_close(void *h)'),
    fd: cfunc(lib, 'int xenevtchn_fd(void *h)'),
    bind: cfunc(lib, 'int xenevtchn_bind_interdomain(void *h, uint32_t domid, uint32_t port)'),
    unbind: cfunc(lib, 'int xenevtchn_unbind(void *h, uint32_t port)'),
    notify: cfunc(lib, 'int xenevtchn_notify(void *h, uint32_t port)'),
    pending: cfunc(lib, 'int xenevtchn_pending(void *h)'),
    unmask: cfunc(lib, 'int xenevtchn_unmask(void *h, uint32_t port)'),
  };
  return fns;
}

export interface BoundPort {
  readonly local: number;
  notify(): void;
  close(): void;
}

export class EvtChn {
  private readonly listeners = new Map<number, () => void>();
  private poll: PollHandle | undefined;

  private constructor(
    private readonly f: Fns,
    private readonly h: Ptr,
  ) {}

  static open(): EvtChn {
    const f = load();
    requireDevice('/dev/xen/evtchn');
    const h = f.open(null, 0);
    check(!isNull(h), 'xenevtchn_open');
    return new EvtChn(f, h);
  }

  /** Binds to the frontend's port; `onEvent` runs on the main thread at each notification. */
  bind(domid: number, remotePort: number, onEvent: () => void): BoundPort {
    const local = this.f.bind(this.h, domid, remotePort);
    check(local >= 0, `xenevtchn_bind_interdomain(domain ${domid}, port ${remotePort})`);
    this.listeners.set(local, onEvent);
    this.poll ??= koffi().node.poll(this.f.fd(this.h), { readable: true }, () => this.dispatch());
    return {
      local,
      notify: () => void this.f.notify(this.h, local),
      close: () => {
        this.listeners.delete(local);
        this.f.unbind(this.h, local);
      },
    };
  }

  private dispatch(): void {
    // Readable means at least one port is pending; pending() would block only if none were.
    const port = this.f.pending(this.h);
    if (port < 0) return;
    this.f.unmask(this.h, port);
    this.listeners.get(port)?.();
  }

  close(): void {
    this.poll?.close();
    this.f.close(this.h);
  }
}
