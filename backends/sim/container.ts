/**
 * Composition root of the simulator backend: a replay world fed by event batches (the simulator's or
 * a trace's), serving every port of the core.
 */
import { Container } from 'inversify';
import { bindCheckpointEngine } from '../../core/checkpoint/bind-engine.ts';
import type { EngineOptions } from '../../core/checkpoint/engine.ts';
import type { EventBatch } from '../../core/events/batch.ts';
import { loadHasher } from '../../core/hash.ts';
import { TOKENS } from '../../core/tokens.ts';
import type { ReplayWorld } from '../../sim/replay/replay-world.ts';
import { SimGuest, type SimProgress } from './sim-guest.ts';
import { SymbolicMemory, symbolicProbe } from './symbolic-stores.ts';

export interface SimContainerInput {
  readonly world: ReplayWorld;
  readonly batches: Iterable<EventBatch> | AsyncIterable<EventBatch>;
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly onProgress?: (p: SimProgress) => void;
}

export const SIM_GUEST = Symbol.for('leanckpt.sim.SimGuest');

export async function simContainer(input: SimContainerInput, engine: EngineOptions): Promise<Container> {
  const c = new Container();
  const guest = new SimGuest(input.world, input.batches, input.meta, input.onProgress);
  const hasher = await loadHasher();
  c.bind<SimGuest>(SIM_GUEST).toConstantValue(guest);
  c.bind(TOKENS.Hasher).toConstantValue(hasher);
  c.bind(TOKENS.EventSource).toConstantValue(guest);
  c.bind(TOKENS.DomainControl).toConstantValue(guest);
  c.bind(TOKENS.DiskSnapshotter).toConstantValue(guest);
  c.bind(TOKENS.GuestMemory).toConstantValue(new SymbolicMemory(input.world));
  c.bind(TOKENS.ContentProbe).toConstantValue(symbolicProbe(input.world, hasher.hash64));
  bindCheckpointEngine(c, engine);
  return c;
}
