/**
 * writeImage: header, GEOMETRY, DISK, STATE, MAP, ZERO/PAGE_DATA and END into a temporary file that
 * replaces `path` only once complete and synced. With a map, the pages are written while the MAP is
 * still being verified (writeOverlapped); the bytes are the same as writing everything in order.
 */
import { PAGE_SIZE, SECTOR_SIZE } from '../ports.ts';
import { writeFileAtomically } from './atomic-file.ts';
import { encodeFileHeader } from './file-header.ts';
import { DISK_UUID_MAX, framedSize, MAP_MAX_ENTRIES, REC_FRAME_SIZE, RecordType } from './format.ts';
import { writePages } from './page-scan.ts';
import { checkInput, MapVerifier, planMap, type MapPlan } from './planner.ts';
import { encodeDisk } from './records/disk.ts';
import { encodeEnd } from './records/end.ts';
import { encodeGeometry } from './records/geometry.ts';
import { encodeMapEntry, encodeMapHeader, mapLength } from './records/map.ts';
import { encodeState } from './records/state.ts';
import { RecordSink, SINK_BUFFER_SIZE } from './sink.ts';
import type { ImageInput, ImagePolicy, ImageStats } from './types.ts';
import type { FileHandle } from 'node:fs/promises';

/** MAP records of up to MAP_MAX_ENTRIES kept entries each, in snapshot (disk, sector, pfn) order. */
async function writeMap(sink: RecordSink, input: ImageInput, plan: MapPlan): Promise<void> {
  const { mapping } = input;
  let i = 0;
  for (let left = plan.mapped; left > 0;) {
    const count = Math.min(MAP_MAX_ENTRIES, left);
    const body = await sink.reserve(mapLength(count));
    const view = sink.view;
    for (let k = 0; k < count; i++) {
      if (plan.keep[i] === 1) {
        encodeMapEntry(view, body, k++, mapping.pfn[i]!, mapping.disk[i]!, mapping.sector[i]!, plan.hash[i]!);
      }
    }
    encodeMapHeader(view, body, count);
    sink.commit(RecordType.MAP, mapLength(count));
    left -= count;
  }
}

/** Bytes the MAP records of `entries` entries take. */
function mapBytes(entries: number): number {
  let bytes = 0;
  for (let left = entries; left > 0; left -= MAP_MAX_ENTRIES) {
    bytes += framedSize(mapLength(Math.min(MAP_MAX_ENTRIES, left)));
  }
  return bytes;
}

/**
 * The sink's buffer size: SINK_BUFFER_SIZE, or less for a guest whose whole image is smaller. The bound
 * is generous per page (a data page takes 4096 + 4 bytes plus its share of record framing) and is only
 * used for buffer sizing; a record that does not fit the buffer would be written around it.
 */
function sinkCapacity(input: ImageInput, mapped: number): number {
  const bound =
    64 * 1024 +
    4200 * input.memory.pageCount +
    48 * mapped +
    input.state.length +
    (REC_FRAME_SIZE + 16 + DISK_UUID_MAX) * input.disks.length;
  return Math.min(SINK_BUFFER_SIZE, bound);
}

/** Header, GEOMETRY, DISK and STATE: everything before MAP. */
async function writePrologue(sink: RecordSink, input: ImageInput): Promise<void> {
  await sink.putBytes(encodeFileHeader(input.hasher));
  const geometry = { pageSize: PAGE_SIZE, sectorSize: SECTOR_SIZE, pageCount: input.memory.pageCount };
  await sink.putRecord(RecordType.GEOMETRY, encodeGeometry(geometry));
  for (const disk of input.disks) await sink.putRecord(RecordType.DISK, encodeDisk(disk));
  await sink.putRecord(RecordType.STATE, encodeState(input.state));
}

/** The whole image in file order, from a finished plan. */
async function writeInOrder(file: FileHandle, input: ImageInput, policy: ImagePolicy, plan: MapPlan) {
  const sink = new RecordSink(file, input.hasher, { capacity: sinkCapacity(input, plan.mapped) });
  try {
    await writePrologue(sink, input);
    await writeMap(sink, input, plan);
    const counts = await writePages(sink, input.memory, policy.elideZero, plan.skip);
    await sink.putRecord(RecordType.END, encodeEnd({ pagesMapped: plan.mapped, ...counts }));
    return { bytes: await sink.finish(), pagesMapped: plan.mapped, ...counts, pagesDemoted: plan.demoted };
  } finally {
    // A write may still be in flight when something failed; let it end before the file is closed.
    await sink.settle();
  }
}

/** Moves file bytes [from, end) down to `to` (< from), in sink-sized chunks. */
async function moveDown(file: FileHandle, from: number, end: number, to: number): Promise<void> {
  const chunk = Buffer.allocUnsafe(Math.min(SINK_BUFFER_SIZE, end - from));
  for (let at = from; at < end;) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(chunk.length, end - at), at);
    if (bytesRead === 0) throw new Error(`image ended at ${at} while moving its records`);
    for (let done = 0; done < bytesRead;) {
      done += (await file.write(chunk, done, bytesRead - done, to + (at - from) + done)).bytesWritten;
    }
    at += bytesRead;
  }
}

/**
 * Faster than planning first: assuming every entry is kept, the pages are written first behind a
 * zeroed gap of exactly the MAP's size while the entries are hashed and verified alongside (the
 * verifier waits on disk reads, the page output on writes); the MAP then fills the gap. The pages are
 * flushed to storage while the last entries are verified. If an entry was demoted (the tracker missed
 * an invalidation: rare), the pages written move down to close the unused end of the gap, and the
 * demoted pages follow them (ZERO and PAGE_DATA records may come in any order).
 */
async function writeOverlapped(file: FileHandle, input: ImageInput, policy: ImagePolicy) {
  const verifier = new MapVerifier(input, policy);
  const entries = verifier.candidates.length;
  const capacity = sinkCapacity(input, entries);
  const sink = new RecordSink(file, input.hasher, { capacity });
  let tail = sink;
  let flushing: Promise<unknown> = Promise.resolve();
  try {
    const verifying = verifier.finish();
    // Awaited below; until then a failure must not count as unhandled.
    verifying.catch(() => undefined);
    await writePrologue(sink, input);
    const mapAt = sink.position;
    await sink.putZeros(mapBytes(entries));
    const counts = await writePages(sink, input.memory, policy.elideZero, verifier.candidates);
    const dataEnd = await sink.finish();
    flushing = file.datasync();
    const plan = await verifying;
    if (plan.demoted > 0) {
      const shift = mapBytes(entries) - mapBytes(plan.mapped);
      await moveDown(file, mapAt + mapBytes(entries), dataEnd, mapAt + mapBytes(plan.mapped));
      tail = new RecordSink(file, input.hasher, { capacity, at: dataEnd - shift });
      const demoted = new Uint32Array(plan.demoted);
      for (let i = 0, k = 0; i < entries; i++) if (plan.keep[i] === 0) demoted[k++] = input.mapping.pfn[i]!;
      const more = await writePages(tail, input.memory, policy.elideZero, new Uint32Array(0), demoted.sort());
      counts.pagesData += more.pagesData;
      counts.pagesZero += more.pagesZero;
      counts.zeroExtents += more.zeroExtents;
    }
    await tail.putRecord(RecordType.END, encodeEnd({ pagesMapped: plan.mapped, ...counts }));
    const bytes = await tail.finish();
    if (plan.demoted > 0) await file.truncate(bytes);
    const map = new RecordSink(file, input.hasher, { capacity, at: mapAt });
    await writeMap(map, input, plan);
    await map.finish();
    await flushing;
    return { bytes, pagesMapped: plan.mapped, ...counts, pagesDemoted: plan.demoted };
  } finally {
    await sink.settle();
    await tail.settle();
    await verifier.abandon();
    await flushing.catch(() => undefined);
  }
}

export async function writeImage(path: string, input: ImageInput, policy: ImagePolicy): Promise<ImageStats> {
  const started = performance.now();
  const written = await writeFileAtomically(path, async (file) => {
    checkInput(input);
    if (policy.useMap && input.mapping.length > 0) return writeOverlapped(file, input, policy);
    return writeInOrder(file, input, policy, await planMap(input, policy));
  });
  return { path, ...written, seconds: (performance.now() - started) / 1000 };
}
