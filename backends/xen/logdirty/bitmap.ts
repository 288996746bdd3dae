/** Log-dirty bitmaps: bit (pfn % 8) of byte (pfn / 8), as Xen copies them out. */

/** The set bits below `limit`, ascending. Skips zero bytes, so a quiet epoch costs a byte scan. */
export function dirtyPfns(bits: Uint8Array, limit: number): Uint32Array {
  let n = 0;
  const bytes = Math.min(bits.length, Math.ceil(limit / 8));
  for (let i = 0; i < bytes; i++) if (bits[i] !== 0) n += popcount(bits[i]!);
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < bytes; i++) {
    let b = bits[i]!;
    while (b !== 0) {
      const low = b & -b;
      const pfn = i * 8 + (31 - Math.clz32(low));
      if (pfn < limit) out[k++] = pfn;
      b ^= low;
    }
  }
  return k === n ? out : out.subarray(0, k);
}

function popcount(b: number): number {
  let c = 0;
  for (let x = b; x !== 0; x &= x - 1) c++;
  return c;
}
