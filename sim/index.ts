/** The deterministic guest simulator: event streams of simulated Xen guests running workloads. */
export {
  simulate,
  resolveSimulation,
  simulationHeader,
  Simulator,
  SIMULATOR_VERSION,
  type Simulation,
  type SimulationOptions,
  type ResolvedSimulation,
} from './simulation.ts';
export { GUEST_KINDS, type GuestKind, type GuestKindName } from './guests/index.ts';
export { WORKLOADS, type Workload, type WorkloadName } from './workloads/index.ts';
export type { GuestParams, IoParams, FsParams, MemParams, BootParams, DeepPartial } from './os/params.ts';
export type { EmitStats } from './os/emitter.ts';
export { Prng } from './prng.ts';
