/** Option parsers and option groups shared by several commands. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { PRECISE, type Delivery } from '../core/checkpoint/delivery.ts';

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a whole number >= 1, got "${value}"`);
    }
    return n;
  };
}

/**
 * A log-dirty epoch length in ms; 0 turns log-dirty off (memory writes are then caught only by the
 * save's check of every page it leaves out, as on a hypervisor without log-dirty).
 */
export function logDirtyMs(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`--log-dirty-ms must be a whole number of ms (0: off), got "${value}"`);
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Parses "4G", "512M", "64k", "1073741824" into bytes; a whole number of 4 KiB pages. */
export function byteSize(name: string) {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
    const bytes = m ? Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 4096 || bytes % 4096 !== 0) {
      throw new InvalidArgumentError(
        `${name} must be a size like 1G, 512M or 65536 (a whole number of 4 KiB pages), got "${value}"`,
      );
    }
    return bytes;
  };
}

export interface DeliveryFlags {
  delivery: 'precise' | 'epoch';
  epoch: number;
  revalidate?: boolean;
}

/** --delivery, --epoch, --revalidate: how memory writes reach the tracker (docs/invalidation.md). */
export function addDeliveryOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--delivery <mode>', 'memory-write delivery to the tracker')
        .choices(['precise', 'epoch'])
        .default('precise'),
    )
    .option('--epoch <events>', 'events per epoch with --delivery epoch', positiveInt('--epoch'), 1024)
    .option(
      '--revalidate',
      "keep dirty-reported pages whose content hash still matches (--delivery epoch's, or a trace's own)",
    );
}

export function deliveryOf(f: DeliveryFlags): Delivery {
  if (f.delivery === 'epoch')
    return { kind: 'epoch', epochEvents: f.epoch, revalidate: f.revalidate === true };
  return f.revalidate === true ? { kind: 'precise', revalidate: true } : PRECISE;
}

export interface ReadSemanticsFlags {
  /** Set by --reads-land-at-completion / --no-reads-land-at-completion; undefined: the trace says. */
  readsLandAtCompletion?: boolean;
}

/**
 * --reads-land-at-completion / --no-reads-land-at-completion: how a replay reads a `dirty` record on
 * the page of a read in flight (docs/trace-format.md, "Replay semantics"), overriding the trace.
 */
export function addReadSemanticsOptions(cmd: Command): Command {
  return cmd
    .option(
      '--reads-land-at-completion',
      "a read's data lands at its completion: a dirty record while it flies is a write before the copy " +
        "(default: the trace header's meta says so, as the Xen backend's recordings do)",
    )
    .option(
      '--no-reads-land-at-completion',
      'a dirty record on the page of a read in flight may be a write during the flight: its segment is torn',
    );
}
