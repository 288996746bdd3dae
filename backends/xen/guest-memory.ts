/**
 * GuestMemory of a real domain that `xl restore -p` has just built: its pages mapped writable through
 * libxenforeignmemory. PVH/HVM guests are mapped by guest frame, which is the pfn. A PV guest is mapped
 * by machine frame, and the usual way to its p2m (the frame list in its shared info) is empty until its
 * kernel runs again: the restore resets it. So the frames come from Xen's M2P instead, which Xen set for
 * every page it populated, and each candidate counts only if Xen says the domain owns it
 * (getpageframeinfo3 answers XTAB otherwise). A pfn with no such frame, or two, is an error.
 */
import { XenCtrl } from './ffi/xenctrl.ts';
import { ForeignMemory, PROT_READ, PROT_WRITE } from './ffi/xenforeignmemory.ts';
import { mapM2p } from './ffi/xenguest.ts';
import type { GuestMemory } from './fill.ts';

const XTAB = 0xfn << 28n;
const TYPE_MASK = 0xfn << 28n;

/** pfn -> machine frame (-1: none) of PV domain `domid`, for the pfns that `wanted` marks. */
function pvFrames(xc: XenCtrl, domid: number, wanted: Uint8Array): Float64Array {
  const m2p = mapM2p(xc).table;
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
      throw new Error(`pfn ${pfn} of domain ${domid} has two machine frames (${frames[pfn]} and ${mfn})`);
    }
    frames[pfn] = Number(mfn);
  }
  return frames;
}

/** Opens writable access to the pages `pfns` (all the fill will ask for) of paused domain `domid`. */
export function openGuestMemory(domid: number, pfns: readonly Uint32Array[]): GuestMemory {
  const xc = XenCtrl.open();
  try {
    const info = xc.domain(domid);
    if (!info || info.dying) throw new Error(`no domain ${domid}`);
    let frameOf = (pfn: number): bigint | undefined => BigInt(pfn);
    if (info.kind === 'pv') {
      let bound = 0;
      for (const list of pfns) for (const p of list) bound = Math.max(bound, p + 1);
      const wanted = new Uint8Array(bound);
      for (const list of pfns) for (const p of list) wanted[p] = 1;
      const frames = pvFrames(xc, domid, wanted);
      frameOf = (pfn) => (frames[pfn] !== undefined && frames[pfn] >= 0 ? BigInt(frames[pfn]) : undefined);
    }
    const fm = ForeignMemory.open();
    return {
      map(list) {
        const frames = Array.from(list, (pfn) => {
          const f = frameOf(pfn);
          if (f === undefined) throw new Error(`page ${pfn} of domain ${domid} has no machine frame`);
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
