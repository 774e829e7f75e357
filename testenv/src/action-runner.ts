// Runs the committed Action bundle as a runner does: a node process with INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, and the GITHUB_* variables of a workflow run. Asynchronous on purpose: the GitHub
// emulator usually lives in the calling process and must keep answering while the Action runs.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'action', 'dist', 'index.js');

/** What a run of the Action left behind. */
export interface ActionRun {
  code: number;
  /** Everything it printed (workflow commands included). */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  /** The `::error::` message, if it failed. */
  error?: string;
  durationMs: number;
}

/** Parses a GITHUB_OUTPUT file (`name<<delimiter` blocks). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

/** Runs the bundle with `inputs` (kebab-case names, as in action.yml). */
export async function runActionBundle(
  inputs: Record<string, string>,
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-action-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/web-app',
    GITHUB_RUN_ID: '1234',
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const started = Date.now();
  try {
    const { code, log } = await new Promise<{ code: number; log: string }>((resolve) => {
      const child = spawn(process.execPath, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stdout.on('data', (d: Buffer) => {
        log += d.toString('utf8');
      });
      child.stderr.on('data', (d: Buffer) => {
        log += d.toString('utf8');
      });
      child.on('close', (c) => resolve({ code: c ?? 1, log }));
    });
    const error = /^::error::(.*)$/m.exec(log)?.[1]?.replace(/%0A/g, '\n').replace(/%25/g, '%');
    return {
      code,
      log,
      outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
      summary: readFileSync(summaryFile, 'utf8'),
      ...(error ? { error } : {}),
      durationMs: Date.now() - started,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
