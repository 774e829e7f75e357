// The one Git adapter of the Action and the agent: isomorphic-git over a bare object store, with `fs` and `http`
// passed in the way isomorphic-git itself takes them. Files are read from the objects, never checked out.
import * as nodeFs from 'node:fs';
import git, { type HttpClient, type PromiseFsClient, type ServerRef, type TreeEntry } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { TetherError } from '../errors.ts';
import { redact } from '../redact.ts';
import { normalizeRepoPath } from '../repo-path.ts';
import type { BaseObject } from './pack-index.ts';
import { PackReader, type VerifiedPack } from './pack-reader.ts';
import { PackReceiver } from './pack-receiver.ts';
import { snapshotFs } from './snapshot-fs.ts';

/** Basic-auth credentials for a Git server (GitHub takes `x-access-token:<token>`). */
export interface GitCredentials {
  username: string;
  password: string;
}

/** Where the repository lives, how to reach it, and the clients isomorphic-git uses. */
export interface GitRepoOptions {
  /** The bare object store (created if empty; reused when it already holds a repository). */
  gitdir: string;
  /** The remote, `https://…` (smart HTTP). */
  url: string;
  /** Asked before each network operation, so rotated tokens are picked up. */
  credentials?: () => Promise<GitCredentials | undefined> | GitCredentials | undefined;
  /**
   * The file system isomorphic-git writes the store with; Node's `fs` by default. Received packs are streamed to
   * disk and indexed with Node's `fs` itself, so the store must be a local directory whatever this is.
   */
  fs?: PromiseFsClient;
  /** The HTTP client isomorphic-git talks to the remote with; isomorphic-git's Node client by default. */
  http?: HttpClient;
  /** `HEAD`'s branch when the store is created. */
  defaultBranch?: string;
}

/** A file of a commit's tree: where it is and which blob holds it. */
export interface TreeFile {
  /** Path from the repository root. */
  path: string;
  oid: string;
  /** Git's file mode: `100644`, `100755`, or `120000` for a symbolic link. */
  mode: string;
}

/** One file read from the object store. */
export interface RepoFile {
  /** Path from the repository root. */
  path: string;
  content: Uint8Array;
}

/** Which files of a commit to read. */
export interface FileFilter {
  /** Only files under this directory (the repository root when absent or empty). */
  under?: string;
  /** Only paths (from the repository root) this accepts; applied before any blob is read. */
  select?: (path: string) => boolean;
  /**
   * Files larger than this are not read: their size comes from the object's header (no inflating) and they are
   * listed in `oversized` instead.
   */
  maxFileBytes?: number;
}

/** Files read from a commit, and the symbolic links that matched but were not followed. */
export interface ReadResult {
  /** In byte-wise path order. */
  files: RepoFile[];
  /** Their target could lie outside the path a reader asked for, so they are never followed. */
  symlinks: string[];
  /** Files over the filter's `maxFileBytes`, left unread, with their size. */
  oversized: { path: string; size: number }[];
}

/** A commit to write on `parent`: its tree with `files` replaced. */
export interface CommitRequest {
  parent: string;
  files: readonly { path: string; text: string }[];
  message: string;
  author: { name: string; email: string };
}

const SYMLINK = '120000';

/**
 * How long a Git server may say nothing before a request is given up. Without it, isomorphic-git's Node client runs
 * on Node's global agent, whose sockets time out after 5 s of silence: a server preparing a large pack for longer
 * failed the fetch with "Request timed out".
 */
const GIT_SILENCE_MS = 60_000;

/** `http` with `signal` on each of its requests: isomorphic-git's commands take none, its HTTP clients do. */
function withSignal(http: HttpClient, signal: AbortSignal | undefined): HttpClient {
  return signal ? { request: (req) => http.request({ ...req, signal }) } : http;
}

/**
 * The credentials as the header of the first request. isomorphic-git otherwise sends each ref listing without them
 * and only answers the server's 401 (a private repository on GitHub) with `onAuth`: one more round trip for every
 * fetch, listing and push. A fresh object each time, since isomorphic-git adds its own headers to it. Its Node HTTP
 * client drops the header on a redirect to another host; refused credentials still end in `onAuthFailure`.
 */
function authHeaders(creds: GitCredentials | undefined): Record<string, string> {
  if (!creds) return {};
  return { Authorization: `Basic ${basicToken(creds)}` };
}

/** The Basic-auth value of `creds`, as a header or an error quoting one carries it. */
function basicToken(creds: GitCredentials): string {
  return Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
}

/**
 * What must never appear in an error: the password of `creds` and of `url`'s userinfo (isomorphic-git sends that as
 * Basic auth too), each alone and inside the header.
 */
function secretsOf(url: string, creds: GitCredentials | undefined): string[] {
  const all = creds ? [creds] : [];
  try {
    const u = new URL(url);
    if (u.password) all.push({ username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  } catch {
    // Not a URL: isomorphic-git cannot reach it either, so it sends nothing from it.
  }
  return all.flatMap((c) => [c.password, basicToken(c)]);
}

/** An error rebuilt by `redactedError`: what retries read (code, HTTP status) kept beside the redacted message. */
type RedactedError = Error & { code?: string; data?: { statusCode: number; statusMessage?: string } };

/** How many causes deep `redactedError` copies; deeper ones are dropped. */
const MAX_CAUSE_DEPTH = 5;

/**
 * `err` rebuilt from redacted text alone, for the `cause` of an error this module throws: its name, message (URL
 * userinfo and `secrets` removed), `code`, HTTP status and causes, likewise. The raw error of isomorphic-git or of the
 * HTTP client may hold the request (a URL with userinfo, the Authorization header) or the server's answer, and
 * whatever prints causes (`util.inspect`, `console.error`) prints all of it. Code and status stay because retries
 * decide on them.
 */
function redactedError(err: unknown, secrets: readonly (string | undefined)[], depth = 0): RedactedError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    data?: { statusCode?: unknown; statusMessage?: unknown };
    cause?: unknown;
    stack?: unknown;
  };
  const message = redact(err instanceof Error ? err.message : String(err), secrets);
  const cause =
    e.cause !== undefined && depth + 1 < MAX_CAUSE_DEPTH ? redactedError(e.cause, secrets, depth + 1) : undefined;
  const out: RedactedError = new Error(message, cause ? { cause } : undefined);
  out.name = typeof e.name === 'string' ? e.name : 'Error';
  // The frames only: the stack's first line repeats the raw message.
  const frames = typeof e.stack === 'string' ? e.stack.split('\n').filter((l) => /^\s+at /.test(l)) : [];
  out.stack = [`${out.name}: ${message}`, ...frames].join('\n');
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.data?.statusCode === 'number') {
    out.data = { statusCode: e.data.statusCode };
    if (typeof e.data.statusMessage === 'string') out.data.statusMessage = redact(e.data.statusMessage, secrets);
  }
  return out;
}

/**
 * Runs a read or write of a local object store (`what` says which, naming the remote without credentials). An error
 * other than this module's own leaves as a TetherError whose cause `redactedError` rebuilt, as a remote failure's is:
 * isomorphic-git's and the file system's errors carry what they worked on (`caller`, `data`, a path, at times the
 * bytes read or an open file handle), and whatever prints causes would print it; its code (`NotFoundError`,
 * `ENOENT`) stays for callers that decide on it.
 */
async function local<T>(what: string, url: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // This module's own errors are built with redacted causes already (remoteError, missing paths and refs).
    if (err instanceof TetherError) throw err;
    const cause = redactedError(err, secretsOf(url, undefined));
    throw new TetherError('git', `${what}: ${cause.message}`, { cause });
  }
}

/** A Git repository fetched shallow and single-branch into a bare store; reads, commits and pushes. */
export class GitRepo {
  /** Bytes of Git protocol answers received (the Action's benchmark reports them). */
  bytesFetched = 0;
  /**
   * isomorphic-git's cache of parsed packfiles, shared by every read of one fetched state. Without it each read
   * re-loads and re-checks the packfile. Renewed after each fetch, since a fetch may add a packfile.
   */
  private cache: object = {};
  /** The fetched packs, loaded on the first read after a fetch (see pack-reader.ts for why). */
  private packs: Promise<PackReader> | undefined;
  /** Objects the last fetch's indexer inflated, handed to the next reader. */
  private fetched: Map<string, BaseObject> | undefined;
  /** The packs the last fetch indexed in memory (see PackReader.open), until the first read takes them. */
  private verified: VerifiedPack[] = [];
  private readonly fs: PromiseFsClient;
  private readonly http: HttpClient;
  /** The packs being received by fetches in flight; what a failed fetch leaves is removed. */
  private readonly receivers = new Set<PackReceiver>();
  /**
   * True while the store holds no object: created by open() and neither fetched into nor committed to since. Its
   * first fetch skips the ref listing that looks for the tip in the store (one request, two with the server's
   * credential challenge), which could only come back empty.
   */
  private empty: boolean;

  private constructor(
    private readonly options: GitRepoOptions,
    created: boolean,
  ) {
    this.empty = created;
    this.fs = options.fs ?? nodeFs;
    const inner = options.http ?? nodeHttp;
    // Count what the server sends: wrap the body iterator of every answer. A fetch's answer also has its pack taken
    // out as it arrives, indexed and stored by pack-receiver.ts (its opening comment says why).
    this.http = {
      request: async (req) => {
        const res = await inner.request({ ...req, fetchOptions: { timeout: GIT_SILENCE_MS, ...req.fetchOptions } });
        const body = res.body;
        if (!body) return res;
        const self = this;
        const counted = (async function* () {
          for await (const chunk of body) {
            self.bytesFetched += chunk.length;
            yield chunk;
          }
        })();
        const fetching = req.method === 'POST' && /\/git-upload-pack$/.test(req.url) && res.statusCode === 200;
        if (!fetching) return { ...res, body: counted };
        const receiver = new PackReceiver({
          packDir: `${this.gitdir}/objects/pack`,
          external: (oid) => this.readStored(oid),
        });
        this.receivers.add(receiver);
        return { ...res, body: receiver.rewrite(counted) };
      },
    };
  }

  /** An object of the store, for a received delta whose base the pack does not hold. */
  private async readStored(oid: string): Promise<BaseObject | undefined> {
    try {
      const r = await git.readObject({ fs: this.fs, gitdir: this.gitdir, oid, format: 'content', cache: this.cache });
      return r.type === 'commit' || r.type === 'tree' || r.type === 'blob' || r.type === 'tag'
        ? { type: r.type, content: r.object as Uint8Array }
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Opens the store at `gitdir`, creating an empty bare repository there if it has none (no network). */
  static async open(options: GitRepoOptions): Promise<GitRepo> {
    const fs = options.fs ?? nodeFs;
    const gitdir = options.gitdir;
    return local(`open the store of ${redact(options.url)} at ${gitdir}`, options.url, async () => {
      await fs.promises.mkdir(gitdir, { recursive: true });
      const hasHead = await fs.promises.stat(`${gitdir}/HEAD`).then(
        () => true,
        () => false,
      );
      if (!hasHead) {
        await git.init({
          fs,
          gitdir,
          bare: true,
          ...(options.defaultBranch ? { defaultBranch: options.defaultBranch } : {}),
        });
      }
      // isomorphic-git's fetch needs a configured remote even when given a URL; keep it pointing at the repo.
      await git.addRemote({ fs, gitdir, remote: 'origin', url: options.url, force: true });
      return new GitRepo(options, !hasHead);
    });
  }

  /** Runs a read or write of the local store; what it throws leaves as `local` says. */
  private local<T>(what: string, run: () => Promise<T>): Promise<T> {
    return local(`${what} (${this.displayUrl})`, this.options.url, run);
  }

  /** The bare store's directory. */
  get gitdir(): string {
    return this.options.gitdir;
  }

  /** The remote without credentials, for messages. */
  get displayUrl(): string {
    return redact(this.options.url);
  }

  /**
   * Fetches `ref` (depth 1 unless told; later fetches send only what is new) and returns its tip. A branch whose tip
   * is already in the store costs one ref listing and nothing else: no pack negotiation, and the parsed packs stay
   * cached (an agent polling an unchanged repository otherwise re-reads its whole pack on the next read).
   */
  async fetch(ref: string, options: { depth?: number; signal?: AbortSignal } = {}): Promise<string> {
    const { url, gitdir } = this.options;
    const depth = options.depth ?? 1;
    const http = withSignal(this.http, options.signal);
    const creds = await this.options.credentials?.();
    const secrets = secretsOf(url, creds);
    if (depth === 1 && !this.empty) {
      const tip = await this.localTip(ref, creds, http);
      if (tip) return tip;
    }
    try {
      // Given up during the listing above, which ends in undefined on any error.
      options.signal?.throwIfAborted();
      const r = await git.fetch({
        fs: this.fs,
        http,
        gitdir,
        url,
        remote: 'origin',
        ref,
        remoteRef: ref,
        singleBranch: true,
        depth,
        tags: false,
        headers: authHeaders(creds),
        onAuth: () => creds ?? { cancel: true },
        onAuthFailure: () => ({ cancel: true }),
      });
      // What the indexer inflated, for the first read (see PackReader.preload).
      const fetched = new Map<string, BaseObject>();
      for (const rc of this.receivers) for (const [oid, obj] of rc.stored?.objects ?? []) fetched.set(oid, obj);
      this.fetched = fetched.size > 0 ? fetched : undefined;
      this.verified = [...this.receivers].flatMap((rc) => (rc.verified ? [rc.verified] : []));
      this.receivers.clear();
      if (!r.fetchHead) throw new TetherError('git', `${this.displayUrl}: ref '${ref}' not found`);
      this.cache = {};
      this.packs = undefined;
      this.empty = false;
      return r.fetchHead;
    } catch (err) {
      for (const r of this.receivers) await r.discard();
      this.receivers.clear();
      if (err instanceof TetherError) throw err;
      throw this.remoteError('fetch', ref, err, secrets);
    }
  }

  /** A failed request to the remote as a TetherError naming what was asked (`fetch`, `list refs of`), no secrets. */
  private remoteError(what: string, ref: string, err: unknown, secrets: string[]): TetherError {
    const cause = redactedError(err, secrets);
    if (cause.code === 'HttpError' && /401|403/.test(cause.message)) {
      return new TetherError(
        'git',
        `${what} ${this.displayUrl} ${ref}: the credentials were refused (${cause.message})`,
        { cause },
      );
    }
    return new TetherError('git', `${what} ${this.displayUrl} ${ref}: ${cause.message}`, { cause });
  }

  /** The remote's refs (under `prefix` when given), peeled tags included: one GET, no pack negotiated or sent. */
  private serverRefs(creds: GitCredentials | undefined, prefix?: string, http = this.http): Promise<ServerRef[]> {
    return git.listServerRefs({
      http,
      url: this.options.url,
      ...(prefix ? { prefix } : {}),
      peelTags: true,
      // Version 1 lists refs with one GET; version 2's ls-refs is a POST to git-upload-pack like a fetch.
      protocolVersion: 1,
      headers: authHeaders(creds),
      onAuth: () => creds ?? { cancel: true },
      onAuthFailure: () => ({ cancel: true }),
    });
  }

  /**
   * The commit `ref` points at on the remote, read from its ref listing alone: nothing is fetched into the store. A
   * short name is resolved in git's order (refs/<ref>, refs/tags/<ref>, refs/heads/<ref>), as a fetch of it is; an
   * annotated tag gives the commit it points at; a full commit id is itself. `credentials: false` lists without them,
   * even when the server asks. Throws when the listing fails or has no such ref.
   */
  async remoteTip(ref: string, options: { credentials: boolean } = { credentials: true }): Promise<string> {
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    const creds = options.credentials ? await this.options.credentials?.() : undefined;
    let refs: ServerRef[];
    try {
      refs = await this.serverRefs(creds);
    } catch (err) {
      throw this.remoteError('list refs of', ref, err, secretsOf(this.options.url, creds));
    }
    for (const name of [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`]) {
      const found = refs.find((r) => r.ref === name);
      if (found) return found.peeled ?? found.oid;
    }
    throw new TetherError('git', `${this.displayUrl}: ref '${ref}' not found`);
  }

  /**
   * The server's tip of branch `ref` when that commit is already in the store (its remote-tracking ref is moved to
   * it, as a fetch would); undefined otherwise, or when the listing fails (the fetch then runs and reports).
   */
  private async localTip(ref: string, creds: GitCredentials | undefined, http: HttpClient) {
    const full = ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
    if (!full.startsWith('refs/heads/')) return undefined;
    try {
      const refs = await this.serverRefs(creds, full, http);
      const tip = refs.find((r) => r.ref === full)?.oid;
      if (!tip || !(await this.hasCommit(tip))) return undefined;
      const tracking = `refs/remotes/origin/${full.slice('refs/heads/'.length)}`;
      await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: tracking, value: tip, force: true });
      return tip;
    } catch {
      return undefined;
    }
  }

  /** Whether `sha`'s commit object is in the store. */
  async hasCommit(sha: string): Promise<boolean> {
    try {
      await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid: sha, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }

  /** Deepens the history of `ref` until `sha` is present (an older commit for promote or rollback). */
  async ensureCommit(sha: string, ref: string): Promise<void> {
    for (let depth = 10; !(await this.hasCommit(sha)); depth *= 4) {
      if (depth > 10_000) throw new TetherError('git', `commit ${sha.slice(0, 7)} is not in the history of ${ref}`);
      await this.fetch(ref, { depth });
    }
  }

  /** The root tree of a commit. */
  async treeOf(commit: string): Promise<string> {
    return this.local(
      `read commit ${commit}`,
      async () =>
        (await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid: commit, cache: this.cache })).commit.tree,
    );
  }

  /** The tree id of directory `path` at `commit` (undefined when there is none): equal ids mean equal content. */
  async treeHash(commit: string, path: string): Promise<string | undefined> {
    const clean = normalizeRepoPath(path);
    if (clean === '') return this.treeOf(commit);
    const entry = await this.entryAt(commit, clean);
    return entry?.type === 'tree' ? entry.oid : undefined;
  }

  /** Git's mode of the file at `path` in `commit` (`100644`, `100755`), or undefined when there is none. */
  async fileMode(commit: string, path: string): Promise<string | undefined> {
    const entry = await this.entryAt(commit, normalizeRepoPath(path));
    return entry?.type === 'blob' ? entry.mode : undefined;
  }

  /** The tree entry at a normalized, non-empty `path` in `commit`, read from its parent directory's tree. */
  private async entryAt(commit: string, clean: string): Promise<TreeEntry | undefined> {
    const parent = clean.includes('/') ? clean.slice(0, clean.lastIndexOf('/')) : '';
    const name = clean.slice(clean.lastIndexOf('/') + 1);
    return this.local(`read '${clean}' at ${commit}`, async () => {
      try {
        const { tree } = await git.readTree({
          fs: this.fs,
          gitdir: this.gitdir,
          oid: commit,
          ...(parent ? { filepath: parent } : {}),
          cache: this.cache,
        });
        return tree.find((e) => e.path === name);
      } catch (err) {
        if ((err as { code?: string }).code === 'NotFoundError') return undefined;
        throw err;
      }
    });
  }

  /**
   * The files of `commit` the filter accepts, from its trees alone (no blob is read), in byte-wise path order.
   * Throws when `under` names no directory at that commit.
   */
  async listFiles(commit: string, filter: FileFilter = {}): Promise<TreeFile[]> {
    const under = normalizeRepoPath(filter.under ?? '');
    const root = await this.treeHash(commit, under);
    if (root === undefined) throw new TetherError('git', `path '${under}' does not exist at ${commit.slice(0, 7)}`);
    return this.local(`list '${under}' at ${commit}`, () => this.listTree(root, under, filter.select, this.fs));
  }

  private async listTree(
    root: string,
    prefix: string,
    select: ((path: string) => boolean) | undefined,
    fs: PromiseFsClient,
  ): Promise<TreeFile[]> {
    const out: TreeFile[] = [];
    const walk = async (oid: string, dir: string): Promise<void> => {
      const { tree } = await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.cache });
      for (const e of tree as TreeEntry[]) {
        const path = dir ? `${dir}/${e.path}` : e.path;
        if (e.type === 'tree') await walk(e.oid, path);
        else if (e.type === 'blob' && (!select || select(path))) out.push({ path, oid: e.oid, mode: e.mode });
      }
    };
    await walk(root, prefix);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Reads the files of `commit` the filter accepts. Trees are walked first and the filter applied to paths, so only
   * the blobs wanted are read. Blobs come from the fetched packs with native zlib (pack-reader.ts); trees and anything
   * not packed go through isomorphic-git over a view of the store taken once (pack list, loose objects), which spares
   * its per-object directory listing, failed loose-object open and stat.
   */
  async readFiles(commit: string, filter: FileFilter = {}): Promise<ReadResult> {
    const under = normalizeRepoPath(filter.under ?? '');
    return this.local(`read '${under}' at ${commit}`, () => this.readFilesUnder(commit, under, filter));
  }

  private async readFilesUnder(commit: string, under: string, filter: FileFilter): Promise<ReadResult> {
    const fs = await snapshotFs(this.fs, this.gitdir);
    const root = await this.treeHash(commit, under);
    if (root === undefined) throw new TetherError('git', `path '${under}' does not exist at ${commit.slice(0, 7)}`);
    const listed = await this.listTree(root, under, filter.select, fs);
    const result: ReadResult = { files: [], symlinks: [], oversized: [] };
    if (!this.packs) {
      const fetched = this.fetched;
      const verified = this.verified;
      this.fetched = undefined;
      this.verified = [];
      this.packs = PackReader.open(this.fs, this.gitdir, verified).then((reader) => {
        if (fetched) reader.preload(fetched);
        return reader;
      });
      this.packs.catch(() => {
        this.packs = undefined;
      });
    }
    const packs = await this.packs;
    for (const f of listed) {
      if (f.mode === SYMLINK) {
        result.symlinks.push(f.path);
        continue;
      }
      const max = filter.maxFileBytes ?? Number.POSITIVE_INFINITY;
      const packed = packs.readWithin(f.oid, max);
      if (typeof packed === 'number') {
        result.oversized.push({ path: f.path, size: packed });
        continue;
      }
      if (packed && packed.type !== 'blob')
        throw new TetherError('git', `${f.path}: object ${f.oid} is a ${packed.type}, not a file`);
      const content =
        packed?.content ?? (await git.readBlob({ fs, gitdir: this.gitdir, oid: f.oid, cache: this.cache })).blob;
      if (content.length > max) {
        result.oversized.push({ path: f.path, size: content.length });
        continue;
      }
      result.files.push({ path: f.path, content });
    }
    packs.dropPreloaded();
    return result;
  }

  /** Writes a commit locally: `parent`'s tree with `files` replaced; returns its id and its tree id. */
  async writeCommit(options: CommitRequest): Promise<{ commit: string; tree: string }> {
    return this.local(`write a commit on ${options.parent}`, () => this.writeCommitLocally(options));
  }

  private async writeCommitLocally(options: CommitRequest): Promise<{ commit: string; tree: string }> {
    const { fs, gitdir } = this;
    this.empty = false;
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

  /** Pushes `sha` to `branch`; `force` only for Tether's own PR branches, never a base branch. */
  async push(sha: string, branch: string, options: { force: boolean }): Promise<{ ok: boolean; error?: string }> {
    const { fs, gitdir } = this;
    const creds = await this.options.credentials?.();
    await this.local(`point ${branch} at ${sha}`, () =>
      git.writeRef({ fs, gitdir, ref: `refs/heads/${branch}`, value: sha, force: true }),
    );
    const r = await git
      .push({
        fs,
        http: this.http,
        gitdir,
        url: this.options.url,
        remote: 'origin',
        ref: `refs/heads/${branch}`,
        remoteRef: `refs/heads/${branch}`,
        force: options.force,
        headers: authHeaders(creds),
        onAuth: () => creds ?? { cancel: true },
        onAuthFailure: () => ({ cancel: true }),
      })
      .catch((err: unknown) => ({
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        refs: {} as Record<string, { ok: boolean; error?: string }>,
      }));
    const ref = r.refs?.[`refs/heads/${branch}`];
    if (r.ok && (!ref || ref.ok)) return { ok: true };
    // Only text leaves: the client's message or the server's rejection, both redacted.
    const error = ref?.error ?? ('error' in r ? String(r.error) : 'push rejected');
    return { ok: false, error: redact(error, secretsOf(this.options.url, creds)) };
  }
}
