/**
 * The CLI as bundled JavaScript for the lab's dom0. Under TCG, node starting the project through tsx
 * (compiling a few hundred TypeScript files read over 9p, into a cache the -snapshot disk forgets)
 * took minutes per `leanckpt` command; the bundle starts in seconds. koffi (native) and the chart
 * libraries stay outside: dom0 resolves koffi from the shared project's node_modules (NODE_PATH).
 *
 * Split into an entry and chunks that each command imports as it needs them (the commands already
 * import their modules dynamically), and with rxjs's ES modules so that what is unused is left out:
 * a tracking process, which a restore starts while xl builds the domain, compiled the whole 1.7 MB
 * single file (1.4 s of its CPU in a profiled lab run), most of it code it never runs (the
 * simulator, the lab, progress bars). Now it compiles about half of a 1.3 MB whole.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { PROJECT_ROOT } from './recipe.ts';

/** Bundled code calls createRequire(import.meta.url) for koffi; `require` itself must exist too. */
const REQUIRE_SHIM =
  "import { createRequire as __lckRequire } from 'node:module'; const require = __lckRequire(import.meta.url);";

export const BUNDLE_NAME = 'leanckpt.mjs';
/** Where the entry's chunks go, beside it. */
export const BUNDLE_CHUNKS = 'leanckpt-chunks';

/** Writes the bundled CLI to `dir`/leanckpt.mjs and its chunks to `dir`/leanckpt-chunks; returns the entry's path. */
export async function bundleCli(dir: string, project = PROJECT_ROOT): Promise<string> {
  await build({
    entryPoints: { leanckpt: join(project, 'bin/leanckpt.ts') },
    outdir: dir,
    splitting: true,
    chunkNames: `${BUNDLE_CHUNKS}/[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // rxjs's package exports give node its CommonJS build, which cannot be tree-shaken.
    alias: { rxjs: join(project, 'node_modules/rxjs/dist/esm/index.js') },
    external: ['koffi', 'vega', 'vega-lite'],
    banner: { js: REQUIRE_SHIM },
    logLevel: 'error',
  });
  return join(dir, BUNDLE_NAME);
}
