// Reads the fleet view's statuses from GitHub with the agent's token: the branch's newest commits, then each one's
// combined status (latest status per context). Results are cached per repo and branch (30 s by default), so a page
// that reloads itself costs GitHub nothing in between, and concurrent views share one read. A rate limit (403 with
// `x-ratelimit-remaining: 0`, or 403/429 with `retry-after`) stops reads until it resets; meanwhile the last rows are
// served with a note saying so. https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
import { describeError } from '../../../../shared/src/errors.ts';
import type { GitHubClient } from '../../../../shared/src/github.ts';
import { type FleetStatus, type FleetView, fleetRows } from '../../core/fleet.ts';

/** Options of the fleet reader. */
export interface FleetReaderOptions {
  /** How long a read is reused. */
  ttlMs: number;
  /** How many of the branch's newest commits are read (one request each, plus one for the list). */
  commits: number;
  /** Wait after a rate limit that names no reset time. */
  defaultBackoffMs: number;
  now: () => number;
}

/** Defaults: 30 s cache, the 10 newest commits, 60 s back-off when GitHub names no reset. */
export function defaultFleetReaderOptions(): FleetReaderOptions {
  return { ttlMs: 30_000, commits: 10, defaultBackoffMs: 60_000, now: () => Date.now() };
}

interface Entry {
  at: number;
  commits: { sha: string; statuses: FleetStatus[] }[];
}

/** An error as Octokit throws it: an HTTP status and the response headers. */
function httpError(err: unknown): { status: number; headers: Record<string, string | undefined> } | undefined {
  if (!err || typeof err !== 'object' || !('status' in err)) return undefined;
  const status = (err as { status: unknown }).status;
  const headers = (err as { response?: { headers?: Record<string, string | undefined> } }).response?.headers ?? {};
  return typeof status === 'number' ? { status, headers } : undefined;
}

/** Reads (and caches) the commit statuses the fleet view is made of. */
export class FleetReader {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  /** No request before this time (epoch ms): a rate limit is being waited out. */
  private blockedUntil = 0;
  private blockedWhy = '';
  /** How many requests went to GitHub (tests, metrics). */
  requests = 0;
  readonly options: FleetReaderOptions;

  constructor(
    private readonly github: GitHubClient,
    options: Partial<FleetReaderOptions> = {},
  ) {
    this.options = { ...defaultFleetReaderOptions(), ...options };
  }

  /** The fleet view of `app` on `owner/repo` at branch `ref`. Never throws: a failure is the view's `note`. */
  async read(owner: string, repo: string, ref: string, app: string): Promise<FleetView> {
    const key = `${owner}/${repo}@${ref}`;
    const now = this.options.now();
    const cached = this.cache.get(key);
    const view = (e: Entry | undefined, note?: string): FleetView => ({
      repo: `${owner}/${repo}`,
      ref,
      rows: e ? fleetRows(app, e.commits) : [],
      commitsRead: e?.commits.length ?? 0,
      ...(e ? { fetchedAt: new Date(e.at).toISOString() } : {}),
      ...(note ? { note } : {}),
    });
    if (cached && now - cached.at < this.options.ttlMs) return view(cached);
    if (now < this.blockedUntil) {
      const wait = Math.ceil((this.blockedUntil - now) / 1000);
      return view(
        cached,
        `${this.blockedWhy}: not reading GitHub for another ${wait} s${cached ? '; showing the last read' : ''}`,
      );
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(owner, repo, ref).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    try {
      const e = await p;
      this.cache.set(key, e);
      return view(e);
    } catch (err) {
      return view(cached, this.noteFor(err) + (cached ? '; showing the last read' : ''));
    }
  }

  private noteFor(err: unknown): string {
    const h = httpError(err);
    if (h && (h.status === 429 || h.status === 403)) {
      const retryAfter = Number(h.headers['retry-after']);
      const reset = Number(h.headers['x-ratelimit-reset']);
      const limited = h.status === 429 || Number.isFinite(retryAfter) || h.headers['x-ratelimit-remaining'] === '0';
      if (limited) {
        const now = this.options.now();
        this.blockedUntil =
          Number.isFinite(retryAfter) && retryAfter > 0
            ? now + retryAfter * 1000
            : Number.isFinite(reset) && reset > 0
              ? Math.max(now, reset * 1000)
              : now + this.options.defaultBackoffMs;
        this.blockedWhy = `GitHub rate limit (${h.status})`;
        return `${this.blockedWhy}: waiting until ${new Date(this.blockedUntil).toISOString()}`;
      }
    }
    return `GitHub could not be read: ${describeError(err)}`;
  }

  private async fetch(owner: string, repo: string, ref: string): Promise<Entry> {
    this.requests++;
    const { data } = await this.github.request('GET /repos/{owner}/{repo}/commits', {
      owner,
      repo,
      sha: ref,
      per_page: this.options.commits,
    });
    const commits: Entry['commits'] = [];
    // One after another: statuses of the newest commit first, and never a burst GitHub's secondary limit dislikes.
    for (const c of data.slice(0, this.options.commits)) {
      this.requests++;
      const { data: combined } = await this.github.request('GET /repos/{owner}/{repo}/commits/{ref}/status', {
        owner,
        repo,
        ref: c.sha,
        per_page: 100,
      });
      commits.push({ sha: c.sha, statuses: combined.statuses });
    }
    return { at: this.options.now(), commits };
  }
}
