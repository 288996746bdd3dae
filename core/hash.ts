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
  /**
   * update() on a libuv worker thread (native only), so the main thread goes on meanwhile: neither
   * `bytes` nor this hash may be touched until it resolves.
   */
  updateAsync?(bytes: Uint8Array): Promise<void>;
}

/**
 * Hashes `bytes` into `h` off the main thread where the hasher can (see updateAsync), else at once.
 * For the large, already-read pieces of a whole-file or whole-stream hash: with a second CPU, the
 * hashing then overlaps the reading, parsing and writing around it.
 */
export function updateInBackground(h: StreamingHash64, bytes: Uint8Array): Promise<void> {
  if (h.updateAsync) return h.updateAsync(bytes);
  h.update(bytes);
  return Promise.resolve();
}

export interface Hasher64 {
  /** XXH64 of `bytes`. */
  hash64(bytes: Uint8Array): bigint;
  /** An incremental XXH64, for sections written in pieces. */
  streaming(): StreamingHash64;
}

type Xxh64 = (input: Uint8Array, length: number, seed: number) => bigint | number;

/** libxxhash's XXH64 and its streaming state (an opaque struct the library allocates). */
interface NativeXxh64 {
  hash: Xxh64;
  createState(): unknown;
  reset(state: unknown, seed: number): number;
  update: ((state: unknown, input: Uint8Array, length: number) => number) & {
    async(state: unknown, input: Uint8Array, length: number, done: (err: unknown) => void): void;
  };
  digest(state: unknown): bigint | number;
  freeState(state: unknown): number;
}

/** XXH64 from libxxhash through koffi, or undefined when either is missing. */
function nativeXxh64(): NativeXxh64 | undefined {
  if (process.env.LEANCKPT_HASH === 'wasm') return undefined;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(decl: string): unknown };
    };
    const lib = koffi.load('libxxhash.so.0');
    const f = <T>(decl: string): T => lib.func(decl) as T;
    return {
      hash: f('uint64_t XXH64(const void *input, size_t length, uint64_t seed)'),
      createState: f('void *XXH64_createState(void)'),
      reset: f('int XXH64_reset(void *state, uint64_t seed)'),
      update: f('int XXH64_update(void *state, const void *input, size_t length)'),
      digest: f('uint64_t XXH64_digest(void *state)'),
      freeState: f('int XXH64_freeState(void *state)'),
    };
  } catch {
    return undefined;
  }
}

/**
 * A streaming XXH64 over a native state: the caller's bytes are hashed in place (the WebAssembly one
 * copies every chunk into its memory first). The state is freed at digest(), or when the object is
 * collected if it never gets there (an aborted image write).
 */
function nativeStreaming(n: NativeXxh64, registry: FinalizationRegistry<unknown>): StreamingHash64 {
  let state: unknown = n.createState();
  if (!state) throw new Error('XXH64_createState failed');
  n.reset(state, 0);
  const token = {};
  let busy = false;
  const usable = (): void => {
    if (state === undefined) throw new Error('hash already digested');
    if (busy) throw new Error('hash in use by an update on another thread');
  };
  const self: StreamingHash64 = {
    update(bytes) {
      usable();
      if (bytes.length > 0) n.update(state, bytes, bytes.length);
      return self;
    },
    updateAsync(bytes) {
      usable();
      if (bytes.length === 0) return Promise.resolve();
      busy = true;
      return new Promise<void>((resolve, reject) =>
        n.update.async(state, bytes, bytes.length, (err) => {
          busy = false;
          if (err) reject(err instanceof Error ? err : new Error(String(err)));
          else resolve();
        }),
      );
    },
    digest() {
      usable();
      const h = BigInt(n.digest(state));
      n.freeState(state);
      registry.unregister(token);
      state = undefined;
      return h;
    },
  };
  registry.register(self, state, token);
  return self;
}

let loaded: Promise<Hasher64> | undefined;
let kind: 'native' | 'wasm' | undefined;

/** Loads the hasher once; later calls share it. */
export function loadHasher(): Promise<Hasher64> {
  loaded ??= xxhash().then((x): Hasher64 => {
    const native = nativeXxh64();
    kind = native ? 'native' : 'wasm';
    if (native) {
      const registry = new FinalizationRegistry<unknown>((state) => void native.freeState(state));
      return {
        streaming: () => nativeStreaming(native, registry),
        // koffi may return a uint64 as a number when it is exactly representable: always a bigint.
        hash64: (bytes) => BigInt(native.hash(bytes, bytes.length, 0)),
      };
    }
    return {
      streaming: () => x.create64(0n) as unknown as StreamingHash64,
      hash64: (bytes) => x.h64Raw(bytes, 0n),
    };
  });
  return loaded;
}

/** Which implementation hashes whole inputs (after loadHasher()): for benchmark reports. */
export async function hasherKind(): Promise<'native' | 'wasm'> {
  await loadHasher();
  return kind!;
}
