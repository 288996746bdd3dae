/**
 * writeImage: plans the MAP, then streams header, GEOMETRY, DISK, STATE, MAP, ZERO/PAGE_DATA and END
 * into a temporary file that replaces `path` only once complete and synced.
 */
import { PAGE_SIZE, SECTOR_SIZE } from '../ports.ts';
import { writeFileAtomically } from './atomic-file.ts';
import { encodeFileHeader } from './file-header.ts';
import { DISK_UUID_MAX, MAP_MAX_ENTRIES, REC_FRAME_SIZE, RecordType } from './format.ts';
import { writePages } from './page-scan.ts';
import { checkInput, planMap, type MapPlan } from './planner.ts';
import { encodeDisk } from './records/disk.ts';
import { encodeEnd } from './records/end.ts';
import { encodeGeometry } from './records/geometry.ts';
import { encodeMapEntry, encodeMapHeader, mapLength } from './records/map.ts';
import { encodeState } from './records/state.ts';
import { RecordSink, SINK_BUFFER_SIZE } from './sink.ts';
import type { ImageInput, ImagePolicy, ImageStats } from './types.ts';

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

/**
 * The sink's buffer size: SINK_BUFFER_SIZE, or less for a guest whose whole image is smaller. The bound
 * is generous per page (a data page takes 4096 + 4 bytes plus its share of record framing) and is only
 * used for buffer sizing; a record that does not fit the buffer would be written around it.
 */
function sinkCapacity(input: ImageInput, plan: MapPlan): number {
  const bound =
    64 * 1024 +
    4200 * input.memory.pageCount +
    48 * plan.mapped +
    input.state.length +
    (REC_FRAME_SIZE + 16 + DISK_UUID_MAX) * input.disks.length;
  return Math.min(SINK_BUFFER_SIZE, bound);
}

export async function writeImage(path: string, input: ImageInput, policy: ImagePolicy): Promise<ImageStats> {
  const started = performance.now();
  const written = await writeFileAtomically(path, async (file) => {
    checkInput(input);
    const plan = await planMap(input, policy);
    const sink = new RecordSink(file, input.hasher, sinkCapacity(input, plan));
    try {
      const pageCount = input.memory.pageCount;
      await sink.putBytes(encodeFileHeader(input.hasher));
      await sink.putRecord(
        RecordType.GEOMETRY,
        encodeGeometry({ pageSize: PAGE_SIZE, sectorSize: SECTOR_SIZE, pageCount }),
      );
      for (const disk of input.disks) await sink.putRecord(RecordType.DISK, encodeDisk(disk));
      await sink.putRecord(RecordType.STATE, encodeState(input.state));
      await writeMap(sink, input, plan);
      const counts = await writePages(sink, input.memory, policy.elideZero, plan.skip);
      await sink.putRecord(RecordType.END, encodeEnd({ pagesMapped: plan.mapped, ...counts }));
      const bytes = await sink.finish();
      return { bytes, pagesMapped: plan.mapped, ...counts, pagesDemoted: plan.demoted };
    } finally {
      // A write may still be in flight when something failed; let it end before the file is closed.
      await sink.settle();
    }
  });
  return { path, ...written, seconds: (performance.now() - started) / 1000 };
}
