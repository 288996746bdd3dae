/**
 * The 24-byte file header: magic[8] | major u16 | minor u16 | reserved u32 | checksum u64, the checksum
 * being XXH64 of bytes 0..15. Checked in the order magic, version, checksum, so a file that is not an
 * image at all, or one from an incompatible future, is reported as such rather than as corruption.
 */
import type { Hasher64 } from '../hash.ts';
import { ImageFormatError } from '../errors.ts';
import { FILE_HEADER_SIZE, FORMAT_VERSION, hex64, MAGIC } from './format.ts';

const NAME = 'header';

export interface FormatVersion {
  readonly major: number;
  readonly minor: number;
}

export function encodeFileHeader(hasher: Hasher64, version: FormatVersion = FORMAT_VERSION): Uint8Array {
  const bytes = new Uint8Array(FILE_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(8, version.major, true);
  view.setUint16(10, version.minor, true);
  view.setBigUint64(16, hasher.hash64(bytes.subarray(0, 16)), true);
  return bytes;
}

/** Validates the header at the start of `bytes` (which may be shorter than a header if the file is). */
export function decodeFileHeader(bytes: Uint8Array, hasher: Hasher64): FormatVersion {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new ImageFormatError('Not a leanckpt image: bad magic', NAME, 0);
  }
  if (bytes.length < FILE_HEADER_SIZE) {
    throw new ImageFormatError(
      `Image truncated in the file header: ${bytes.length} bytes, expected ${FILE_HEADER_SIZE}`,
      NAME,
      bytes.length,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_SIZE);
  const major = view.getUint16(8, true);
  const minor = view.getUint16(10, true);
  if (major !== FORMAT_VERSION.major) {
    throw new ImageFormatError(
      `Unsupported image version ${major}.${minor}: this build reads version ${FORMAT_VERSION.major}.x`,
      NAME,
      8,
    );
  }
  const stored = view.getBigUint64(16, true);
  const actual = hasher.hash64(bytes.subarray(0, 16));
  if (stored !== actual) {
    throw new ImageFormatError(
      `File header checksum mismatch (stored ${hex64(stored)}, computed ${hex64(actual)})`,
      NAME,
      16,
    );
  }
  return { major, minor };
}
