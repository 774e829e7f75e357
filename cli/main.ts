import { parseArgs } from 'node:util';
import { describeError, isUserError } from '../shared/src/errors.ts';
import { agentCommand, diffCommand, statusCommand, syncCommand } from './agent.ts';
import { bumpCommand } from './bump.ts';
import { promoteCommand } from './promote.ts';

/** One subcommand of the `tether` CLI: its usage line and what it does with its arguments. */
export interface Command {
  summary: string;
  usage: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** Where the CLI writes; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** The subcommands, in the order `--help` lists them. Later work replaces the placeholders. */
export const commands: Record<string, Command> = {
  bump: bumpCommand,
  promote: promoteCommand,
  agent: agentCommand,
  diff: diffCommand,
  sync: syncCommand,
  status: statusCommand,
};

/** The text of `tether --help`. */
export function helpText(): string {
  const lines = [
    'tether — GitOps for Kubernetes: bump and promote images through reviewed PRs; sync clusters from Git.',
    '',
    'Usage: tether <command> [options]',
    '',
    'Commands:',
  ];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(9)}${c.summary}`);
  lines.push('', 'Run `tether <command> --help` for the options of one command.');
  lines.push('Exit codes: 0 done (changed or not), 1 error, 2 bad usage or input.');
  return lines.join('\n');
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIO = defaultIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(helpText());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.out('0.1.0');
    return 0;
  }
  const command = commands[name];
  if (!command) {
    io.err(`tether: unknown command '${name}'\n\n${helpText()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`Usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.err(`tether ${name}: ${describeError(err)}`);
    return isUserError(err) || isArgError(err) ? 2 : 1;
  }
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options. */
function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** Strict option parsing shared by the subcommands; unknown options are usage errors. */
export function parseOptions<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  args: string[],
  options: T,
) {
  return parseArgs({ args, options, strict: true, allowPositionals: false });
}

const defaultIO: CliIO = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};
