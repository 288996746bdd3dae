/**
 * Content generators for the in-memory guest. Every 32-bit word is distinct across pages, sectors and
 * versions, so no wrong mapping can ever match its page by accident (not even shifted by a sector).
 */
import { PAGE_SIZE, SECTOR_SIZE } from '../../core/ports.ts';

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The initial content of sector `sector` of disk `disk`: a fixed function of the two. */
export function fillInitialSector(disk: number, sector: number, dst: Uint8Array): void {
  const words = new Uint32Array(dst.buffer, dst.byteOffset, SECTOR_SIZE / 4);
  const seed = mix32(disk * 0x9e3779b1 + 0x1234567) ^ mix32(sector);
  for (let w = 0; w < words.length; w++) words[w] = mix32(seed + w * 0x632be5ab) | 1;
}

/** Fills a page with content never produced before by this generator. */
export class UniqueContent {
  private version = 0;

  constructor(private readonly salt: number) {}

  fillPage(dst: Uint8Array): void {
    const words = new Uint32Array(dst.buffer, dst.byteOffset, PAGE_SIZE / 4);
    const v = ++this.version;
    const seed = mix32(this.salt ^ mix32(v));
    // Word 0 carries the version itself, so two versions can never produce equal pages.
    words[0] = v;
    for (let w = 1; w < words.length; w++) words[w] = mix32(seed + w * 0x9e3779b9) | 2;
  }
}
