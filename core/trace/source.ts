/**
 * Bytes of a trace, chunk by chunk: from a file (read ahead one chunk while the caller parses the
 * last) or any async iterable of bytes such as a Readable. Gzip-compressed input is unpacked on the fly.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TraceError, describeError } from './errors.ts';

/** Bytes per file read. */
export const READ_CHUNK = 1 << 20;

async function* fileChunks(file: FileHandle, size: number): AsyncGenerator<Buffer> {
  const read = async (): Promise<Buffer> => {
    const buf = Buffer.allocUnsafe(size);
    const { bytesRead } = await file.read(buf, 0, size, null);
    return buf.subarray(0, bytesRead);
  };
  let next = read();
  for (;;) {
    const buf = await next;
    if (buf.length === 0) return;
    next = read();
    // A rejected read-ahead nobody awaits must not become an unhandled rejection.
    next.catch(() => undefined);
    yield buf;
  }
}

export class ByteSource {
  private readonly it: AsyncIterator<Uint8Array>;
  private back: Buffer | undefined;
  /** Bytes handed out so far (after gzip, the uncompressed bytes). */
  position = 0;
  private done = false;

  constructor(
    chunks: AsyncIterable<Uint8Array>,
    /** Names the input in messages. */
    readonly name: string,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.it = chunks[Symbol.asyncIterator]();
  }

  /** The next chunk, or undefined at the end. */
  async chunk(): Promise<Buffer | undefined> {
    if (this.back !== undefined) {
      const b = this.back;
      this.back = undefined;
      this.position += b.length;
      return b;
    }
    if (this.done) return undefined;
    let r: IteratorResult<Uint8Array>;
    try {
      r = await this.it.next();
    } catch (cause) {
      if (cause instanceof TraceError) throw cause;
      throw new TraceError(`cannot read trace ${this.name}: ${describeError(cause)}`, {}, { cause });
    }
    if (r.done) {
      this.done = true;
      return undefined;
    }
    const v: unknown = r.value;
    const b = Buffer.isBuffer(v)
      ? v
      : typeof v === 'string'
        ? Buffer.from(v, 'utf8')
        : v instanceof Uint8Array
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength)
          : undefined;
    if (b === undefined)
      throw new TraceError(`cannot read trace ${this.name}: the input yields neither bytes nor text`);
    this.position += b.length;
    return b;
  }

  /** Gives back the unused tail of the last chunk; the next `chunk()` returns it. */
  unshift(b: Buffer): void {
    if (b.length === 0) return;
    this.position -= b.length;
    this.back = this.back === undefined ? b : Buffer.concat([b, this.back]);
  }

  /** Exactly `n` bytes, or fewer only at the end of the input. */
  async read(n: number): Promise<Buffer> {
    const first = await this.chunk();
    if (first === undefined) return Buffer.alloc(0);
    if (first.length >= n) {
      this.unshift(first.subarray(n));
      return first.subarray(0, n);
    }
    const parts = [first];
    let have = first.length;
    while (have < n) {
      const c = await this.chunk();
      if (c === undefined) break;
      if (have + c.length > n) {
        this.unshift(c.subarray(n - have));
        parts.push(c.subarray(0, n - have));
        have = n;
      } else {
        parts.push(c);
        have += c.length;
      }
    }
    return Buffer.concat(parts, have);
  }

  /** The first `n` bytes (fewer if the input is shorter), left in place. */
  async peek(n: number): Promise<Buffer> {
    const b = await this.read(n);
    this.unshift(b);
    return b;
  }

  async close(): Promise<void> {
    this.done = true;
    await this.it.return?.().catch(() => undefined);
    await this.onClose();
  }
}

/** Opens `path` for streaming; a missing or unreadable file is a TraceError. */
export async function fileSource(path: string): Promise<ByteSource> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (cause) {
    throw new TraceError(`cannot open trace ${path}: ${describeError(cause)}`, {}, { cause });
  }
  return new ByteSource(fileChunks(file, READ_CHUNK), path, () => file.close().catch(() => undefined));
}

export const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** If `src` starts with the gzip magic, a source of its uncompressed bytes; else `src`. */
export async function gunzipIfNeeded(src: ByteSource): Promise<ByteSource> {
  const head = await src.peek(2);
  if (head[0] !== GZIP_MAGIC[0] || head[1] !== GZIP_MAGIC[1]) return src;
  const raw = Readable.from(
    (async function* () {
      for (let c = await src.chunk(); c !== undefined; c = await src.chunk()) yield c;
    })(),
    { objectMode: false },
  );
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  pipeline(raw, gunzip, () => undefined);
  const name = src.name;
  async function* unpacked(): AsyncGenerator<Buffer> {
    try {
      for await (const c of gunzip) yield c as Buffer;
    } catch (cause) {
      if (cause instanceof TraceError) throw cause;
      throw new TraceError(
        `cannot read trace ${name}: bad gzip data: ${describeError(cause)}`,
        {},
        { cause },
      );
    }
  }
  return new ByteSource(unpacked(), name, async () => {
    gunzip.destroy();
    await src.close();
  });
}
