import type { Command } from 'commander';

/** Declares the `xen` commands on the program (owned by the xen work; kept apart from cli.ts). */
export function registerXenCommands(program: Command): void {
  void program;
}
