/**
 * A paused domain's memory for direct-fill tests: the pages a (sparse) stream carried, and any other
 * page, as Xen's populate would leave it allocated but unwritten, full of a marker byte (Xen scrubs it,
 * but the fill must not count on that). map() hands out a copy that unmap() writes back, and counts
 * what is still mapped, so a test sees a mapping left behind.
 */
import type { GuestMemory, MappedPages } from '../../../../backends/xen/fill.ts';
import { SaveStreamParser } from '../../../../backends/xen/stream/parser.ts';

export const UNWRITTEN = 0xa5;

export class MemoryGuest implements GuestMemory {
  readonly pages = new Map<number, Uint8Array>();
  mapped = 0;
  closed = false;
  /** pfns map() must refuse, as Xen refuses a frame the domain does not have. */
  readonly missing = new Set<number>();

  /** The memory `xl restore` leaves from `stream`: the last copy of each page wins. */
  static async fromStream(stream: AsyncIterable<Uint8Array>): Promise<MemoryGuest> {
    const g = new MemoryGuest();
    for await (const e of new SaveStreamParser(stream).events()) {
      if (e.kind !== 'pages') continue;
      for (let i = 0; i < e.batch.count; i++) {
        g.pages.set(e.batch.pfns[i]!, e.batch.data.slice(i * 4096, (i + 1) * 4096));
      }
    }
    return g;
  }

  map(pfns: Uint32Array): MappedPages {
    const bytes = new Uint8Array(pfns.length * 4096);
    pfns.forEach((pfn, j) => {
      if (this.missing.has(pfn)) throw new Error(`page ${pfn} cannot be mapped`);
      bytes.set(this.pages.get(pfn) ?? new Uint8Array(4096).fill(UNWRITTEN), j * 4096);
    });
    this.mapped++;
    return {
      bytes,
      unmap: () => {
        pfns.forEach((pfn, j) => this.pages.set(pfn, bytes.slice(j * 4096, (j + 1) * 4096)));
        this.mapped--;
      },
    };
  }

  close(): void {
    this.closed = true;
  }
}
