import { createHash } from 'node:crypto';
import { globBase, isExclusion } from '../../shared/src/glob.ts';
import type { Change } from '../../shared/src/plan-edits.ts';
import type { Mode } from './inputs.ts';

/** Eight hex digits of a text's SHA-256: what keeps two keys apart when their readable form is cut short. */
function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * A path or name made safe for a branch segment: `envs/dev` → `envs-dev`. Longer than 60 characters, it is cut and
 * ends with a hash of the whole text, so two long paths that differ only at their end stay two segments.
 */
export function slug(text: string): string {
  const clean = (s: string) => s.replace(/^[-.]+|[-.]+$/g, '');
  const full = clean(
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/-{2,}/g, '-'),
  );
  if (full.length <= 60) return full || 'root';
  return `${clean(full.slice(0, 51))}-${shortHash(text)}`;
}

/** The longest common directory of some paths. */
export function commonDir(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const split = paths.map((p) => p.split('/').slice(0, -1));
  const first = split[0]!;
  let n = 0;
  while (n < first.length && split.every((s) => s[n] === first[n])) n++;
  return first.slice(0, n).join('/');
}

/** The short name of an image repository: `ghcr.io/acme/web` → `web`. */
export function imageShortName(repository: string): string {
  return repository.slice(repository.lastIndexOf('/') + 1);
}

/**
 * The deterministic PR branch of a change (create-pull-request's one-branch-per-change, keyed by what changes):
 * mode + target environment path + images, e.g. `tether/bump/envs-dev/web-1a2b3c4d`. The same key always gives the
 * same branch, so a second run updates the open PR instead of opening another. The short names are for people;
 * the hash of the full repositories is the key: `ghcr.io/acme/frontend/app` and `ghcr.io/acme/backend/app` are
 * both `app`, and two runs bumping them into one environment must not take over each other's branch and PR.
 */
export function changeBranch(options: { mode: Mode; target: string; images: readonly string[] }): string {
  const repositories = [...new Set(options.images)].sort();
  const names = [...new Set(repositories.map(imageShortName))].sort();
  let imagePart = names.map(slug).join('-');
  if (imagePart.length > 60) imagePart = `${names.length}-images`;
  if (repositories.length > 0) imagePart += `-${shortHash(repositories.join('\n'))}`;
  return `tether/${options.mode}/${slug(options.target)}/${imagePart || 'all'}`;
}

/**
 * The target environment of a bump: the directory every path the `paths` globs select lies in (exclusions do not
 * widen it), else the common directory of the changes. Computed from the same glob semantics as the path scope, so
 * every file a bump can edit is under its target.
 */
export function bumpTarget(paths: readonly string[], changes: readonly Change[]): string {
  const selecting = paths.filter((p) => !isExclusion(p));
  if (selecting.length > 0) return commonDir(selecting.map((p) => `${globBase(p)}/x`));
  return commonDir(changes.map((c) => c.file));
}
