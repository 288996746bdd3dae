/** `leanckpt trace validate|stats|convert`: trace files without replaying them. */
import { existsSync } from 'node:fs';
import { convertTrace, traceStats, validateTrace } from '../../core/trace/index.ts';
import { EXIT, ExitError } from '../exit-codes.ts';

function mustExist(path: string, verb: string): void {
  if (!existsSync(path)) throw new ExitError(`Cannot ${verb} ${path}: no such file`, EXIT.usage);
}

export async function validate(path: string) {
  mustExist(path, 'validate');
  return validateTrace(path);
}

export async function stats(path: string) {
  mustExist(path, 'read');
  return traceStats(path);
}

export async function convert(input: string, output: string, format?: 'jsonl' | 'binary') {
  mustExist(input, 'convert');
  return convertTrace(input, output, format);
}
