/**
 * The DomainHost of a real dom0, built from the FFI modules: what tracking one domain needs from
 * libxenctrl, libxenguest, libxenforeignmemory, libxengnttab, libxenevtchn and libxenstore.
 */
import { GrantCopyMover } from '../blkif/grant-copy.ts';
import { identityFrames, pvFrames, type FrameTranslator, type GrantTable } from '../blkif/grants.ts';
import { bytesAt, koffi } from '../ffi/load.ts';
import { EvtChn } from '../ffi/xenevtchn.ts';
import { ShadowOp, XenCtrl, type DirtyBitmap } from '../ffi/xenctrl.ts';
import { ForeignMemory, Resource } from '../ffi/xenforeignmemory.ts';
import { GntTab } from '../ffi/xengnttab.ts';
import { mapM2p, PvP2m } from '../ffi/xenguest.ts';
import { XenStore } from '../ffi/xenstore.ts';
import type { LogDirtyPort } from '../logdirty/ports.ts';
import type { DomainHost } from './host.ts';

const EOPNOTSUPP = 95;

export class NoSuchDomainError extends Error {
  override readonly name = 'NoSuchDomainError';
}

/**
 * Opens every handle tracking `domid` needs. Throws XenUnavailableError outside a dom0. `log` hears of
 * system calls a signal interrupted, which are made again: rare, and worth knowing when they happen.
 */
export function openXenHost(domid: number, log: (message: string) => void = () => {}): DomainHost {
  const xc = XenCtrl.open();
  const info = xc.domain(domid);
  if (!info || info.dying) throw new NoSuchDomainError(`no domain ${domid}`);
  // A PV guest's max gpfn comes from its shared info, which its kernel fills in while booting: a domain
  // `xl create -p` has just built reports next to nothing. Its memory limit bounds its PFNs already.
  const pageCount = Math.max(xc.gpfns(domid), info.maxPages);
  const fm = ForeignMemory.open();
  const gnt = GntTab.open();
  const evt = EvtChn.open();
  const xs = XenStore.open();

  const version = xc.gnttabVersion(domid) === 2 ? 2 : 1;
  const tableBytes = fm.resourceSize(domid, Resource.grantTable, 0);
  const tableMap = fm.mapResource(domid, Resource.grantTable, 0, tableBytes / 4096);
  const table: GrantTable = { version, bytes: tableMap.bytes };

  let frames: FrameTranslator = identityFrames(pageCount);
  // PV: the guest's p2m is only there once its kernel has set it up (not in a domain `xl create -p`
  // has just built), so it is mapped on first use and retried at most once a second.
  let live: PvP2m | undefined;
  let lastTry = 0;
  const p2m = (): PvP2m | undefined => {
    if (live || Date.now() - lastTry < 1000) return live;
    lastTry = Date.now();
    try {
      live = new PvP2m(xc, domid);
    } catch {
      live = undefined;
    }
    return live;
  };
  /**
   * The frame lookup for one batch of reads: the p2m is resolved once per batch, not per page. Per page,
   * each lookup asked the clock whether to retry mapping a p2m the guest has not set up yet, and a
   * restore's 29,715 pages took 12 s of an emulated PV dom0's CPU to find none readable (lab profile).
   */
  const frameLookup = (): ((pfn: number) => bigint | undefined) | undefined => {
    if (info.kind !== 'pv') return (pfn) => BigInt(pfn);
    const table = p2m();
    return table ? (pfn) => table.lookup(pfn) : undefined;
  };
  if (info.kind === 'pv') {
    const m2p = mapM2p(xc);
    const checked = pvFrames(m2p.lookup, (pfn) => live?.lookup(pfn), pageCount);
    let refreshed = 0;
    frames = {
      pfnOf(mfn) {
        if (!p2m()) {
          // No p2m yet (early boot): the M2P alone. Grant copy only works on frames the guest owns,
          // and the save checks every left-out page's bytes, so a wrong entry costs space, not data.
          const pfn = m2p.lookup(mfn);
          return pfn !== undefined && pfn < BigInt(pageCount) ? Number(pfn) : undefined;
        }
        const pfn = checked.pfnOf(mfn);
        // The guest may have rearranged its p2m (ballooning): look again, at most once a second.
        if (pfn !== undefined || Date.now() - refreshed < 1000) return pfn;
        refreshed = Date.now();
        try {
          live?.refresh();
        } catch {
          live = undefined;
          return undefined;
        }
        return checked.pfnOf(mfn);
      },
    };
  }

  const mover = new GrantCopyMover(
    {
      allocNative: (bytes) => {
        const address = koffi().alloc('uint8_t', bytes);
        return { address, bytes: bytesAt(address, bytes) };
      },
      copy: (segs, count) => gnt.copy(segs, count),
    },
    domid,
  );

  let bitmap: (DirtyBitmap & { readonly hb: bigint | null; readonly nr: number }) | undefined;
  const logDirty: LogDirtyPort = {
    pages: pageCount,
    enable() {
      let err = xc.shadowControl(domid, ShadowOp.EnableLogDirty);
      if (err !== 0 && err !== EOPNOTSUPP) {
        // Already on for someone else (QEMU's VRAM tracking): off, then on, as the Xen saver does.
        xc.shadowControl(domid, ShadowOp.Off);
        err = xc.shadowControl(domid, ShadowOp.EnableLogDirty);
      }
      if (err === EOPNOTSUPP) {
        return info.kind === 'pv'
          ? 'EOPNOTSUPP: PV guest on a hypervisor built without shadow paging'
          : 'EOPNOTSUPP from XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY';
      }
      if (err !== 0) return `XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY failed (errno ${err})`;
      bitmap ??= xc.allocBitmap(pageCount);
      return undefined;
    },
    disable() {
      xc.shadowControl(domid, ShadowOp.Off);
    },
    clean(final) {
      if (!bitmap) throw new Error('log-dirty is not enabled');
      const err = xc.logDirty(domid, bitmap, ShadowOp.Clean, final);
      if (err !== 0) throw new Error(`XEN_DOMCTL_SHADOW_OP_CLEAN failed (errno ${err})`);
      return bitmap.bits;
    },
  };

  return {
    domid,
    kind: info.kind,
    pageCount,
    xs,
    connector: {
      mapRing: (d, refs) => {
        const before = gnt.interrupted;
        const ring = gnt.mapRefs(d, refs);
        if (gnt.interrupted > before) {
          log(`mapping the ring of domain ${d} was interrupted ${gnt.interrupted - before} time(s); retried`);
        }
        return ring;
      },
      bindEventChannel: (d, port, onEvent) => evt.bind(d, port, onEvent),
    },
    mover,
    grantTable: () => table,
    frames,
    logDirty,
    readPage(pfn, dst) {
      const frame = frameLookup()?.(pfn);
      if (frame === undefined) return false;
      try {
        const m = fm.map(domid, [frame]);
        dst.set(m.bytes.subarray(0, dst.length));
        m.unmap();
        return true;
      } catch {
        return false;
      }
    },
    readPages(pfns, each) {
      const frameOf = frameLookup();
      if (!frameOf) return;
      for (let at = 0; at < pfns.length; at += 1024) {
        const batch = pfns.subarray(at, at + 1024);
        const frames: bigint[] = [];
        const which: number[] = [];
        for (const pfn of batch) {
          const frame = frameOf(pfn);
          if (frame === undefined) continue;
          frames.push(frame);
          which.push(pfn);
        }
        if (frames.length === 0) continue;
        const m = fm.mapSome(domid, frames);
        try {
          which.forEach((pfn, i) => {
            if (m.errors[i] === 0) each(pfn, m.bytes.subarray(i * 4096, (i + 1) * 4096));
          });
        } finally {
          m.unmap();
        }
      }
    },
    unpause: () => xc.unpause(domid),
    alive: () => {
      const now = xc.domain(domid);
      return now !== undefined && !now.dying;
    },
    close() {
      if (gnt.interrupted > 0) log(`${gnt.interrupted} grant call(s) interrupted by a signal, each retried`);
      live?.close();
      tableMap.unmap();
      if (bitmap) xc.freeBitmap(bitmap);
      xs.close();
      evt.close();
      gnt.close();
      fm.close();
      xc.close();
    },
  };
}
