import type { Container } from 'inversify';
import { TOKENS } from '../tokens.ts';
import { CheckpointEngine, type EngineOptions } from './engine.ts';

/** Binds the checkpoint engine to whatever serves the ports in `c`: shared by every composition root. */
export function bindCheckpointEngine(c: Container, opts: EngineOptions): void {
  c.bind(TOKENS.CheckpointEngine)
    .toDynamicValue(
      (ctx) =>
        new CheckpointEngine(
          {
            source: ctx.get(TOKENS.EventSource),
            memory: ctx.get(TOKENS.GuestMemory),
            snapshotter: ctx.get(TOKENS.DiskSnapshotter),
            domain: ctx.get(TOKENS.DomainControl),
            hasher: ctx.get(TOKENS.Hasher),
            probe: ctx.get(TOKENS.ContentProbe),
          },
          opts,
        ),
    )
    .inSingletonScope();
}
