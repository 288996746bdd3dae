import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUNDLE_CHUNKS, bundleCli } from '../../backends/xen/lab/bundle.ts';
import { PROJECT_ROOT } from '../../backends/xen/lab/recipe.ts';
import { selfCommand } from '../../backends/xen/daemon/spawn.ts';
import { runNode } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'lck-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the bundle from outside the project, as dom0 does: koffi only through NODE_PATH. */
const runBundle = (file: string, args: string[]) =>
  runNode([file, ...args], { cwd: dir, env: { NODE_PATH: join(PROJECT_ROOT, 'node_modules') } });

describe('the bundled CLI for the lab', () => {
  it('runs from a directory outside the project and keeps the CLI behaviour', async () => {
    const file = await bundleCli(dir);
    // Split: the entry is small, each command compiles only the chunks it imports.
    expect(statSync(file).size).toBeLessThan(100_000);
    expect(readdirSync(join(dir, BUNDLE_CHUNKS)).length).toBeGreaterThan(10);
    const help = await runBundle(file, ['xen', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('restore');
    // Loads koffi (through NODE_PATH) and then fails cleanly: this machine is not a dom0.
    const status = await runBundle(file, ['xen', 'status', '1']);
    expect(status.code).toBe(2);
    expect(status.err).toMatch(/not a Xen dom0: .* missing/);
    expect(status.err).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('selfCommand (how a tracking process is started)', () => {
  it('re-runs the bundle as it is, with the same node flags', () => {
    expect(selfCommand('/lab/results/leanckpt.mjs', [])).toEqual(['/lab/results/leanckpt.mjs']);
  });
  it('keeps the loader flags of a tsx-started CLI', () => {
    const flags = ['--require', '/p/preflight.cjs', '--import', 'file:///p/loader.mjs'];
    expect(selfCommand('/p/bin/leanckpt.ts', flags)).toEqual([...flags, '/p/bin/leanckpt.ts']);
  });
  it('falls back to the project entry through tsx under another entry (a test runner)', () => {
    expect(selfCommand('/x/vitest.mjs', ['--foo'])).toEqual([
      '--import',
      'tsx',
      join(PROJECT_ROOT, 'bin/leanckpt.ts'),
    ]);
  });
});
