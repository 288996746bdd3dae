/**
 * `xen save` and `xen restore` start a fresh node each time, in a dom0 that may be emulated (lab: seconds
 * per module graph). They must not load the tracker or rxjs, which only the tracking process needs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

it('the xen commands module loads neither rxjs nor the tracker', () => {
  const probe = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(join(root, 'bin/commands/xen.ts'))});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(loaded.filter((k) => k.includes('/rxjs/')).length));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toBe(0);
});
