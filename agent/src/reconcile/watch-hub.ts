import { APPLYSET } from '../core/inventory.ts';
import type { KubeClient, ResourceType, Watch } from '../core/kube-port.ts';
import { withoutManagedFields } from '../core/live-objects.ts';
import { label, objectKey } from '../core/objects.ts';
import type { K8sObject } from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';

/** What a subscriber of one group-kind hears: its ApplySet's members only. */
export interface WatchSubscriber {
  /** One member of the subscriber's ApplySet changed or went away. */
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: K8sObject): void;
  /** Every member of the subscriber's ApplySet of `groupKind` as listed now (also when there are none). */
  onList(groupKind: string, items: readonly K8sObject[]): void;
}

/** Options of a watch hub. */
export interface WatchHubOptions {
  /** Which objects the hub watches; default: every ApplySet member (`applyset.kubernetes.io/part-of` exists). */
  labelSelector: string;
  /**
   * The label whose value says which subscriber set an object belongs to; default the ApplySet's
   * `applyset.kubernetes.io/part-of` (subscribers are ApplySets).
   */
  groupLabel: string;
  /** Watch one namespace only; default: every namespace. */
  namespace?: string;
  /** Each kind is re-listed (and its watch restarted) this often, so a stalled watch cannot hide drift for long. */
  relistMs: number;
}

/** Defaults: every ApplySet member, re-listed every 5 minutes. */
export function defaultWatchHubOptions(): WatchHubOptions {
  return { labelSelector: APPLYSET.partOfLabel, groupLabel: APPLYSET.partOfLabel, relistMs: 5 * 60_000 };
}

interface KindState {
  type: ResourceType;
  watch?: Watch;
  /** Subscribers by ApplySet id. */
  subscribers: Map<string, Set<WatchSubscriber>>;
  /** Subscribed ApplySets' objects as last seen (without managedFields), by objectKey: what a late subscriber gets. */
  store: Map<string, K8sObject>;
  /** Resolves once the first list is in the store. */
  ready: Promise<void>;
  failures: number;
  /** Whether a list has filled the store (a later subscriber is then given its members from it). */
  listed: boolean;
  relistTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
}

/**
 * One list+watch per group-kind, shared by every app of the agent: events are handed to the app whose ApplySet the
 * object's `applyset.kubernetes.io/part-of` label names. A watch per app and kind would cost the apiserver (and the
 * agent) one long-lived stream per pair, 600 for 200 apps of three kinds; here it is one per kind. The hub keeps the
 * last-seen objects of each kind so an app that subscribes later is given its members without another list.
 * Given another label and a namespace, a hub of its own follows other objects the same way (sharded replicas'
 * push-signal ConfigMap, see push-signals.ts).
 */
export class WatchHub {
  private readonly kinds = new Map<string, KindState>();
  private stopped = false;
  readonly options: WatchHubOptions;

  constructor(
    private readonly deps: { kube: KubeClient; discovery: Discovery },
    options: Partial<WatchHubOptions> = {},
  ) {
    this.options = { ...defaultWatchHubOptions(), ...options };
  }

  /** Watches open now (one per group-kind with subscribers). */
  get openWatches(): number {
    let n = 0;
    for (const k of this.kinds.values()) if (k.watch) n++;
    return n;
  }

  /** Whether `groupKind` has been listed and is being watched (its store is current). */
  isWatching(groupKind: string): boolean {
    const kind = this.kinds.get(groupKind);
    return kind?.listed === true && kind.watch !== undefined;
  }

  /**
   * Subscribes to the members of ApplySet `applySetId` of `groupKind`; resolves once the subscriber has been given
   * the current members (`onList`). A kind the server cannot watch is skipped (resolves at once). `known` gives the
   * kind's type instead of asking discovery.
   */
  async subscribe(groupKind: string, applySetId: string, sub: WatchSubscriber, known?: ResourceType): Promise<void> {
    if (this.stopped) return;
    let kind = this.kinds.get(groupKind);
    if (!kind) {
      // A built-in type the caller names (`known`) needs no discovery, so it is watched even before discovery answers.
      const type = known ?? this.deps.discovery.forGroupKind(groupKind);
      if (!type?.verbs.includes('watch') || !type.verbs.includes('list')) return;
      const state: KindState = {
        type,
        subscribers: new Map(),
        store: new Map(),
        ready: Promise.resolve(),
        failures: 0,
        listed: false,
      };
      this.kinds.set(groupKind, state);
      state.ready = this.listAndWatch(groupKind, state);
      kind = state;
    }
    const subs = kind.subscribers.get(applySetId) ?? new Set();
    kind.subscribers.set(applySetId, subs);
    // Subscribers present when a list completes are told by it. An ApplySet joining a listed kind is listed alone
    // (the store keeps only subscribed ApplySets' members); another subscriber of a known one gets the store's view.
    const late = kind.listed && !subs.has(sub);
    const newSet = subs.size === 0;
    subs.add(sub);
    await kind.ready;
    if (!late || !this.alive(groupKind, kind) || !subs.has(sub)) return;
    if (newSet) await this.listApplySet(kind, applySetId);
    if (this.alive(groupKind, kind) && subs.has(sub)) sub.onList(groupKind, this.membersOf(kind, applySetId));
  }

  /**
   * Adds one ApplySet's members to a kind's store. An object the watch already delivered is kept as the watch said
   * (it is at least as new); the periodic re-list settles anything this list and the watch disagree on.
   */
  private async listApplySet(kind: KindState, applySetId: string): Promise<void> {
    try {
      const list = await this.deps.kube.list(kind.type, {
        labelSelector: `${this.options.groupLabel}=${applySetId}`,
        ...this.scope(),
      });
      for (const item of list.items) {
        const o = withoutManagedFields(withType(item, kind.type));
        const key = objectKey(o);
        if (!kind.store.has(key)) kind.store.set(key, o);
      }
    } catch {
      // The watch still delivers this ApplySet's changes, and the next re-list fills the store.
    }
  }

  /** Stops handing `groupKind` events to `sub`; the kind's watch ends with its last subscriber. */
  unsubscribe(groupKind: string, applySetId: string, sub: WatchSubscriber): void {
    const kind = this.kinds.get(groupKind);
    const subs = kind?.subscribers.get(applySetId);
    if (!kind || !subs) return;
    subs.delete(sub);
    if (subs.size === 0) {
      kind.subscribers.delete(applySetId);
      for (const [key, o] of kind.store) if (label(o, this.options.groupLabel) === applySetId) kind.store.delete(key);
    }
    if (kind.subscribers.size === 0) this.drop(groupKind, kind);
  }

  /** Stops every watch. */
  stop(): void {
    this.stopped = true;
    for (const [gk, kind] of this.kinds) this.drop(gk, kind);
  }

  private drop(groupKind: string, kind: KindState): void {
    kind.watch?.stop();
    kind.watch = undefined;
    clearTimeout(kind.relistTimer);
    clearTimeout(kind.retryTimer);
    kind.store.clear();
    if (this.kinds.get(groupKind) === kind) this.kinds.delete(groupKind);
  }

  private membersOf(kind: KindState, applySetId: string): K8sObject[] {
    const out: K8sObject[] = [];
    for (const o of kind.store.values()) if (label(o, this.options.groupLabel) === applySetId) out.push(o);
    return out;
  }

  /** The namespace lists and watches are limited to, when the hub has one. */
  private scope(): { namespace?: string } {
    return this.options.namespace ? { namespace: this.options.namespace } : {};
  }

  private alive(groupKind: string, kind: KindState): boolean {
    return !this.stopped && this.kinds.get(groupKind) === kind;
  }

  /** Lists the kind (refreshing the store and telling every subscriber), then watches from that list. */
  private async listAndWatch(groupKind: string, kind: KindState): Promise<void> {
    if (!this.alive(groupKind, kind)) return;
    const { labelSelector } = this.options;
    let resourceVersion: string;
    try {
      // Only subscribed ApplySets' members are kept: the watch also sees other agents' and tools' ApplySets.
      const keep = (item: K8sObject) => {
        const id = label(item, this.options.groupLabel);
        return id && kind.subscribers.has(id) ? withoutManagedFields(withType(item, kind.type)) : undefined;
      };
      const list = await this.deps.kube.list(kind.type, { labelSelector, keep, ...this.scope() });
      resourceVersion = list.resourceVersion;
      kind.failures = 0;
      kind.listed = true;
      kind.store.clear();
      // keep() ran as each page arrived; a client that lists without it is filtered here the same way.
      for (const item of list.items) {
        const o = keep(item);
        if (o) kind.store.set(objectKey(o), o);
      }
    } catch {
      this.retry(groupKind, kind);
      return;
    }
    if (!this.alive(groupKind, kind)) return;
    for (const [id, subs] of kind.subscribers) {
      const members = this.membersOf(kind, id);
      for (const s of subs) s.onList(groupKind, members);
    }
    const w = this.deps.kube.watch(kind.type, { labelSelector, resourceVersion, ...this.scope() }, (ev) => {
      if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return; // e.g. 410 Gone: the stream ends and we re-list
      const o = withoutManagedFields(withType(ev.object, kind.type));
      const key = objectKey(o);
      const before = kind.store.get(key);
      const id = label(o, this.options.groupLabel);
      if (ev.type === 'DELETED' || !id || !kind.subscribers.has(id)) kind.store.delete(key);
      else kind.store.set(key, o);
      // Relabelled into another ApplySet: for the one it left, the member is gone.
      const left = before && label(before, this.options.groupLabel);
      if (left && left !== id) for (const s of kind.subscribers.get(left) ?? []) s.onEvent('DELETED', before!);
      for (const s of (id && kind.subscribers.get(id)) || []) s.onEvent(ev.type, o);
    });
    kind.watch = w;
    void w.done.then(() => {
      if (kind.watch !== w || !this.alive(groupKind, kind)) return;
      kind.watch = undefined;
      this.retry(groupKind, kind);
    });
    clearTimeout(kind.relistTimer);
    kind.relistTimer = setTimeout(() => {
      if (kind.watch === w) {
        kind.watch = undefined;
        w.stop();
      }
      void this.listAndWatch(groupKind, kind);
    }, this.options.relistMs);
    kind.relistTimer.unref?.();
  }

  /** A failed list or a watch that ended: list again after a capped, jittered backoff. */
  private retry(groupKind: string, kind: KindState): void {
    if (!this.alive(groupKind, kind)) return;
    const delay = Math.min(30_000, 500 * 2 ** kind.failures++) * (0.8 + Math.random() * 0.4);
    clearTimeout(kind.retryTimer);
    kind.retryTimer = setTimeout(() => void this.listAndWatch(groupKind, kind), delay);
    kind.retryTimer.unref?.();
  }
}

/** Watch events and list items of typed lists may omit apiVersion/kind; put them back. */
function withType(obj: K8sObject, type: ResourceType): K8sObject {
  obj.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
  obj.kind ??= type.kind;
  return obj;
}
