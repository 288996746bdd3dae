/**
 * Checkpoint image v1: constants shared by the writer, the reader and docs/image-format.md.
 * All integers are little-endian. Every record is framed as
 *   type u32 | length u32 | body (length bytes) | zero padding to REC_ALIGN | checksum u64
 * where the checksum is XXH64 (seed 0) of everything before it in the record, padding included, so every
 * byte of an image is covered by exactly one checksum.
 */

/**
 * The first 8 bytes of every image. PNG-style: a non-ASCII first byte and a CR LF pair make a 7-bit or
 * newline-converting transfer fail the magic check instead of producing a subtly different file.
 */
export const MAGIC: Uint8Array = Uint8Array.of(0x89, 0x4c, 0x43, 0x4b, 0x50, 0x54, 0x0d, 0x0a);

/** A reader accepts any minor version of its major: minors only add optional records. */
export const FORMAT_VERSION = { major: 1, minor: 0 } as const;

/** magic[8] | major u16 | minor u16 | reserved u32 | checksum u64 (XXH64 of bytes 0..15). */
export const FILE_HEADER_SIZE = 24;

/** Records start and end on 8-byte boundaries, so u64 fields and page data are naturally aligned. */
export const REC_ALIGN = 8;
export const REC_HEADER_SIZE = 8;
export const REC_CHECKSUM_SIZE = 8;
/** Framing around a body: header plus checksum (padding comes on top). */
export const REC_FRAME_SIZE = REC_HEADER_SIZE + REC_CHECKSUM_SIZE;
/**
 * Largest body a reader accepts. Bounds what a corrupt length field can make a reader allocate; the
 * largest record the writer produces is a full PAGE_DATA record of about 4 MiB.
 */
export const REC_LENGTH_MAX = 64 * 1024 * 1024;

/**
 * Record types. A type with the OPTIONAL bit set may be skipped by a reader that does not know it; an
 * unknown type without it makes the image unreadable (the data it carries would be lost otherwise).
 */
export const RecordType = {
  END: 0x0000_0000,
  GEOMETRY: 0x0000_0001,
  DISK: 0x0000_0002,
  STATE: 0x0000_0003,
  MAP: 0x0000_0004,
  ZERO: 0x0000_0005,
  PAGE_DATA: 0x0000_0006,
  OPTIONAL: 0x8000_0000,
} as const;
export type KnownRecordType = Exclude<
  (typeof RecordType)[keyof typeof RecordType],
  typeof RecordType.OPTIONAL
>;

/** Per-record limits; a reader rejects records beyond them. */
export const PAGE_DATA_MAX_PAGES = 1024;
export const MAP_MAX_ENTRIES = 65536;
export const ZERO_MAX_EXTENTS = 65536;
export const DISK_UUID_MAX = 1024;
/** pfns are u32 in every record. */
export const PAGE_COUNT_MAX = 2 ** 32;

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(RecordType)
    .filter(([name]) => name !== 'OPTIONAL')
    .map(([name, type]) => [type, name]),
);

/** "PAGE_DATA", or "UNKNOWN(0x00000099)" / "UNKNOWN(0x80000099, optional)" for types this build lacks. */
export function recordTypeName(type: number): string {
  const known = NAMES.get(type);
  if (known !== undefined) return known;
  const hex = `0x${(type >>> 0).toString(16).padStart(8, '0')}`;
  return isOptional(type) ? `UNKNOWN(${hex}, optional)` : `UNKNOWN(${hex})`;
}

export function isKnownRecordType(type: number): type is KnownRecordType {
  return NAMES.has(type);
}

export function isOptional(type: number): boolean {
  return (type & RecordType.OPTIONAL) !== 0;
}

export function align8(n: number): number {
  return Math.ceil(n / REC_ALIGN) * REC_ALIGN;
}

/** Bytes a record with a `length`-byte body takes in the file. */
export function framedSize(length: number): number {
  return REC_FRAME_SIZE + align8(length);
}

export function hex64(value: bigint): string {
  return `0x${value.toString(16).padStart(16, '0')}`;
}
