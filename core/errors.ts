/**
 * One error class per operation, each naming what is wrong. The CLI maps them to exit codes
 * (docs/cli.md); nothing here prints or exits.
 */

/** Bad input from a backend or trace: an event the event model does not allow. */
export class EventError extends Error {
  override readonly name = 'EventError';
}

/** The image file is not a valid leanckpt image (bad magic, version, checksum, record, truncation). */
export class ImageFormatError extends Error {
  override readonly name = 'ImageFormatError';
  constructor(
    message: string,
    /** The record or section at fault, e.g. "PAGE_DATA". */
    readonly record?: string,
    /** Byte offset in the image file where the fault was found. */
    readonly offset?: number,
  ) {
    super(message);
  }
}

/** A restore that cannot prove a page correct (disk changed, wrong disk) refuses with this. */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
  constructor(
    message: string,
    readonly pfn?: number,
    readonly disk?: number,
    readonly sector?: number,
  ) {
    super(message);
  }
}

/** Writing a checkpoint image failed; the temporary file has been removed. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** A restored guest differs from the guest at its checkpoint: the check of last resort failed. */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  constructor(
    message: string,
    readonly pfn?: number,
  ) {
    super(message);
  }
}

/**
 * The operating system refused what leanckpt needed (no space left, no permission, a read-only file
 * system, an I/O error): not a bug, and not bad input. `code` is the errno name, e.g. "ENOSPC".
 */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Node's failed system calls carry the errno name and the call (`code`, `syscall`). */
export function isSystemError(err: unknown): err is Error & { code: string; syscall: string } {
  return (
    err instanceof Error &&
    typeof (err as { code?: unknown }).code === 'string' &&
    typeof (err as { syscall?: unknown }).syscall === 'string'
  );
}

/** A failed system call as an EnvironmentError saying what leanckpt was doing; anything else as it is. */
export function withContext(doing: string, err: unknown): unknown {
  return isSystemError(err) ? new EnvironmentError(`${doing}: ${err.message}`, err.code) : err;
}
