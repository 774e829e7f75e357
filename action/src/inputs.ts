import { TetherError } from '../../shared/src/errors.ts';
import { parseFieldSpec } from '../../shared/src/field-spec.ts';
import { type PathScope, pathScope } from '../../shared/src/glob.ts';
import type { FieldSpec } from '../../shared/src/image-uses.ts';
import { type ImageRequest, parseImageRequest } from '../../shared/src/plan-edits.ts';
import { type StatusGate, statusGate } from './status-gate.ts';

/** Action modes. */
export type Mode = 'bump' | 'promote' | 'rollback';

/** The Action's inputs, parsed and validated once. */
export interface Inputs {
  mode: Mode;
  repository: { owner: string; repo: string };
  token: string;
  githubApiUrl: string;
  base: string | undefined;
  /** `images`, validated and keyed by normalized repository (empty outside bump). */
  images: ImageRequest;
  /** `paths`, compiled once. */
  paths: PathScope;
  /** Extra YAML paths holding images, the CLI's `--field`. */
  fields: FieldSpec[];
  /** promote: where versions come from. */
  from: EnvPath | undefined;
  /** promote, rollback: the environment to change. */
  to: EnvPath | undefined;
  /** `require-status`, compiled once. */
  requireStatus: StatusGate;
  pullRequest: boolean;
  /** How long to keep retrying writes that concurrent runs race (direct push, PR branch and text), in ms. */
  pushDeadlineMs: number;
  /** bump: never downgrade a value the base already holds at a newer semver tag. */
  onlyNewer: boolean;
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

/** An environment: a directory of the environment repo, on a branch when written `<branch>:<path>`. */
export interface EnvPath {
  /** The branch, when the input names one; else the run's base. */
  branch?: string;
  path: string;
}

/** How an environment reads in messages and change keys: `envs/dev`, or `staging:envs/web`. */
export function envLabel(e: EnvPath): string {
  return e.branch ? `${e.branch}:${e.path}` : e.path;
}

/** Reads one input by its kebab-case name; returns '' when unset. */
export type InputReader = (name: string) => string;

/** Reads `INPUT_<NAME>` from an environment the way the runner sets it. */
export function envInputReader(env: NodeJS.ProcessEnv): InputReader {
  return (name) => (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** One line of a newline-list input, with its 1-based line number for messages. */
export interface InputLine {
  text: string;
  line: number;
}

/** Non-empty, trimmed lines with their line numbers; `#` starts a comment line. */
export function lines(value: string): InputLine[] {
  return value
    .split(/\r?\n/)
    .map((l, i) => ({ text: l.trim(), line: i + 1 }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
}

/** `images`: every line a full reference with a tag or digest, one version per repository. */
function imagesInput(value: string): ImageRequest {
  const entries = lines(value);
  return parseImageRequest(
    entries.map((e) => e.text),
    (i) => `Input 'images' line ${entries[i]!.line}`,
  );
}

/** Compiles the globs of a list input; a line no glob can be made of (`!` alone, `./`) fails naming it. */
function globList<T>(name: string, entries: readonly InputLine[], compile: (globs: string[]) => T): T {
  for (const e of entries) {
    try {
      compile([e.text]);
    } catch (err) {
      throw new TetherError(
        'input',
        `Input '${name}' line ${e.line}: "${e.text}" is not a glob: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return compile(entries.map((e) => e.text));
}

/** `paths`: repository-relative globs. */
function pathsInput(value: string): PathScope {
  const entries = lines(value);
  for (const e of entries) {
    const glob = e.text.replace(/^!/, '');
    if (glob.startsWith('/') || glob.split('/').includes('..'))
      throw new TetherError(
        'input',
        `Input 'paths' line ${e.line}: "${e.text}" is not relative to the repository root`,
      );
  }
  return globList('paths', entries, pathScope);
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

/** Whether git takes `name` as a branch name (the rules of `git check-ref-format --branch`). */
function isBranchName(name: string): boolean {
  if (name === '@' || name.startsWith('-') || name.endsWith('.') || name.includes('..') || name.includes('@{'))
    return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((c) => c !== '' && !c.startsWith('.') && !c.endsWith('.lock'));
}

/** A branch input (`base`, `branch`), refused before anything is written when git would refuse it. */
function branchInput(name: string, value: string): string | undefined {
  if (value === '') return undefined;
  if (!isBranchName(value)) throw new TetherError('input', `Input '${name}': "${value}" is not a branch name`);
  return value;
}

/** `from`/`to`: `<path>` or `<branch>:<path>`, the path repository-relative. */
function envPathInput(name: string, value: string): EnvPath | undefined {
  if (value === '') return undefined;
  const colon = value.indexOf(':');
  const branch = colon >= 0 ? value.slice(0, colon).trim() : undefined;
  const path = (colon >= 0 ? value.slice(colon + 1) : value).trim().replace(/^\.\/+|\/+$/g, '');
  if (branch !== undefined && !isBranchName(branch))
    throw new TetherError('input', `Input '${name}': "${branch}" is not a branch name (write <branch>:<path>)`);
  if (path === '' || path.startsWith('/') || path.split('/').includes('..'))
    throw new TetherError('input', `Input '${name}': "${value}" does not name a directory inside the repository`);
  return { ...(branch ? { branch } : {}), path };
}

/** A duration: `90s`, `2m`, `1500ms`, or plain seconds. */
function duration(name: string, value: string, fallbackMs: number): number {
  if (value === '') return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value);
  if (!m) throw new TetherError('input', `Input '${name}': "${value}" is not a duration (e.g. 90s, 2m)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

/** The `fields` input: one `--field` spec per line; a bad line fails naming it. */
function fieldSpecs(value: string): FieldSpec[] {
  return lines(value).map((l) => {
    try {
      return parseFieldSpec(l.text);
    } catch (err) {
      throw new TetherError('input', `Input 'fields' line ${l.line}: ${(err as Error).message}`, { cause: err });
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
    base: branchInput('base', read('base')),
    images: mode === 'bump' ? imagesInput(read('images')) : new Map(),
    paths: pathsInput(read('paths')),
    fields: fieldSpecs(read('fields')),
    from: envPathInput('from', read('from')),
    to: envPathInput('to', read('to')),
    requireStatus: globList('require-status', lines(read('require-status')), statusGate),
    pullRequest: bool('pull-request', read('pull-request'), true),
    pushDeadlineMs: duration('push-deadline', read('push-deadline'), 120_000),
    onlyNewer: bool('only-newer', read('only-newer'), false),
    branch: branchInput('branch', read('branch')),
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
  if (mode === 'bump' && inputs.images.size === 0)
    throw new TetherError('input', "Input 'images' is required in bump mode");
  if (mode === 'promote' && (!inputs.from || !inputs.to)) {
    throw new TetherError('input', "Inputs 'from' and 'to' are required in promote mode");
  }
  if (mode === 'rollback' && !inputs.to) throw new TetherError('input', "Input 'to' is required in rollback mode");
  if (mode !== 'bump' && inputs.to?.branch && inputs.base && inputs.to.branch !== inputs.base)
    throw new TetherError(
      'input',
      `Inputs 'to' and 'base' name different branches ("${inputs.to.branch}", "${inputs.base}"): give one`,
    );
  if (mode !== 'bump' && inputs.onlyNewer)
    throw new TetherError('input', `Input 'only-newer' is for bump; ${mode} sets the versions its source had`);
  if (mode === 'rollback' && inputs.from)
    throw new TetherError('input', "Input 'from' is for promote; rollback reads the history of 'to'");
  return inputs;
}
