import { DATABASE } from './database.ts';
import { DESKTOP } from './desktop.ts';
import { FILE_COPY } from './file-copy.ts';
import { IDLE } from './idle.ts';
import { KERNEL_BUILD } from './kernel-build.ts';
import { MEMORY_HOG } from './memory-hog.ts';
import { POSTMARK } from './postmark.ts';
import type { Workload, WorkloadName } from './types.ts';

export type { Workload, WorkloadName } from './types.ts';

export const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  idle: IDLE,
  'kernel-build': KERNEL_BUILD,
  postmark: POSTMARK,
  'file-copy': FILE_COPY,
  desktop: DESKTOP,
  database: DATABASE,
  'memory-hog': MEMORY_HOG,
};
