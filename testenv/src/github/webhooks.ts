// Webhook delivery as GitHub does it: a POST per registered hook with `X-GitHub-Event`, `X-GitHub-Delivery` and,
// when the hook has a secret, `X-Hub-Signature-256` (HMAC-SHA256 of the exact body). The agent uses `push` to
// sync at once instead of waiting for its polling interval.
import { createHmac, randomUUID } from 'node:crypto';
import { ZERO_SHA } from '../git-ops.ts';
import type { PushEvent } from '../git-server.ts';
import type { OpenApiValidator, Violation } from './openapi.ts';
import { type PushedCommit, pushPayloadJson, type Urls } from './responses.ts';
import type { GitHubState, HookRecord, RepoRecord } from './state.ts';

/** One attempted delivery, for tests to inspect. */
export interface WebhookDelivery {
  /** The `X-GitHub-Delivery` id. */
  id: string;
  hookId: number;
  repo: string;
  event: string;
  url: string;
  payload: Record<string, unknown>;
  /** Headers sent (the signature included, never a secret). */
  headers: Record<string, string>;
  /** HTTP status of the receiver's answer, when it answered. */
  status?: number;
  error?: string;
  durationMs?: number;
}

/** Options of the dispatcher. */
export interface WebhookDispatcherOptions {
  /** Checks payloads against GitHub's webhook schemas; violations are recorded like API ones. */
  validator?: OpenApiValidator;
  violations: Violation[];
  /** GitHub gives a receiver 10 seconds. */
  timeoutMs?: number;
}

// GitHub caps the commits listed in one push payload; 20 keeps payloads small and is what older docs state.
const MAX_PUSH_COMMITS = 20;

/** Sends webhooks in the background; `idle()` waits for what is in flight. */
export class WebhookDispatcher {
  /** Every delivery so far, oldest first. */
  readonly deliveries: WebhookDelivery[] = [];
  readonly #options: WebhookDispatcherOptions;
  // Deliveries to one hook go out one after the other, so a receiver sees pushes in the order they happened.
  readonly #chains = new Map<number, Promise<void>>();
  readonly #abort = new AbortController();

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
  }

  /**
   * Queues `event` to every active hook of `repo` that subscribed to it. `schema` names the payload's description
   * when it is not the event's name: GitHub describes `pull_request` once per action (`pull-request-opened`, …).
   */
  dispatch(repo: RepoRecord, event: string, payload: Record<string, unknown>, schema = event): void {
    const hooks = repo.hooks.filter((h) => h.active && (h.events.includes(event) || h.events.includes('*')));
    if (hooks.length === 0) return;
    if (this.#options.validator) {
      const errors = this.#options.validator.validateWebhook(schema, payload);
      if (errors.length > 0) this.#options.violations.push({ kind: 'webhook', operation: schema, errors });
    }
    for (const hook of hooks) this.send(repo, hook, event, payload);
  }

  /** Queues one delivery to one hook (also used for `ping`). */
  send(repo: RepoRecord, hook: HookRecord, event: string, payload: Record<string, unknown>): void {
    const previous = this.#chains.get(hook.id) ?? Promise.resolve();
    const next = previous.then(() => this.#deliver(repo, hook, event, payload));
    this.#chains.set(hook.id, next);
  }

  /** Resolves once every queued delivery has finished (answered, failed or timed out). */
  async idle(): Promise<void> {
    let size: number;
    do {
      size = this.deliveries.length;
      await Promise.all(this.#chains.values());
    } while (this.deliveries.length !== size);
  }

  /** Waits until a delivery matching `predicate` has finished, or throws after `timeoutMs` (default 5 s). */
  async waitFor(predicate: (d: WebhookDelivery) => boolean, timeoutMs = 5000): Promise<WebhookDelivery> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.deliveries.find((d) => (d.status !== undefined || d.error !== undefined) && predicate(d));
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no matching webhook delivery in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Aborts deliveries in flight and waits for them to settle. */
  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.allSettled(this.#chains.values());
  }

  async #deliver(repo: RepoRecord, hook: HookRecord, event: string, payload: Record<string, unknown>): Promise<void> {
    const json = JSON.stringify(payload);
    const body = hook.contentType === 'form' ? `payload=${encodeURIComponent(json)}` : json;
    const id = randomUUID();
    const headers: Record<string, string> = {
      'content-type': hook.contentType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'GitHub-Hookshot/tether-emulator',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-github-hook-id': String(hook.id),
      'x-github-hook-installation-target-id': String(repo.id),
      'x-github-hook-installation-target-type': 'repository',
    };
    if (hook.secret) {
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', hook.secret).update(body).digest('hex')}`;
      headers['x-hub-signature-256'] = `sha256=${createHmac('sha256', hook.secret).update(body).digest('hex')}`;
    }
    const delivery: WebhookDelivery = {
      id,
      hookId: hook.id,
      repo: repo.fullName,
      event,
      url: hook.url,
      payload,
      headers,
    };
    this.deliveries.push(delivery);
    const t0 = performance.now();
    try {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]);
      const res = await fetch(hook.url, { method: 'POST', headers, body, signal });
      await res.arrayBuffer().catch(() => undefined);
      delivery.status = res.status;
      hook.lastResponse = { code: res.status, status: res.ok ? 'active' : 'failed', message: res.statusText || null };
    } catch (err) {
      delivery.error = err instanceof Error ? err.message : String(err);
      hook.lastResponse = { code: null, status: 'failed', message: delivery.error };
    }
    delivery.durationMs = performance.now() - t0;
  }
}

/** Gathers what a `push` webhook lists (new commits and the paths they touched) and builds the payload. */
export async function pushPayload(
  urls: Urls,
  state: GitHubState,
  repo: RepoRecord,
  event: PushEvent,
): Promise<Record<string, unknown>> {
  const bare = repo.bare;
  const deleted = event.after === ZERO_SHA;
  const created = event.before === ZERO_SHA;
  const forced = !created && !deleted && !(await bare.isAncestor(event.before, event.after).catch(() => false));
  const load = async (sha: string): Promise<PushedCommit> => {
    const commit = await bare.readCommit(sha);
    return { commit, files: await bare.diffFiles(commit.parents[0], sha) };
  };
  let commits: PushedCommit[] = [];
  let head: PushedCommit | undefined;
  const after = deleted ? undefined : await bare.resolve(event.after, { peel: 'commit' });
  if (after) {
    // A new branch lists the commits no other branch had; an update lists those since `before`.
    const exclude = created
      ? [...(await bare.refs('refs/heads/')).entries()].filter(([r]) => r !== event.ref).map(([, sha]) => sha)
      : [event.before];
    const shas = await bare.revList({ include: [after], exclude, max: MAX_PUSH_COMMITS });
    commits = await Promise.all(shas.reverse().map(load));
    head = commits.find((c) => c.commit.sha === after) ?? (await load(after));
  }
  return pushPayloadJson(urls, state, repo, { ...event, forced }, commits, head);
}
