import { describeError } from '../../../shared/src/errors.ts';
import type { GitHubClient } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import type { CommitStatus } from '../core/commit-status.ts';

/** Options of the reporter. */
export interface StatusReporterOptions {
  /** A `pending` whose only change is its description is posted at most this often (Syncing 12/42 …). */
  pendingIntervalMs: number;
  /**
   * A `pending` that would replace a settled verdict (or start a commit's first status) waits this long: a sync or a
   * heal that settles sooner then writes only its final verdict, so a short sync costs one write and a green commit
   * does not flicker to pending while a heal re-applies it.
   */
  pendingGraceMs: number;
  /** Backoff of a failed post: first delay, doubling up to `maxBackoffMs`; a newer status replaces a queued one. */
  backoffMs: number;
  maxBackoffMs: number;
  log: Logger;
  /** Called after each post attempt, for metrics. */
  onResult?: (ok: boolean) => void;
}

/** Defaults: pending grace 2 s, pending updates at most every 5 s; backoff 1 s → 60 s. */
export function defaultStatusReporterOptions(): StatusReporterOptions {
  return { pendingIntervalMs: 5000, pendingGraceMs: 2000, backoffMs: 1000, maxBackoffMs: 60_000, log: silentLogger };
}

interface Slot {
  /** What GitHub holds, as far as this process knows: written by it, or read once after a restart. */
  posted?: { state: string; description: string; targetUrl?: string; at: number };
  /** Whether GitHub's existing statuses for this sha+context were read (once, after a restart). */
  seeded: boolean;
  /** The status being written right now; it becomes `posted` when the write succeeds. */
  inflight?: CommitStatus;
  /** The newest verdict not yet written. */
  queued?: CommitStatus;
  timer?: NodeJS.Timeout;
  /** Why the timer waits: a grace/interval for a pending may be cut short by a settled verdict, a backoff may not. */
  timerKind?: 'pending' | 'backoff';
  attempt: number;
  running?: Promise<void>;
  /** Released (see `release`): a write still in flight ends there, it is neither retried nor followed. */
  released?: boolean;
  /** The verdict GitHub refused for good (see `refusedForGood`) and how often in a row. */
  refused?: { status: CommitStatus; times: number };
}

/** How often a verdict GitHub refuses for good is tried before it is given up. */
export const REFUSED_TRIES = 3;

/**
 * Whether GitHub refused a write for a reason trying again does not change: a client error that is not a rate limit
 * (no permission on the repository, a commit it does not know, a description it does not take). A 5xx, a network
 * error, a 429 and a 403 of a rate limit (no requests left, or a retry-after) are worth retrying.
 */
export function refusedForGood(err: unknown): boolean {
  const e = err as { status?: unknown; message?: unknown; response?: { headers?: Record<string, unknown> } };
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (status === undefined || status < 400 || status >= 500 || status === 408 || status === 429) return false;
  const headers = e.response?.headers ?? {};
  const rateLimited =
    headers['x-ratelimit-remaining'] === '0' ||
    headers['retry-after'] !== undefined ||
    /rate limit/i.test(String(e.message));
  return !(status === 403 && rateLimited);
}

type Target = { owner: string; repo: string; sha: string };

/** What became of a status asked for (see `StatusReporter.delivery`). */
export type StatusDelivery = 'posted' | 'queued' | 'superseded' | 'unknown';

function same(a: { state: string; description: string; targetUrl?: string } | undefined, b: CommitStatus): boolean {
  return !!a && a.state === b.state && a.description === b.description && (a.targetUrl ?? '') === (b.targetUrl ?? '');
}

/**
 * Posts commit statuses without blocking syncs and without waste. Its one rule: once nothing is queued or in flight,
 * the last status written for (sha, context) equals the newest verdict asked for. A new verdict is compared with
 * what is being written now, else with what GitHub holds (its own writes, or one list call per sha+context after a
 * restart) — never only with a status read earlier, which a write in flight is about to replace. Failed posts are
 * retried with backoff and the newest verdict wins; `pending` waits out a grace and an interval.
 * (the problems of https://github.com/fluxcd/notification-controller/issues/327, …/issues/977 and …/issues/1373).
 */
export class StatusReporter {
  private readonly slots = new Map<string, Slot>();
  /** Contexts whose existing statuses were read once after start; later commits need no read. */
  private readonly seededContexts = new Set<string>();
  private readonly options: StatusReporterOptions;
  private stopped = false;
  /** Aborted by `stop`: the requests still in flight end there instead of landing later. */
  private readonly abort = new AbortController();

  constructor(
    private readonly github: GitHubClient,
    options: Partial<StatusReporterOptions> = {},
  ) {
    this.options = { ...defaultStatusReporterOptions(), ...options };
  }

  /** Asks for `status` on `owner/repo@sha`; returns at once. */
  report(target: Target, status: CommitStatus): void {
    if (this.stopped) return;
    const key = `${target.owner}/${target.repo}@${target.sha}#${status.context}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { seeded: false, attempt: 0 };
      this.slots.set(key, slot);
    }
    const last = slot.inflight ?? slot.posted;
    if (same(last, status)) {
      slot.queued = undefined;
      return;
    }
    slot.queued = status;
    if (slot.running) return;
    if (slot.timer) {
      // A settled verdict does not wait behind a pending's grace; a backoff after a failure still applies.
      if (slot.timerKind === 'pending' && status.state !== 'pending') {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        this.schedule(key, slot, target, 0);
      }
      return;
    }
    this.schedule(key, slot, target, this.pendingWait(slot, status), 'pending');
  }

  /** Resolves when nothing is queued or being posted (tests, graceful shutdown); gives up after `timeoutMs`. */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const busy = [...this.slots.values()].filter((s) => s.running || s.timer || s.queued);
      if (busy.length === 0) return;
      await Promise.race([...busy.map((s) => s.running).filter(Boolean), new Promise((r) => setTimeout(r, 20))]);
    }
  }

  /**
   * Stops: retries and queued statuses are dropped, and the requests still in flight are aborted (their connections
   * closed, a retry or a throttled write never sent); resolves once they have ended. A write GitHub already took in
   * stays written; one it has not taken by then is never made (see `Agent.stop`, which releases its Leases after).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.slots.values()) {
      clearTimeout(s.timer);
      s.timer = undefined;
      s.queued = undefined;
    }
    this.abort.abort();
    await Promise.all([...this.slots.values()].map((s) => s.running));
  }

  /**
   * What became of a status asked for: `posted` when GitHub holds it (as far as this process knows), `queued` while
   * it waits or is being written, `superseded` when a newer verdict for the same commit and context replaced it,
   * `unknown` when the slot was forgotten (an old commit) or its write failed for good.
   */
  delivery(target: Target, status: Pick<CommitStatus, 'context' | 'state' | 'description'>): StatusDelivery {
    const slot = this.slots.get(`${target.owner}/${target.repo}@${target.sha}#${status.context}`);
    if (!slot) return 'unknown';
    const is = (s: { state: string; description: string } | undefined) =>
      !!s && s.state === status.state && s.description === status.description;
    if (is(slot.queued) || is(slot.inflight)) return 'queued';
    if (is(slot.posted)) return 'posted';
    return slot.posted || slot.queued || slot.inflight ? 'superseded' : 'unknown';
  }

  /**
   * Another replica reports `context` from now on (this one lost the app's shard or the leadership): the writes not
   * made yet are dropped, since they would land on top of its newer verdicts, and what this process remembers GitHub
   * holding is forgotten, since the other replica writes there too. Should the app come back, its next status reads
   * GitHub first, as after a restart.
   */
  release(context: string): void {
    this.seededContexts.delete(context);
    for (const [key, slot] of this.slots) {
      if (!key.endsWith(`#${context}`)) continue;
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.queued = undefined;
      slot.released = true;
      this.slots.delete(key);
    }
  }

  /** Forgets statuses of commits other than `keepShas` so memory stays bounded. */
  prune(keepShas: Set<string>): void {
    for (const [key, slot] of this.slots) {
      const sha = key.slice(key.indexOf('@') + 1, key.indexOf('#'));
      if (!keepShas.has(sha) && !slot.running && !slot.timer && !slot.queued) this.slots.delete(key);
    }
  }

  /** How long a status waits before its write: only a `pending` waits (grace, then the description interval). */
  private pendingWait(slot: Slot, status: CommitStatus): number {
    if (status.state !== 'pending') return 0;
    const p = slot.posted;
    if (p && p.state === 'pending') return Math.max(0, p.at + this.options.pendingIntervalMs - Date.now());
    return this.options.pendingGraceMs;
  }

  private schedule(key: string, slot: Slot, target: Target, delayMs: number, kind?: Slot['timerKind']): void {
    const run = () => {
      slot.timer = undefined;
      slot.timerKind = undefined;
      slot.running = this.post(slot, target).finally(() => {
        slot.running = undefined;
        const next = slot.queued;
        if (!next || this.stopped || slot.timer) return;
        if (slot.attempt > 0) {
          const backoff = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (slot.attempt - 1));
          this.schedule(key, slot, target, backoff, 'backoff');
        } else {
          this.schedule(key, slot, target, this.pendingWait(slot, next), 'pending');
        }
      });
    };
    if (delayMs <= 0) run();
    else {
      slot.timerKind = kind;
      slot.timer = setTimeout(run, delayMs);
      slot.timer.unref?.();
    }
  }

  private async post(slot: Slot, target: Target): Promise<void> {
    const status = slot.queued;
    if (!status) return;
    slot.queued = undefined;
    slot.inflight = status;
    try {
      if (!slot.seeded && this.seededContexts.has(status.context)) slot.seeded = true;
      if (!slot.seeded) {
        // After a restart the same status may already be there: read it once instead of writing a duplicate.
        const { data } = await this.github.rest.repos.listCommitStatusesForRef({
          owner: target.owner,
          repo: target.repo,
          ref: target.sha,
          per_page: 100,
          request: { signal: this.abort.signal },
        });
        // Released during the read: the write is not made yet, so it is dropped like a queued one, and what was read
        // is not remembered (a replica that takes the app back reads GitHub again).
        if (slot.released) return;
        this.seededContexts.add(status.context);
        const latest = data.find((s) => s.context === status.context);
        if (latest) {
          slot.posted = {
            state: latest.state,
            description: latest.description ?? '',
            targetUrl: latest.target_url ?? undefined,
            at: 0,
          };
        }
        slot.seeded = true;
        if (same(slot.posted, status)) {
          slot.attempt = 0;
          return;
        }
      }
      await this.github.rest.repos.createCommitStatus({
        owner: target.owner,
        repo: target.repo,
        sha: target.sha,
        state: status.state,
        context: status.context,
        description: status.description,
        ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
        request: { signal: this.abort.signal },
      });
      slot.posted = {
        state: status.state,
        description: status.description,
        targetUrl: status.targetUrl,
        at: Date.now(),
      };
      slot.attempt = 0;
      slot.refused = undefined;
      this.options.onResult?.(true);
      this.options.log.info('commit status posted', { context: status.context, sha: target.sha, state: status.state });
    } catch (err) {
      if (this.abort.signal.aborted) {
        // Aborted by `stop`: GitHub may or may not have taken the write; nothing is retried after it.
        const fields = { context: status.context, sha: target.sha, state: status.state };
        this.options.log.warn('commit status write abandoned: the agent stops', fields);
        return;
      }
      slot.attempt++;
      // A verdict GitHub keeps refusing (the token may not write statuses there) is given up after a few tries:
      // retried for ever, every commit it was asked for would stay busy, never forgotten, and cost a request a
      // minute each. A newer verdict still gets its own tries.
      const refused = refusedForGood(err)
        ? { status, times: slot.refused && same(slot.refused.status, status) ? slot.refused.times + 1 : 1 }
        : undefined;
      slot.refused = refused;
      const giveUp = refused !== undefined && refused.times >= REFUSED_TRIES;
      if (giveUp) slot.attempt = 0;
      // The verdict still stands unless a newer one replaced it meanwhile (or the reporter was stopped, or another
      // replica reports the app now).
      if (!this.stopped && !slot.released && !giveUp) slot.queued ??= status;
      this.options.onResult?.(false);
      const fields = {
        context: status.context,
        sha: target.sha,
        state: status.state,
        attempt: refused?.times ?? slot.attempt,
        error: describeError(err),
      };
      if (giveUp) this.options.log.error('commit status refused by GitHub; given up', fields);
      else this.options.log.warn('commit status post failed', fields);
    } finally {
      slot.inflight = undefined;
      // A verdict asked for again while its write was in flight is that same write: do not repeat it.
      if (slot.queued && same(slot.posted, slot.queued)) slot.queued = undefined;
    }
  }
}
