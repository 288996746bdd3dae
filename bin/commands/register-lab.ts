import type { Command } from 'commander';

/** Declares the `lab` commands on the program (owned by the lab work; kept apart from cli.ts). */
export function registerLabCommands(program: Command): void {
  void program;
}
