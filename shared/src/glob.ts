// Every glob in Tether is compiled here, by picomatch with one set of options, so that the editor's path scope and
// field `files`, the Action's `paths`, its `require-status` contexts and its change keys all read a pattern the same
// way. Semantics (picomatch's, https://github.com/micromatch/picomatch#globbing-features):
// - `/` is the only separator, on every OS (`picomatch/posix`);
// - `*` matches any run of characters within one `/` segment, `?` one character of a segment;
// - `**` as a whole segment matches any number of segments, zero included (`envs/**/*.yaml` matches
//   `envs/a.yaml`); elsewhere it acts as `*`;
// - `[abc]`, `[a-z]`, `[!abc]` (same as `[^abc]`) and POSIX classes such as `[[:digit:]]` match one character;
// - `{dev,staging}` is either alternative and `{1..3}` a range; `@(a|b)`, `!(a)`, `+(a)`, `*(a)`, `?(a)` are
//   extglobs; `(` and `)` group, so a literal parenthesis needs a backslash;
// - names starting with a dot match like any other (`dot: true`): environment repos hold `.github/` and dotfiles;
// - in a list, a pattern starting with `!` excludes: a text matches when some other pattern matches and no
//   exclusion does (a list of exclusions alone matches everything they do not exclude).

import picomatch from 'picomatch/posix.js';

/** The options every Tether glob is compiled with; see the semantics above. */
export const GLOB_OPTIONS: Readonly<picomatch.PicomatchOptions> = Object.freeze({ dot: true, posix: true });

/** Compiles one glob (no list semantics: a leading `!` negates it, as in picomatch). */
export function globToRegExp(glob: string): RegExp {
  return picomatch.makeRe(glob, GLOB_OPTIONS);
}

/** A list pattern split into whether it excludes and its glob. */
function listEntry(pattern: string): { exclude: boolean; glob: string } {
  const s = picomatch.scan(pattern);
  // `!(a)` is an extglob, not an exclusion.
  if (s.negated && !s.negatedExtglob) return { exclude: true, glob: pattern.slice(1) };
  return { exclude: false, glob: pattern };
}

function listMatcher(patterns: readonly string[], compile: (glob: string) => (text: string) => boolean) {
  const include: ((text: string) => boolean)[] = [];
  const exclude: ((text: string) => boolean)[] = [];
  for (const p of patterns) {
    const e = listEntry(p);
    (e.exclude ? exclude : include).push(compile(e.glob));
  }
  const included = include.length === 0 ? () => true : (t: string) => include.some((m) => m(t));
  return (text: string) => included(text) && !exclude.some((m) => m(text));
}

/** Whole-text matching of a list of globs (commit-status contexts, file names); an empty list matches nothing. */
export function globMatcher(patterns: readonly string[]): (text: string) => boolean {
  if (patterns.length === 0) return () => false;
  return listMatcher(patterns, (g) => picomatch(g, GLOB_OPTIONS));
}

/** A leading `./` and trailing slashes removed: patterns are repository-relative. */
function cleanPathGlob(glob: string): string {
  return glob.replace(/^(!?)\.\/+/, '$1').replace(/\/+$/, '');
}

/**
 * Matching of repository-relative paths: a glob also matches everything below what it matches, so `envs/dev` (or
 * `envs/dev/`) selects that directory. An empty list matches every path.
 */
export function pathMatcher(globs: readonly string[]): (path: string) => boolean {
  if (globs.length === 0) return () => true;
  return listMatcher(globs.map(cleanPathGlob), (g) => {
    const exact = picomatch(g, GLOB_OPTIONS);
    const below = picomatch(`${g}/**`, GLOB_OPTIONS);
    return (p) => exact(p) || below(p);
  });
}

/** A compiled list of path globs, kept with the globs it was made from. */
export interface PathScope {
  /** The globs as given (the empty list means every path). */
  readonly globs: readonly string[];
  /** Whether a repository-relative path is in scope. */
  readonly matches: (path: string) => boolean;
}

/** Compiles path globs once into a PathScope. */
export function pathScope(globs: readonly string[]): PathScope {
  return { globs: [...globs], matches: pathMatcher(globs) };
}

/**
 * The directory every path a glob can match lies in: its segments before the first one with a glob character
 * (`envs/dev/**` → `envs/dev`, `envs/{dev,staging}/*` → `envs`). A glob without any such character names a path;
 * when its last segment looks like a file (`values.yaml`), that file's directory is returned.
 */
export function globBase(glob: string): string {
  const clean = cleanPathGlob(glob);
  const s = picomatch.scan(clean, GLOB_OPTIONS);
  if (s.isGlob) return s.base;
  const segments = clean.split('/');
  if (/\.[a-z]+$/i.test(segments[segments.length - 1] ?? '')) segments.pop();
  return segments.join('/');
}

/** Whether a pattern of a list excludes (`!envs/prod`) rather than selects. */
export function isExclusion(pattern: string): boolean {
  return listEntry(pattern).exclude;
}
