/**
 * Errors of the trace formats (docs/trace-format.md). Every malformed input gives a TraceError whose
 * message says where: `line N: ...` for JSON Lines, `chunk K at byte X: ...` for the binary format.
 */

/** Where in a trace a fault was found. */
export interface TraceLocation {
  /** 1-based line of a JSON Lines trace (the header is line 1). */
  readonly line?: number;
  /** 0-based chunk of a binary trace. */
  readonly chunk?: number;
  /** Byte offset of the chunk (binary) or of the fault. */
  readonly offset?: number;
  /** 1-based record of a binary trace: record R corresponds to line R + 1 of the same trace in JSON Lines. */
  readonly record?: number;
  /** 1-based event handed to a TraceWriter. */
  readonly event?: number;
}

/** A trace that cannot be read or written: malformed, inconsistent with its header, or unreadable. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  readonly line: number | undefined;
  readonly chunk: number | undefined;
  readonly offset: number | undefined;
  readonly record: number | undefined;
  readonly event: number | undefined;

  constructor(message: string, where: TraceLocation = {}, options?: ErrorOptions) {
    super(message, options);
    this.line = where.line;
    this.chunk = where.chunk;
    this.offset = where.offset;
    this.record = where.record;
    this.event = where.event;
  }
}

/**
 * What is wrong, without the where: thrown by the shared checks and turned into a TraceError by the
 * reader or writer that knows the line, chunk or event. Never escapes this directory.
 */
export class Fault extends Error {
  override readonly name = 'Fault';
}

export function fault(message: string): never {
  throw new Fault(message);
}

export function describeError(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
