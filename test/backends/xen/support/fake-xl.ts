/**
 * Puts the stand-in `xl` (fixtures/fake-xl.mjs) first on PATH, serving `stream` to `xl save`, with a
 * fresh log and no failure injected. Returns its directory; restorePath() undoes the PATH change.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const FAKE_XL = new URL('../fixtures/fake-xl.mjs', import.meta.url).pathname;
const savedPath = process.env['PATH'];

export async function installFakeXl(dir: string, stream: Uint8Array): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(FAKE_XL, join(dir, 'bin', 'xl'));
  await chmod(join(dir, 'bin', 'xl'), 0o755);
  await writeFile(join(dir, 'stream'), stream);
  process.env['PATH'] = `${join(dir, 'bin')}:${savedPath}`;
  process.env['FAKE_XL_DIR'] = dir;
  delete process.env['FAKE_XL_FAIL'];
  delete process.env['FAKE_XL_SAVE_PIECE'];
  delete process.env['LEANCKPT_XL'];
  return dir;
}

export function restorePath(): void {
  process.env['PATH'] = savedPath;
}
