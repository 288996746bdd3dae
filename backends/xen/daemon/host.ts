/**
 * Everything the tracking of one domain needs from the host, as one bundle of ports: the real one is
 * built from the FFI modules (xen-host.ts), tests build one from in-memory doubles.
 */
import type { RingConnector } from '../blkif/attach.ts';
import type { FrameTranslator, GrantTable } from '../blkif/grants.ts';
import type { DataMover } from '../blkif/ports.ts';
import type { XenstorePort } from '../blkif/xenstore-port.ts';
import type { LogDirtyPort } from '../logdirty/ports.ts';

export type DomainKind = 'pv' | 'pvh' | 'hvm';

export interface DomainHost {
  readonly domid: number;
  readonly kind: DomainKind;
  /** Guest frames: the tracker's page count (max gpfn + 1). */
  readonly pageCount: number;
  readonly xs: XenstorePort;
  readonly connector: RingConnector;
  readonly mover: DataMover;
  /** The guest's grant table, current (PV guests may grow it). */
  grantTable(): GrantTable;
  readonly frames: FrameTranslator;
  readonly logDirty: LogDirtyPort;
  /** Copies guest page `pfn` into `dst`; false if it cannot be mapped. */
  readPage(pfn: number, dst: Uint8Array): boolean;
  /**
   * Calls `each` with the content of every page of `pfns` that can be read (one mapping per batch, not
   * per page: revalidation reads thousands of pages per epoch).
   */
  readPages(pfns: Uint32Array, each: (pfn: number, page: Uint8Array) => void): void;
  unpause(): void;
  /** False once the domain is gone (destroyed, or shut down and dying). */
  alive(): boolean;
  close(): void;
}
