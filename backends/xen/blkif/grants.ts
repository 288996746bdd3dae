/**
 * From a segment's grant reference to the guest page it names. Neither grant mapping nor grant copy
 * reveals the frame, so the backend reads the guest's grant table (mapped read-only, once) while the
 * request is outstanding: the guest revokes the entry only after our response.
 *
 * Frame meaning (grant_table.h): PV guests grant machine frames, translated to the guest's PFN through
 * the global M2P and accepted only if the guest's own p2m maps that PFN back to the same frame (the M2P
 * is meaningless for frames the guest does not own). PVH/HVM guests grant guest frames, which are the
 * PFNs of the save stream and of the log-dirty bitmap.
 */

export const GTF = { typeMask: 3, permitAccess: 1, readonly: 1 << 2, subPage: 1 << 8 } as const;

export interface GrantEntry {
  readonly flags: number;
  /** The domain allowed to use the grant. */
  readonly domid: number;
  readonly frame: bigint;
}

/** The guest's grant table as bytes (the shared frames, mapped in index order). */
export interface GrantTable {
  readonly version: 1 | 2;
  readonly bytes: Uint8Array;
}

/** Entry `gref`, or undefined past the mapped table. v1: 8 B {flags, domid, u32 frame}; v2: 16 B, frame @8. */
export function grantEntry(t: GrantTable, gref: number): GrantEntry | undefined {
  const size = t.version === 1 ? 8 : 16;
  const off = gref * size;
  if (!Number.isInteger(gref) || gref < 0 || off + size > t.bytes.byteLength) return undefined;
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset + off, size);
  return {
    flags: v.getUint16(0, true),
    domid: v.getUint16(2, true),
    frame: t.version === 1 ? BigInt(v.getUint32(4, true)) : v.getBigUint64(8, true),
  };
}

/** Turns a granted frame into the guest's PFN, or undefined if the frame is not a page of the guest. */
export interface FrameTranslator {
  pfnOf(frame: bigint): number | undefined;
}

/** PVH/HVM: the granted frame is the PFN. */
export function identityFrames(pageCount: number): FrameTranslator {
  return { pfnOf: (f) => (f < BigInt(pageCount) ? Number(f) : undefined) };
}

/** PV: M2P lookup, checked against the guest's p2m. */
export function pvFrames(
  m2p: (mfn: bigint) => bigint | undefined,
  p2m: (pfn: number) => bigint | undefined,
  pageCount: number,
): FrameTranslator {
  return {
    pfnOf(mfn) {
      const pfn = m2p(mfn);
      if (pfn === undefined || pfn >= BigInt(pageCount)) return undefined;
      const n = Number(pfn);
      return p2m(n) === mfn ? n : undefined;
    },
  };
}

/**
 * The PFN segment `gref` names, or why it cannot be used: the entry must grant plain access to the
 * backend's domain, and a read from disk (the backend writes guest memory) needs a writable grant.
 */
export function resolveGrant(
  table: GrantTable,
  frames: FrameTranslator,
  gref: number,
  backendDomid: number,
  writesGuest: boolean,
): number | string {
  const e = grantEntry(table, gref);
  if (!e) return `grant ${gref} is outside the grant table`;
  if ((e.flags & GTF.typeMask) !== GTF.permitAccess || (e.flags & GTF.subPage) !== 0) {
    return `grant ${gref} is not a full-page access grant (flags ${e.flags.toString(16)})`;
  }
  if (e.domid !== backendDomid) return `grant ${gref} is for domain ${e.domid}, not ${backendDomid}`;
  if (writesGuest && (e.flags & GTF.readonly) !== 0) return `grant ${gref} is read-only`;
  const pfn = frames.pfnOf(e.frame);
  return pfn ?? `grant ${gref}: frame ${e.frame} is not a page of the guest`;
}
