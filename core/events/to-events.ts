/** Turns a columnar batch back into plain event objects: for traces, tests and debugging. */
import { IoDir, Op, dirName, type EventBatch, type GuestEvent, type Segment } from './batch.ts';

export function batchEvents(batch: EventBatch): GuestEvent[] {
  const out: GuestEvent[] = [];
  for (let i = 0; i < batch.length; i++) out.push(eventAt(batch, i));
  return out;
}

export function eventAt(b: EventBatch, i: number): GuestEvent {
  const from = b.argStart[i]!;
  const to = b.argStart[i + 1]!;
  const pfns = Array.from(b.pfn.subarray(from, to));
  switch (b.op[i]) {
    case Op.Submit: {
      const dir = b.dir[i]!;
      const base = { op: 'submit', id: b.id[i]!, disk: b.disk[i]!, sector: b.sector[i]! } as const;
      if (dir === IoDir.Discard) return { ...base, dir: 'discard', count: b.count[i]! };
      const segs: Segment[] = pfns.map((pfn, k) => [pfn, b.first[from + k]!, b.last[from + k]!]);
      return { ...base, dir: dirName(dir) as 'read' | 'write', segs };
    }
    case Op.Complete:
      return { op: 'complete', id: b.id[i]!, ok: b.dir[i] === 1 };
    case Op.MemWrite:
      return { op: 'mem_write', pfns };
    case Op.Release:
      return { op: 'release', pfns };
    case Op.Dirty:
      return { op: 'dirty', pfns };
    case Op.Checkpoint:
      return { op: 'checkpoint', name: b.labels.get(i) ?? '' };
    default:
      throw new RangeError(`event ${i}: unknown op ${b.op[i]}`);
  }
}
