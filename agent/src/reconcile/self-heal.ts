import { describeError } from '../../../shared/src/errors.ts';
import { objectSemantics } from '../core/annotations.ts';
import { hasDrift, ignoredPaths, keepLiveAt } from '../core/drift.ts';
import { memberSelector } from '../core/inventory.ts';
import { groupKind, objectKey, refOf, subject } from '../core/objects.ts';
import type { K8sObject, SyncEntry } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import type { KubeClient } from '../edges/kube/kube-client.ts';
import type { AppSync } from './sync.ts';
import { WatchHub, type WatchSubscriber } from './watch-hub.ts';

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
 * Self-heal: hears the kinds an app owns (through a watch hub: the agent's, one watch per kind for every app, or its
 * own, filtered by the app's ApplySet label) and re-applies a managed object as soon
 * as it is deleted or someone else changes what Tether owns (https://github.com/fluxcd/kustomize-controller/issues/1498: drift fixed only on the next
 * interval). Whether a change is drift is decided by the same dry-run comparison as a sync, so fields owned by other
 * managers (an HPA's replicas when Git omits them) are never fought. Status-only changes (same generation) cost
 * nothing.
 */
export class SelfHeal {
  /** The group-kinds subscribed to on the hub. */
  private watched = new Set<string>();
  private readonly hub: WatchHub;
  /** Whether the hub is this instance's own (stopped with it) rather than the agent's shared one. */
  private readonly ownHub: boolean;
  private readonly subscriber: WatchSubscriber = {
    onEvent: (type, obj) => this.handle(type, obj),
    onList: (gk, items) => this.listed(gk, items),
  };
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
  private running = false;
  private inflight = new Set<Promise<void>>();
  readonly options: SelfHealOptions;

  /**
   * `deps.hub` is the agent's shared watch hub (one watch per group-kind for all apps); without one, self-heal keeps
   * a hub of its own, watching only this app's members.
   */
  constructor(
    private readonly sync: AppSync,
    private readonly deps: { kube: KubeClient; discovery: Discovery; hub?: WatchHub },
    options: Partial<SelfHealOptions> = {},
    private readonly onEvent: (e: HealEvent) => void = () => {},
  ) {
    this.options = { ...defaultSelfHealOptions(), ...options };
    this.ownHub = deps.hub === undefined;
    this.hub =
      deps.hub ??
      new WatchHub(deps, { labelSelector: memberSelector(sync.applySetId), relistMs: this.options.relistMs });
  }

  /** (Re)starts watches on the kinds of the app's current desired set. Call after every sync. */
  async update(): Promise<void> {
    this.running = true;
    const kinds = new Set(this.sync.desiredObjects.map((o) => groupKind(refOf(o))));
    for (const gk of this.watched) {
      if (!kinds.has(gk)) {
        this.hub.unsubscribe(gk, this.sync.applySetId, this.subscriber);
        this.watched.delete(gk);
      }
    }
    for (const o of this.sync.desiredObjects) {
      const live = this.sync.live.get(objectKey(o));
      this.generations.set(objectKey(o), live?.metadata.generation);
      this.seenRv.set(objectKey(o), live?.metadata.resourceVersion);
    }
    const added = [...kinds].filter((gk) => !this.watched.has(gk));
    for (const gk of added) this.watched.add(gk);
    await Promise.all(added.map((gk) => this.hub.subscribe(gk, this.sync.applySetId, this.subscriber)));
    this.sync.liveIsWatched = () => this.running && [...kinds].every((gk) => this.hub.isWatching(gk));
  }

  /** Group-kinds this app is subscribed to (each a shared watch when the hub is the agent's). */
  get watchedKinds(): number {
    return this.watched.size;
  }

  /**
   * Stops every watch and pending heal; waits for heals already running. What it remembered of the objects goes too:
   * a later `update` starts from the live objects of the sync before it, and the app may have been synced by another
   * replica meanwhile.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.sync.liveIsWatched = () => false;
    for (const gk of this.watched) this.hub.unsubscribe(gk, this.sync.applySetId, this.subscriber);
    this.watched.clear();
    if (this.ownHub) this.hub.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.inflight);
    for (const memory of [this.firstSeen, this.generations, this.seenRv, this.ownWrites, this.desiredByKey])
      memory.clear();
    this.desiredOf = undefined;
  }

  /** How many objects self-heal remembers something of (tests: none once stopped). */
  get remembered(): number {
    return new Set([
      ...this.generations.keys(),
      ...this.seenRv.keys(),
      ...this.ownWrites.keys(),
      ...this.firstSeen.keys(),
    ]).size;
  }

  /** A fresh list of this app's members of `gk` (catching up on anything missed while nobody watched). */
  private listed(gk: string, items: readonly K8sObject[]): void {
    if (!this.running) return;
    const seen = new Set<string>();
    for (const item of items) {
      seen.add(objectKey(item));
      this.handle('MODIFIED', item);
    }
    // Members deleted while nobody watched.
    for (const o of this.sync.desiredObjects) {
      if (groupKind(refOf(o)) === gk && !seen.has(objectKey(o))) this.handle('DELETED', o);
    }
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
