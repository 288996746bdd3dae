import { Op, type EventBatch } from './batch.ts';
import { BatchBuilder } from './builder.ts';

/**
 * Splits a batch so that every checkpoint barrier ends a batch: a backend must stop the guest exactly
 * there. Batches with no barrier, or one only at the end, are returned as they are (no copy).
 */
export function splitAtCheckpoints(batch: EventBatch): EventBatch[] {
  let inside = false;
  for (let i = 0; i < batch.length - 1; i++) if (batch.op[i] === Op.Checkpoint) inside = true;
  if (!inside) return [batch];
  const out: EventBatch[] = [];
  const b = new BatchBuilder();
  for (let i = 0; i < batch.length; i++) {
    b.copy(batch, i);
    if (batch.op[i] === Op.Checkpoint) out.push(b.build());
  }
  if (b.length > 0) out.push(b.build());
  return out;
}

export function endsInCheckpoint(batch: EventBatch): boolean {
  return batch.length > 0 && batch.op[batch.length - 1] === Op.Checkpoint;
}
