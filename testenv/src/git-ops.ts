// The git CLI on bare repositories: what the Git server and the GitHub emulator need to read and write objects and
// refs. Real git does the work (merge-tree, commit-tree, update-ref with an old-value check) so the emulator's
// commits are byte-for-byte what git clients later fetch.
import { type ChildProcess, spawn } from 'node:child_process';
import { TetherError } from '../../shared/src/errors.ts';

/** The id of the empty tree, which git knows without it being stored. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** The object id git uses for "no object" (ref creation and deletion). */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

/** Output of one git invocation. */
export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** Options of one git invocation. */
export interface GitRunOptions {
  cwd?: string;
  input?: Buffer | string;
  env?: Record<string, string>;
  /** Exit codes that are not errors (default: only 0). */
  okCodes?: readonly number[];
}

/**
 * An environment for git that ignores the machine's and the user's configuration, so the world behaves the same on
 * every machine and never picks up someone's credential helper or signing key.
 */
export function isolatedGitEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/nonexistent',
    LANG: 'C',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs git and remembers the processes it started, so a server's `stop()` can end them all. */
export class GitRunner {
  /** Processes started and not yet exited. */
  readonly live = new Set<ChildProcess>();

  /** Runs `git <args>`; throws a `TetherError('git')` on an exit code not in `okCodes`. */
  run(args: readonly string[], options: GitRunOptions = {}): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, {
        cwd: options.cwd,
        env: isolatedGitEnv(options.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.live.add(child);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => {
        this.live.delete(child);
        reject(new TetherError('git', `git ${args[0]}: ${e.message}`, { cause: e }));
      });
      child.on('close', (code, signal) => {
        this.live.delete(child);
        const result = { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), code: code ?? -1 };
        if ((options.okCodes ?? [0]).includes(result.code)) resolve(result);
        else {
          const why = signal ? `killed by ${signal}` : `exit ${result.code}`;
          reject(new TetherError('git', `git ${args.join(' ')}: ${why}: ${result.stderr.trim()}`));
        }
      });
      // A child that exits before reading all of its input makes stdin emit EPIPE; the exit code tells the story.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    });
  }

  /** Starts `git <args>` with streams left to the caller (the Git server's CGI), tracked like `run`. */
  spawn(
    args: readonly string[],
    options: { cwd?: string; env?: Record<string, string | undefined> } = {},
  ): ChildProcess {
    const child = spawn('git', args, { cwd: options.cwd, env: isolatedGitEnv(options.env), stdio: 'pipe' });
    this.live.add(child);
    // 'exit' (the process is gone) can come before 'close' (its pipes are drained): a process is live until it exits,
    // which is what killAll waits for.
    child.on('exit', () => this.live.delete(child));
    child.on('close', () => this.live.delete(child));
    child.on('error', () => this.live.delete(child));
    return child;
  }

  /** Ends every running git process and waits until they have exited. */
  async killAll(): Promise<void> {
    await Promise.all([...this.live].map((child) => killAndWait(child)));
  }
}

/** Sends SIGTERM (SIGKILL after a second) and resolves once the process has exited. */
export function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A person and time as git records them on a commit. */
export interface GitSignature {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  timestamp: number;
  /** Offset as git writes it, e.g. `+0000`. */
  timezone: string;
}

/** A parsed commit object. */
export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: GitSignature;
  committer: GitSignature;
  message: string;
}

/** Kinds of objects in a tree. */
export type TreeEntryType = 'blob' | 'tree' | 'commit';

/** One entry of a tree listing; `path` is relative to the listed tree. */
export interface TreeEntry {
  mode: string;
  type: TreeEntryType;
  sha: string;
  /** Blob size in bytes; undefined for trees and submodules. */
  size?: number;
  path: string;
}

/** A change to a tree: set `path` to an object, or delete it (`sha: null`). */
export interface TreeChange {
  path: string;
  mode: string;
  type: TreeEntryType;
  sha: string | null;
}

/** A file changed between two commits. */
export interface FileChange {
  path: string;
  status: 'added' | 'removed' | 'modified';
  sha: string;
  additions: number;
  deletions: number;
}

/** Kinds of git objects. */
export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

/** Result of a three-way merge of trees. */
export type MergeResult = { clean: true; tree: string } | { clean: false };

/** Files to write with `commitFiles`: text or bytes, or null to delete. */
export type FileContents = Record<string, string | Uint8Array | null>;

/** One bare repository on disk, worked on with the git CLI. */
export class BareRepo {
  // Answers that depend only on object ids never change (objects are immutable and never pruned here), so they are
  // remembered: the emulator asks the same questions on every pull request read.
  readonly #types = new Map<string, ObjectType>();
  readonly #memo = new Map<string, Promise<unknown>>();

  constructor(
    readonly runner: GitRunner,
    readonly path: string,
  ) {}

  /** Runs git in this repository. */
  git(args: readonly string[], options: Omit<GitRunOptions, 'cwd'> = {}): Promise<GitResult> {
    return this.runner.run(args, { ...options, cwd: this.path });
  }

  /** Creates the bare repository with `HEAD` on `defaultBranch`, receive-pack enabled over HTTP. */
  async init(options: { defaultBranch: string }): Promise<void> {
    await this.runner.run(['init', '--quiet', '--bare', `--initial-branch=${options.defaultBranch}`, this.path]);
    // GitHub accepts pushes over HTTP and fetches of any reachable commit by id (isomorphic-git and shallow
    // clients ask for commits that way).
    await this.git(['config', 'http.receivepack', 'true']);
    await this.git(['config', 'uploadpack.allowReachableSHA1InWant', 'true']);
    await this.git(['config', 'uploadpack.allowFilter', 'true']);
  }

  /** The object id `rev` names, or undefined when it names nothing. `peel` asks for a commit (`^{commit}`). */
  async resolve(rev: string, options: { peel?: 'commit' | 'tree' } = {}): Promise<string | undefined> {
    if (rev.startsWith('-')) return undefined;
    const spec = options.peel ? `${rev}^{${options.peel}}` : rev;
    const r = await this.git(['rev-parse', '--verify', '--quiet', '--end-of-options', spec], { okCodes: [0, 1, 128] });
    const sha = r.stdout.toString('utf8').trim();
    return r.code === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
  }

  /** The type of an object, or undefined when it does not exist. */
  async objectType(sha: string): Promise<ObjectType | undefined> {
    if (!/^[0-9a-f]{4,40}$/i.test(sha)) return undefined;
    const known = this.#types.get(sha);
    if (known) return known;
    const r = await this.git(['cat-file', '-t', sha], { okCodes: [0, 1, 128] });
    const t = r.stdout.toString('utf8').trim();
    if (r.code !== 0 || (t !== 'commit' && t !== 'tree' && t !== 'blob' && t !== 'tag')) return undefined;
    // Objects never change and are never pruned here, so a full id's type can be remembered.
    if (sha.length === 40) this.#types.set(sha, t);
    return t;
  }

  /** All refs under `prefix` (default `refs/`), name → object id. */
  async refs(prefix = 'refs/'): Promise<Map<string, string>> {
    const r = await this.git(['for-each-ref', '--format=%(objectname) %(refname)', prefix]);
    const refs = new Map<string, string>();
    for (const line of r.stdout.toString('utf8').split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0) refs.set(line.slice(sp + 1), line.slice(0, sp));
    }
    return refs;
  }

  /** The branch `HEAD` points at (e.g. `main`), even when that branch has no commit yet. */
  async headBranch(): Promise<string> {
    const r = await this.git(['symbolic-ref', '--short', 'HEAD']);
    return r.stdout.toString('utf8').trim();
  }

  /**
   * Moves `ref` to `sha` if it still points at `expected` (null: the ref must not exist yet). Returns false when
   * the ref moved meanwhile, which is how concurrent writers lose a race instead of overwriting each other.
   */
  async updateRef(ref: string, sha: string, expected: string | null): Promise<boolean> {
    const r = await this.git(['update-ref', ref, sha, expected ?? ZERO_SHA], { okCodes: [0, 1, 128] });
    return r.code === 0;
  }

  /** Deletes `ref` if it still points at `expected`; false when it did not. */
  async deleteRef(ref: string, expected: string): Promise<boolean> {
    const r = await this.git(['update-ref', '-d', ref, expected], { okCodes: [0, 1, 128] });
    return r.code === 0;
  }

  /** Whether commit `ancestor` is reachable from `descendant` (a commit is its own ancestor). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return this.#remember(`anc ${ancestor} ${descendant}`, async () => {
      const r = await this.git(['merge-base', '--is-ancestor', ancestor, descendant], { okCodes: [0, 1] });
      return r.code === 0;
    });
  }

  /** Parses a commit object. */
  readCommit(sha: string): Promise<CommitInfo> {
    return this.#remember(`commit ${sha}`, async () => {
      const r = await this.git(['cat-file', 'commit', sha]);
      return parseCommit(sha, r.stdout.toString('utf8'));
    });
  }

  /** Memoizes a question about full object ids; failures are not remembered. */
  #remember<T>(key: string, compute: () => Promise<T>): Promise<T> {
    if (!/^\S+( [0-9a-f]{40})+$/.test(key)) return compute();
    const known = this.#memo.get(key) as Promise<T> | undefined;
    if (known) return known;
    if (this.#memo.size > 50_000) this.#memo.clear();
    const p = compute();
    this.#memo.set(key, p);
    p.catch(() => this.#memo.delete(key));
    return p;
  }

  /** Lists a tree (`recursive`: every blob below it, plus the subtrees themselves with `withTrees`). */
  async readTree(treeish: string, options: { recursive?: boolean; withTrees?: boolean } = {}): Promise<TreeEntry[]> {
    const args = ['ls-tree', '-z', '-l'];
    if (options.recursive) args.push('-r');
    if (options.recursive && options.withTrees) args.push('-t');
    const r = await this.git([...args, treeish]);
    const entries: TreeEntry[] = [];
    for (const rec of r.stdout.toString('utf8').split('\0')) {
      if (!rec) continue;
      const tab = rec.indexOf('\t');
      const [mode, type, sha, size] = rec.slice(0, tab).split(/ +/);
      const entry: TreeEntry = { mode: mode!, type: type as TreeEntryType, sha: sha!, path: rec.slice(tab + 1) };
      if (size !== undefined && size !== '-') entry.size = Number(size);
      entries.push(entry);
    }
    return entries;
  }

  /** The entry at `path` inside the tree of `treeish`, or undefined. The empty path is the tree itself. */
  async entryAt(treeish: string, path: string): Promise<TreeEntry | undefined> {
    const tree = await this.resolve(treeish, { peel: 'tree' });
    if (tree === undefined) return undefined;
    const clean = path.replace(/^\/+|\/+$/g, '');
    if (clean === '') return { mode: '040000', type: 'tree', sha: tree, path: '' };
    const r = await this.git(['ls-tree', '-z', '-l', '--full-tree', tree, '--', clean]);
    const rec = r.stdout.toString('utf8').split('\0')[0];
    if (!rec) return undefined;
    const tab = rec.indexOf('\t');
    const [mode, type, sha, size] = rec.slice(0, tab).split(/ +/);
    if (rec.slice(tab + 1) !== clean) return undefined;
    const entry: TreeEntry = { mode: mode!, type: type as TreeEntryType, sha: sha!, path: clean };
    if (size !== undefined && size !== '-') entry.size = Number(size);
    return entry;
  }

  /** The bytes of a blob. */
  async readBlob(sha: string): Promise<Buffer> {
    return (await this.git(['cat-file', 'blob', sha])).stdout;
  }

  /** Writes a blob and returns its id. */
  async writeBlob(content: Uint8Array | string): Promise<string> {
    const r = await this.git(['hash-object', '-w', '-t', 'blob', '--stdin'], { input: Buffer.from(content) });
    return r.stdout.toString('utf8').trim();
  }

  /** Writes one tree level from its entries (names without slashes) and returns its id. */
  async writeTree(entries: readonly TreeEntry[]): Promise<string> {
    const input = entries.map((e) => `${e.mode} ${e.type} ${e.sha}\t${e.path}\0`).join('');
    return (await this.git(['mktree', '-z'], { input })).stdout.toString('utf8').trim();
  }

  /**
   * Applies path changes (nested paths allowed) to `baseTree` (or an empty tree) and writes the result, level by
   * level, as GitHub's create-tree does with `base_tree`. Directories left empty disappear, as in git.
   */
  async writeTreeWithChanges(baseTree: string | undefined, changes: readonly TreeChange[]): Promise<string> {
    const entries = baseTree ? await this.readTree(baseTree) : [];
    const byName = new Map(entries.map((e) => [e.path, e]));
    const nested = new Map<string, TreeChange[]>();
    for (const c of changes) {
      const path = c.path.replace(/^\/+/, '');
      const slash = path.indexOf('/');
      if (slash < 0) {
        if (c.sha === null) byName.delete(path);
        else byName.set(path, { mode: c.mode, type: c.type, sha: c.sha, path });
        continue;
      }
      const dir = path.slice(0, slash);
      const list = nested.get(dir) ?? [];
      list.push({ ...c, path: path.slice(slash + 1) });
      nested.set(dir, list);
    }
    for (const [dir, list] of nested) {
      const existing = byName.get(dir);
      const sub = await this.writeTreeWithChanges(existing?.type === 'tree' ? existing.sha : undefined, list);
      if ((await this.readTree(sub)).length === 0) byName.delete(dir);
      else byName.set(dir, { mode: '040000', type: 'tree', sha: sub, path: dir });
    }
    return this.writeTree([...byName.values()]);
  }

  /** Writes a commit object and returns its id. */
  async commitTree(commit: {
    tree: string;
    parents: readonly string[];
    message: string;
    author: GitSignature;
    committer: GitSignature;
  }): Promise<string> {
    const args = ['commit-tree', commit.tree];
    for (const p of commit.parents) args.push('-p', p);
    const r = await this.git(args, {
      input: commit.message,
      env: {
        GIT_AUTHOR_NAME: commit.author.name,
        GIT_AUTHOR_EMAIL: commit.author.email,
        GIT_AUTHOR_DATE: `@${commit.author.timestamp} ${commit.author.timezone}`,
        GIT_COMMITTER_NAME: commit.committer.name,
        GIT_COMMITTER_EMAIL: commit.committer.email,
        GIT_COMMITTER_DATE: `@${commit.committer.timestamp} ${commit.committer.timezone}`,
      },
    });
    return r.stdout.toString('utf8').trim();
  }

  /** Three-way merges two commits with `git merge-tree --write-tree`, without touching any ref. */
  mergeTree(ours: string, theirs: string): Promise<MergeResult> {
    return this.#remember(`merge ${ours} ${theirs}`, async () => {
      const r = await this.git(['merge-tree', '--write-tree', '--no-messages', ours, theirs], { okCodes: [0, 1] });
      if (r.code !== 0) return { clean: false };
      return { clean: true, tree: r.stdout.toString('utf8').split('\n')[0]!.trim() };
    });
  }

  /**
   * The tree of `commit` replayed onto `onto` (a cherry-pick). git 2.39's merge-tree has no `--merge-base`, so the
   * merge base is forced instead: a throwaway commit with `onto`'s tree and `commit`'s parent as its only parent has
   * exactly that parent as merge base with `commit`.
   */
  async cherryPickTree(commit: CommitInfo, onto: string): Promise<MergeResult> {
    const parent = commit.parents[0];
    const ontoCommit = await this.readCommit(onto);
    if (parent === undefined) return this.mergeTree(onto, commit.sha);
    const probe = await this.commitTree({
      tree: ontoCommit.tree,
      parents: [parent],
      message: 'cherry-pick base\n',
      author: ontoCommit.author,
      committer: ontoCommit.committer,
    });
    return this.mergeTree(probe, commit.sha);
  }

  /** Commit ids reachable from `include` but not from `exclude`, newest first (children before parents). */
  async revList(options: {
    include: readonly string[];
    exclude?: readonly string[];
    path?: string;
    max?: number;
    skip?: number;
    reverse?: boolean;
    noMerges?: boolean;
  }): Promise<string[]> {
    const args = ['rev-list', '--topo-order'];
    if (options.max !== undefined) args.push(`--max-count=${options.max}`);
    if (options.skip) args.push(`--skip=${options.skip}`);
    if (options.reverse) args.push('--reverse');
    if (options.noMerges) args.push('--no-merges');
    args.push(...options.include, ...(options.exclude ?? []).map((x) => `^${x}`));
    if (options.path) args.push('--', options.path);
    const r = await this.git(args);
    return r.stdout.toString('utf8').split('\n').filter(Boolean);
  }

  /** Files changed from `from` (undefined: the empty tree) to `to`, with line counts. */
  diffFiles(from: string | undefined, to: string): Promise<FileChange[]> {
    return this.#remember(`diff ${from ?? EMPTY_TREE} ${to}`, () => this.#diffFiles(from ?? EMPTY_TREE, to));
  }

  async #diffFiles(base: string, to: string): Promise<FileChange[]> {
    const raw = await this.git(['diff-tree', '-r', '-z', '--no-renames', '--raw', base, to]);
    const num = await this.git(['diff-tree', '-r', '-z', '--no-renames', '--numstat', base, to]);
    const counts = new Map<string, [number, number]>();
    const numParts = num.stdout.toString('utf8').split('\0');
    for (const rec of numParts) {
      const m = /^(\d+|-)\t(\d+|-)\t(.*)$/s.exec(rec);
      if (m) counts.set(m[3]!, [m[1] === '-' ? 0 : Number(m[1]), m[2] === '-' ? 0 : Number(m[2])]);
    }
    const parts = raw.stdout.toString('utf8').split('\0');
    const files: FileChange[] = [];
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const meta = parts[i]!.split(' ');
      const path = parts[i + 1]!;
      const letter = meta[4]?.[0];
      const status = letter === 'A' ? 'added' : letter === 'D' ? 'removed' : 'modified';
      const [additions, deletions] = counts.get(path) ?? [0, 0];
      files.push({ path, status, sha: status === 'removed' ? meta[2]! : meta[3]!, additions, deletions });
    }
    return files;
  }

  /**
   * Commits file changes on top of `branch` (creating it when missing) and moves the branch with an old-value
   * check. A convenience for seeding repositories in tests; returns the new commit id.
   */
  async commitFiles(options: {
    branch: string;
    files: FileContents;
    message: string;
    author?: GitSignature;
    committer?: GitSignature;
  }): Promise<string> {
    const ref = `refs/heads/${options.branch}`;
    const parent = await this.resolve(ref, { peel: 'commit' });
    const baseTree = parent ? (await this.readCommit(parent)).tree : undefined;
    const changes: TreeChange[] = [];
    for (const [path, content] of Object.entries(options.files)) {
      const sha = content === null ? null : await this.writeBlob(content);
      changes.push({ path, mode: '100644', type: 'blob', sha });
    }
    const tree = await this.writeTreeWithChanges(baseTree, changes);
    const author = options.author ?? signatureNow('Tether Test', 'test@tether.invalid');
    const sha = await this.commitTree({
      tree,
      parents: parent ? [parent] : [],
      message: options.message.endsWith('\n') ? options.message : `${options.message}\n`,
      author,
      committer: options.committer ?? author,
    });
    if (!(await this.updateRef(ref, sha, parent ?? null))) {
      throw new TetherError('git', `${this.path}: ${ref} moved while committing`);
    }
    return sha;
  }
}

/** A signature for `name <email>` at the current time in UTC. */
export function signatureNow(name: string, email: string, date: Date = new Date()): GitSignature {
  return { name, email, timestamp: Math.floor(date.getTime() / 1000), timezone: '+0000' };
}

/** Parses the text of a commit object (`git cat-file commit`). */
export function parseCommit(sha: string, text: string): CommitInfo {
  const blank = text.indexOf('\n\n');
  const header = blank < 0 ? text : text.slice(0, blank);
  const message = blank < 0 ? '' : text.slice(blank + 2);
  let tree = '';
  const parents: string[] = [];
  let author: GitSignature | undefined;
  let committer: GitSignature | undefined;
  for (const line of header.split('\n')) {
    // Continuation lines (a `gpgsig` block) start with a space and belong to the previous header.
    if (line.startsWith(' ')) continue;
    const sp = line.indexOf(' ');
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parseSignature(value);
    else if (key === 'committer') committer = parseSignature(value);
  }
  if (!tree || !author || !committer) throw new TetherError('git', `commit ${sha}: unparsable commit object`);
  return { sha, tree, parents, author, committer, message };
}

/** Parses `Name <email> 1700000000 +0000`. */
export function parseSignature(value: string): GitSignature {
  const m = /^(.*?) ?<([^>]*)> (\d+) ([+-]\d{4})$/.exec(value);
  if (!m) throw new TetherError('git', `unparsable signature: ${value}`);
  return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezone: m[4]! };
}

/** ISO 8601 time of a signature, in UTC as GitHub's API shows it (`2024-01-01T00:00:00Z`). */
export function signatureDate(sig: GitSignature): string {
  return new Date(sig.timestamp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
