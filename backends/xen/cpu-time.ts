/**
 * CPU time this process used since a mark, all its threads together (the main thread and the libuv
 * workers that hash and read). Reported beside wall times: on a host whose CPUs are busy with other
 * work (an emulated dom0 running `xl` beside leanckpt), wall time alone cannot say whose work it was.
 */
export interface CpuMs {
  readonly user: number;
  readonly system: number;
}

export type CpuMark = NodeJS.CpuUsage;

export const cpuMark = (): CpuMark => process.cpuUsage();

export function cpuSince(mark: CpuMark): CpuMs {
  const d = process.cpuUsage(mark);
  return { user: d.user / 1000, system: d.system / 1000 };
}
