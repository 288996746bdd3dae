import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { describe, expect, it } from 'vitest';
import { hasherKind, loadHasher, updateInBackground } from '../../core/hash.ts';
import { runNode } from '../support/cli.ts';

describe('content hash', () => {
  it('is XXH64 with seed 0, whichever implementation loaded', async () => {
    const [hasher, wasm] = await Promise.all([loadHasher(), xxhash()]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 9000 }), (bytes) => {
        expect(hasher.hash64(bytes)).toBe(wasm.h64Raw(bytes, 0n));
      }),
      { numRuns: 200 },
    );
    // Known value: XXH64 of no bytes, seed 0.
    expect(hasher.hash64(new Uint8Array(0))).toBe(0xef46db3751d8e999n);
    // Hashes above 2^53 stay exact (koffi may hand a uint64 back as a number).
    const big = new Uint8Array(4096).map((_, i) => (i * 131) & 255);
    expect(hasher.hash64(big)).toBe(wasm.h64Raw(big, 0n));
  });

  it('streams the same XXH64 over any split of the input, and a digested stream refuses more', async () => {
    const [hasher, wasm] = await Promise.all([loadHasher(), xxhash()]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20000 }), fc.array(fc.nat(20000)), (bytes, cuts) => {
        const at = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
        const s = hasher.streaming();
        for (let i = 1; i < at.length; i++) s.update(bytes.subarray(at[i - 1], at[i]));
        expect(s.digest()).toBe(wasm.h64Raw(bytes, 0n));
      }),
      { numRuns: 100 },
    );
    if ((await hasherKind()) === 'native') {
      const s = hasher.streaming();
      s.digest();
      expect(() => s.update(new Uint8Array(1))).toThrow(/already digested/);
    }
  });

  it('hashes the same in the background, in order, and refuses use while a background update runs', async () => {
    const [hasher, wasm] = await Promise.all([loadHasher(), xxhash()]);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 40000 }), fc.array(fc.nat(40000)), async (bytes, cuts) => {
        const at = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
        const s = hasher.streaming();
        for (let i = 1; i < at.length; i++) {
          const piece = bytes.subarray(at[i - 1], at[i]);
          // Alternate, as the save does: small headers in place, large pieces in the background.
          if (i % 2) await updateInBackground(s, piece);
          else s.update(piece);
        }
        expect(s.digest()).toBe(wasm.h64Raw(bytes, 0n));
      }),
      { numRuns: 100 },
    );
    if ((await hasherKind()) === 'native') {
      const s = hasher.streaming();
      expect(s.updateAsync).toBeDefined();
      const pending = updateInBackground(s, new Uint8Array(1 << 20));
      expect(() => s.update(new Uint8Array(1))).toThrow(/in use/);
      expect(() => s.digest()).toThrow(/in use/);
      await pending;
      expect(s.digest()).toBe(wasm.h64Raw(new Uint8Array(1 << 20), 0n));
    }
  });

  it('uses the native library when it is installed, and LEANCKPT_HASH=wasm forces WebAssembly', async () => {
    const kind = await hasherKind();
    expect(['native', 'wasm']).toContain(kind);
    const script = "import('./core/hash.ts').then(async (m) => console.log(await m.hasherKind()))";
    const r = await runNode(['--import', 'tsx', '-e', script], { env: { LEANCKPT_HASH: 'wasm' } });
    expect(r.out.trim()).toBe('wasm');
  });
});
