/** A DomainHost made of the test doubles: what the tracking session runs on in tests. */
import type { DomainHost } from '../../../../backends/xen/daemon/host.ts';
import type { LogDirtyPort } from '../../../../backends/xen/logdirty/ports.ts';
import type { MemoryXenstore } from './memory-xenstore.ts';
import type { TestChannels } from './test-frontend.ts';
import type { TestGuest } from './test-guest.ts';

export class FakeLogDirty implements LogDirtyPort {
  /** Set to make enable() fail as a PV guest on a hypervisor without shadow paging does. */
  unsupported = false;
  cleans = 0;

  constructor(private readonly guest: TestGuest) {}

  get pages(): number {
    return this.guest.pageCount;
  }

  enable(): string | undefined {
    if (this.unsupported) return 'EOPNOTSUPP: PV guest on a hypervisor built without shadow paging';
    this.guest.logDirtyOn = true;
    return undefined;
  }

  disable(): void {
    this.guest.logDirtyOn = false;
    this.guest.dirtyBits.fill(0);
  }

  clean(): Uint8Array {
    if (!this.guest.logDirtyOn) throw new Error('log-dirty is off');
    this.cleans++;
    const out = this.guest.dirtyBits.slice();
    this.guest.dirtyBits.fill(0);
    return out;
  }
}

export function testHost(
  domid: number,
  guest: TestGuest,
  xs: MemoryXenstore,
  channels: TestChannels,
  logDirty = new FakeLogDirty(guest),
): DomainHost & { readonly fakeLogDirty: FakeLogDirty; unpaused: number; gone: boolean } {
  return {
    domid,
    kind: guest.kind === 'pv' ? 'pv' : 'pvh',
    pageCount: guest.pageCount,
    xs,
    connector: channels,
    mover: guest.mover(),
    grantTable: () => guest.table,
    frames: guest.frames,
    logDirty,
    fakeLogDirty: logDirty,
    readPage: (pfn, dst) => {
      dst.set(guest.page(pfn));
      return true;
    },
    readPages: (pfns, each) => {
      for (const pfn of pfns) each(pfn, guest.page(pfn));
    },
    unpaused: 0,
    gone: false,
    alive() {
      return !this.gone;
    },
    unpause() {
      this.unpaused++;
    },
    close: () => {},
  };
}
