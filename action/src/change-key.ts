import { globBase, isExclusion } from '../../shared/src/glob.ts';
import type { Change } from '../../shared/src/plan-edits.ts';
import type { Mode } from './inputs.ts';

/** A path or name made safe for a branch segment: `envs/dev` → `envs-dev`. */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 60) || 'root'
  );
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
 * mode + target environment path + images, e.g. `tether/bump/envs-dev/web`. The same key always gives the same
 * branch, so a second run updates the open PR instead of opening another.
 */
export function changeBranch(options: { mode: Mode; target: string; images: readonly string[] }): string {
  const images = [...new Set(options.images.map(imageShortName))].sort();
  let imagePart = images.map(slug).join('-');
  if (imagePart.length > 60) imagePart = `${images.length}-images`;
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
