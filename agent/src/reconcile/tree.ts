// The live descendants behind the resource tree: ReplicaSets, Jobs and Pods of the namespaces where apps run
// workloads, kept by one list+watch per group-kind and namespace, shared by every app there. A page view reads this
// cache and costs the apiserver nothing. Watches end (timeouts, 410 Gone, a restarted apiserver): each then lists
// again and resumes, with a capped backoff while the cluster is away.
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
}

/** Defaults: re-list every 5 minutes, retry after 500 ms. */
export function defaultDescendantWatchOptions(): DescendantWatchOptions {
  return { relistMs: 5 * 60_000, retryMs: 500 };
}

interface Feed {
  gk: string;
  namespace: string;
  /** Objects by objectKey, without managedFields (the tree never shows them, and they are most of a Pod's bytes). */
  objects: Map<string, K8sObject>;
  watch?: Watch;
  timer?: NodeJS.Timeout;
  relist?: NodeJS.Timeout;
  failures: number;
  /** The last list or watch error, while it is not recovered. */
  error?: string;
  synced: boolean;
}

/** One list+watch per descendant group-kind and namespace, shared by the apps that use the namespace. */
export class DescendantWatches {
  private readonly feeds = new Map<string, Feed>();
  /** The namespaces each app asked for. */
  private readonly apps = new Map<string, Set<string>>();
  private running = true;
  readonly options: DescendantWatchOptions;

  constructor(
    private readonly kube: KubeClient,
    private readonly types: TypeLookup,
    options: Partial<DescendantWatchOptions> = {},
  ) {
    this.options = { ...defaultDescendantWatchOptions(), ...options };
  }

  /** Sets the namespaces `app` needs; starts the watches no app had yet and stops those no app needs any more. */
  track(app: string, namespaces: Iterable<string>): void {
    if (!this.running) return;
    this.apps.set(app, new Set(namespaces));
    const wanted = new Set([...this.apps.values()].flatMap((s) => [...s]));
    for (const [key, feed] of this.feeds) {
      if (!wanted.has(feed.namespace)) {
        this.close(feed);
        this.feeds.delete(key);
      }
    }
    for (const ns of wanted) {
      for (const gk of DESCENDANT_GROUP_KINDS) {
        const key = `${gk}@${ns}`;
        if (this.feeds.has(key)) continue;
        const feed: Feed = { gk, namespace: ns, objects: new Map(), failures: 0, synced: false };
        this.feeds.set(key, feed);
        void this.start(feed);
      }
    }
  }

  /** The watched objects of these namespaces, and whether every feed has listed once (else the tree is partial). */
  objects(namespaces: Iterable<string>): { objects: K8sObject[]; complete: boolean; errors: string[] } {
    const objects: K8sObject[] = [];
    const errors: string[] = [];
    let complete = true;
    for (const ns of namespaces) {
      for (const gk of DESCENDANT_GROUP_KINDS) {
        const feed = this.feeds.get(`${gk}@${ns}`);
        if (!feed?.synced) complete = false;
        if (feed?.error) errors.push(`${gk} in ${ns}: ${feed.error}`);
        if (feed) objects.push(...feed.objects.values());
      }
    }
    return { objects, complete, errors };
  }

  /** How many list+watch feeds run (tests: one per group-kind and namespace, whatever the number of apps). */
  get feedCount(): number {
    return this.feeds.size;
  }

  /** Stops every watch. */
  stop(): void {
    this.running = false;
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
    return this.running && this.feeds.get(`${feed.gk}@${feed.namespace}`) === feed;
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
      const list = await this.kube.list(type, { namespace: feed.namespace });
      if (!this.isCurrent(feed)) return;
      resourceVersion = list.resourceVersion;
      feed.objects = new Map(list.items.map((o) => [objectKey(o), slim(o)]));
      feed.synced = true;
      feed.failures = 0;
      feed.error = undefined;
    } catch (err) {
      feed.error = describeError(err);
      this.retry(feed);
      return;
    }
    const w = this.kube.watch(type, { namespace: feed.namespace, resourceVersion }, (ev) => {
      if (ev.type === 'ERROR' || ev.type === 'BOOKMARK') return;
      const o = withType(ev.object, type);
      if (ev.type === 'DELETED') feed.objects.delete(objectKey(o));
      else feed.objects.set(objectKey(o), slim(o));
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
      // A watch that ran is no failure: list again at once.
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
