// A real Git smart-HTTP server for the local world (issue 3, part 2): `git http-backend` run as CGI per request
// behind a loopback HTTP server, with GitHub's token auth and fault knobs. Clients (git CLI, isomorphic-git) speak
// to it exactly as they would to github.com.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TetherError } from '../../shared/src/errors.ts';
import { Faults } from './faults.ts';
import { BareRepo, type FileContents, GitRunner, ZERO_SHA } from './git-ops.ts';
import { basicToken, canAccess, principalFor, type TokenMap } from './tokens.ts';

/** Options of `startGitServer`. */
export interface GitServerOptions {
  /** Accepted tokens; read on every request. */
  tokens: TokenMap;
  /** Directory holding the bare repositories; default a temporary directory that `stop()` removes. */
  root?: string;
  /** Port on 127.0.0.1; default a free one. */
  port?: number;
}

/** Options of `createRepo`. */
export interface CreateRepoOptions {
  /** Branch `HEAD` points at (default `main`). */
  defaultBranch?: string;
  /** Files of an initial commit on the default branch; without them the repository is empty. */
  files?: FileContents;
  /** Message of that initial commit. */
  message?: string;
}

/** One ref moved by a push (deletion: `after` is all zeros; creation: `before` is). */
export interface PushEvent {
  /** `owner/name` as the repository was created. */
  repo: string;
  ref: string;
  before: string;
  after: string;
  /** Login of the token that pushed. */
  pusher: string;
}

/** Called for each ref a push moved, before the push's answer completes; a returned promise is awaited. */
export type PushListener = (event: PushEvent) => void | Promise<void>;

/** One request the Git server answered: method, path with query, status, body bytes sent, arrival and duration. */
export interface GitRequestRecord {
  method: string;
  path: string;
  status: number;
  bytes: number;
  /** `performance.now()` when it arrived. */
  at: number;
  ms: number;
}

/** A running Git server. */
export interface GitServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`; repositories live at `<url>/<owner>/<name>.git`. */
  url: string;
  /** Directory of the bare repositories. */
  root: string;
  /** Fault knobs: latency, failing statuses, answers cut mid-body. */
  faults: Faults;
  /** Requests answered, oldest first; the newest 10,000 are kept. Benchmarks sum their bytes. */
  requests: GitRequestRecord[];
  /**
   * Every request as it arrived (`at`, `performance.now()`), answered or not: one whose client went away before its
   * answer is never in `requests`. The newest 10,000 are kept.
   */
  received: { method: string; path: string; at: number }[];
  /** Runs git for this server; its processes end with `stop()`. */
  runner: GitRunner;
  /** Creates a bare repository (optionally with an initial commit). */
  createRepo(fullName: string, options?: CreateRepoOptions): Promise<BareRepo>;
  /** Whether `owner/name` exists. */
  hasRepo(fullName: string): Promise<boolean>;
  /** The bare repository directory of `owner/name` (which may not exist). */
  repoPath(fullName: string): string;
  /** A handle to run git in `owner/name`. */
  repo(fullName: string): BareRepo;
  /** The clone URL of `owner/name`. */
  cloneUrl(fullName: string): string;
  /** Subscribes to pushes; returns the unsubscribe function. */
  onPush(listener: PushListener): () => void;
  /** Process ids of the `git` processes running now. */
  liveProcesses(): number[];
  /** Ends running git processes, closes the port and removes the temporary root. */
  stop(): Promise<void>;
}

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);

/** Validates `owner/name` the way GitHub restricts names, so no path can escape the root. */
export function parseFullName(fullName: string): { owner: string; name: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)$/.exec(fullName);
  if (!m || m[2] === '.' || m[2] === '..' || m[2]!.endsWith('.git')) {
    throw new TetherError('input', `repository name "${fullName}" is not owner/name`);
  }
  return { owner: m[1]!, name: m[2]! };
}

/** Starts the Git server on 127.0.0.1. */
export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const ownsRoot = options.root === undefined;
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'tether-git-')));
  const runner = new GitRunner();
  const faults = new Faults();
  const listeners = new Set<PushListener>();
  // GitHub names are case-insensitive; directories are lower-case and this remembers the name as created.
  const displayNames = new Map<string, string>();

  const relPath = (fullName: string): string => {
    const { owner, name } = parseFullName(fullName);
    return join(owner.toLowerCase(), `${name.toLowerCase()}.git`);
  };
  const repoPath = (fullName: string): string => join(root, relPath(fullName));
  const repo = (fullName: string): BareRepo => new BareRepo(runner, repoPath(fullName));
  const hasRepo = async (fullName: string): Promise<boolean> => {
    try {
      return (await stat(join(repoPath(fullName), 'HEAD'))).isFile();
    } catch {
      return false;
    }
  };

  const requests: GitRequestRecord[] = [];
  const received: GitServer['received'] = [];
  const server = createServer((req, res) => {
    if (received.length >= 10_000) received.splice(0, 1_000);
    received.push({ method: req.method ?? '', path: req.url ?? '', at: performance.now() });
    const record: GitRequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      bytes: 0,
      at: performance.now(),
      ms: 0,
    };
    handle(req, res, record)
      .then(() => {
        if (requests.length >= 10_000) requests.splice(0, 1_000);
        requests.push({ ...record, status: res.statusCode, ms: performance.now() - record.at });
      })
      .catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`git server error: ${err instanceof Error ? err.message : String(err)}\n`);
        } else res.destroy();
      });
  });

  /** Answers one request; a CGI answer's body bytes go to `record.bytes`. */
  async function handle(req: IncomingMessage, res: ServerResponse, record: GitRequestRecord): Promise<void> {
    await faults.delay();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const m = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(url.pathname);
    const service = m?.[3] === 'info/refs' ? url.searchParams.get('service') : m?.[3];
    if (!m || !service || !SERVICES.has(service)) return text(res, 404, 'Not Found\n');
    const fullName = `${m[1]}/${m[2]}`;
    try {
      parseFullName(fullName);
    } catch {
      return text(res, 404, 'Repository not found.\n');
    }

    const fault = faults.take(method, url.pathname, ['status', 'cut', 'hold']);
    if (fault?.kind === 'status') return text(res, fault.status, `injected fault: HTTP ${fault.status}\n`);
    if (fault?.kind === 'hold') {
      // A server that says nothing for a while (a large pack being prepared); a client gone meanwhile is not served.
      await new Promise((r) => setTimeout(r, fault.ms));
      if (res.destroyed || req.socket.destroyed) return;
    }

    const principal = principalFor(options.tokens, basicToken(req.headers.authorization, options.tokens));
    if (!principal) {
      res.setHeader('www-authenticate', 'Basic realm="GitHub"');
      return text(res, 401, 'Invalid username or token. Password authentication is not supported.\n');
    }
    // GitHub answers "not found" both for a missing repository and one the token may not see.
    if (!canAccess(principal, fullName) || !(await hasRepo(fullName))) return text(res, 404, 'Repository not found.\n');

    const bare = repo(fullName);
    const isPush = method === 'POST' && service === 'git-receive-pack';
    const before = isPush ? await bare.refs() : undefined;

    const child = runner.spawn(['http-backend'], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: `/${relPath(fullName)}/${m[3]}`,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: method,
        REMOTE_USER: principal.login,
        REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
        CONTENT_TYPE: req.headers['content-type'],
        // Without CONTENT_LENGTH (chunked uploads) http-backend reads the body to EOF.
        CONTENT_LENGTH: req.headers['content-length'],
        // git gzips large upload-pack requests; http-backend inflates them when told the encoding.
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'],
        HTTP_GIT_PROTOCOL: header(req, 'git-protocol'),
      },
    });
    child.stdin!.on('error', () => {});
    req.pipe(child.stdin!);
    req.on('aborted', () => child.kill('SIGTERM'));
    res.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    });

    record.bytes = await pipeCgi(child, res, fault?.kind === 'cut' ? fault.afterBytes : undefined, async () => {
      if (!before) return;
      const after = await bare.refs();
      for (const event of refChanges(displayNames.get(fullName.toLowerCase()) ?? fullName, before, after)) {
        for (const listener of listeners) {
          try {
            await listener({ ...event, pusher: principal.login });
          } catch {
            // A failing subscriber must not fail the push: git already accepted it.
          }
        }
      }
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    root,
    faults,
    requests,
    received,
    runner,
    repoPath,
    repo,
    hasRepo,
    cloneUrl: (fullName) => `${url}/${parseFullName(fullName).owner}/${parseFullName(fullName).name}.git`,
    async createRepo(fullName, createOptions = {}) {
      if (await hasRepo(fullName)) throw new TetherError('input', `repository ${fullName} already exists`);
      const bare = repo(fullName);
      await mkdir(join(bare.path, '..'), { recursive: true });
      const defaultBranch = createOptions.defaultBranch ?? 'main';
      await bare.init({ defaultBranch });
      displayNames.set(fullName.toLowerCase(), fullName);
      if (createOptions.files) {
        await bare.commitFiles({
          branch: defaultBranch,
          files: createOptions.files,
          message: createOptions.message ?? 'Initial commit',
        });
      }
      return bare;
    },
    onPush(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    liveProcesses: () => [...runner.live].map((c) => c.pid).filter((pid): pid is number => pid !== undefined),
    async stop() {
      const closed = closeServer(server);
      await runner.killAll();
      await closed;
      if (ownsRoot) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Closes a server and every connection it holds, resolving when the port is released. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** The refs that differ between two snapshots, as push events without a pusher. */
export function refChanges(
  repo: string,
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): Omit<PushEvent, 'pusher'>[] {
  const events: Omit<PushEvent, 'pusher'>[] = [];
  for (const [ref, sha] of after) {
    const old = before.get(ref) ?? ZERO_SHA;
    if (old !== sha) events.push({ repo, ref, before: old, after: sha });
  }
  for (const [ref, sha] of before) if (!after.has(ref)) events.push({ repo, ref, before: sha, after: ZERO_SHA });
  return events;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Relays a CGI answer: parses the header block (`Status:` sets the code), streams the body with backpressure, and
 * calls `beforeEnd` after the process exited but before the answer completes, so a push's listeners have run by the
 * time the client sees it succeed. `cutAfter` destroys the connection after that many body bytes. Resolves with
 * the body bytes sent.
 */
function pipeCgi(
  child: ReturnType<GitRunner['spawn']>,
  res: ServerResponse,
  cutAfter: number | undefined,
  beforeEnd: () => Promise<void>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let sent = 0;
    let cut = false;
    const stderr: Buffer[] = [];
    const stdout = child.stdout!;
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));
    const writeBody = (chunk: Buffer): void => {
      if (cut || chunk.length === 0) return;
      if (cutAfter !== undefined && sent + chunk.length >= cutAfter) {
        cut = true;
        res.write(chunk.subarray(0, Math.max(0, cutAfter - sent)));
        // Give the partial body a moment to leave, then drop the connection as a broken proxy would.
        setTimeout(() => res.destroy(), 20);
        child.kill('SIGTERM');
        return;
      }
      sent += chunk.length;
      if (!res.write(chunk)) {
        stdout.pause();
        res.once('drain', () => stdout.resume());
      }
    };
    stdout.on('data', (chunk: Buffer) => {
      if (head === undefined) return writeBody(chunk);
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
      if (end < 0) return;
      const block = head.subarray(0, end).toString('latin1');
      const rest = head.subarray(end + (end === crlf ? 4 : 2));
      head = undefined;
      let status = 200;
      for (const line of block.split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      writeBody(rest);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (cut) return resolve(sent);
      if (head !== undefined) {
        const why = Buffer.concat(stderr).toString('utf8').trim();
        if (!res.headersSent) text(res, 500, `git http-backend failed (exit ${code}): ${why}\n`);
        return resolve(0);
      }
      beforeEnd().then(
        () => {
          res.end();
          resolve(sent);
        },
        (err: unknown) => {
          res.end();
          reject(err);
        },
      );
    });
  });
}
