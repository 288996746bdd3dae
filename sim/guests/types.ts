import type { GuestParams } from '../os/params.ts';

export type GuestKindName = 'pv-linux' | 'pvhvm-linux' | 'hvm-linux' | 'hvm-windows';

/** A kind of guest: its OS and I/O path, as parameters of the OS model. */
export interface GuestKind {
  readonly name: GuestKindName;
  readonly description: string;
  readonly params: GuestParams;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
