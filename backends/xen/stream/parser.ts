/**
 * Streaming parser of `xl save` files (xl header, libxl stream v2, libxc stream v2/v3, PV and HVM).
 * It yields the stream as it goes: `bytes` events for everything that must be kept verbatim (headers,
 * records, PAGE_DATA headers and pfn arrays) and one `pages` event per PAGE_DATA record for its page
 * payloads. Concatenating the bytes and page data of all events gives back the input exactly.
 *
 * Checks follow the restore side (xg_sr_restore.c, libxl_stream_read.c, xl_vmcontrol.c): magic,
 * versions, endianness, record lengths, mandatory unknown records, record order, and PAGE_DATA's
 * exact-length rule, so a stream the parser accepts is one Xen would start restoring.
 */
import { ByteSource } from './byte-source.ts';
import type { StreamSource } from './file-source.ts';
import { StreamFormatError } from './errors.ts';
import {
  align8,
  DomainType,
  isKnownPageType,
  LIBXC_DHDR_SIZE,
  LIBXC_ID,
  LIBXC_IHDR_SIZE,
  LIBXC_MARKER,
  LIBXC_OPT_BIG_ENDIAN,
  LibxcRec,
  libxcRecordName,
  LIBXL_HEADER_SIZE,
  LIBXL_IDENT,
  LIBXL_OPT_BIG_ENDIAN,
  LIBXL_VERSION,
  LibxlRec,
  libxlRecordName,
  PAGE_SHIFT,
  PAGE_SIZE,
  pageTypeHasData,
  PFN_BITS,
  REC_HEADER_SIZE,
  REC_LENGTH_MAX,
  REC_TYPE_OPTIONAL,
  XL_BYTEORDER,
  XL_FLAG_JSON,
  XL_FLAG_STREAM_V2,
  XL_HEADER_SIZE,
  XL_MAGIC,
} from './format.ts';

/** The payloads of one PAGE_DATA record: the pages that carry data, in stream order. */
export interface PageBatch {
  /** Stream offset of the first payload byte. */
  readonly offset: number;
  /** Pages with data in this record. */
  readonly count: number;
  /** pfn of each page (below 2^52). */
  readonly pfns: Float64Array;
  /** Page type of each page (XEN_DOMCTL_PFINFO_* >> 28; 0 is an ordinary page). */
  readonly types: Uint8Array;
  /** count * 4096 bytes; valid until the parser is resumed. */
  readonly data: Uint8Array;
}

export type StreamEvent =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'pages'; readonly batch: PageBatch };

export interface RecordTally {
  count: number;
  bytes: number;
}

/** What the parser learnt; complete once the event stream has ended. */
export interface StreamSummary {
  guestType: 'pv' | 'hvm' | undefined;
  xenVersion: string | undefined;
  /** The xl JSON config (without its trailing NUL), or undefined for a stream without one. */
  config: string | undefined;
  libxcVersion: number | undefined;
  /** Records per layer and name, e.g. "libxc PAGE_DATA". */
  records: Map<string, RecordTally>;
  /** PAGE_DATA pfn entries, and those carrying 4 KiB of data. */
  pageEntries: number;
  pagesWithData: number;
  bytes: number;
}

/** Bodies longer than this are passed through in pieces, so an EMULATOR_CONTEXT never sits in memory whole. */
const PASS_CHUNK = 1 << 20;
/** An xl config larger than this is certainly not one: it bounds what a corrupt length makes us buffer. */
export const XL_CONFIG_MAX = 16 << 20;

const PV_ONLY = new Set<number>([
  LibxcRec.X86_PV_INFO,
  LibxcRec.X86_PV_P2M_FRAMES,
  LibxcRec.X86_PV_VCPU_BASIC,
  LibxcRec.X86_PV_VCPU_EXTENDED,
  LibxcRec.X86_PV_VCPU_XSAVE,
  LibxcRec.SHARED_INFO,
  LibxcRec.X86_PV_VCPU_MSRS,
]);
const HVM_ONLY = new Set<number>([LibxcRec.HVM_CONTEXT, LibxcRec.HVM_PARAMS]);
/** Records whose body has one fixed length (the rest are variable or checked below). */
const FIXED_LENGTH = new Map<number, number>([
  [LibxcRec.END, 0],
  [LibxcRec.X86_PV_INFO, 8],
  [LibxcRec.SHARED_INFO, PAGE_SIZE],
  [LibxcRec.X86_TSC_INFO, 24],
  [LibxcRec.VERIFY, 0],
  [LibxcRec.CHECKPOINT, 0],
  [LibxcRec.STATIC_DATA_END, 0],
]);

export class SaveStreamParser {
  readonly summary: StreamSummary = {
    guestType: undefined,
    xenVersion: undefined,
    config: undefined,
    libxcVersion: undefined,
    records: new Map(),
    pageEntries: 0,
    pagesWithData: 0,
    bytes: 0,
  };
  private readonly src: StreamSource;
  private seenStaticDataEnd = false;
  private pfnScratch = new Float64Array(1024);
  private typeScratch = new Uint8Array(1024);
  private seenPvInfo = false;
  /** PV: last pfn covered by X86_PV_P2M_FRAMES; PAGE_DATA pfns must not exceed it. */
  private pvMaxPfn = -1;

  /** From any byte stream, or from a source that reads a file as it grows (see file-source.ts). */
  constructor(input: AsyncIterable<Uint8Array> | StreamSource) {
    this.src = Symbol.asyncIterator in input ? new ByteSource(input) : input;
  }

  async *events(): AsyncGenerator<StreamEvent> {
    yield* this.xlHeader();
    yield* this.libxlStream();
    if (!(await this.src.atEnd())) {
      throw this.error('stream', this.src.offset, 'Bytes after the libxl END record');
    }
    this.summary.bytes = this.src.offset;
  }

  private error(record: string, offset: number, message: string): StreamFormatError {
    return new StreamFormatError(`${message} (${record} at stream offset ${offset})`, record, offset);
  }

  private tally(key: string, bytes: number): void {
    const t = this.summary.records.get(key);
    if (t) {
      t.count++;
      t.bytes += bytes;
    } else this.summary.records.set(key, { count: 1, bytes });
  }

  private async *xlHeader(): AsyncGenerator<StreamEvent> {
    const at = this.src.offset;
    const head = await this.src.read(XL_HEADER_SIZE, 'xl header');
    for (let i = 0; i < XL_MAGIC.length; i++) {
      if (head[i] !== XL_MAGIC[i]) throw this.error('xl header', at, 'Not an xl save file: bad magic');
    }
    const v = view(head);
    if (v.getUint32(32, true) !== XL_BYTEORDER) {
      throw this.error('xl header', at + 32, 'xl save file from a host of another byte order');
    }
    const mandatory = v.getUint32(36, true);
    if ((mandatory & ~(XL_FLAG_JSON | XL_FLAG_STREAM_V2)) !== 0) {
      throw this.error('xl header', at + 36, `Unknown mandatory xl flags 0x${mandatory.toString(16)}`);
    }
    if ((mandatory & XL_FLAG_STREAM_V2) === 0) {
      throw this.error(
        'xl header',
        at + 36,
        'Legacy (pre-v2) save stream: only migration stream v2 is supported',
      );
    }
    const optional = v.getUint32(40, true);
    if (optional !== 0)
      throw this.error('xl header', at + 40, `Unknown optional xl flags 0x${optional.toString(16)}`);
    const optLen = v.getUint32(44, true);
    yield { kind: 'bytes', bytes: head };
    this.tally('xl header', XL_HEADER_SIZE);
    if (optLen === 0) return;
    if (optLen > XL_CONFIG_MAX + 4) {
      throw this.error(
        'xl header',
        at + 44,
        `xl optional data of ${optLen} bytes exceeds ${XL_CONFIG_MAX + 4}`,
      );
    }
    const opt = await this.src.read(optLen, 'xl config');
    if (mandatory & XL_FLAG_JSON) {
      const configLen = optLen >= 4 ? view(opt).getUint32(0, true) : -1;
      if (configLen < 0 || 4 + configLen > optLen) {
        throw this.error(
          'xl config',
          at + XL_HEADER_SIZE,
          `xl config length ${configLen} does not fit ${optLen} bytes`,
        );
      }
      const text = opt.subarray(4, 4 + configLen);
      const end = text.length > 0 && text[text.length - 1] === 0 ? text.length - 1 : text.length;
      this.summary.config = new TextDecoder().decode(text.subarray(0, end));
    }
    yield { kind: 'bytes', bytes: opt };
    this.tally('xl config', optLen);
  }

  private async *libxlStream(): AsyncGenerator<StreamEvent> {
    const at = this.src.offset;
    const head = await this.src.read(LIBXL_HEADER_SIZE, 'libxl header');
    const v = view(head);
    const ident = v.getBigUint64(0, false);
    if (ident !== LIBXL_IDENT) {
      throw this.error(
        'libxl header',
        at,
        `Bad libxl stream ident 0x${ident.toString(16)}, expected "LibxlFmt"`,
      );
    }
    const version = v.getUint32(8, false);
    if (version !== LIBXL_VERSION) {
      throw this.error(
        'libxl header',
        at + 8,
        `libxl stream version ${version}, this build reads ${LIBXL_VERSION}`,
      );
    }
    if (v.getUint32(12, false) & LIBXL_OPT_BIG_ENDIAN) {
      throw this.error(
        'libxl header',
        at + 12,
        'Big-endian libxl stream: only little-endian (x86) streams are supported',
      );
    }
    yield { kind: 'bytes', bytes: head };
    this.tally('libxl header', LIBXL_HEADER_SIZE);
    let libxcStarted = false;
    let inCheckpoint = false;
    for (;;) {
      const recAt = this.src.offset;
      const hdr = await this.src.read(REC_HEADER_SIZE, 'libxl record header');
      const type = view(hdr).getUint32(0, true);
      const length = view(hdr).getUint32(4, true);
      const name = libxlRecordName(type);
      if (length > REC_LENGTH_MAX) {
        throw this.error(
          `libxl ${name}`,
          recAt,
          `libxl ${name} record length ${length} exceeds ${REC_LENGTH_MAX}`,
        );
      }
      const known = name.startsWith('UNKNOWN') === false;
      if (!known && (type & REC_TYPE_OPTIONAL) === 0) {
        throw this.error(name, recAt, `Unknown mandatory libxl record type ${name}`);
      }
      yield { kind: 'bytes', bytes: hdr };
      yield* this.passThrough(align8(length), `libxl ${name} record`);
      this.tally(`libxl ${name}`, REC_HEADER_SIZE + align8(length));
      if (type === LibxlRec.END) return;
      if (type === LibxlRec.LIBXC_CONTEXT) {
        if (length !== 0)
          throw this.error(name, recAt, `libxl LIBXC_CONTEXT record length ${length}, expected 0`);
        if (libxcStarted) throw this.error(name, recAt, 'A second LIBXC_CONTEXT record');
        libxcStarted = true;
        inCheckpoint = yield* this.libxc(true);
      } else if (type === LibxlRec.CHECKPOINT_END && inCheckpoint) {
        // Checkpointed streams (Remus/COLO) hand back to libxc, which goes on with its records.
        inCheckpoint = yield* this.libxc(false);
      }
    }
  }

  /** The libxc stream up to its END (returns false) or a CHECKPOINT record (returns true). */
  private async *libxc(withHeaders: boolean): AsyncGenerator<StreamEvent, boolean> {
    if (withHeaders) yield* this.libxcHeaders();
    for (;;) {
      const recAt = this.src.offset;
      const hdr = await this.src.read(REC_HEADER_SIZE, 'libxc record header');
      const type = view(hdr).getUint32(0, true);
      const length = view(hdr).getUint32(4, true);
      const name = libxcRecordName(type);
      const fail = (message: string): StreamFormatError =>
        this.error(name, recAt, `libxc ${name} record: ${message}`);
      if (length > REC_LENGTH_MAX) throw fail(`length ${length} exceeds ${REC_LENGTH_MAX}`);
      const known = !name.startsWith('UNKNOWN');
      if (!known && (type & REC_TYPE_OPTIONAL) === 0) {
        throw this.error(
          name,
          recAt,
          `Unknown mandatory libxc record type ${name}: Xen's restore would refuse it`,
        );
      }
      const pv = this.summary.guestType === 'pv';
      if ((pv && HVM_ONLY.has(type)) || (!pv && PV_ONLY.has(type))) {
        throw fail(`not valid in a ${pv ? 'PV' : 'HVM'} stream`);
      }
      const fixed = FIXED_LENGTH.get(type);
      if (fixed !== undefined && length !== fixed) throw fail(`length ${length}, expected ${fixed}`);
      this.tally(`libxc ${name}`, REC_HEADER_SIZE + align8(length));
      if (type === LibxcRec.PAGE_DATA) {
        yield* this.pageData(hdr, length, recAt, fail);
        continue;
      }
      this.checkOrder(type, fail);
      yield { kind: 'bytes', bytes: hdr };
      if (type === LibxcRec.X86_PV_P2M_FRAMES) {
        if (length < 8) throw fail(`length ${length}, min 8`);
        const body = await this.src.read(align8(length), `libxc ${name} record`);
        const start = view(body).getUint32(0, true);
        const end = view(body).getUint32(4, true);
        if (start > end) throw fail(`start_pfn ${start} > end_pfn ${end}`);
        this.pvMaxPfn = Math.max(this.pvMaxPfn, end);
        yield { kind: 'bytes', bytes: body };
      } else {
        yield* this.passThrough(align8(length), `libxc ${name} record`);
      }
      if (type === LibxcRec.END) return false;
      if (type === LibxcRec.CHECKPOINT) return true;
    }
  }

  private checkOrder(type: number, fail: (m: string) => StreamFormatError): void {
    if (type === LibxcRec.STATIC_DATA_END) this.seenStaticDataEnd = true;
    if (type === LibxcRec.X86_PV_INFO) {
      if (this.seenPvInfo) throw fail('already received X86_PV_INFO');
      this.seenPvInfo = true;
    }
    if (type === LibxcRec.X86_PV_P2M_FRAMES && !this.seenPvInfo) throw fail('before X86_PV_INFO');
  }

  private async *libxcHeaders(): AsyncGenerator<StreamEvent> {
    const at = this.src.offset;
    const ih = await this.src.read(LIBXC_IHDR_SIZE, 'libxc image header');
    const v = view(ih);
    if (v.getBigUint64(0, false) !== LIBXC_MARKER || v.getUint32(8, false) !== LIBXC_ID) {
      throw this.error('libxc image header', at, 'Bad libxc image header: expected marker ~0 and id "XENF"');
    }
    const version = v.getUint32(12, false);
    if (version !== 2 && version !== 3) {
      throw this.error(
        'libxc image header',
        at + 12,
        `libxc stream version ${version}, this build reads 2 and 3`,
      );
    }
    if (v.getUint16(16, false) & LIBXC_OPT_BIG_ENDIAN) {
      throw this.error(
        'libxc image header',
        at + 16,
        'Big-endian libxc stream: only little-endian (x86) is supported',
      );
    }
    this.summary.libxcVersion = version;
    // Stream v2 has no STATIC_DATA_END: the restore infers it.
    this.seenStaticDataEnd = version === 2;
    yield { kind: 'bytes', bytes: ih };
    const dAt = this.src.offset;
    const dh = await this.src.read(LIBXC_DHDR_SIZE, 'libxc domain header');
    const d = view(dh);
    const type = d.getUint32(0, true);
    if (type !== DomainType.X86_PV && type !== DomainType.X86_HVM) {
      throw this.error(
        'libxc domain header',
        dAt,
        `Unsupported domain type ${type}: expected 1 (x86 PV) or 2 (x86 HVM)`,
      );
    }
    const shift = d.getUint16(4, true);
    if (shift !== PAGE_SHIFT)
      throw this.error('libxc domain header', dAt + 4, `page_shift ${shift}, expected ${PAGE_SHIFT}`);
    this.summary.guestType = type === DomainType.X86_PV ? 'pv' : 'hvm';
    this.summary.xenVersion = `${d.getUint32(8, true)}.${d.getUint32(12, true)}`;
    yield { kind: 'bytes', bytes: dh };
    this.tally('libxc headers', LIBXC_IHDR_SIZE + LIBXC_DHDR_SIZE);
  }

  /** PAGE_DATA, checked as handle_page_data does, then split into its header and its payloads. */
  private async *pageData(
    hdr: Uint8Array,
    length: number,
    recAt: number,
    fail: (m: string) => StreamFormatError,
  ): AsyncGenerator<StreamEvent> {
    if (!this.seenStaticDataEnd) throw fail('before STATIC_DATA_END');
    if (this.summary.guestType === 'pv' && this.pvMaxPfn < 0) throw fail('before X86_PV_P2M_FRAMES');
    if (length < 8) throw fail(`truncated: length ${length}, min 8`);
    const hdrCopy = hdr.slice();
    const head = await this.src.read(8, 'libxc PAGE_DATA record');
    const count = view(head).getUint32(0, true);
    if (count === 0) throw fail('count 0');
    if (length < 8 + 8 * count)
      throw fail(`truncated: length ${length}, ${count} pfns need ${8 + 8 * count}`);
    const headCopy = head.slice();
    const words = await this.src.read(8 * count, 'libxc PAGE_DATA pfns');
    const w = view(words);
    // Scratch for the pfns with pages: most records of an HVM stream have none (its holes), so only
    // those that do get arrays of their own, sized to their pages.
    if (this.pfnScratch.length < count) {
      this.pfnScratch = new Float64Array(count);
      this.typeScratch = new Uint8Array(count);
    }
    const pfns = this.pfnScratch;
    const types = this.typeScratch;
    let n = 0;
    for (let i = 0; i < count; i++) {
      const hi = w.getUint32(8 * i + 4, true);
      const type = hi >>> 28;
      const pfn = (hi & ((1 << (PFN_BITS - 32)) - 1)) * 2 ** 32 + w.getUint32(8 * i, true);
      if (!isKnownPageType(type)) throw fail(`pfn ${pfn} has unknown type 0x${type.toString(16)}`);
      if (this.summary.guestType === 'pv' && pfn > this.pvMaxPfn) {
        throw fail(`pfn ${pfn} beyond the p2m (max ${this.pvMaxPfn})`);
      }
      if (!pageTypeHasData(type)) continue;
      pfns[n] = pfn;
      types[n] = type;
      n++;
    }
    const expected = 8 + 8 * count + PAGE_SIZE * n;
    if (length !== expected) throw fail(`wrong size: length ${length}, expected ${expected}`);
    this.summary.pageEntries += count;
    this.summary.pagesWithData += n;
    yield { kind: 'bytes', bytes: hdrCopy };
    yield { kind: 'bytes', bytes: headCopy };
    yield { kind: 'bytes', bytes: words };
    if (n === 0) return;
    const offset = this.src.offset;
    const data = await this.src.read(n * PAGE_SIZE, 'libxc PAGE_DATA pages');
    yield {
      kind: 'pages',
      batch: { offset, count: n, pfns: pfns.slice(0, n), types: types.slice(0, n), data },
    };
  }

  private async *passThrough(n: number, what: string): AsyncGenerator<StreamEvent> {
    let left = n;
    while (left > 0) {
      const piece = await this.src.readSome(Math.min(left, PASS_CHUNK), what);
      left -= piece.length;
      yield { kind: 'bytes', bytes: piece };
    }
  }
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
