import { describeError, isUserError } from '../shared/src/errors.ts';
import { type CliIO, type Command, commandHelp, isArgError } from './command.ts';

/**
 * A command whose module is imported when it runs: `tether bump` does not load the agent, and the agent does not
 * load the Action's edit engine (each a separate file of the split bundle, see scripts/build.mjs).
 */
function lazy(help: Pick<Command, 'summary' | 'usage'>, load: () => Promise<Command>): Command {
  return { ...help, run: async (args, io) => (await load()).run(args, io) };
}

/** The subcommands, in the order `--help` lists them. */
export const commands: Record<string, Command> = {
  bump: lazy(commandHelp.bump, async () => (await import('./bump.ts')).bumpCommand),
  promote: lazy(commandHelp.promote, async () => (await import('./promote.ts')).promoteCommand),
  agent: lazy(commandHelp.agent, async () => (await import('./agent.ts')).agentCommand),
  diff: lazy(commandHelp.diff, async () => (await import('./agent.ts')).diffCommand),
  sync: lazy(commandHelp.sync, async () => (await import('./agent.ts')).syncCommand),
  status: lazy(commandHelp.status, async () => (await import('./agent.ts')).statusCommand),
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

const defaultIO: CliIO = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};
