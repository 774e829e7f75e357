import { parseArgs } from 'node:util';

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

/** Strict option parsing shared by the subcommands; unknown options are usage errors. */
export function parseOptions<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(
  args: string[],
  options: T,
) {
  return parseArgs({ args, options, strict: true, allowPositionals: false });
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options. */
export function isArgError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** What `--help` says of each subcommand, in the order it lists them; the code of a command loads when it runs. */
export const commandHelp = {
  bump: {
    summary: 'Set images to new tags/digests in a checkout, changing only those values',
    usage:
      'tether bump --dir <checkout> --image <ref> [--image …] [--path <glob> …] [--field [<glob>#]<yaml path>=<repository>[:tag|:digest]] [--dry-run] [--json]',
  },
  promote: {
    summary: 'Copy the image versions of one environment onto the same images in another',
    usage:
      'tether promote --dir <checkout> --from <env path> --to <env path> [--field [<glob>#]<yaml path>=<repository>[:tag|:digest]] [--dry-run] [--json]',
  },
  agent: {
    summary:
      'Run the agent: sync every app, heal drift, post commit statuses, serve /healthz, /metrics, the API and the status page',
    usage: 'tether agent --config <file>',
  },
  diff: {
    summary: 'Show what a sync would change, against the live cluster (server-side dry-run)',
    usage: 'tether diff --config <file> [--app X]',
  },
  sync: {
    summary:
      'Sync apps now; with --once, one sync per app, wait for health (--timeout, default 5m), then exit (1 when any failed, is Degraded or timed out)',
    usage: 'tether sync --config <file> [--app X] [--once] [--timeout 5m]',
  },
  status: {
    summary: 'Print each app’s sync status and health (table, or --json)',
    usage: 'tether status --config <file> [--app X] [--json]',
  },
} satisfies Record<string, Pick<Command, 'summary' | 'usage'>>;
