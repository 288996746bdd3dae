/**
 * `lab run`: boots the built lab under QEMU (TCG), lets dom0 run one scenario, and reads its protocol
 * stream as it is written. The dom0 disk is attached with -snapshot, so every run starts from the
 * same image and leaves the cache untouched; what a run produces lands in its results dir.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labStatus } from './build.ts';
import { bundleCli } from './bundle.ts';
import { LabError } from './errors.ts';
import { checkFreeSpace, missingTools, missingToolsError, RUN_FREE_BYTES } from './prereq.ts';
import { failures, parseRunOutput, retries, type RunOutput } from './protocol.ts';
import { labDir, PROJECT_ROOT, recipeHash, SCENARIO_DIR } from './recipe.ts';

export interface RunOptions {
  scenario: string;
  lab?: string;
  /** Whole-run limit: boot, scenario and power-off. */
  timeoutSeconds?: number;
  /** key=value settings handed to the scenario (LAB_ARGS). */
  args?: string[];
  progress?: (line: string) => void;
}

export interface RunReport extends RunOutput {
  scenario: string;
  ok: boolean;
  timedOut: boolean;
  wallSeconds: number;
  retried: string[];
  failures: string[];
  runDir: string;
  recipeHash: string;
  /** Emulated CPUs of the host (and so of dom0). */
  cpus: number;
}

/**
 * Xen's own boot needs CET-free, SMAP/SMEP-free TCG here. Without XSAVE (so Xen, dom0 and guests
 * switch FPU state with FXSAVE and nothing uses AVX) the emulated host stopped damaging processes and
 * guest memory (see docs/lab.md, "Spurious failures"). LEANCKPT_LAB_CPU replaces the model.
 */
export const QEMU_CPU = process.env.LEANCKPT_LAB_CPU ?? 'max,-smap,-smep,-xsave';
export const DOM0_MEM = '1536M';

/**
 * Emulated CPUs (default 1; LEANCKPT_LAB_CPUS=2 for a two-CPU host and dom0, multi-threaded TCG). With
 * two, before XSAVE was turned off, dom0 processes forked right after `xl create` crashed with heap
 * corruption; a second CPU lets leanckpt's stream filter run beside `xl save` as on a real host.
 */
export function labCpus(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.LEANCKPT_LAB_CPUS ?? '1';
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    throw new LabError('usage', `LEANCKPT_LAB_CPUS must be a whole number from 1 to 8, got "${text}"`);
  }
  return n;
}

export function scenarios(): string[] {
  return readdirSync(SCENARIO_DIR, { withFileTypes: true })
    .filter(
      (d) => d.isDirectory() && ['run.sh', 'run.ts'].some((f) => existsSync(join(SCENARIO_DIR, d.name, f))),
    )
    .map((d) => d.name)
    .sort();
}

/** Data-disk slots per file-system kind: dom0 sees each as /dev/disk/by-id/virtio-lab-<fs>-<n>. */
export const DISK_SLOTS = 4;

/**
 * Every slot is the same built image, made private and writable by -snapshot's per-drive overlay:
 * guests get fresh disks without copying 256 MiB through 9p (minutes under TCG).
 */
function guestDisks(lab: string): string[] {
  const args: string[] = [];
  for (const fs of ['4k', '1k']) {
    for (let n = 1; n <= DISK_SLOTS; n++) {
      const id = `lab-${fs}-${n}`;
      args.push(
        '-drive',
        `file=${join(lab, 'guest', `disk-${fs}.img`)},if=none,id=${id},format=raw,cache=unsafe`,
      );
      args.push('-device', `virtio-blk-pci,drive=${id},serial=${id}`);
    }
  }
  return args;
}

export function qemuArgs(lab: string, runDir: string, project = PROJECT_ROOT, cpus = labCpus()): string[] {
  const img = join(lab, 'dom0-image');
  const share = (path: string, tag: string, ro: boolean): string[] => [
    '-virtfs',
    `local,path=${path},mount_tag=${tag},security_model=none,id=${tag}${ro ? ',readonly=on' : ''}`,
  ];
  return [
    ...['-machine', 'q35', '-cpu', QEMU_CPU, '-m', '4096'],
    ...(cpus > 1 ? ['-accel', 'tcg,thread=multi', '-smp', String(cpus)] : ['-accel', 'tcg', '-smp', '1']),
    // No NIC: the lab needs no network, and dom0 must not reach one. No VGA: nothing looks at it.
    ...['-display', 'none', '-vga', 'none', '-nic', 'none', '-no-reboot', '-snapshot'],
    ...['-serial', `file:${join(runDir, 'serial.log')}`],
    ...['-kernel', join(img, 'xen.elf')],
    ...[
      '-append',
      `console=com1 com1=115200,8n1 dom0_mem=${DOM0_MEM},max:${DOM0_MEM} loglvl=all guest_loglvl=all noreboot`,
    ],
    ...['-initrd', `${join(img, 'vmlinuz')} console=hvc0 root=LABEL=dom0 rw,${join(img, 'initrd.img')}`],
    ...['-drive', `file=${join(img, 'dom0.img')},if=virtio,format=raw,cache=unsafe`],
    ...guestDisks(lab),
    ...share(project, 'lckproject', true),
    ...share(runDir, 'lckresults', false),
    ...share(join(lab, 'guest'), 'lckguest', true),
  ];
}

function tail(path: string, lines: number): string {
  if (!existsSync(path)) return '(none)';
  // Serial logs carry ANSI colours and CRs from systemd and guests; console logs can hold NULs.
  const text = readFileSync(path, 'utf8')
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '') // eslint-disable-line no-control-regex
    .replace(/[\r\0]/g, '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Everything needed to diagnose a failed run without rerunning it. */
export function failureDetails(r: RunReport): string {
  const parts = [
    `scenario ${r.scenario} failed${r.timedOut ? ' (timed out)' : ''}:`,
    ...r.failures.map((f) => `  - ${f}`),
    `--- scenario output (last 30 lines; all in ${join(r.runDir, 'run.out')}) ---`,
    tail(join(r.runDir, 'run.out'), 30),
    `--- Xen/dom0 serial log (last 40 lines of ${join(r.runDir, 'serial.log')}) ---`,
    tail(join(r.runDir, 'serial.log'), 40),
  ];
  const consoles = join(r.runDir, 'console');
  if (existsSync(consoles)) {
    for (const f of readdirSync(consoles).sort()) {
      parts.push(`--- guest console ${f} (last 20 lines) ---`, tail(join(consoles, f), 20));
    }
  }
  return parts.join('\n');
}

export async function runScenario(opts: RunOptions): Promise<RunReport> {
  const lab = opts.lab ?? labDir();
  const progress = opts.progress ?? (() => {});
  const known = scenarios();
  if (!known.includes(opts.scenario)) {
    throw new LabError('usage', `unknown scenario '${opts.scenario}'; scenarios: ${known.join(', ')}`);
  }
  for (const a of opts.args ?? []) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=[^\s'"`$\\;]*$/.test(a)) {
      throw new LabError('usage', `bad scenario setting '${a}': expected key=value without spaces or quotes`);
    }
  }
  const cpus = labCpus();
  const missing = missingTools(['qemu-system-x86_64']);
  if (missing.tools.length > 0) throw missingToolsError(missing, 'lab run');
  const status = await labStatus(lab);
  if (!existsSync(join(lab, 'dom0-image', 'dom0.img')) || status.stale.length > 0) {
    const why = existsSync(join(lab, 'dom0-image', 'dom0.img'))
      ? `the lab at ${lab} is out of date (${status.stale.join(', ')} changed)`
      : `no lab built at ${lab}`;
    throw new LabError('prerequisite', `${why}: run \`leanckpt lab build\` first.`);
  }
  checkFreeSpace(process.env.TMPDIR || '/var/tmp', RUN_FREE_BYTES, "a lab run's dom0 disk overlay");

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(lab, 'runs', `${stamp}-${opts.scenario}`);
  mkdirSync(join(runDir, 'console'), { recursive: true });
  writeFileSync(join(runDir, 'scenario'), `${opts.scenario}\n`);
  writeFileSync(join(runDir, 'args'), `${(opts.args ?? []).join(' ')}\n`);
  writeFileSync(join(runDir, 'poweroff'), '');
  // Scenarios run the CLI from this bundle when it is there (dom0 sees the run dir as $LAB_RESULTS).
  await bundleCli(runDir);

  const timeout = (opts.timeoutSeconds ?? 3600) * 1000;
  const t0 = performance.now();
  progress(`booting Xen under QEMU (TCG); run dir ${runDir}`);
  const qemu = spawn('qemu-system-x86_64', qemuArgs(lab, runDir, PROJECT_ROOT, cpus), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let qemuOut = '';
  const keep = (b: Buffer): void => void (qemuOut = (qemuOut + b.toString()).slice(-8192));
  qemu.stdout.on('data', keep);
  qemu.stderr.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeout);
  // Follow run.out while the scenario writes it, echoing protocol lines as progress.
  let seen = 0;
  const follow = (): void => {
    const path = join(runDir, 'run.out');
    if (!existsSync(path)) return;
    const lines = readFileSync(path, 'utf8').split('\n');
    for (const line of lines.slice(seen, -1)) {
      if (/^(STEP|CHECK|INTEGRITY|LAB-BOOTED|LAB-RC) /.test(line)) progress(line);
    }
    seen = Math.max(seen, lines.length - 1);
  };
  const poll = setInterval(follow, 2000);
  const code = await new Promise<number | null>((resolve) => {
    qemu.on('error', () => resolve(null));
    qemu.on('close', resolve);
  });
  clearTimeout(timer);
  clearInterval(poll);
  follow();
  const wallSeconds = (performance.now() - t0) / 1000;

  const out = parseRunOutput(
    existsSync(join(runDir, 'run.out')) ? readFileSync(join(runDir, 'run.out'), 'utf8') : '',
  );
  const why = failures(out);
  if (timedOut) why.unshift(`timed out after ${timeout / 1000} s`);
  else if (code !== 0) why.unshift(`QEMU exited with status ${code}: ${qemuOut.trim().slice(-500)}`);
  const report: RunReport = {
    scenario: opts.scenario,
    ok: why.length === 0,
    timedOut,
    wallSeconds,
    ...out,
    retried: retries(out),
    failures: why,
    runDir,
    recipeHash: recipeHash(status.hashes),
    cpus,
  };
  writeFileSync(join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
