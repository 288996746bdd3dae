/**
 * Service identifiers for the composition roots (one inversify container per backend). Only
 * composition roots resolve them; core classes take their dependencies as constructor arguments.
 */
import type { ServiceIdentifier } from 'inversify';
import type { CheckpointEngine } from './checkpoint/engine.ts';
import type { Hasher64 } from './hash.ts';
import type { ContentProbe, DiskSnapshotter, DomainControl, EventSource, GuestMemory } from './ports.ts';

export const TOKENS = {
  EventSource: Symbol.for('leanckpt.EventSource') as ServiceIdentifier<EventSource>,
  GuestMemory: Symbol.for('leanckpt.GuestMemory') as ServiceIdentifier<GuestMemory>,
  DiskSnapshotter: Symbol.for('leanckpt.DiskSnapshotter') as ServiceIdentifier<DiskSnapshotter>,
  DomainControl: Symbol.for('leanckpt.DomainControl') as ServiceIdentifier<DomainControl>,
  ContentProbe: Symbol.for('leanckpt.ContentProbe') as ServiceIdentifier<ContentProbe>,
  Hasher: Symbol.for('leanckpt.Hasher') as ServiceIdentifier<Hasher64>,
  CheckpointEngine: Symbol.for('leanckpt.CheckpointEngine') as ServiceIdentifier<CheckpointEngine>,
} as const;
