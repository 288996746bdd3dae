/**
 * make on a kernel tree: for each source file a compiler process starts (mapping part of the
 * toolchain), reads the source and a skewed selection of headers, works in its anonymous memory,
 * writes an assembler file that the assembler reads back and that is then deleted, writes the object
 * file (replacing the previous one), and exits. Every few hundred objects a linker reads many objects
 * and writes a large binary (replacing the previous one). The first pass builds every source; after
 * that the build is incremental: sources are picked with a skew (the files being worked on) and rebuilt.
 */
import { KiB, MiB, type Workload } from './types.ts';

export const KERNEL_BUILD: Workload = {
  name: 'kernel-build',
  description: 'make: compilers read sources and headers, write objects; link; process churn',
  defaultEvents: (pages) => Math.max(200_000, pages * 4),
  start(os, rng) {
    os.boot();
    const sources = os.populate(24_000, () => rng.logNormal(10 * KiB, 1.0));
    const headers = os.populate(8_000, () => rng.logNormal(5 * KiB, 1.1));
    const toolchain = [os.systemFile(1), os.systemFile(1), os.systemFile(1)];
    // Programs are smaller in guests below 1 GiB (such a guest would not build with -O2 and LTO).
    const size = Math.max(0.1, os.scale);
    const make = os.exec([toolchain[0]!], 6 * MiB * size);
    const objects = new Int32Array(sources.length).fill(-1);
    let binary = -1;
    let next = 0;
    let jobs = 0;
    return () => {
      const i = next < sources.length ? next++ : rng.skewed(sources.length, 3);
      const src = sources[i]!;
      const cc = os.exec(toolchain, rng.logNormal(8 * MiB * size, 0.5));
      os.readAll(src, cc);
      const includes = 15 + rng.int(30);
      for (let k = 0; k < includes; k++) os.readAll(headers[rng.skewed(headers.length, 4)]!, cc);
      os.touch(cc, os.rss(cc) >> 2);
      const asm = os.create(os.fileBytes(src) * 2.5, cc);
      os.readAll(asm, cc);
      if (objects[i]! >= 0) os.remove(objects[i]!);
      objects[i] = os.create(os.fileBytes(src) * 1.3 + 2 * KiB, cc);
      os.remove(asm);
      os.exit(cc);
      os.touch(make, 4);
      if (++jobs % 400 === 0) {
        const ld = os.exec([toolchain[2]!], 48 * MiB * size);
        let bytes = 0;
        for (let k = 0; k < 300; k++) {
          const o = objects[rng.int(Math.max(1, Math.min(next, objects.length)))]!;
          if (o < 0) continue;
          os.readAll(o, ld);
          bytes += os.fileBytes(o);
        }
        os.touch(ld, os.rss(ld) >> 1);
        if (binary >= 0) os.remove(binary);
        binary = os.create(Math.max(bytes, 64 * KiB), ld);
        os.exit(ld);
      }
    };
  },
};
