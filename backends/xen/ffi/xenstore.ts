/**
 * libxenstore (libxenstore4, soname libxenstore.so.4) as the handshake's XenstorePort. Results the
 * library mallocs are decoded and freed at once; watches are multiplexed on the handle's fd, polled by
 * libuv, and drained with the non-blocking xs_check_watch.
 */
import type { XenstorePort, XsPermissions, XsTransaction } from '../blkif/xenstore-port.ts';
import { cfree } from './libc.ts';
import { cfunc, check, isNull, koffi, library, type PollHandle, type Ptr } from './load.ts';

const PERM_BITS = { n: 0, r: 1, w: 2, b: 3 } as const;
const EAGAIN = 11;

interface Fns {
  open(f: number): Ptr;
  close(h: Ptr): void;
  read(h: Ptr, t: number, path: string, len: number[]): Ptr;
  write(h: Ptr, t: number, path: string, data: string, len: number): boolean;
  mkdir(h: Ptr, t: number, path: string): boolean;
  rm(h: Ptr, t: number, path: string): boolean;
  setPerms(h: Ptr, t: number, path: string, perms: Uint32Array, n: number): boolean;
  start(h: Ptr): number;
  end(h: Ptr, t: number, abort: boolean): boolean;
  watch(h: Ptr, path: string, token: string): boolean;
  unwatch(h: Ptr, path: string, token: string): boolean;
  fileno(h: Ptr): number;
  checkWatch(h: Ptr): Ptr;
}

let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const lib = library('libxenstore.so.4', 'libxenstore4');
  fns = {
    open: cfunc(lib, 'void *xs_open(unsigned long flags)'),
    close: cfunc(lib, 'void xs_close(void *h)'),
    read: cfunc(lib, 'void *xs_read(void *h, uint32_t t, const char *path, _Out_ unsigned int *len)'),
    write: cfunc(
      lib,
      'bool xs_write(void *h, uint32_t t, const char *path, const char *data, unsigned int len)',
    ),
    mkdir: cfunc(lib, 'bool xs_mkdir(void *h, uint32_t t, const char *path)'),
    rm: cfunc(lib, 'bool xs_rm(void *h, uint32_t t, const char *path)'),
    setPerms: cfunc(
      lib,
      'bool xs_set_permissions(void *h, uint32_t t, const char *path, uint32_t *perms, unsigned int n)',
    ),
    start: cfunc(lib, 'uint32_t xs_transaction_start(void *h)'),
    end: cfunc(lib, 'bool xs_transaction_end(void *h, uint32_t t, bool abort)'),
    watch: cfunc(lib, 'bool xs_watch(void *h, const char *path, const char *token)'),
    unwatch: cfunc(lib, 'bool xs_unwatch(void *h, const char *path, const char *token)'),
    fileno: cfunc(lib, 'int xs_fileno(void *h)'),
    checkWatch: cfunc(lib, 'void *xs_check_watch(void *h)'),
  };
  return fns;
}

/** struct xs_permissions {unsigned id; enum perms}: 8 B each. */
export function encodePermissions(perms: XsPermissions): Uint32Array {
  const out = new Uint32Array(perms.length * 2);
  perms.forEach((p, i) => {
    out[2 * i] = p.domid;
    out[2 * i + 1] = PERM_BITS[p.perm];
  });
  return out;
}

class Ops implements XsTransaction {
  constructor(
    protected readonly f: Fns,
    protected readonly h: Ptr,
    private readonly t: number,
  ) {}

  read(path: string): string | undefined {
    const len = [0];
    const p = this.f.read(this.h, this.t, path, len);
    if (isNull(p)) return undefined;
    const text = Buffer.from(koffi().decode(p, 'uint8_t', len[0] ?? 0) as Uint8Array).toString('utf8');
    cfree(p);
    return text;
  }

  write(path: string, value: string): void {
    check(this.f.write(this.h, this.t, path, value, Buffer.byteLength(value)), `xs_write ${path}`);
  }

  mkdir(path: string): void {
    check(this.f.mkdir(this.h, this.t, path), `xs_mkdir ${path}`);
  }

  rm(path: string): void {
    // Removing a node that does not exist is not an error for our purposes.
    this.f.rm(this.h, this.t, path);
  }

  setPermissions(path: string, perms: XsPermissions): void {
    const raw = encodePermissions(perms);
    check(this.f.setPerms(this.h, this.t, path, raw, perms.length), `xs_set_permissions ${path}`);
  }
}

export class XenStore extends Ops implements XenstorePort {
  private readonly watches = new Map<string, { path: string; fired: (path: string) => void }>();
  private poll: PollHandle | undefined;
  private nextToken = 0;

  private constructor(f: Fns, h: Ptr) {
    super(f, h, 0);
  }

  static open(): XenStore {
    const f = load();
    const h = f.open(0);
    if (isNull(h)) throw new Error('cannot connect to xenstored (is the Xen toolstack running?)');
    return new XenStore(f, h);
  }

  transaction(body: (tx: XsTransaction) => void): void {
    for (let attempt = 0; attempt < 32; attempt++) {
      const t = this.f.start(this.h);
      check(t !== 0, 'xs_transaction_start');
      try {
        body(new Ops(this.f, this.h, t));
      } catch (err) {
        this.f.end(this.h, t, true);
        throw err;
      }
      if (this.f.end(this.h, t, false)) return;
      if (koffi().errno() !== EAGAIN) check(false, 'xs_transaction_end');
    }
    throw new Error('xenstore transaction kept conflicting');
  }

  watch(path: string, fired: (path: string) => void): () => void {
    const token = `leanckpt-${process.pid}-${this.nextToken++}`;
    this.watches.set(token, { path, fired });
    check(this.f.watch(this.h, path, token), `xs_watch ${path}`);
    this.poll ??= koffi().node.poll(this.f.fileno(this.h), { readable: true }, () => this.drain());
    return () => {
      this.watches.delete(token);
      this.f.unwatch(this.h, path, token);
    };
  }

  private drain(): void {
    for (;;) {
      const vec = this.f.checkWatch(this.h);
      if (isNull(vec)) return;
      const [path, token] = koffi().decode(vec, 'const char *', 2) as [string, string];
      cfree(vec);
      this.watches.get(token)?.fired(path);
    }
  }

  close(): void {
    this.poll?.close();
    this.f.close(this.h);
  }
}
