/**
 * Progress on stderr for long runs, shown only when stdout is a terminal (so pipes and --json output
 * stay clean): a bar when the total is known, a running count when it is not.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, info?: string): void;
  stop(): void;
}

const SILENT: Progress = { update() {}, stop() {} };

export function progressBar(label: string, total: number | undefined, enabled: boolean): Progress {
  if (!enabled || !process.stdout.isTTY || !process.stderr.isTTY) return SILENT;
  const known = total !== undefined && total > 0;
  const bar = new cliProgress.SingleBar(
    {
      format: known
        ? `${label} [{bar}] {percentage}% | ETA {eta_formatted} | {info}`
        : `${label} | {duration_formatted} | {info}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(known ? total : 1, 0, { info: '' });
  return {
    update: (done, info = '') => bar.update(known ? Math.min(done, total) : 0, { info }),
    stop: () => bar.stop(),
  };
}
