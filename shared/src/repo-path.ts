// One reading of a directory inside a repository, for the agent's app `path` and the Action's `from`/`to`:
// `./envs//dev/` and `envs/dev` are the same directory, and a path that climbs out of the repository is refused.
import { TetherError } from './errors.ts';

/** Why `path` is not a directory inside a repository, or undefined when it is one. */
export function repoPathProblem(path: string): string | undefined {
  if (/[\\\u0000-\u001f]/.test(path)) return 'backslashes and control characters are not allowed';
  if (path.split('/').includes('..')) return "'..' is not allowed (paths are relative to the repository root)";
  return undefined;
}

/**
 * A repository-relative path in canonical form: no leading `./` or `/`, no trailing `/`, no empty or `.` segments;
 * `''` is the repository root. Throws `input` naming `what` for `..` segments, backslashes and control characters.
 */
export function normalizeRepoPath(path: string, what = 'path'): string {
  const problem = repoPathProblem(path);
  if (problem) throw new TetherError('input', `${what} "${path}": ${problem}`);
  return path
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

/** Whether repository path `file` is `dir` itself or lies below it (both canonical; `''` contains everything). */
export function isUnderPath(file: string, dir: string): boolean {
  return dir === '' || file === dir || file.startsWith(`${dir}/`);
}
