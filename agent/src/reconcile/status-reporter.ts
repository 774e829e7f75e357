import { describeError } from '../../../shared/src/errors.ts';
import type { GitHubClient } from '../../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../../shared/src/log.ts';
import type { CommitStatus } from '../core/commit-status.ts';

/** Options of the reporter. */
export interface StatusReporterOptions {
  /** A `pending` whose only change is its description is posted at most this often (Syncing 12/42 …). */
  pendingIntervalMs: number;
  /** Backoff of a failed post: first delay, doubling up to `maxBackoffMs`; a newer status replaces a queued one. */
  backoffMs: number;
  maxBackoffMs: number;
  log: Logger;
  /** Called after each post attempt, for metrics. */
  onResult?: (ok: boolean) => void;
}

/** Defaults: pending at most every 5 s; backoff 1 s → 60 s. */
export function defaultStatusReporterOptions(): StatusReporterOptions {
  return { pendingIntervalMs: 5000, backoffMs: 1000, maxBackoffMs: 60_000, log: silentLogger };
}

interface Slot {
  posted?: { state: string; description: string; at: number };
  /** Whether GitHub's existing statuses for this sha+context were read (once, after a restart). */
  seeded: boolean;
  queued?: CommitStatus;
  timer?: NodeJS.Timeout;
  attempt: number;
  running?: Promise<void>;
}

/**
 * Posts commit statuses without blocking syncs and without waste: at most one write per (sha, context, state,
 * description), decided from its own memory (one list call per sha+context after a restart, none per reconcile),
 * `pending` updates rate-limited, failed posts retried with backoff where the newest wanted status wins
 * (no list per reconcile, no success before failure, no dropped failure: the problems of
 * https://github.com/fluxcd/notification-controller/issues/327, …/issues/977 and …/issues/1373).
 */
export class StatusReporter {
  private readonly slots = new Map<string, Slot>();
  /** Contexts whose existing statuses were read once after start; later commits need no read. */
  private readonly seededContexts = new Set<string>();
  private readonly options: StatusReporterOptions;
  private stopped = false;

  constructor(
    private readonly github: GitHubClient,
    options: Partial<StatusReporterOptions> = {},
  ) {
    this.options = { ...defaultStatusReporterOptions(), ...options };
  }

  /** Asks for `status` on `owner/repo@sha`; returns at once. */
  report(target: { owner: string; repo: string; sha: string }, status: CommitStatus): void {
    if (this.stopped) return;
    const key = `${target.owner}/${target.repo}@${target.sha}#${status.context}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { seeded: false, attempt: 0 };
      this.slots.set(key, slot);
    }
    const p = slot.posted;
    if (p && p.state === status.state && p.description === status.description) {
      slot.queued = undefined;
      return;
    }
    slot.queued = status;
    if (slot.timer || slot.running) return;
    // A pending that only updates its description waits out the interval; any change of state goes at once.
    const wait =
      p && p.state === 'pending' && status.state === 'pending'
        ? Math.max(0, p.at + this.options.pendingIntervalMs - Date.now())
        : 0;
    this.schedule(key, slot, target, wait);
  }

  /** Resolves when nothing is queued or being posted (tests, graceful shutdown); gives up after `timeoutMs`. */
  async flush(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const busy = [...this.slots.values()].filter((s) => s.running || s.timer || s.queued);
      if (busy.length === 0) return;
      await Promise.race([...busy.map((s) => s.running).filter(Boolean), new Promise((r) => setTimeout(r, 50))]);
    }
  }

  /** Stops retrying; queued statuses are dropped. */
  stop(): void {
    this.stopped = true;
    for (const s of this.slots.values()) {
      clearTimeout(s.timer);
      s.timer = undefined;
      s.queued = undefined;
    }
  }

  /** Forgets statuses of commits other than `keepShas` so memory stays bounded. */
  prune(keepShas: Set<string>): void {
    for (const [key, slot] of this.slots) {
      const sha = key.slice(key.indexOf('@') + 1, key.indexOf('#'));
      if (!keepShas.has(sha) && !slot.running && !slot.timer) this.slots.delete(key);
    }
  }

  private schedule(
    key: string,
    slot: Slot,
    target: { owner: string; repo: string; sha: string },
    delayMs: number,
  ): void {
    const run = () => {
      slot.timer = undefined;
      slot.running = this.post(slot, target).finally(() => {
        slot.running = undefined;
        if (slot.queued && !this.stopped && !slot.timer) {
          const backoff =
            slot.attempt > 0
              ? Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (slot.attempt - 1))
              : 0;
          this.schedule(key, slot, target, backoff);
        }
      });
    };
    if (delayMs <= 0) run();
    else {
      slot.timer = setTimeout(run, delayMs);
      slot.timer.unref?.();
    }
  }

  private async post(slot: Slot, target: { owner: string; repo: string; sha: string }): Promise<void> {
    const status = slot.queued;
    if (!status) return;
    try {
      if (!slot.seeded && this.seededContexts.has(status.context)) slot.seeded = true;
      if (!slot.seeded) {
        this.seededContexts.add(status.context);
        // After a restart the same status may already be there: read it once instead of writing a duplicate.
        const { data } = await this.github.rest.repos.listCommitStatusesForRef({
          owner: target.owner,
          repo: target.repo,
          ref: target.sha,
          per_page: 100,
        });
        const latest = data.find((s) => s.context === status.context);
        if (latest) slot.posted = { state: latest.state, description: latest.description ?? '', at: 0 };
        slot.seeded = true;
        if (slot.posted && slot.posted.state === status.state && slot.posted.description === status.description) {
          slot.queued = undefined;
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
      });
      slot.posted = { state: status.state, description: status.description, at: Date.now() };
      // A status asked for again while this one was in flight is the same write: do not repeat it.
      const q = slot.queued;
      if (
        q === status ||
        (q && q.state === status.state && q.description === status.description && q.targetUrl === status.targetUrl)
      ) {
        slot.queued = undefined;
      }
      slot.attempt = 0;
      this.options.onResult?.(true);
      this.options.log.info('commit status posted', { context: status.context, sha: target.sha, state: status.state });
    } catch (err) {
      slot.attempt++;
      this.options.onResult?.(false);
      this.options.log.warn('commit status post failed', {
        context: status.context,
        sha: target.sha,
        state: status.state,
        attempt: slot.attempt,
        error: describeError(err),
      });
    }
  }
}
