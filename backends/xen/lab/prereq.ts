/**
 * What the lab needs from the host, checked before anything slow starts, and what a failed build step's
 * log says went wrong. Every problem here is the user's to fix, so each becomes a LabError of kind
 * 'prerequisite' with the fix in its message (exit 2), never a stack trace.
 */
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { LabError } from './errors.ts';

/** Debian package providing each host tool (for the message, and for --install-deps). */
export const TOOL_PACKAGES: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  debootstrap: 'debootstrap',
  'mkfs.ext4': 'e2fsprogs',
  gcc: 'gcc',
  cpio: 'cpio',
  gzip: 'gzip',
  zcat: 'gzip',
  chroot: 'coreutils',
};
/** gcc links the guest agent statically: that needs libc.a. */
export const STATIC_LIBC = '/usr/lib/x86_64-linux-gnu/libc.a';

export const GIB = 2 ** 30;
/** A cold build writes ~1.2 GiB of dom0 root, a 3 GiB (sparse, ~1.1 GiB used) image and 0.5 GiB of guest. */
export const BUILD_FREE_BYTES = 5 * GIB;
/** A run's copy-on-write overlay of the dom0 disk holds the guests' disks and saved images. */
export const RUN_FREE_BYTES = 3 * GIB;

export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Missing tools, with the Debian packages that provide them. */
export function missingTools(
  tools: Iterable<string>,
  has: (cmd: string) => boolean = (c) => which(c) !== undefined,
  staticLibc: () => boolean = () => existsSync(STATIC_LIBC),
): { tools: string[]; packages: string[] } {
  const missing = [...new Set(tools)].filter((t) => !has(t));
  const packages = new Set(missing.map((t) => TOOL_PACKAGES[t] ?? t));
  if ([...tools].includes('gcc') && !staticLibc()) {
    missing.push('static libc (libc.a)');
    packages.add('libc6-dev');
  }
  return { tools: missing, packages: [...packages] };
}

export function missingToolsError(missing: { tools: string[]; packages: string[] }, what: string): LabError {
  return new LabError(
    'prerequisite',
    `${what} needs ${missing.tools.join(', ')}, not found on this host. Install them with:\n` +
      `  apt-get install --no-install-recommends ${missing.packages.join(' ')}\n` +
      `(or run \`leanckpt lab build --install-deps\` as root)`,
  );
}

/** Free bytes on the file system that holds `path` (or would: its nearest existing ancestor). */
export function freeBytes(path: string): number {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = statfsSync(p);
  return s.bavail * s.bsize;
}

export function checkFreeSpace(path: string, need: number, what: string, free = freeBytes(path)): void {
  if (free < need) {
    throw new LabError(
      'prerequisite',
      `disk full: ${what} needs ${(need / GIB).toFixed(1)} GiB free at ${path}, only ` +
        `${(free / GIB).toFixed(1)} GiB available. Free some space or set LEANCKPT_LAB_DIR elsewhere.`,
    );
  }
}

/** Fails fast when the Debian mirror cannot be reached, instead of after minutes of debootstrap. */
export async function checkMirror(mirror: string, timeoutMs = 20_000): Promise<void> {
  const url = `${mirror.replace(/\/$/, '')}/dists/bookworm/Release`;
  let status: string;
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    if (res.ok) return;
    status = `HTTP ${res.status}`;
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
    status = cause || (err instanceof Error ? err.message : String(err));
  }
  throw new LabError(
    'prerequisite',
    `no network to the Debian mirror: ${url} (${status}). The lab's dom0 is built from Debian ` +
      `bookworm packages; check the network or set LEANCKPT_LAB_MIRROR to a reachable mirror.`,
  );
}

/** Turns a failed step's log into a prerequisite error when it shows a host problem; else undefined. */
export function diagnoseStepLog(log: string, mirror: string): LabError | undefined {
  if (/No space left on device|Disk quota exceeded|Could not allocate block/i.test(log)) {
    return new LabError(
      'prerequisite',
      'disk full while building the lab (No space left on device). Free some space or set LEANCKPT_LAB_DIR elsewhere.',
    );
  }
  if (
    /Failed getting release file|Temporary failure resolving|Could not resolve|Network is unreachable|Connection refused|Connection timed out|Failed to fetch|Couldn't download/i.test(
      log,
    )
  ) {
    return new LabError(
      'prerequisite',
      `no network to the Debian mirror ${mirror} while building the dom0 (see the log above). ` +
        'Check the network or set LEANCKPT_LAB_MIRROR.',
    );
  }
  const pinned = /^LAB-ERROR (.*)$/m.exec(log);
  if (pinned) return new LabError('prerequisite', pinned[1]!);
  return undefined;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
