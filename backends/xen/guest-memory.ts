/**
 * GuestMemory of a real domain that `xl restore -p` has just built: its pages mapped writable through
 * libxenforeignmemory. PVH/HVM guests are mapped by guest frame, which is the pfn. A PV guest is mapped
 * by machine frame, and the usual way to its p2m (the frame list in its shared info) is empty until its
 * kernel runs again: the restore resets it. But libxc's restore has written the new p2m into the pages
 * the stream named for it (X86_PV_P2M_FRAMES). Those few pages are found through Xen's M2P, which Xen
 * set for every page it populated, each candidate counting only if Xen says the domain owns it
 * (getpageframeinfo3 answers XTAB otherwise); the p2m they hold then gives every other frame, each
 * checked against the M2P. Without that record, every wanted pfn is looked up the first way, which
 * asks Xen about every candidate frame (12 s of an emulated dom0 for a 256 MiB guest).
 */
import { RestoreError } from '../../core/errors.ts';
import { XenCtrl } from './ffi/xenctrl.ts';
import { ForeignMemory, PROT_READ, PROT_WRITE } from './ffi/xenforeignmemory.ts';
import { mapM2p } from './ffi/xenguest.ts';
import type { GuestMemory } from './fill.ts';
import type { PvP2mFrames } from './image/sparse.ts';

const XTAB = 0xfn << 28n;
const TYPE_MASK = 0xfn << 28n;

/** Frames for the foreign mapping call, written as 32-bit halves: no BigInt per frame. */
function frameList(n: number, frameAt: (i: number) => number): BigUint64Array {
  const out = new BigUint64Array(n);
  const halves = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const f = frameAt(i);
    halves[2 * i] = f % 2 ** 32;
    halves[2 * i + 1] = Math.floor(f / 2 ** 32);
  }
  return out;
}

/** pfn -> machine frame (-1: none) of PV domain `domid`, for the pfns that `wanted` marks, from the M2P. */
function ownedFrames(xc: XenCtrl, domid: number, m2p: BigUint64Array, wanted: Uint8Array): Float64Array {
  // The low and high halves of each 64-bit entry: INVALID_M2P_ENTRY and other domains' large pfns
  // have a high half; reading halves avoids a BigInt per machine frame.
  const halves = new Uint32Array(m2p.buffer, m2p.byteOffset, m2p.length * 2);
  const candidates: bigint[] = [];
  for (let mfn = 0; mfn < m2p.length; mfn++) {
    const pfn = halves[2 * mfn]!;
    if (halves[2 * mfn + 1] === 0 && pfn < wanted.length && wanted[pfn] === 1) candidates.push(BigInt(mfn));
  }
  const types = BigUint64Array.from(candidates);
  xc.pageTypes(domid, types);
  const frames = new Float64Array(wanted.length).fill(-1);
  for (let i = 0; i < candidates.length; i++) {
    if ((types[i]! & TYPE_MASK) === XTAB) continue;
    const mfn = candidates[i]!;
    const pfn = halves[2 * Number(mfn)]!;
    if (frames[pfn] !== -1) {
      throw new RestoreError(
        `pfn ${pfn} of domain ${domid} has two machine frames (${frames[pfn]} and ${mfn})`,
      );
    }
    frames[pfn] = Number(mfn);
  }
  return frames;
}

/** The machine frames of the pfns `wanted` marks, read from the p2m libxc wrote into the guest. */
function framesFromP2m(
  xc: XenCtrl,
  fm: ForeignMemory,
  domid: number,
  m2p: BigUint64Array,
  p2m: PvP2mFrames,
  wanted: Uint8Array,
): Float64Array {
  const marks = new Uint8Array(Math.max(...p2m.pfns) + 1);
  for (const pfn of p2m.pfns) marks[pfn] = 1;
  const where = ownedFrames(xc, domid, m2p, marks);
  const mfns = frameList(p2m.pfns.length, (i) => {
    const pfn = p2m.pfns[i]!;
    if (where[pfn]! < 0)
      throw new RestoreError(`the p2m page ${pfn} of domain ${domid} has no machine frame`);
    return where[pfn]!;
  });
  const view = fm.map(domid, mfns, PROT_READ);
  try {
    const entries = Math.min(p2m.endPfn + 1, (view.bytes.length / p2m.width) | 0);
    // Entries and the M2P read as 32-bit halves: a BigInt per page was most of this under emulation.
    const words = new Uint32Array(view.bytes.buffer, view.bytes.byteOffset, view.bytes.length >> 2);
    const m2pHalves = new Uint32Array(m2p.buffer, m2p.byteOffset, m2p.length * 2);
    const frames = new Float64Array(wanted.length).fill(-1);
    for (let pfn = 0; pfn < Math.min(wanted.length, entries); pfn++) {
      if (wanted[pfn] !== 1) continue;
      const mfn = p2m.width === 8 ? words[2 * pfn]! + words[2 * pfn + 1]! * 2 ** 32 : words[pfn]!;
      // Xen's own record of the frame's owner pfn must agree (it set it when it populated the page).
      if (mfn >= m2p.length || m2pHalves[2 * mfn] !== pfn || m2pHalves[2 * mfn + 1] !== 0) {
        throw new RestoreError(
          `the p2m of domain ${domid} names frame ${mfn} for pfn ${pfn}, which the M2P does not`,
        );
      }
      frames[pfn] = mfn;
    }
    return frames;
  } finally {
    view.unmap();
  }
}

/** Opens writable access to the pages `pfns` (all the fill will ask for) of paused domain `domid`. */
export function openGuestMemory(domid: number, pfns: readonly Uint32Array[], p2m?: PvP2mFrames): GuestMemory {
  const xc = XenCtrl.open();
  try {
    const info = xc.domain(domid);
    if (!info || info.dying) throw new RestoreError(`no domain ${domid}`);
    let frameOf = (pfn: number): number => pfn;
    const fm = ForeignMemory.open();
    if (info.kind === 'pv') {
      let bound = 0;
      for (const list of pfns) for (const p of list) bound = Math.max(bound, p + 1);
      const wanted = new Uint8Array(bound);
      for (const list of pfns) for (const p of list) wanted[p] = 1;
      const m2p = mapM2p(xc).table;
      let frames: Float64Array;
      try {
        frames = p2m ? framesFromP2m(xc, fm, domid, m2p, p2m, wanted) : ownedFrames(xc, domid, m2p, wanted);
      } catch (e) {
        fm.close();
        throw e;
      }
      frameOf = (pfn) => frames[pfn] ?? -1;
    }
    return {
      map(list) {
        const frames = frameList(list.length, (i) => {
          const f = frameOf(list[i]!);
          if (f < 0) throw new RestoreError(`page ${list[i]} of domain ${domid} has no machine frame`);
          return f;
        });
        return fm.map(domid, frames, PROT_READ | PROT_WRITE);
      },
      close() {
        fm.close();
        xc.close();
      },
    };
  } catch (e) {
    xc.close();
    throw e;
  }
}
