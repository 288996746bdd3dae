import type { Command } from 'commander';

/** Declares the `experiment` commands on the program (owned by the experiment work; kept apart from cli.ts). */
export function registerExperimentCommands(program: Command): void {
  void program;
}
