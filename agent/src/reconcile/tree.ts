// The live descendants behind the resource tree: ReplicaSets, Jobs and Pods of the namespaces where apps run
// workloads, kept by one cluster-wide list+watch per group-kind shared by every app (as the self-heal watches are: the
// number of watches does not grow with apps or namespaces). Only objects of namespaces some app tracks are kept, so
// memory follows the apps, not the cluster. A page view reads this cache and costs the apiserver nothing. Watches end
// (timeouts, 410 Gone, a restarted apiserver): each then lists again and resumes, with a capped backoff while the
// cluster is away.
import { describeError } from '../../../shared/src/errors.ts';
import type { KubeClient, ResourceType, Watch } from '../core/kube-port.ts';
import { objectKey } from '../core/objects.ts';
import { DESCENDANT_GROUP_KINDS } from '../core/resource-tree.ts';
import type { K8sObject } from '../core/types.ts';

/** What the tree watches need from discovery. */
export interface TypeLookup {
  forGroupKind(groupKind: string): ResourceType | undefined;
}

/** Options of the descendant watches. */
export interface DescendantWatchOptions {
  /** Each watch is replaced by a fresh list this often, so a silently stalled stream cannot go stale for long. */
  relistMs: number;
  /** First retry delay after a failed list or an ended watch; doubles up to 30 s. */
  retryMs: number;
  /** How long a newly tracked namespace waits for others before the feeds list again. */
  coalesceMs: number;
}

/** Defaults: re-list every 5 minutes, retry after 500 ms, gather new namespaces for 500 ms. */
export function defaultDescendantWatchOptions(): DescendantWatchOptions {
  return { relistMs: 5 * 60_000, retryMs: 500, coalesceMs: 500 };
}

interface Feed {
  gk: string;
  /** Objects of the tracked namespaces by objectKey, without managedFields (the tree never shows them). */
  objects: Map<string, K8sObject>;
  watch?: Watch;
  timer?: NodeJS.Timeout;
  relist?: NodeJS.Timeout;
  failures: number;
  /** The last list or watch error, while it is not recovered. */
  error?: string;
  /** The namespaces the last list covered: a namespace tracked later is complete only after the next list. */
  listed: ReadonlySet<string>;
}

/** One cluster-wide list+watch per descendant group-kind, shared by all apps, keeping the tracked namespaces. */
export class DescendantWatches {
  private readonly feeds = new Map<string, Feed>();
  /** The namespaces each app asked for. */
  private readonly apps = new Map<string, Set<string>>();
  /** Every namespace some app tracks. */
  private wanted = new Set<string>();
  private running = true;
  readonly options: DescendantWatchOptions;

  constructor(
    private readonly kube: KubeClient,
    private readonly types: TypeLookup,
    options: Partial<DescendantWatchOptions> = {},
  ) {
    this.options = { ...defaultDescendantWatchOptions(), ...options };
  }

  /**
   * Sets the namespaces `app` needs. The feeds start with the first namespace and stop when none is left; a namespace
   * no app tracked before makes each feed list again (its objects were not kept), one no app tracks any more is
   * dropped from the cache.
   */
  track(app: string, namespaces: Iterable<string>): void {
    if (!this.running) return;
    this.apps.set(app, new Set(namespaces));
    const before = this.wanted;
    this.wanted = new Set([...this.apps.values()].flatMap((set) => [...set]));
    if (this.wanted.size === 0) {
      for (const f of this.feeds.values()) this.close(f);
      this.feeds.clear();
      return;
    }
    const added = [...this.wanted].some((ns) => !before.has(ns));
    for (const gk of DESCENDANT_GROUP_KINDS) {
      const feed = this.feeds.get(gk);
      if (!feed) {
        const fresh: Feed = { gk, objects: new Map(), failures: 0, listed: new Set() };
        this.feeds.set(gk, fresh);
        void this.start(fresh);
        continue;
      }
      for (const [key, o] of feed.objects) if (!this.wanted.has(o.metadata.namespace ?? '')) feed.objects.delete(key);
    }
    if (added) this.scheduleRelist();
  }

  private relistTimer: NodeJS.Timeout | undefined;

  /**
   * Lists again (to pick up a newly tracked namespace's objects) once apps stop adding namespaces for a moment: many
   * apps starting together cost one cluster-wide list per kind, not one per app.
   */
  private scheduleRelist(): void {
    clearTimeout(this.relistTimer);
    this.relistTimer = setTimeout(() => {
      for (const feed of this.feeds.values()) feed.watch?.stop();
    }, this.options.coalesceMs);
    this.relistTimer.unref?.();
  }

  /** The watched objects of these namespaces, and whether every feed has listed them once (else the tree is partial). */
  objects(namespaces: Iterable<string>): { objects: K8sObject[]; complete: boolean; errors: string[] } {
    const asked = new Set(namespaces);
    const objects: K8sObject[] = [];
    const errors: string[] = [];
    let complete = true;
    for (const gk of DESCENDANT_GROUP_KINDS) {
      const feed = this.feeds.get(gk);
      if (asked.size > 0 && (!feed || [...asked].some((ns) => !feed.listed.has(ns)))) complete = false;
      if (!feed) continue;
      if (feed.error) errors.push(`${gk}: ${feed.error}`);
      for (const o of feed.objects.values()) if (asked.has(o.metadata.namespace ?? '')) objects.push(o);
    }
    return { objects, complete, errors };
  }

  /** How many list+watch feeds run (tests: one per group-kind, whatever the number of apps and namespaces). */
  get feedCount(): number {
    return this.feeds.size;
  }

  /** Stops every watch. */
  stop(): void {
    this.running = false;
    clearTimeout(this.relistTimer);
    for (const f of this.feeds.values()) this.close(f);
    this.feeds.clear();
  }

  private close(feed: Feed): void {
    clearTimeout(feed.timer);
    clearTimeout(feed.relist);
    feed.watch?.stop();
    feed.watch = undefined;
  }

  private isCurrent(feed: Feed): boolean {
    return this.running && this.feeds.get(feed.gk) === feed;
  }

  private keep(o: K8sObject): boolean {
    return this.wanted.has(o.metadata.namespace ?? '');
  }

  private async start(feed: Feed): Promise<void> {
    if (!this.isCurrent(feed)) return;
    const type = this.types.forGroupKind(feed.gk);
    if (!type?.verbs.includes('watch')) {
      feed.error = `the cluster serves no watchable ${feed.gk}`;
      this.retry(feed);
      return;
    }
    let resourceVersion: string;
    try {
      const covering = new Set(this.wanted);
      // Filtered and slimmed page by page: the list is cluster-wide, the namespaces wanted are a few.
      const list = await this.kube.list(type, { keep: (o) => (this.keep(o) ? slim(o) : undefined) });
      if (!this.isCurrent(feed)) return;
      resourceVersion = list.resourceVersion;
      feed.objects = new Map(list.items.filter((o) => this.keep(o)).map((o) => [objectKey(o), slim(o)]));
      feed.listed = covering;
      feed.failures = 0;
      feed.error = undefined;
    } catch (err) {
      feed.error = describeError(err);
      this.retry(feed);
      return;
    }
    // A namespace tracked while the list was in flight is not in it: list again before watching.
    if ([...this.wanted].some((ns) => !feed.listed.has(ns))) {
      feed.timer = setTimeout(() => void this.start(feed), 0);
      feed.timer.unref?.();
      return;
    }
    const w = this.kube.watch(type, { resourceVersion }, (ev) => {
      if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return;
      const o = withType(ev.object, type);
      if (ev.type === 'DELETED') feed.objects.delete(objectKey(o));
      else if (this.keep(o)) feed.objects.set(objectKey(o), slim(o));
    });
    feed.watch = w;
    feed.relist = setTimeout(() => {
      if (feed.watch === w) w.stop();
    }, this.options.relistMs);
    feed.relist.unref?.();
    void w.done.then(() => {
      if (feed.watch !== w) return;
      feed.watch = undefined;
      clearTimeout(feed.relist);
      // A watch that ran is no failure (or was stopped to cover a new namespace): list again at once.
      feed.timer = setTimeout(() => void this.start(feed), 0);
      feed.timer.unref?.();
    });
  }

  private retry(feed: Feed): void {
    if (!this.isCurrent(feed)) return;
    const delay = Math.min(30_000, this.options.retryMs * 2 ** feed.failures) * (0.8 + Math.random() * 0.4);
    feed.failures++;
    feed.timer = setTimeout(() => void this.start(feed), delay);
    feed.timer.unref?.();
  }
}

/** The object without managedFields. */
function slim(o: K8sObject): K8sObject {
  if (!o.metadata.managedFields) return o;
  const { managedFields: _, ...metadata } = o.metadata;
  return { ...o, metadata };
}

/** Watch events of typed lists may omit apiVersion/kind; put them back. */
function withType(obj: K8sObject, type: ResourceType): K8sObject {
  obj.apiVersion ??= type.group ? `${type.group}/${type.version}` : type.version;
  obj.kind ??= type.kind;
  return obj;
}
