/** Recording a tracked domain's real event stream as a trace (format v1), for the simulator and experiments. */
import { makeHeader } from '../../../core/trace/header.ts';
import { TraceWriter, type WriteResult } from '../../../core/trace/writer.ts';
import type { TrackingSession } from './session.ts';

export class TraceRecorder {
  private constructor(
    private readonly session: TrackingSession,
    private readonly writer: TraceWriter,
  ) {}

  static async start(session: TrackingSession, path: string): Promise<TraceRecorder> {
    const st = session.status();
    const header = makeHeader(
      st.pages,
      st.disks.map((d) => ({ id: d.id, sectors: d.sectors })),
      {
        source: 'xen',
        // The backend grant-copies a read's data in the same turn as its completion event, so no
        // log-dirty CLEAN falls between them: a replay keeps a read whose page an epoch reported dirty
        // while it flew (docs/trace-format.md, "Replay semantics").
        readsLandAtCompletion: true,
        domid: st.domid,
        guest: st.kind,
        disks: st.disks.map((d) => d.vdev),
        delivery:
          st.logDirty.state === 'active' ? `log-dirty every ${st.logDirty.intervalMs} ms` : 'disk only',
        recordedAt: new Date().toISOString(),
      },
    );
    const writer = await TraceWriter.create(path, header);
    await session.startRecording((b) => writer.write(b));
    return new TraceRecorder(session, writer);
  }

  async stop(): Promise<WriteResult> {
    await this.session.stopRecording();
    return this.writer.close();
  }
}
