import { TetherError } from '../../shared/src/errors.ts';
import { parseFieldSpec } from '../../shared/src/field-spec.ts';
import type { FieldSpec } from '../../shared/src/image-uses.ts';

/** Action modes. */
export type Mode = 'bump' | 'promote' | 'rollback';

/** The Action's inputs, parsed and validated once. */
export interface Inputs {
  mode: Mode;
  repository: { owner: string; repo: string };
  token: string;
  githubApiUrl: string;
  base: string | undefined;
  images: string[];
  paths: string[];
  /** Extra YAML paths holding images, the CLI's `--field`. */
  fields: FieldSpec[];
  from: string | undefined;
  to: string | undefined;
  requireStatus: string[];
  pullRequest: boolean;
  branch: string | undefined;
  title: string | undefined;
  body: string | undefined;
  labels: string[];
  reviewers: string[];
  teamReviewers: string[];
  assignees: string[];
  draft: boolean;
  autoMerge: 'merge' | 'squash' | 'rebase' | undefined;
  commitMessage: string | undefined;
  commitMethod: 'api' | 'git';
  dryRun: boolean;
}

/** Reads one input by its kebab-case name; returns '' when unset. */
export type InputReader = (name: string) => string;

/** Reads `INPUT_<NAME>` from an environment the way the runner sets it. */
export function envInputReader(env: NodeJS.ProcessEnv): InputReader {
  return (name) => (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** Non-empty, trimmed lines; `#` starts a comment line. */
export function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function list(value: string): string[] {
  return value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** YAML 1.2 core booleans only, like @actions/core getBooleanInput. */
function bool(name: string, value: string, fallback: boolean): boolean {
  if (value === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new TetherError('input', `Input '${name}': "${value}" is not a boolean (true or false)`);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[], fallback: T): T;
function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T | undefined;
function oneOf<T extends string>(name: string, value: string, allowed: readonly T[], fallback?: T): T | undefined {
  if (value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TetherError('input', `Input '${name}': "${value}" is not one of ${allowed.join(', ')}`);
}

/** The `fields` input: one `--field` spec per line; a bad line fails naming it. */
function fieldSpecs(value: string): FieldSpec[] {
  return lines(value).map((line, i) => {
    try {
      return parseFieldSpec(line);
    } catch (err) {
      throw new TetherError('input', `Input 'fields' line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
  });
}

/** Parses every input before anything runs; a bad one fails by name. */
export function parseInputs(read: InputReader): Inputs {
  const repository = read('repository');
  const m = /^([\w.-]+)\/([\w.-]+)$/.exec(repository);
  if (!m) throw new TetherError('input', `Input 'repository': "${repository}" is not owner/name`);
  const token = read('token');
  if (token === '') throw new TetherError('input', "Input 'token' is required");
  const mode = oneOf('mode', read('mode'), ['bump', 'promote', 'rollback'] as const, 'bump');
  const inputs: Inputs = {
    mode,
    repository: { owner: m[1]!, repo: m[2]! },
    token,
    githubApiUrl: (read('github-api-url') || 'https://api.github.com').replace(/\/+$/, ''),
    base: read('base') || undefined,
    images: lines(read('images')),
    paths: lines(read('paths')),
    fields: fieldSpecs(read('fields')),
    from: read('from') || undefined,
    to: read('to') || undefined,
    requireStatus: lines(read('require-status')),
    pullRequest: bool('pull-request', read('pull-request'), true),
    branch: read('branch') || undefined,
    title: read('title') || undefined,
    body: read('body') || undefined,
    labels: list(read('labels')),
    reviewers: list(read('reviewers')),
    teamReviewers: list(read('team-reviewers')),
    assignees: list(read('assignees')),
    draft: bool('draft', read('draft'), false),
    autoMerge: oneOf('auto-merge', read('auto-merge'), ['merge', 'squash', 'rebase'] as const),
    commitMessage: read('commit-message') || undefined,
    commitMethod: oneOf('commit-method', read('commit-method'), ['api', 'git'] as const, 'api'),
    dryRun: bool('dry-run', read('dry-run'), false),
  };
  if (mode === 'bump' && inputs.images.length === 0)
    throw new TetherError('input', "Input 'images' is required in bump mode");
  if (mode === 'promote' && (!inputs.from || !inputs.to)) {
    throw new TetherError('input', "Inputs 'from' and 'to' are required in promote mode");
  }
  if (mode === 'rollback' && !inputs.to) throw new TetherError('input', "Input 'to' is required in rollback mode");
  return inputs;
}
