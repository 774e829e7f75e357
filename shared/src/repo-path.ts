// One reading of a directory inside a repository, for the agent's app `path` and the Action's `from`/`to`:
// `./envs//dev/` and `envs/dev` are the same directory, and a path that climbs out of the repository is refused.
import { TetherError } from './errors.ts';

/**
 * A repository-relative path in canonical form: no leading `./` or `/`, no trailing `/`, no empty or `.` segments;
 * `''` is the repository root. Throws `input` naming `what` for `..` segments, backslashes and control characters.
 */
export function normalizeRepoPath(path: string, what = 'path'): string {
  if (/[\\\u0000-\u001f]/.test(path)) {
    throw new TetherError('input', `${what} "${path}": backslashes and control characters are not allowed`);
  }
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw new TetherError(
      'input',
      `${what} "${path}": '..' is not allowed (paths are relative to the repository root)`,
    );
  }
  return segments.join('/');
}

/** Whether repository path `file` is `dir` itself or lies below it (both canonical; `''` contains everything). */
export function isUnderPath(file: string, dir: string): boolean {
  return dir === '' || file === dir || file.startsWith(`${dir}/`);
}
