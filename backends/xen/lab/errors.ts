/**
 * Lab failures, by who must act: 'prerequisite' (the host lacks a tool, root, network or disk space;
 * exit 2), 'usage' (a bad argument; exit 2) or 'failed' (a build step or a scenario failed; exit 1).
 * The command line maps kinds to exit codes; the lab itself never exits.
 */
export type LabErrorKind = 'prerequisite' | 'usage' | 'failed';

export class LabError extends Error {
  override readonly name = 'LabError';
  constructor(
    readonly kind: LabErrorKind,
    message: string,
  ) {
    super(message);
  }
}
