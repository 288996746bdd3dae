/**
 * The three layers of an `xl save` file, as Xen 4.17 writes them (constants copied from
 * tools/xl/xl.h, tools/libs/light/libxl_sr_stream_format.h and tools/libs/guest/xg_sr_stream_format.h):
 *   xl header (48 B) | optional data (u32 config_len, JSON config incl. its NUL)
 *   libxl header (16 B, big-endian) | libxl records ... where LIBXC_CONTEXT (length 0) is followed inline
 *   by the libxc stream: image header (24 B, big-endian) | domain header (16 B) | libxc records ...
 * Records of both record layers are `u32 type | u32 length | body | zero padding to 8`, little-endian.
 * docs/xen-stream.md describes the layout and the checks the parser makes.
 */

/** "Xen saved domain, xl format\n \0 \r": exactly 32 bytes, the NUL included. */
export const XL_MAGIC: Uint8Array = new TextEncoder().encode('Xen saved domain, xl format\n \0 \r');
export const XL_HEADER_SIZE = 48;
export const XL_BYTEORDER = 0x01020304;
export const XL_FLAG_JSON = 1 << 0;
export const XL_FLAG_STREAM_V2 = 1 << 1;

export const LIBXL_IDENT = 0x4c6962786c466d74n; // "LibxlFmt"
export const LIBXL_VERSION = 2;
export const LIBXL_HEADER_SIZE = 16;
export const LIBXL_OPT_BIG_ENDIAN = 1 << 0;

export const LibxlRec = {
  END: 0,
  LIBXC_CONTEXT: 1,
  EMULATOR_XENSTORE_DATA: 2,
  EMULATOR_CONTEXT: 3,
  CHECKPOINT_END: 4,
  CHECKPOINT_STATE: 5,
} as const;

export const LIBXC_MARKER = 0xffffffffffffffffn;
export const LIBXC_ID = 0x58454e46; // "XENF"
export const LIBXC_IHDR_SIZE = 24;
export const LIBXC_DHDR_SIZE = 16;
export const LIBXC_OPT_BIG_ENDIAN = 1 << 0;

export const DomainType = { X86_PV: 1, X86_HVM: 2 } as const;

export const LibxcRec = {
  END: 0x00,
  PAGE_DATA: 0x01,
  X86_PV_INFO: 0x02,
  X86_PV_P2M_FRAMES: 0x03,
  X86_PV_VCPU_BASIC: 0x04,
  X86_PV_VCPU_EXTENDED: 0x05,
  X86_PV_VCPU_XSAVE: 0x06,
  SHARED_INFO: 0x07,
  X86_TSC_INFO: 0x08,
  HVM_CONTEXT: 0x09,
  HVM_PARAMS: 0x0a,
  TOOLSTACK: 0x0b,
  X86_PV_VCPU_MSRS: 0x0c,
  VERIFY: 0x0d,
  CHECKPOINT: 0x0e,
  CHECKPOINT_DIRTY_PFN_LIST: 0x0f,
  STATIC_DATA_END: 0x10,
  X86_CPUID_POLICY: 0x11,
  X86_MSR_POLICY: 0x12,
} as const;

export const REC_HEADER_SIZE = 8;
export const REC_TYPE_OPTIONAL = 0x8000_0000;
/** libxc's restore rejects longer records; so does the parser, which bounds what it buffers. */
export const REC_LENGTH_MAX = 128 * 1024 * 1024;
export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** PAGE_DATA pfn words: the page type in bits 63-60, the pfn in bits 51-0. */
export const PFN_BITS = 52;
/** Types (bits 63-60) whose pages carry no data in the record: BROKEN, XALLOC, XTAB. */
export const PageType = { NOTAB: 0x0, BROKEN: 0xd, XALLOC: 0xe, XTAB: 0xf } as const;

/** Page types libxc's restore knows: NOTAB, L1-L4TAB, L1-L4TAB pinned, BROKEN, XALLOC, XTAB. */
export function isKnownPageType(type: number): boolean {
  return type <= 4 || (type >= 9 && type <= 0xf);
}

export function pageTypeHasData(type: number): boolean {
  return type < PageType.BROKEN;
}

export const align8 = (n: number): number => (n + 7) & ~7;

const nameTable = (table: Record<string, number>): ReadonlyMap<number, string> =>
  new Map(Object.entries(table).map(([name, type]) => [type, name]));
const LIBXL_NAMES = nameTable(LibxlRec);
const LIBXC_NAMES = nameTable(LibxcRec);

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

/** "PAGE_DATA", or "UNKNOWN(0x00000099)". */
export function libxcRecordName(type: number): string {
  return LIBXC_NAMES.get(type) ?? `UNKNOWN(${hex32(type)})`;
}

export function libxlRecordName(type: number): string {
  return LIBXL_NAMES.get(type) ?? `UNKNOWN(${hex32(type)})`;
}
