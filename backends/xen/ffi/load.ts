/**
 * Loading the Xen libraries, lazily and once each. Outside a dom0 the first use fails with
 * XenUnavailableError naming the missing library (and its Debian package) or device, which the CLI
 * turns into exit 2 with that message: never a stack trace.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The slice of koffi these bindings use (its own typings return `any` everywhere). */
export interface Koffi {
  load(path: string): { func(decl: string): unknown };
  view(ptr: unknown, len: number): ArrayBuffer;
  address(ptr: unknown): bigint;
  alloc(type: string, len: number): bigint;
  free(ptr: bigint): void;
  decode(ptr: bigint, type: string, len: number): unknown;
  errno(): number;
  node: {
    poll(fd: number, opts: { readable: boolean }, cb: (ev: { readable: boolean }) => void): PollHandle;
  };
}

export interface PollHandle {
  stop(): void;
  close(): void;
  unref(): void;
}

/** A C pointer: koffi 3 passes and returns them as addresses (bigint); NULL may come back as null. */
export type Ptr = bigint | null;

export function isNull(p: Ptr): p is null {
  return p === null || p === 0n;
}

export class XenUnavailableError extends Error {
  override readonly name = 'XenUnavailableError';
  constructor(readonly missing: string) {
    super(`not a Xen dom0: ${missing} missing`);
  }
}

let koffiModule: Koffi | undefined;

export function koffi(): Koffi {
  if (!koffiModule) {
    try {
      koffiModule = createRequire(import.meta.url)('koffi') as Koffi;
    } catch {
      throw new XenUnavailableError('the koffi module (run npm ci)');
    }
  }
  return koffiModule;
}

const libraries = new Map<string, { func(decl: string): unknown }>();

/** The library with this soname; `pkg` is the Debian package that ships it, for the message. */
export function library(soname: string, pkg: string): { func(decl: string): unknown } {
  let lib = libraries.get(soname);
  if (!lib) {
    try {
      lib = koffi().load(soname);
    } catch (err) {
      if (err instanceof XenUnavailableError) throw err;
      throw new XenUnavailableError(`${soname} (Debian package ${pkg})`);
    }
    libraries.set(soname, lib);
  }
  return lib;
}

/** Declares a C function with a typed JS signature (the declaration string is the C prototype). */
export function cfunc<F>(lib: { func(decl: string): unknown }, decl: string): F {
  return lib.func(decl) as F;
}

/** Fails unless the device node exists (the library would fail later with a vaguer errno). */
export function requireDevice(path: string): void {
  if (!existsSync(path)) throw new XenUnavailableError(`${path} (load the Xen dom0 drivers)`);
}

export const EINTR = 4;

/**
 * Runs a C call again while it fails with EINTR: a signal arrived during the system call (a profiler's
 * SIGPROF did so while gntdev mapped a ring in the lab, and the restored guest's disk failed). Nothing
 * it retries has done part of its work when it fails so. Gives up after `tries` and returns the last
 * result, for the caller's own check to report; `onRetry` hears of each retry.
 */
export function retryInterrupted<T>(
  call: () => T,
  failed: (result: T) => boolean,
  opts: { readonly errno?: () => number; readonly tries?: number; readonly onRetry?: () => void } = {},
): T {
  const errno = opts.errno ?? (() => koffi().errno());
  const tries = opts.tries ?? 100;
  let result = call();
  for (let n = 1; n < tries && failed(result) && errno() === EINTR; n++) {
    opts.onRetry?.();
    result = call();
  }
  return result;
}

/** Throws a plain Error naming the call and errno when a C call failed. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`${what} failed (errno ${koffi().errno()})`);
}

/** A Uint8Array over native memory at `ptr` (no copy). */
export function bytesAt(ptr: Ptr, len: number): Uint8Array {
  return new Uint8Array(koffi().view(ptr, len));
}
