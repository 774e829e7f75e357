// The CLI's file layer for bump and promote: read a checkout's YAML/JSON files (never following a symlink, never
// leaving the checkout) and write planned edits back only after the whole plan succeeded.
import {
  chmodSync,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { TetherError } from '../shared/src/errors.ts';
import { decodeFileText, type FileText, type Skipped } from '../shared/src/file-text.ts';
import type { FileEdit } from '../shared/src/plan-edits.ts';
import { isYamlOrJsonPath } from '../shared/src/yaml-file.ts';

/** The files of a checkout the editor can read, and those it skipped with a reason. */
export interface CheckoutFiles {
  files: FileText[];
  skipped: Skipped[];
}

/** Checks that `dir` is a directory; a missing one is bad usage (exit 2). */
export function checkoutRoot(dir: string | undefined): string {
  if (!dir) throw new TetherError('usage', '--dir <checkout> is required');
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new TetherError('usage', `--dir "${dir}" does not exist`);
  }
  if (!st.isDirectory()) throw new TetherError('usage', `--dir "${dir}" is not a directory`);
  return realpathSync(dir);
}

/**
 * Reads every YAML/JSON file under `root` (skipping `.git`). Symlinks are not followed: one leaving the checkout is
 * skipped as such, one inside it is skipped because its target is read under its own name (editing it twice through
 * two names would be wrong).
 */
export function readCheckout(root: string, maxFileBytes?: number): CheckoutFiles {
  const out: CheckoutFiles = { files: [], skipped: [] };
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = join(dir, entry.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (entry.isDirectory()) {
        if (entry.name !== '.git') walk(abs);
      } else if (entry.isSymbolicLink()) {
        if (!isYamlOrJsonPath(rel) && !isDirectoryLink(abs)) continue;
        out.skipped.push({ path: rel, reason: symlinkReason(root, abs) });
      } else if (entry.isFile() && isYamlOrJsonPath(rel)) {
        const r = decodeFileText(rel, readFileSync(abs), maxFileBytes);
        if ('text' in r) out.files.push(r);
        else out.skipped.push(r);
      }
    }
  };
  walk(root);
  return out;
}

function isDirectoryLink(abs: string): boolean {
  try {
    return statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

function symlinkReason(root: string, abs: string): string {
  let target: string;
  try {
    target = realpathSync(abs);
  } catch {
    return 'symlink to a missing target';
  }
  const rel = relative(root, target);
  if (rel === '..' || rel.startsWith(`..${sep}`) || rel === target) return 'symlink leaves the checkout; not followed';
  return `symlink to ${rel.split(sep).join('/')}; edited there, not through the link`;
}

/** Writes each new text atomically (temp file + rename, keeping the file mode), only files that changed. */
export function writeEdits(root: string, edits: readonly FileEdit[]): void {
  for (const e of edits) {
    const abs = join(root, ...e.path.split('/'));
    const st = lstatSync(abs);
    if (!st.isFile()) throw new TetherError('io', `${e.path}: is no longer a regular file; not written`);
    const tmp = join(dirname(abs), `.${e.path.split('/').pop()}.tether-${process.pid}.tmp`);
    try {
      writeFileSync(tmp, e.newText);
      chmodSync(tmp, st.mode & 0o7777);
      renameSync(tmp, abs);
    } catch (err) {
      throw new TetherError('io', `${e.path}: cannot write: ${(err as Error).message}`, { cause: err });
    }
  }
}
