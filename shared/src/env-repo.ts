import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { TetherError } from './errors.ts';
import { decodeFileText, type FileText, type Skipped } from './file-text.ts';
import { isYamlOrJsonPath } from './yaml-file.ts';

/** Files read from a commit: the texts the editor can use and those skipped with a reason. */
export interface CommitFiles {
  files: FileText[];
  skipped: Skipped[];
}

/** A URL without credentials, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/**
 * The environment repo, read with isomorphic-git: a shallow, single-branch fetch into a temporary bare object store;
 * files are read from the objects, never checked out. Also writes commits and pushes for `commit-method: git`.
 */
export class EnvRepo {
  /** Bytes of Git protocol answers received (the benchmark's "bytes fetched"). */
  bytesFetched = 0;
  private readonly http: typeof http;
  /** isomorphic-git's parsed-packfile cache for reads; renewed after each fetch (a fetch may add a packfile). */
  private cache: object = {};

  private constructor(
    readonly gitdir: string,
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly ownsDir: boolean,
  ) {
    // Count what the server sends: wrap the body iterator of every answer.
    this.http = {
      request: async (req) => {
        const res = await http.request(req);
        const body = res.body;
        if (!body) return res;
        const self = this;
        return {
          ...res,
          body: (async function* () {
            for await (const chunk of body) {
              self.bytesFetched += chunk.length;
              yield chunk;
            }
          })(),
        };
      },
    };
  }

  /** Prepares an empty object store (no network). */
  static async open(options: { url: string; token?: string; dir?: string }): Promise<EnvRepo> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'tether-env-')));
    await git.init({ fs, gitdir: dir, bare: true });
    await git.addRemote({ fs, gitdir: dir, remote: 'origin', url: options.url, force: true });
    return new EnvRepo(dir, options.url, options.token, options.dir === undefined);
  }

  /** Removes the temporary object store. */
  async close(): Promise<void> {
    if (this.ownsDir) await rm(this.gitdir, { recursive: true, force: true });
  }

  private auth() {
    return this.token ? { username: 'x-access-token', password: this.token } : { cancel: true };
  }

  /** Fetches `branch` (depth 1 unless told) and returns its tip. */
  async fetchBranch(branch: string, depth = 1): Promise<string> {
    try {
      const r = await git.fetch({
        fs,
        http: this.http,
        gitdir: this.gitdir,
        url: this.url,
        remote: 'origin',
        ref: branch,
        remoteRef: branch,
        singleBranch: true,
        depth,
        tags: false,
        onAuth: () => this.auth(),
        onAuthFailure: () => ({ cancel: true }),
      });
      if (!r.fetchHead) throw new TetherError('git', `branch '${branch}' not found in ${redact(this.url)}`);
      this.cache = {};
      return r.fetchHead;
    } catch (err) {
      if (err instanceof TetherError) throw err;
      const e = err as { code?: string; message: string };
      if (e.code === 'HttpError' && /401|403/.test(e.message)) {
        throw new TetherError('git', `fetch ${redact(this.url)}: the token was refused (${e.message})`, { cause: err });
      }
      throw new TetherError('git', `fetch ${redact(this.url)} ${branch}: ${e.message}`, { cause: err });
    }
  }

  /** Whether `sha`'s commit object is in the store. */
  async hasCommit(sha: string): Promise<boolean> {
    try {
      await git.readCommit({ fs, gitdir: this.gitdir, oid: sha, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  /** Deepens the history of `branch` until `sha` is present (an older commit for promote or rollback). */
  async ensureCommit(sha: string, branch: string): Promise<void> {
    for (let depth = 10; !(await this.hasCommit(sha)); depth *= 4) {
      if (depth > 10_000) throw new TetherError('git', `commit ${sha.slice(0, 7)} is not in the history of ${branch}`);
      await this.fetchBranch(branch, depth);
    }
  }

  /** The root tree of a commit. */
  async treeOf(commit: string): Promise<string> {
    return (await git.readCommit({ fs, gitdir: this.gitdir, oid: commit, cache: this.cache })).commit.tree;
  }

  /** The YAML/JSON files at `commit` whose path `select` accepts (symlinks are skipped, never followed). */
  async readFiles(commit: string, select: (path: string) => boolean = () => true): Promise<CommitFiles> {
    const out: CommitFiles = { files: [], skipped: [] };
    const walk = async (tree: string, prefix: string): Promise<void> => {
      const { tree: entries } = await git.readTree({ fs, gitdir: this.gitdir, oid: tree, cache: this.cache });
      for (const e of entries) {
        const path = prefix ? `${prefix}/${e.path}` : e.path;
        if (e.type === 'tree') await walk(e.oid, path);
        else if (e.type === 'blob' && isYamlOrJsonPath(path) && select(path)) {
          if (e.mode === '120000') {
            out.skipped.push({ path, reason: 'symbolic link (not followed)' });
            continue;
          }
          const { blob } = await git.readBlob({ fs, gitdir: this.gitdir, oid: e.oid, cache: this.cache });
          const r = decodeFileText(path, blob);
          if ('text' in r) out.files.push(r);
          else out.skipped.push(r);
        }
      }
    };
    await walk(await this.treeOf(commit), '');
    return out;
  }

  /** Writes a commit locally: `parent`'s tree with `files` replaced; returns its id and its tree id. */
  async writeCommit(options: {
    parent: string;
    files: readonly { path: string; text: string }[];
    message: string;
    author: { name: string; email: string };
  }): Promise<{ commit: string; tree: string }> {
    const gitdir = this.gitdir;
    const byDir = new Map<string, Map<string, string>>();
    for (const f of options.files) {
      const oid = await git.writeBlob({ fs, gitdir, blob: new TextEncoder().encode(f.text) });
      const dir = f.path.includes('/') ? f.path.slice(0, f.path.lastIndexOf('/')) : '';
      const name = f.path.slice(f.path.lastIndexOf('/') + 1);
      if (!byDir.has(dir)) byDir.set(dir, new Map());
      byDir.get(dir)!.set(name, oid);
    }
    // Rewrite the trees on the paths to the changed files, deepest first.
    const rewrite = async (treeOid: string, dir: string): Promise<string> => {
      const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache: this.cache });
      const entries = [...tree];
      for (const [i, e] of entries.entries()) {
        const path = dir ? `${dir}/${e.path}` : e.path;
        if (e.type === 'tree' && [...byDir.keys()].some((d) => d === path || d.startsWith(`${path}/`))) {
          entries[i] = { ...e, oid: await rewrite(e.oid, path) };
        }
        const blob = byDir.get(dir)?.get(e.path);
        if (e.type === 'blob' && blob) entries[i] = { ...e, oid: blob };
      }
      return git.writeTree({ fs, gitdir, tree: entries });
    };
    const tree = await rewrite(await this.treeOf(options.parent), '');
    const now = Math.floor(Date.now() / 1000);
    const who = { ...options.author, timestamp: now, timezoneOffset: 0 };
    const commit = await git.writeCommit({
      fs,
      gitdir,
      commit: {
        message: options.message.endsWith('\n') ? options.message : `${options.message}\n`,
        tree,
        parent: [options.parent],
        author: who,
        committer: who,
      },
    });
    return { commit, tree };
  }

  /** The tree `writeCommit` would produce, without a commit (to compare with an open PR's head). */
  async treeWith(parent: string, files: readonly { path: string; text: string }[]): Promise<string> {
    return (
      await this.writeCommit({ parent, files, message: 'probe', author: { name: 'tether', email: 'tether@localhost' } })
    ).tree;
  }

  /** Pushes `sha` to `branch`; `force` only for Tether's own PR branches, never a base branch. */
  async push(sha: string, branch: string, options: { force: boolean }): Promise<{ ok: boolean; error?: string }> {
    await git.writeRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${branch}`, value: sha, force: true });
    const r = await git
      .push({
        fs,
        http: this.http,
        gitdir: this.gitdir,
        url: this.url,
        remote: 'origin',
        ref: `refs/heads/${branch}`,
        remoteRef: `refs/heads/${branch}`,
        force: options.force,
        onAuth: () => this.auth(),
        onAuthFailure: () => ({ cancel: true }),
      })
      .catch((err: Error) => ({
        ok: false,
        error: err.message,
        refs: {} as Record<string, { ok: boolean; error?: string }>,
      }));
    const ref = r.refs?.[`refs/heads/${branch}`];
    if (r.ok && (!ref || ref.ok)) return { ok: true };
    return { ok: false, error: ref?.error ?? ('error' in r ? String(r.error) : 'push rejected') };
  }
}
