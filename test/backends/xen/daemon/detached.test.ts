/** spawnDetached(): a child that outlives us, waited for through its ready pipe, not by polling. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DetachedChild, spawnDetached } from '../../../../backends/xen/daemon/detached.ts';
import { tempDir } from '../../../support/image-fakes.ts';

const root = join(import.meta.dirname, '../../../..');
const detached = join(root, 'backends/xen/daemon/detached.ts');
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => (tmp = await tempDir('leanckpt-detached-')));
afterAll(() => tmp.cleanup());

/** `node -e` running `body` as an ES module that can call signalReady(). */
const child = (body: string): string[] => [
  '--import',
  'tsx',
  '--input-type=module',
  '-e',
  `import { parentLink, signalReady } from ${JSON.stringify(detached)};\n${body}`,
];

it('resolves once the child signals, while the child goes on running', async () => {
  const log = tmp.path('ready.log');
  const mark = tmp.path('after');
  const pid = await spawnDetached(
    child(`import { writeFileSync } from 'node:fs';
      console.log('starting');
      setTimeout(() => { signalReady(); setTimeout(() => writeFileSync(${JSON.stringify(mark)}, 'x'), 300); }, 200);`),
    { log, timeoutMs: 20_000, cwd: root },
  );
  expect(pid).toBeGreaterThan(0);
  expect(await readFile(log, 'utf8')).toContain('starting');
  // Still running after we resolved: it writes its mark later.
  await expect.poll(() => readFile(mark, 'utf8').catch(() => ''), { timeout: 5000 }).toBe('x');
});

it('reports a child that exits before it is ready, naming its log', async () => {
  const log = tmp.path('exit.log');
  await expect(
    spawnDetached(child(`console.error('no disk'); process.exit(3);`), { log, timeoutMs: 20_000, cwd: root }),
  ).rejects.toThrow(`it exited (code 3) before it was ready; see ${log}`);
  expect(await readFile(log, 'utf8')).toContain('no disk');
});

it('gives up on a child that never signals, and ends it', async () => {
  const log = tmp.path('silent.log');
  const mark = tmp.path('silent-pid');
  await expect(
    spawnDetached(
      child(`import { writeFileSync } from 'node:fs';
        writeFileSync(${JSON.stringify(mark)}, String(process.pid));
        setTimeout(() => {}, 60_000);`),
      { log, timeoutMs: 1500, cwd: root },
    ),
  ).rejects.toThrow(/not ready within 1.5 s/);
  const pid = Number(await readFile(mark, 'utf8'));
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  await expect.poll(alive, { timeout: 5000 }).toBe(false);
});

it('a child started ahead says "loaded", takes its work over the link, then says "ready"', async () => {
  const log = tmp.path('ahead.log');
  const before = performance.now();
  const c = DetachedChild.spawn(
    child(`const link = parentLink();
      link.say('loaded');
      const work = await link.hear();
      console.log('got ' + work);
      signalReady();
      setTimeout(() => {}, 200);`),
    { log, cwd: root },
  );
  await c.expect('loaded', 20_000);
  c.send(JSON.stringify({ domid: 7 }));
  await c.expect('ready', 20_000);
  c.release();
  expect(await readFile(log, 'utf8')).toContain('got {"domid":7}');
  // When each line came is kept (a restore reports when its tracking had loaded and was ready).
  const loaded = c.heardAt.get('loaded')!;
  const ready = c.heardAt.get('ready')!;
  expect(loaded).toBeGreaterThan(before);
  expect(ready).toBeGreaterThanOrEqual(loaded);
  expect(ready).toBeLessThanOrEqual(performance.now());
});

it('a child started ahead and not needed hears the link close, and may exit', async () => {
  const log = tmp.path('unneeded.log');
  const mark = tmp.path('unneeded');
  const c = DetachedChild.spawn(
    child(`import { writeFileSync } from 'node:fs';
      const link = parentLink();
      link.say('loaded');
      writeFileSync(${JSON.stringify(mark)}, String(await link.hear()));`),
    { log, cwd: root },
  );
  await c.expect('loaded', 20_000);
  c.release();
  await expect.poll(() => readFile(mark, 'utf8').catch(() => ''), { timeout: 5000 }).toBe('undefined');
});
