/** Exit codes, as documented in docs/cli.md. Only bin/leanckpt.ts exits. */
export const EXIT = {
  ok: 0,
  /** The image is invalid, or a restore or replay could not prove every page correct. */
  verificationFailed: 1,
  usage: 2,
  internal: 3,
  backendUnavailable: 4,
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
