/**
 * 64-bit content hashes (XXH64, seed 0). Native when the system's libxxhash (Debian: libxxhash0) can
 * be loaded through koffi: it hashes the caller's bytes in place, about 3-4x faster per 4 KiB page on
 * these machines than the WebAssembly build, which must first copy every input into its own memory.
 * Otherwise, or with LEANCKPT_HASH=wasm, the WebAssembly build (xxhash-wasm). Both compute the same
 * function, so images and traces never depend on which one wrote them.
 */
import { createRequire } from 'node:module';
import xxhash from 'xxhash-wasm';

export interface StreamingHash64 {
  update(bytes: Uint8Array): StreamingHash64;
  digest(): bigint;
}

export interface Hasher64 {
  /** XXH64 of `bytes`. */
  hash64(bytes: Uint8Array): bigint;
  /** An incremental XXH64, for sections written in pieces. */
  streaming(): StreamingHash64;
}

type Xxh64 = (input: Uint8Array, length: number, seed: number) => bigint | number;

/** XXH64 from libxxhash through koffi, or undefined when either is missing. */
function nativeXxh64(): Xxh64 | undefined {
  if (process.env.LEANCKPT_HASH === 'wasm') return undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(decl: string): unknown };
    };
    const lib = koffi.load('libxxhash.so.0');
    return lib.func('uint64_t XXH64(const void *input, size_t length, uint64_t seed)') as Xxh64;
  } catch {
    return undefined;
  }
}

let loaded: Promise<Hasher64> | undefined;
let kind: 'native' | 'wasm' | undefined;

/** Loads the hasher once; later calls share it. */
export function loadHasher(): Promise<Hasher64> {
  loaded ??= xxhash().then((x): Hasher64 => {
    const streaming = (): StreamingHash64 => x.create64(0n) as unknown as StreamingHash64;
    const native = nativeXxh64();
    kind = native ? 'native' : 'wasm';
    // koffi may return a uint64 as a number when it is exactly representable: always give a bigint.
    if (native) return { streaming, hash64: (bytes) => BigInt(native(bytes, bytes.length, 0)) };
    return { streaming, hash64: (bytes) => x.h64Raw(bytes, 0n) };
  });
  return loaded;
}

/** Which implementation hashes whole inputs (after loadHasher()): for benchmark reports. */
export async function hasherKind(): Promise<'native' | 'wasm'> {
  await loadHasher();
  return kind!;
}
