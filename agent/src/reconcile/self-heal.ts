import { describeError } from '../../../shared/src/errors.ts';
import { objectSemantics } from '../core/annotations.ts';
import { hasDrift, ignoredPaths, keepLiveAt } from '../core/drift.ts';
import { memberSelector } from '../core/inventory.ts';
import { groupKind, objectKey, refOf, subject } from '../core/objects.ts';
import type { K8sObject, SyncEntry } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import type { KubeClient, ResourceType, Watch } from '../edges/kube/kube-client.ts';
import type { AppSync } from './sync.ts';

/** Options of self-heal. */
export interface SelfHealOptions {
  /** false: drift is reported (OutOfSync) but never corrected. */
  enabled: boolean;
  /** Events for one object within this window are handled once. */
  debounceMs: number;
  /** Watches are restarted from a fresh list this often, so a stalled watch cannot hide drift for long. */
  relistMs: number;
}

/** Defaults: heal, 100 ms debounce, re-list every 5 minutes. */
export function defaultSelfHealOptions(): SelfHealOptions {
  return { enabled: true, debounceMs: 100, relistMs: 5 * 60_000 };
}

/** One correction (or, with healing off, one detection) of drift, as data. */
export interface HealEvent {
  subject: string;
  entry: SyncEntry;
  /** From the watch event to the object being correct again. */
  latencyMs: number;
  /** `detected` when self-heal is off for the object: OutOfSync is reported, nothing is written. */
  mode: 'healed' | 'detected';
}

/**
 * Self-heal: watches the kinds an app owns, filtered by its ApplySet label, and re-applies a managed object as soon
 * as it is deleted or someone else changes what Tether owns (https://github.com/fluxcd/kustomize-controller/issues/1498: drift fixed only on the next
 * interval). Whether a change is drift is decided by the same dry-run comparison as a sync, so fields owned by other
 * managers (an HPA's replicas when Git omits them) are never fought. Status-only changes (same generation) cost
 * nothing.
 */
export class SelfHeal {
  private watches = new Map<string, Watch>();
  private timers = new Map<string, NodeJS.Timeout>();
  private firstSeen = new Map<string, number>();
  private generations = new Map<string, number | undefined>();
  /** resourceVersion last seen per object: an event carrying it says nothing new. */
  private seenRv = new Map<string, string | undefined>();
  /** resourceVersion of Tether's own last write per object: its watch echo is not drift. */
  private ownWrites = new Map<string, string | undefined>();
  /** The desired objects by objectKey (events are matched to them without a scan), rebuilt when the set changes. */
  private desiredByKey = new Map<string, K8sObject>();
  private desiredOf: readonly K8sObject[] | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private running = false;
  private inflight = new Set<Promise<void>>();
  readonly options: SelfHealOptions;

  constructor(
    private readonly sync: AppSync,
    private readonly deps: { kube: KubeClient; discovery: Discovery },
    options: Partial<SelfHealOptions> = {},
    private readonly onEvent: (e: HealEvent) => void = () => {},
  ) {
    this.options = { ...defaultSelfHealOptions(), ...options };
  }

  /** (Re)starts watches on the kinds of the app's current desired set. Call after every sync. */
  async update(): Promise<void> {
    this.running = true;
    const kinds = new Set(this.sync.desiredObjects.map((o) => groupKind(refOf(o))));
    for (const [gk, w] of this.watches) {
      if (!kinds.has(gk)) {
        w.stop();
        this.watches.delete(gk);
      }
    }
    for (const o of this.sync.desiredObjects) {
      const live = this.sync.live.get(objectKey(o));
      this.generations.set(objectKey(o), live?.metadata.generation);
      this.seenRv.set(objectKey(o), live?.metadata.resourceVersion);
    }
    await Promise.all([...kinds].filter((gk) => !this.watches.has(gk)).map((gk) => this.watchKind(gk)));
    clearInterval(this.relistTimer);
    this.relistTimer = setInterval(() => void this.relistAll(), this.options.relistMs);
    this.relistTimer.unref();
  }

  /** Stops every watch and pending heal; waits for heals already running. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.relistTimer);
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.inflight);
  }

  private async relistAll(): Promise<void> {
    const kinds = [...this.watches.keys()];
    for (const gk of kinds) {
      this.watches.get(gk)?.stop();
      this.watches.delete(gk);
    }
    await Promise.all(kinds.map((gk) => this.watchKind(gk)));
  }

  /** Lists one kind's members (catching up on anything missed), then watches from that list's resourceVersion. */
  private async watchKind(gk: string): Promise<void> {
    if (!this.running) return;
    const type = this.deps.discovery.forGroupKind(gk);
    if (!type?.verbs.includes('watch')) return;
    const selector = memberSelector(this.sync.applySetId);
    let resourceVersion: string;
    try {
      const list = await this.deps.kube.list(type, { labelSelector: selector });
      resourceVersion = list.resourceVersion;
      this.failures.delete(gk);
      const seen = new Set<string>();
      for (const item of list.items) {
        seen.add(objectKey(item));
        this.handle('MODIFIED', item);
      }
      // Members deleted while nobody watched.
      for (const o of this.sync.desiredObjects) {
        if (groupKind(refOf(o)) === gk && !seen.has(objectKey(o))) this.handle('DELETED', o);
      }
    } catch {
      this.retry(gk);
      return;
    }
    const w = this.deps.kube.watch(type, { labelSelector: selector, resourceVersion }, (ev) => {
      if (ev.type === 'ERROR') return; // e.g. 410 Gone: the stream ends and we re-list
      if (ev.type === 'BOOKMARK') return;
      this.handle(ev.type, withType(ev.object, type));
    });
    this.watches.set(gk, w);
    void w.done.then(() => {
      if (this.watches.get(gk) === w) {
        this.watches.delete(gk);
        this.retry(gk);
      }
    });
  }

  /** Failed list/watch attempts per kind since its last good list: the retry backs off while the cluster is away. */
  private readonly failures = new Map<string, number>();

  private retry(gk: string): void {
    if (!this.running) return;
    const n = this.failures.get(gk) ?? 0;
    this.failures.set(gk, n + 1);
    const delay = Math.min(30_000, 500 * 2 ** n) * (0.8 + Math.random() * 0.4);
    setTimeout(() => void this.watchKind(gk), delay).unref();
  }

  private handle(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: K8sObject): void {
    const key = objectKey(obj);
    const desired = this.desiredFor(key);
    if (type === 'DELETED') {
      this.sync.observe(obj, true);
      this.generations.delete(key);
      this.seenRv.delete(key);
    } else {
      this.sync.observe(obj);
      const rv = obj.metadata.resourceVersion;
      // Nothing moved since we last saw it (a re-list, or the echo of a read we already handled).
      if (rv !== undefined && this.seenRv.get(key) === rv) return;
      this.seenRv.set(key, rv);
      const gen = obj.metadata.generation;
      // Same generation: only status or server metadata moved, which is never drift.
      if (gen !== undefined && this.generations.get(key) === gen) return;
      this.generations.set(key, gen);
    }
    if (!desired) return;
    if (!this.firstSeen.has(key)) this.firstSeen.set(key, performance.now());
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        const p = this.heal(desired).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      }, this.options.debounceMs),
    );
  }

  /** The object Git wants now under `key` (the sync engine's current set, never a copy from an older revision). */
  private desiredFor(key: string): K8sObject | undefined {
    if (this.desiredOf !== this.sync.desiredObjects) {
      this.desiredOf = this.sync.desiredObjects;
      this.desiredByKey = new Map(this.desiredOf.map((o) => [objectKey(o), o]));
    }
    return this.desiredByKey.get(key);
  }

  private async heal(scheduled: K8sObject): Promise<void> {
    const key = objectKey(scheduled);
    if (!this.running) return;
    // A sync is applying a new revision: its writes are not drift, and the object to heal to may be changing.
    if (this.sync.syncing) {
      this.timers.set(
        key,
        setTimeout(() => {
          this.timers.delete(key);
          const p = this.heal(scheduled).finally(() => this.inflight.delete(p));
          this.inflight.add(p);
        }, this.options.debounceMs),
      );
      return;
    }
    const desired = this.desiredFor(key);
    if (!desired) return;
    const started = this.firstSeen.get(key) ?? performance.now();
    this.firstSeen.delete(key);
    const who = subject(desired);
    // Desired objects were validated when rendered, so their annotations parse.
    const allowed = this.options.enabled && objectSemantics(desired).selfHealDisabledBy === undefined;
    try {
      if (!allowed) {
        const live = this.sync.live.get(key);
        const type = await this.deps.discovery.resolve(desired.apiVersion, desired.kind);
        if (!type) return;
        const rules = this.sync.app.ignoreDifferences ?? [];
        const ignore = ignoredPaths(rules, desired);
        const dry = live && (await this.deps.kube.apply(type, keepLiveAt(rules, desired, live), { dryRun: true }));
        const drifted = !live || !dry || hasDrift(dry.object, live, ignore ? { ignore } : {});
        if (!drifted) this.sync.clearDrift(who);
        else {
          this.sync.markOutOfSync(who);
          this.onEvent({
            subject: who,
            entry: { subject: who, action: 'skipped', reason: 'drift (self-heal disabled)' },
            latencyMs: 0,
            mode: 'detected',
          });
        }
        return;
      }
      // The event was the echo of our own last write (it can arrive before the apply answer): nothing to do.
      const current = this.sync.live.get(key)?.metadata.resourceVersion;
      if (current !== undefined && this.ownWrites.get(key) === current) return;
      const entry = await this.sync.applyOne(desired);
      const live = this.sync.live.get(key);
      if (live) {
        this.generations.set(key, live.metadata.generation);
        this.seenRv.set(key, live.metadata.resourceVersion);
        if (entry.action !== 'unchanged') this.ownWrites.set(key, live.metadata.resourceVersion);
      }
      if (entry.action === 'unchanged') return;
      this.onEvent({ subject: who, entry, latencyMs: performance.now() - started, mode: 'healed' });
    } catch (err) {
      this.onEvent({
        subject: who,
        entry: { subject: who, action: 'failed', reason: describeError(err) },
        latencyMs: 0,
        mode: 'healed',
      });
    }
  }
}

/** Watch events of typed lists may omit apiVersion/kind; put them back. */
function withType(obj: K8sObject, type: ResourceType): K8sObject {
  obj.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
  obj.kind ??= type.kind;
  return obj;
}
