#!/usr/bin/env -S npx tsx
/**
 * The leanckpt command. The only place that exits: commands return data or throw, and every error is
 * turned into a message and a documented exit code here, never a stack trace for a user mistake.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './cli.ts';
import { EXIT, exitCodeOf } from './exit-codes.ts';

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
