import { HVM_LINUX } from './hvm-linux.ts';
import { HVM_WINDOWS } from './hvm-windows.ts';
import { PV_LINUX } from './pv-linux.ts';
import { PVHVM_LINUX } from './pvhvm-linux.ts';
import type { GuestKind, GuestKindName } from './types.ts';

export type { GuestKind, GuestKindName } from './types.ts';

export const GUEST_KINDS: Readonly<Record<GuestKindName, GuestKind>> = {
  'pv-linux': PV_LINUX,
  'pvhvm-linux': PVHVM_LINUX,
  'hvm-linux': HVM_LINUX,
  'hvm-windows': HVM_WINDOWS,
};
