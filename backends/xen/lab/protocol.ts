/**
 * The line protocol a scenario speaks from dom0 (docs/lab.md), parsed on the host:
 *   STEP <name> <seconds> ok|fail|retry    RESULT <key> <value...>    CHECK <name> ok|fail [detail]
 *   INTEGRITY <guest> OK|CORRUPT <detail>  LAB-BOOTED <dom0 uptime s>  LAB-RC <exit status>
 * Any other line is log. Parsing is total: a malformed protocol line becomes log, never an exception,
 * because a crashing guest or dom0 may cut a line anywhere.
 */

export type StepStatus = 'ok' | 'fail' | 'retry';

export interface Step {
  name: string;
  seconds: number;
  status: StepStatus;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Integrity {
  guest: string;
  ok: boolean;
  detail: string;
}

export interface RunOutput {
  steps: Step[];
  results: Record<string, string>;
  checks: Check[];
  integrity: Integrity[];
  /** dom0's uptime when the scenario started; absent if dom0 never got there. */
  bootedAfter?: number;
  /** The scenario's exit status; absent if it never finished (crash, hang, timeout). */
  rc?: number;
  log: string[];
}

const STEP = /^STEP (\S+) (\d+(?:\.\d+)?) (ok|fail|retry)$/;
const RESULT = /^RESULT (\S+) (.*)$/;
const CHECK = /^CHECK (\S+) (ok|fail)(?: (.*))?$/;
const INTEGRITY = /^INTEGRITY (\S+) (OK|CORRUPT)(?: (.*))?$/;
const BOOTED = /^LAB-BOOTED (\d+(?:\.\d+)?)$/;
const RC = /^LAB-RC (\d+)$/;

export function parseRunOutput(text: string): RunOutput {
  const out: RunOutput = { steps: [], results: {}, checks: [], integrity: [], log: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = STEP.exec(line))) {
      out.steps.push({ name: m[1]!, seconds: Number(m[2]), status: m[3] as StepStatus });
    } else if ((m = RESULT.exec(line))) {
      out.results[m[1]!] = m[2]!.trim();
    } else if ((m = CHECK.exec(line))) {
      out.checks.push({ name: m[1]!, ok: m[2] === 'ok', detail: m[3] ?? '' });
    } else if ((m = INTEGRITY.exec(line))) {
      out.integrity.push({ guest: m[1]!, ok: m[2] === 'OK', detail: m[3] ?? '' });
    } else if ((m = BOOTED.exec(line))) {
      out.bootedAfter = Number(m[1]);
    } else if ((m = RC.exec(line))) {
      out.rc = Number(m[1]);
    } else {
      out.log.push(line);
    }
  }
  return out;
}

/** Why a run failed, one reason a line; empty when it passed. A run without any step never passes. */
export function failures(run: RunOutput): string[] {
  const why: string[] = [];
  if (run.bootedAfter === undefined) why.push('dom0 never started the scenario');
  else if (run.rc === undefined) why.push('the scenario did not finish');
  else if (run.rc !== 0) why.push(`the scenario exited with status ${run.rc}`);
  for (const s of run.steps) if (s.status === 'fail') why.push(`step ${s.name} failed`);
  for (const c of run.checks) if (!c.ok) why.push(`check ${c.name} failed${c.detail ? `: ${c.detail}` : ''}`);
  for (const i of run.integrity) if (!i.ok) why.push(`guest ${i.guest}: INTEGRITY CORRUPT ${i.detail}`);
  if (run.rc !== undefined && run.steps.length === 0) why.push('the scenario reported no step');
  return why;
}

/** Steps that failed once and were run again: reported, never hidden. */
export function retries(run: RunOutput): string[] {
  return run.steps.filter((s) => s.status === 'retry').map((s) => s.name);
}
