#!/usr/bin/env -S npx tsx
/**
 * The leanckpt command. The only place that exits: commands return data or throw, and every error is
 * turned into a message and a documented exit code here, never a stack trace for a user mistake.
 */
import { CommanderError } from 'commander';
import {
  CheckpointError,
  EventError,
  ImageFormatError,
  RestoreError,
  VerificationError,
} from '../core/errors.ts';
import { TraceError } from '../core/trace/errors.ts';
import { buildProgram } from './cli.ts';
import { EXIT, ExitError } from './exit-codes.ts';

function exitCodeOf(err: unknown): { code: number; message: string } {
  if (err instanceof ExitError) return { code: err.code, message: err.message };
  if (err instanceof ImageFormatError || err instanceof RestoreError || err instanceof VerificationError) {
    return { code: EXIT.verificationFailed, message: err.message };
  }
  // Bad input (a trace, an event, an output path): the message says what and where.
  if (err instanceof EventError || err instanceof CheckpointError || err instanceof TraceError) {
    return { code: EXIT.usage, message: err.message };
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return {
    code: EXIT.internal,
    message: `internal error (this should never happen; please report it with the command line):\n${message}`,
  };
}

async function main(): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const { code, message } = exitCodeOf(err);
    process.stderr.write(`leanckpt: ${message}\n`);
    return code;
  }
}

process.on('SIGINT', () => process.exit(EXIT.interrupted));
// A reader that stops early (`leanckpt ... | head`) is not an error: stop quietly, as Unix tools do.
for (const out of [process.stdout, process.stderr]) {
  out.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
}
process.exitCode = await main();
