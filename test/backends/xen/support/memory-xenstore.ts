/** An in-memory XenStore: nodes, permissions, and watches that fire asynchronously like the real one. */
import type {
  XenstorePort,
  XsPermissions,
  XsTransaction,
} from '../../../../backends/xen/blkif/xenstore-port.ts';

export class MemoryXenstore implements XenstorePort {
  readonly nodes = new Map<string, string>();
  readonly perms = new Map<string, XsPermissions>();
  private readonly watches = new Set<{ path: string; fired: (path: string) => void }>();
  private pending: Promise<void> = Promise.resolve();

  read(path: string): string | undefined {
    return this.nodes.get(path);
  }

  write(path: string, value: string): void {
    this.nodes.set(path, value);
    this.changed(path);
  }

  mkdir(path: string): void {
    if (!this.nodes.has(path)) this.write(path, '');
  }

  rm(path: string): void {
    let hit = false;
    for (const k of [...this.nodes.keys()]) {
      if (k === path || k.startsWith(`${path}/`)) {
        this.nodes.delete(k);
        this.perms.delete(k);
        hit = true;
      }
    }
    if (hit) this.changed(path);
  }

  setPermissions(path: string, perms: XsPermissions): void {
    this.perms.set(path, perms);
  }

  transaction(body: (tx: XsTransaction) => void): void {
    body(this);
  }

  watch(path: string, fired: (path: string) => void): () => void {
    const w = { path, fired };
    this.watches.add(w);
    this.deliver(w, path);
    return () => this.watches.delete(w);
  }

  /** Resolves once every watch event queued so far has been delivered (and those they caused). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const p = this.pending;
      await p;
      if (p === this.pending) return;
    }
  }

  private changed(path: string): void {
    for (const w of this.watches) {
      if (path === w.path || path.startsWith(`${w.path}/`) || w.path.startsWith(`${path}/`))
        this.deliver(w, path);
    }
  }

  private deliver(w: { path: string; fired: (path: string) => void }, path: string): void {
    this.pending = this.pending.then(() => {
      if (this.watches.has(w)) w.fired(path);
    });
  }
}
