/** The XenStore operations the handshake needs: libxenstore in dom0, an in-memory store in tests. */

export type XsPerm = 'n' | 'r' | 'w' | 'b';

/** Permissions of a node: the first entry names the owner and the default for every other domain. */
export type XsPermissions = readonly { readonly domid: number; readonly perm: XsPerm }[];

export interface XsTransaction {
  read(path: string): string | undefined;
  write(path: string, value: string): void;
  mkdir(path: string): void;
  rm(path: string): void;
  setPermissions(path: string, perms: XsPermissions): void;
}

export interface XenstorePort extends XsTransaction {
  /** Runs `body` atomically (retrying the whole body if the store reports a conflict). */
  transaction(body: (tx: XsTransaction) => void): void;
  /** Calls `fired` with the changed path now and on every change at or below `path`; returns the unwatch. */
  watch(path: string, fired: (path: string) => void): () => void;
}
