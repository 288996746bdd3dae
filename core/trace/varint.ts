/**
 * Variable-length integers for the binary trace format: LEB128 for non-negative values, and a signed
 * form whose first byte holds the sign in bit 0 (so small magnitudes of either sign take one byte).
 * Both are exact for every safe integer (|v| < 2^53).
 */
import { fault } from './errors.ts';

/** `buf` if it has room for `extra` bytes after its first `used`, else a doubled copy that does. */
export function withRoom<B extends Uint8Array>(
  buf: B,
  used: number,
  extra: number,
): B | Uint8Array<ArrayBuffer> {
  const need = used + extra;
  if (need <= buf.length) return buf;
  let size = buf.length * 2;
  while (size < need) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(buf.subarray(0, used));
  return bigger;
}

/** A growable byte buffer written front to back. */
export class ByteSink {
  buf: Uint8Array;
  n = 0;

  constructor(size = 1024) {
    this.buf = new Uint8Array(size);
  }

  reset(): void {
    this.n = 0;
  }

  ensure(extra: number): void {
    this.buf = withRoom(this.buf, this.n, extra);
  }

  u8(v: number): void {
    if (this.n >= this.buf.length) this.ensure(1);
    this.buf[this.n++] = v;
  }

  /** LEB128 of a non-negative safe integer. */
  uvar(v: number): void {
    if (this.n + 8 > this.buf.length) this.ensure(8);
    const buf = this.buf;
    let n = this.n;
    if (v < 0x80000000) {
      while (v >= 0x80) {
        buf[n++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v >= 0x80) {
        buf[n++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    buf[n++] = v;
    this.n = n;
  }

  /** Signed: first byte `continue | magnitude low 6 bits | sign`, then LEB128 of `magnitude >> 6`. */
  svar(v: number): void {
    if (this.n + 9 > this.buf.length) this.ensure(9);
    const neg = v < 0 ? 1 : 0;
    const mag = neg ? -v : v;
    if (mag < 64) {
      this.buf[this.n++] = (mag << 1) | neg;
      return;
    }
    this.buf[this.n++] = 0x80 | ((mag % 64) << 1) | neg;
    this.uvar(mag < 0x80000000 ? mag >>> 6 : Math.floor(mag / 64));
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

/** Reads what a ByteSink wrote; running past the end or a malformed varint is a Fault. */
export class ByteCursor {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
    /** Names the section in messages. */
    readonly section: string,
  ) {
    this.pos = start;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  private overrun(): never {
    fault(`corrupt payload: section ${this.section} ends early`);
  }

  u8(): number {
    if (this.pos >= this.end) this.overrun();
    return this.buf[this.pos++]!;
  }

  uvar(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) this.overrun();
    let b = buf[pos++]!;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let v = b & 0x7f;
    let scale = 128;
    for (let k = 1; ; k++) {
      if (pos >= this.end) this.overrun();
      b = buf[pos++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) break;
      if (k >= 7) fault(`corrupt payload: section ${this.section}: varint longer than 8 bytes`);
      scale *= 128;
    }
    if (v > Number.MAX_SAFE_INTEGER) fault(`corrupt payload: section ${this.section}: varint beyond 2^53`);
    this.pos = pos;
    return v;
  }

  svar(): number {
    if (this.pos >= this.end) this.overrun();
    const b = this.buf[this.pos++]!;
    const low = (b >> 1) & 63;
    const mag = b < 0x80 ? low : low + this.uvar() * 64;
    if (mag > Number.MAX_SAFE_INTEGER) fault(`corrupt payload: section ${this.section}: varint beyond 2^53`);
    return b & 1 ? -mag : mag;
  }

  bytes(k: number): Uint8Array {
    if (this.pos + k > this.end) this.overrun();
    const out = this.buf.subarray(this.pos, this.pos + k);
    this.pos += k;
    return out;
  }
}
