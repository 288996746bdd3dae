/**
 * The CLI as one JavaScript file for the lab's dom0. Under TCG, node starting the project through tsx
 * (compiling a few hundred TypeScript files read over 9p, into a cache the -snapshot disk forgets)
 * took minutes per `leanckpt` command; the bundle starts in seconds. koffi (native) and the chart
 * libraries stay outside: dom0 resolves koffi from the shared project's node_modules (NODE_PATH).
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import { PROJECT_ROOT } from './recipe.ts';

/** Bundled code calls createRequire(import.meta.url) for koffi; `require` itself must exist too. */
const REQUIRE_SHIM =
  "import { createRequire as __lckRequire } from 'node:module'; const require = __lckRequire(import.meta.url);";

export const BUNDLE_NAME = 'leanckpt.mjs';

/** Writes the bundled CLI to `dir`/leanckpt.mjs; returns its path. */
export async function bundleCli(dir: string, project = PROJECT_ROOT): Promise<string> {
  const outfile = join(dir, BUNDLE_NAME);
  await build({
    entryPoints: [join(project, 'bin/leanckpt.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['koffi', 'vega', 'vega-lite'],
    banner: { js: REQUIRE_SHIM },
    logLevel: 'error',
  });
  return outfile;
}
