import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MAX_FILE_BYTES, decodeFileText, type FileText, type Skipped } from './file-text.ts';
import { GitRepo } from './git/git-repo.ts';
import { isYamlOrJsonPath } from './yaml-file.ts';

/** Files read from a commit: the texts the editor can use and those skipped with a reason. */
export interface CommitFiles {
  files: FileText[];
  skipped: Skipped[];
}

/**
 * The environment repo as the Action sees it: the shared Git adapter over a temporary bare object store (shallow,
 * single-branch; files are read from the objects, never checked out), plus the editor's view of its files.
 */
export class EnvRepo {
  private constructor(
    /** The Git adapter underneath: fetches, tree ids, commits and pushes for `commit-method: git`. */
    readonly git: GitRepo,
    private readonly ownsDir: boolean,
  ) {}

  /** Prepares an empty object store (no network). */
  static async open(options: { url: string; token?: string; dir?: string }): Promise<EnvRepo> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tether-env-')));
    const token = options.token;
    const repo = await GitRepo.open({
      gitdir: dir,
      url: options.url,
      ...(token ? { credentials: () => ({ username: 'x-access-token', password: token }) } : {}),
    });
    return new EnvRepo(repo, options.dir === undefined);
  }

  /** Bytes of Git protocol answers received (the benchmark's "bytes fetched"). */
  get bytesFetched(): number {
    return this.git.bytesFetched;
  }

  /** The bare store's directory. */
  get gitdir(): string {
    return this.git.gitdir;
  }

  /** Removes the temporary object store. */
  async close(): Promise<void> {
    if (this.ownsDir) await rm(this.git.gitdir, { recursive: true, force: true });
  }

  /** Fetches `branch` (depth 1 unless told) and returns its tip. */
  fetchBranch(branch: string, depth = 1): Promise<string> {
    return this.git.fetch(branch, { depth });
  }

  /** Whether `sha`'s commit object is in the store. */
  hasCommit(sha: string): Promise<boolean> {
    return this.git.hasCommit(sha);
  }

  /** Deepens the history of `branch` until `sha` is present (an older commit for promote or rollback). */
  ensureCommit(sha: string, branch: string): Promise<void> {
    return this.git.ensureCommit(sha, branch);
  }

  /** The root tree of a commit. */
  treeOf(commit: string): Promise<string> {
    return this.git.treeOf(commit);
  }

  /** Git's mode of the file at `path` in `commit` (`100644`, `100755`), or undefined when there is none. */
  fileMode(commit: string, path: string): Promise<string | undefined> {
    return this.git.fileMode(commit, path);
  }

  /**
   * The YAML/JSON files at `commit` whose path `select` accepts (symlinks are skipped, never followed). Paths are
   * filtered before any blob is read.
   */
  async readFiles(commit: string, select: (path: string) => boolean = () => true): Promise<CommitFiles> {
    const read = await this.git.readFiles(commit, {
      select: (p) => isYamlOrJsonPath(p) && select(p),
      maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    });
    const out: CommitFiles = { files: [], skipped: [] };
    for (const f of read.files) {
      const r = decodeFileText(f.path, f.content);
      if ('text' in r) out.files.push(r);
      else out.skipped.push(r);
    }
    // Sized from their object headers and never inflated; the reason is decodeFileText's.
    for (const { path, size } of read.oversized) {
      out.skipped.push({ path, reason: `larger than ${DEFAULT_MAX_FILE_BYTES} bytes (${size})` });
    }
    for (const path of read.symlinks) out.skipped.push({ path, reason: 'symbolic link (not followed)' });
    return out;
  }

  /** Writes a commit locally: `parent`'s tree with `files` replaced; returns its id and its tree id. */
  writeCommit(options: {
    parent: string;
    files: readonly { path: string; text: string }[];
    message: string;
    author: { name: string; email: string };
  }): Promise<{ commit: string; tree: string }> {
    return this.git.writeCommit(options);
  }

  /** The tree `writeCommit` would produce, without a commit (to compare with an open PR's head). */
  async treeWith(parent: string, files: readonly { path: string; text: string }[]): Promise<string> {
    return (
      await this.git.writeCommit({
        parent,
        files,
        message: 'probe',
        author: { name: 'tether', email: 'tether@localhost' },
      })
    ).tree;
  }

  /** Pushes `sha` to `branch`; `force` only for Tether's own PR branches, never a base branch. */
  push(sha: string, branch: string, options: { force: boolean }): Promise<{ ok: boolean; error?: string }> {
    return this.git.push(sha, branch, options);
  }
}
