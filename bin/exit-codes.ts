/** Exit codes, as documented in docs/cli.md. Only bin/leanckpt.ts exits. */
import {
  CheckpointError,
  EnvironmentError,
  EventError,
  ImageFormatError,
  isSystemError,
  RestoreError,
  VerificationError,
} from '../core/errors.ts';
import { TraceError } from '../core/trace/errors.ts';

export const EXIT = {
  ok: 0,
  /** The image is invalid, or a restore or replay could not prove every page correct. */
  verificationFailed: 1,
  usage: 2,
  internal: 3,
  backendUnavailable: 4,
  /** The operating system refused an operation: no space left, no permission, an I/O error. */
  system: 5,
  interrupted: 130,
} as const;

/** A user-facing failure: its message is printed as is, and the process exits with `code`. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The exit code and the message for an error a command threw. */
export function exitCodeOf(err: unknown): { code: number; message: string } {
  if (err instanceof ExitError) return { code: err.code, message: err.message };
  if (err instanceof ImageFormatError || err instanceof RestoreError || err instanceof VerificationError) {
    return { code: EXIT.verificationFailed, message: err.message };
  }
  // Bad input (a trace, an event, an output path): the message says what and where.
  if (err instanceof EventError || err instanceof CheckpointError || err instanceof TraceError) {
    return { code: EXIT.usage, message: err.message };
  }
  // The system refused something (no space, no permission, an I/O error): its message names the call
  // and the path, which is what the user can act on; no stack.
  if (err instanceof EnvironmentError || isSystemError(err))
    return { code: EXIT.system, message: err.message };
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    code: EXIT.internal,
    message: `internal error (this should never happen; please report it with the command line):\n${message}`,
  };
}
