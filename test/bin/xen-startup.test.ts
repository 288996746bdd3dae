/**
 * `xen save` and `xen restore` start a fresh node each time, in a dom0 that may be emulated (lab: seconds
 * per module graph). They must not load the tracker or rxjs, which only the tracking process needs.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PROJECT_ROOT as root, runNode } from '../support/cli.ts';

it('the xen commands module loads neither rxjs nor the tracker', async () => {
  const probe = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(join(root, 'bin/commands/xen.ts'))});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(loaded.filter((k) => k.includes('/rxjs/')).length));
  `;
  const r = await runNode(['--import', 'tsx', '--input-type=module', '-e', probe]);
  expect(r.err).toBe('');
  expect(JSON.parse(r.out)).toBe(0);
});
