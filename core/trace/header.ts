/**
 * The trace header: the first line of a JSON Lines trace (docs/trace-format.md), and the first record
 * of a binary one. It fixes the guest geometry every later event is checked against.
 */
import type { GuestGeometry } from '../ports.ts';

export const TRACE_FORMAT = 'leanckpt-trace';
export const TRACE_VERSION = 1;

export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  readonly version: typeof TRACE_VERSION;
  readonly pageSize: 4096;
  readonly sectorSize: 512;
  /** Guest pages. */
  readonly pages: number;
  readonly disks: readonly { readonly id: number; readonly sectors: number }[];
  /** Free-form provenance: simulator parameters, seed, source of a recorded trace. */
  readonly meta: Readonly<Record<string, unknown>>;
}

export function traceGeometry(h: TraceHeader): GuestGeometry {
  return { pageCount: h.pages, disks: h.disks };
}

export function makeHeader(
  pages: number,
  disks: TraceHeader['disks'],
  meta: TraceHeader['meta'] = {},
): TraceHeader {
  return {
    format: TRACE_FORMAT,
    version: TRACE_VERSION,
    pageSize: 4096,
    sectorSize: 512,
    pages,
    disks,
    meta,
  };
}
