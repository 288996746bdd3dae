/** Trace files: JSON Lines and binary, streaming readers and atomic writers (docs/trace-format.md). */
export { DEFAULT_BATCH_SIZE, type TraceBatch } from './batch.ts';
export { BINARY_MAGIC } from './binary.ts';
export { TraceError, type TraceLocation } from './errors.ts';
export { makeHeader, traceGeometry, TRACE_FORMAT, TRACE_VERSION, type TraceHeader } from './header.ts';
export {
  openTrace,
  readTrace,
  type ReadOptions,
  type ReadTotals,
  type Trace,
  type TraceFormat,
} from './reader.ts';
export {
  convertTrace,
  traceStats,
  validateTrace,
  type ConvertResult,
  type TraceStats,
  type ValidateResult,
} from './tools.ts';
export {
  BINARY_EXTENSION,
  formatForPath,
  TraceWriter,
  type WriteOptions,
  type WriteResult,
} from './writer.ts';
