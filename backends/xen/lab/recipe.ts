/**
 * The lab's build recipe: three steps, each a script under recipe/ with the inputs that decide whether
 * its cached output is still good. A step's hash covers its files, its parameters and the hashes of
 * the steps it builds on, so editing the guest agent rebuilds only the guest, and a new dom0 package
 * list rebuilds everything after it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const LAB_HOME = resolve(import.meta.dirname);
export const RECIPE_DIR = join(LAB_HOME, 'recipe');
export const SCENARIO_DIR = join(LAB_HOME, 'scenarios');
export const PROJECT_ROOT = resolve(LAB_HOME, '../../..');
export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
/** Xen 4.17.5 is what bookworm main carries; dom0-base.sh refuses anything else (see docs/lab.md). */
export const XEN_PIN = '4.17.5';

export type StepName = 'dom0-base' | 'dom0-image' | 'guest';

export interface StepSpec {
  name: StepName;
  script: string;
  /** Recipe files (relative to recipe/) whose content is an input. */
  files: string[];
  after: StepName[];
  /** Host tools the script runs (checked before building). */
  tools: string[];
  /** What the step does, for progress lines. */
  title: string;
}

export const STEPS: readonly StepSpec[] = [
  {
    name: 'dom0-base',
    script: 'dom0-base.sh',
    files: ['dom0-base.sh'],
    after: [],
    tools: ['debootstrap', 'chroot'],
    title: `Debian bookworm dom0 root with Xen ${XEN_PIN} (debootstrap)`,
  },
  {
    name: 'dom0-image',
    script: 'dom0-image.sh',
    files: ['dom0-image.sh', 'dom0/lab.service', 'dom0/lab-boot'],
    after: ['dom0-base'],
    tools: ['mkfs.ext4', 'zcat', 'chroot'],
    title: 'dom0 disk image, Xen and dom0 kernel',
  },
  {
    name: 'guest',
    script: 'guest.sh',
    files: ['guest.sh', 'guest/init', 'guest/lckguest.c'],
    after: ['dom0-base'],
    tools: ['gcc', 'cpio', 'gzip', 'mkfs.ext4', 'chroot'],
    title: 'guest kernel, initramfs and ext4 data disks (4 KiB and 1 KiB blocks)',
  },
];

export function labDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LEANCKPT_LAB_DIR || join(homedir(), '.cache/leanckpt/lab'));
}

/** Inputs that are not recipe files: the dom0 gets the host's node binary, so its bytes count. */
export interface ExternalInputs {
  nodeDigest: string;
}

export async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function externalInputs(nodePath = process.execPath): Promise<ExternalInputs> {
  return { nodeDigest: await fileDigest(nodePath) };
}

/** Each step's hash, in recipe order. `read` is injectable so tests can hash a recipe in memory. */
export function stepHashes(
  ext: ExternalInputs,
  read: (file: string) => Buffer | string = (f) => readFileSync(join(RECIPE_DIR, f)),
): Map<StepName, string> {
  const hashes = new Map<StepName, string>();
  for (const step of STEPS) {
    const h = createHash('sha256');
    h.update(`step ${step.name}\n`);
    for (const f of step.files) {
      h.update(`file ${f}\n`);
      h.update(read(f));
      h.update('\n');
    }
    for (const dep of step.after) h.update(`after ${dep} ${hashes.get(dep)}\n`);
    if (step.name === 'dom0-image') h.update(`node ${ext.nodeDigest}\n`);
    if (step.name === 'dom0-base') h.update(`suite bookworm xen ${XEN_PIN}\n`);
    hashes.set(step.name, h.digest('hex'));
  }
  return hashes;
}

/** One hash for the whole recipe (what `lab build` prints and a run records). */
export function recipeHash(hashes: Map<StepName, string>): string {
  const h = createHash('sha256');
  for (const [name, hash] of hashes) h.update(`${name} ${hash}\n`);
  return h.digest('hex').slice(0, 16);
}

export const stampFile = (lab: string, step: StepName): string => join(lab, step, '.recipe-hash');
