/**
 * Composition root of the in-memory backend: the only place that decides which object serves which
 * port. Everything below it takes its dependencies as constructor arguments.
 */
import { Container } from 'inversify';
import { bindCheckpointEngine } from '../../core/checkpoint/bind-engine.ts';
import type { EngineOptions } from '../../core/checkpoint/engine.ts';
import { loadHasher } from '../../core/hash.ts';
import { TOKENS } from '../../core/tokens.ts';
import { ScriptedGuest, type GuestScript } from './scripted-guest.ts';
import { worldProbe, type MemoryWorld } from './world.ts';

export async function memoryContainer(
  world: MemoryWorld,
  script: GuestScript,
  engine: EngineOptions,
): Promise<Container> {
  const c = new Container();
  const guest = new ScriptedGuest(world, script);
  const hasher = await loadHasher();
  c.bind(TOKENS.Hasher).toConstantValue(hasher);
  c.bind(TOKENS.EventSource).toConstantValue(guest);
  c.bind(TOKENS.DomainControl).toConstantValue(guest);
  c.bind(TOKENS.DiskSnapshotter).toConstantValue(guest);
  c.bind(TOKENS.GuestMemory).toConstantValue(world);
  c.bind(TOKENS.ContentProbe).toConstantValue(worldProbe(world, hasher.hash64));
  bindCheckpointEngine(c, engine);
  return c;
}
