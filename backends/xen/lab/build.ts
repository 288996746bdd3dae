/**
 * `lab build`: runs the recipe steps whose inputs changed, each as a bash script with its output dir,
 * logging to <lab>/<step>.log. A step's stamp is removed before it runs and written only after it
 * succeeds, so an interrupted build is redone, never trusted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.ts';
import {
  BUILD_FREE_BYTES,
  checkFreeSpace,
  checkMirror,
  diagnoseStepLog,
  isRoot,
  missingTools,
  missingToolsError,
} from './prereq.ts';
import {
  DEFAULT_MIRROR,
  RECIPE_DIR,
  STEPS,
  externalInputs,
  labDir,
  recipeHash,
  stampFile,
  stepHashes,
  type StepName,
} from './recipe.ts';

export interface BuildOptions {
  lab?: string;
  mirror?: string;
  /** Rebuild every step even if its stamp matches. */
  force?: boolean;
  /** As root, apt-get install missing host tools instead of failing. */
  installDeps?: boolean;
  progress?: (line: string) => void;
}

export interface BuildStepReport {
  name: StepName;
  hash: string;
  action: 'cached' | 'built';
  seconds: number;
}

export interface BuildReport {
  lab: string;
  recipeHash: string;
  steps: BuildStepReport[];
  seconds: number;
}

/** Which steps are stale, without building anything. */
export async function labStatus(
  lab = labDir(),
): Promise<{ hashes: Map<StepName, string>; stale: StepName[] }> {
  const hashes = stepHashes(await externalInputs());
  const stale = STEPS.filter((s) => readStamp(lab, s.name) !== hashes.get(s.name)).map((s) => s.name);
  return { hashes, stale };
}

function readStamp(lab: string, step: StepName): string | undefined {
  const f = stampFile(lab, step);
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

function installDeps(packages: string[], progress: (line: string) => void): void {
  progress(`installing host packages: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...packages],
  ]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      throw new LabError(
        'prerequisite',
        `apt-get ${args[0]} failed (status ${r.status ?? r.signal}):\n${(r.stderr || r.stdout).trim().slice(-2000)}`,
      );
    }
  }
}

export async function buildLab(opts: BuildOptions = {}): Promise<BuildReport> {
  const lab = opts.lab ?? labDir();
  const mirror = opts.mirror ?? process.env.LEANCKPT_LAB_MIRROR ?? DEFAULT_MIRROR;
  const progress = opts.progress ?? (() => {});
  const t0 = performance.now();
  const { hashes, stale } = await labStatus(lab);
  const todo = new Set<StepName>(opts.force ? STEPS.map((s) => s.name) : stale);
  // A rebuilt step invalidates what is built on it (its hash changed too, but be explicit).
  for (const s of STEPS) if (s.after.some((d) => todo.has(d))) todo.add(s.name);

  if (todo.size > 0) {
    const tools = STEPS.filter((s) => todo.has(s.name)).flatMap((s) => s.tools);
    // The run needs qemu too: better to learn that now than after a long build.
    let missing = missingTools([...tools, 'qemu-system-x86_64']);
    if (missing.tools.length > 0 && opts.installDeps && isRoot() && existsSync('/usr/bin/apt-get')) {
      installDeps(missing.packages, progress);
      missing = missingTools([...tools, 'qemu-system-x86_64']);
    }
    if (missing.tools.length > 0) throw missingToolsError(missing, 'lab build');
    if (!isRoot()) {
      throw new LabError(
        'prerequisite',
        'lab build must run as root: debootstrap and chroot build the dom0 root file system.',
      );
    }
    checkFreeSpace(lab, BUILD_FREE_BYTES, 'a lab build');
    if (todo.has('dom0-base')) await checkMirror(mirror);
  }

  const steps: BuildStepReport[] = [];
  for (const [i, step] of STEPS.entries()) {
    const hash = hashes.get(step.name)!;
    const tag = `[${i + 1}/${STEPS.length}] ${step.name}`;
    if (!todo.has(step.name)) {
      progress(`${tag}: up to date (${hash.slice(0, 12)})`);
      steps.push({ name: step.name, hash, action: 'cached', seconds: 0 });
      continue;
    }
    progress(`${tag}: ${step.title}`);
    const s0 = performance.now();
    const out = join(lab, step.name);
    mkdirSync(out, { recursive: true });
    rmSync(stampFile(lab, step.name), { force: true });
    await runStep(step.script, lab, out, mirror, progress);
    writeFileSync(stampFile(lab, step.name), `${hash}\n`);
    const seconds = (performance.now() - s0) / 1000;
    progress(`${tag}: done in ${seconds.toFixed(1)} s`);
    steps.push({ name: step.name, hash, action: 'built', seconds });
  }
  return { lab, recipeHash: recipeHash(hashes), steps, seconds: (performance.now() - t0) / 1000 };
}

async function runStep(
  script: string,
  lab: string,
  out: string,
  mirror: string,
  progress: (line: string) => void,
): Promise<void> {
  const logPath = `${out}.log`;
  const log = createWriteStream(logPath);
  const env = {
    ...process.env,
    LAB_STEP_OUT: out,
    LAB_BASE: join(lab, 'dom0-base'),
    LAB_RECIPE: RECIPE_DIR,
    LAB_MIRROR: mirror,
    LAB_NODE: process.execPath,
  };
  const child = spawn('bash', [join(RECIPE_DIR, script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const take = (chunk: Buffer): void => {
    log.write(chunk);
    text = (text + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await new Promise<void>((resolve) => log.end(resolve));
  if (code === 0) return;
  const tail = text.trim().split('\n').slice(-25).join('\n');
  progress(tail);
  throw (
    diagnoseStepLog(text, mirror) ??
    new LabError('failed', `lab build: step ${script} failed (status ${code}); full log: ${logPath}`)
  );
}
