import { describeError, TetherError } from '../../../shared/src/errors.ts';
import { unrenderedEntry } from '../core/commit-status.ts';
import { hasDrift } from '../core/drift.ts';
import { appHealth, objectHealth } from '../core/health.ts';
import type { HealthRules } from '../core/health-cel.ts';
import {
  type ApplySetParentRef,
  applySetId,
  defaultParentRef,
  labelMembers,
  listScope,
  memberSelector,
  parentObject,
  readParent,
  staleObjects,
} from '../core/inventory.ts';
import { groupKind, objectKey, refOf, subject, validateObjects } from '../core/objects.ts';
import { compareObjects, planSync } from '../core/plan.ts';
import { defaultPruneOptions, keptEntries, type PruneOptions, planPrune } from '../core/prune.ts';
import type { AppState, HealthResult, K8sObject, ObjectRef, SyncEntry, SyncResult } from '../core/types.ts';
import type { SourceFile } from '../edges/git/git-source.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import { KubeApiError, type KubeClient, type ResourceType } from '../edges/kube/kube-client.ts';
import { type RenderOptions, render, type SkippedFile } from '../edges/render/render.ts';

/** An app as the sync engine needs it (the agent's configuration, parsed). */
export interface AppSpec {
  name: string;
  path: string;
  /** Namespace for namespaced objects that name none. */
  namespace: string;
  prune: PruneOptions;
  /** Render settings (helm values, limits). */
  render?: Partial<Omit<RenderOptions, 'path'>>;
  /** CEL health rules (the config's and the built-in ones); absent: the built-in ones. */
  healthRules?: HealthRules;
}

/** Where the engine reads the desired state: a fetched Git source (GitSource, or a stand-in over other storage). */
export interface DesiredStateSource {
  fetch(): Promise<string>;
  treeHash(commit: string, path: string): Promise<string | undefined>;
  readFiles(commit: string, path: string): Promise<SourceFile[]>;
}

/** What the engine is given (STYLE.md #4: clients as parameters). */
export interface SyncDeps {
  kube: KubeClient;
  discovery: Discovery;
  source: DesiredStateSource;
  /** The app's ApplySet parent; default: ConfigMap `tether-<app>` in `tether-system`. */
  parent?: ApplySetParentRef;
  /** Objects applied at once. */
  concurrency?: number;
  /** How long to wait for CRDs to be Established before their custom resources are applied. */
  crdTimeoutMs?: number;
}

/** Options of one sync. */
export interface SyncOptions {
  /** Re-render and compare even when the app's tree did not change. */
  force: boolean;
  /** Called once a changed revision is about to be rendered and applied (the agent posts `pending` then). */
  onStart?: (revision: string) => void;
}

/** The outcome of a sync as data; `noop` when the tree was unchanged and nothing was rendered or applied. */
export interface SyncOutcome extends SyncResult {
  noop: boolean;
  /** How long the Git fetch took (absent when it failed). */
  fetchMs?: number;
  health: HealthResult;
  /** The objects Git asks for after this sync (labelled), for self-heal and `tether diff`. */
  desired: K8sObject[];
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** An app's sync engine: fetch → render → validate → server-side apply → prune → health, recorded as data. */
export class AppSync {
  readonly parent: ApplySetParentRef;
  readonly applySetId: string;
  private lastTree: string | undefined;
  private lastGood = false;
  /** True while a sync runs: self-heal waits, so it never applies the previous revision's objects meanwhile. */
  syncing = false;
  /** The last sync that completed without error: a no-op sync reports it, not an older failure. */
  private lastGoodResult: SyncResult | undefined;
  private desired: K8sObject[] = [];
  /** Files in the app's path that the last render left unrendered (shown as `skipped` entries). */
  private renderSkipped: SkippedFile[] = [];
  /** Live objects as last seen (from lists, apply answers and watches), by objectKey. */
  readonly live = new Map<string, K8sObject>();
  state: AppState;

  constructor(
    readonly app: AppSpec,
    private readonly deps: SyncDeps,
  ) {
    this.parent = deps.parent ?? defaultParentRef(app.name);
    this.applySetId = applySetId(this.parent);
    this.state = { app: app.name, sync: 'Unknown', health: { status: 'Unknown', message: 'not synced yet' } };
  }

  /** The desired objects of the last successful render, labelled as members. */
  get desiredObjects(): readonly K8sObject[] {
    return this.desired;
  }

  /** One reconciliation. Never throws for fetch, render, apply or prune failures: they are in the result. */
  async sync(options: Partial<SyncOptions> = {}): Promise<SyncOutcome> {
    this.syncing = true;
    try {
      return await this.syncOnce(options);
    } finally {
      this.syncing = false;
    }
  }

  private async syncOnce(options: Partial<SyncOptions>): Promise<SyncOutcome> {
    const startedAt = new Date();
    const t0 = performance.now();
    const entries: SyncEntry[] = [];
    let revision = this.state.revision ?? '';
    let fetchMs: number | undefined;
    const finish = (extra: { error?: SyncResult['error']; noop?: boolean; health?: HealthResult }): SyncOutcome => {
      const health = extra.health ?? this.state.health;
      const result: SyncResult = {
        revision,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        entries,
        ...(extra.error ? { error: extra.error } : {}),
      };
      const failed = entries.some((e) => e.action === 'failed');
      this.state = {
        app: this.app.name,
        sync:
          extra.error?.stage === 'fetch' || extra.error?.stage === 'render'
            ? 'Unknown'
            : failed
              ? 'OutOfSync'
              : 'Synced',
        health,
        revision,
        lastSync: extra.noop ? (this.lastGoodResult ?? this.state.lastSync ?? result) : result,
      };
      return {
        ...result,
        noop: extra.noop ?? false,
        health,
        desired: this.desired,
        ...(fetchMs !== undefined ? { fetchMs } : {}),
      };
    };

    // Fetch.
    try {
      const f0 = performance.now();
      revision = await this.deps.source.fetch();
      fetchMs = performance.now() - f0;
    } catch (err) {
      return finish({ error: { stage: 'fetch', message: describeError(err) } });
    }

    // Unchanged tree: nothing to render or apply; only health can have moved.
    let tree: string | undefined;
    try {
      tree = await this.deps.source.treeHash(revision, this.app.path);
    } catch (err) {
      return finish({ error: { stage: 'fetch', message: describeError(err) } });
    }
    if (!options.force && this.lastGood && tree !== undefined && tree === this.lastTree) {
      const health = await this.refreshHealth();
      return finish({ noop: true, health });
    }

    options.onStart?.(revision);
    // Render and validate.
    let desired: K8sObject[];
    try {
      if (tree === undefined)
        throw new TetherError('render', `path '${this.app.path}' does not exist at ${revision.slice(0, 7)}`);
      desired = await this.renderDesired(revision);
      entries.push(...this.renderSkipped.map(unrenderedEntry));
    } catch (err) {
      this.lastGood = false;
      return finish({ error: { stage: 'render', message: describeError(err) } });
    }

    // Inventory: the parent first, as the superset of what it had and what Git wants (kubectl updateToSuperset).
    let previous: ObjectRef[];
    let parentLive: K8sObject | undefined;
    let parentType: ResourceType;
    try {
      parentType = await this.typeOf(
        `${this.parent.group ? `${this.parent.group}/` : ''}${this.parent.version}`,
        this.parent.kind,
      );
      parentLive = await this.deps.kube.get(parentType, this.parent.name, this.parent.namespace);
      previous = readParent(this.parent, parentLive);
      parentLive = await this.writeParent(parentType, parentLive, [...previous, ...desired.map(refOf)]);
    } catch (err) {
      this.lastGood = false;
      return finish({
        error: { stage: 'apply', message: `ApplySet parent ${subject({ ...this.parent })}: ${describeError(err)}` },
      });
    }

    // What is live now: one list per group-kind the app has, had or its parent names.
    const scope = listScope(this.parent, parentLive);
    const kinds = new Set([
      ...desired.map((o) => groupKind(refOf(o))),
      ...previous.map(groupKind),
      ...scope.groupKinds,
    ]);
    this.live.clear();
    const listed = await this.listMembers(kinds);

    // Apply, step by step: prerequisites (Namespaces, CRDs), then each sync wave.
    const concurrency = this.deps.concurrency ?? 8;
    let failedApplies = 0;
    for (const step of planSync(desired).steps) {
      await pool(step.objects, concurrency, async (obj) => {
        const entry = await this.applyOne(obj);
        if (entry.action === 'failed') failedApplies++;
        entries.push(entry);
      });
      if (step.wave === 'prerequisites') await this.waitForCrds(step.objects);
    }

    // Prune what Git dropped, within the guardrails.
    const desiredKeys = new Set(desired.map(objectKey));
    const candidates = [...listed];
    for (const ref of previous) {
      const key = objectKey(ref);
      if (desiredKeys.has(key) || this.live.has(key)) continue;
      const obj = await this.fetchRef(ref);
      if (obj) candidates.push(obj);
    }
    const stale = staleObjects(this.applySetId, desired, previous, candidates);
    const prunePlan = planPrune(
      stale,
      previous.length,
      {
        fetchFailed: false,
        renderFailed: false,
        failedApplies,
        desiredCount: desired.length,
      },
      this.app.prune,
    );
    entries.push(...keptEntries(prunePlan));
    const kept: ObjectRef[] = prunePlan.decisions.filter((d) => d.action === 'keep').map((d) => d.ref);
    for (const d of prunePlan.decisions) {
      if (d.action !== 'delete') continue;
      try {
        const type = this.deps.discovery.forGroupKind(groupKind(d.ref));
        if (!type) throw new TetherError('kube', 'kind no longer served');
        await this.deps.kube.delete(type, d.ref.name, d.ref.namespace);
        this.live.delete(objectKey(d.ref));
        entries.push({ subject: d.subject, action: 'pruned', reason: d.reason });
      } catch (err) {
        kept.push(d.ref);
        entries.push({ subject: d.subject, action: 'failed', reason: `prune: ${describeError(err)}` });
      }
    }

    // The parent now records exactly what remains ours.
    try {
      await this.writeParent(parentType, parentLive, [...desired.map(refOf), ...kept]);
    } catch (err) {
      entries.push({ subject: subject({ ...this.parent }), action: 'failed', reason: describeError(err) });
    }

    this.desired = desired;
    const health = this.healthNow();
    const firstFailure = entries.find((e) => e.action === 'failed');
    this.lastTree = tree;
    this.lastGood = firstFailure === undefined;
    const outcome = finish({
      health,
      ...(firstFailure
        ? { error: { stage: 'apply' as const, message: `${firstFailure.subject}: ${firstFailure.reason ?? 'failed'}` } }
        : {}),
    });
    if (!outcome.error) this.lastGoodResult = this.state.lastSync;
    return outcome;
  }

  /**
   * What a sync would do, without writing: fetch, render, validate, then a server-side dry-run of every object
   * against its live state. For `tether diff` and `tether status`; throws on fetch or render failures.
   */
  async inspect(): Promise<{
    revision: string;
    objects: { desired: K8sObject; live?: K8sObject; dryRun?: K8sObject; error?: string }[];
  }> {
    const revision = await this.deps.source.fetch();
    const desired = await this.renderDesired(revision);
    const objects: { desired: K8sObject; live?: K8sObject; dryRun?: K8sObject; error?: string }[] = [];
    await pool(desired, this.deps.concurrency ?? 8, async (obj) => {
      try {
        const type = await this.typeOf(obj.apiVersion, obj.kind);
        const live = await this.deps.kube.get(type, obj.metadata.name, obj.metadata.namespace);
        const dryRun = (await this.deps.kube.apply(type, obj, { dryRun: true })).object;
        objects.push({ desired: obj, ...(live ? { live } : {}), dryRun });
      } catch (err) {
        objects.push({ desired: obj, error: describeError(err) });
      }
    });
    objects.sort((a, b) => compareObjects(a.desired, b.desired));
    this.desired = desired;
    for (const o of objects) if (o.live) this.live.set(objectKey(o.live), o.live);
    return { revision, objects };
  }

  /** Reads, renders and validates the app's path at `revision`: the desired objects, labelled as members. */
  private async renderDesired(revision: string): Promise<K8sObject[]> {
    const files = await this.deps.source.readFiles(revision, this.app.path);
    const rendered = await render(files, () => this.deps.source.readFiles(revision, ''), {
      timeoutMs: 60_000,
      maxOutputBytes: 64 * 1024 * 1024,
      ...this.app.render,
      path: this.app.path,
    });
    this.renderSkipped = rendered.skipped;
    await this.ensureDiscovery(rendered.objects.map((o) => o.object));
    return labelMembers(
      validateObjects(rendered.objects, this.deps.discovery.isNamespaced, { defaultNamespace: this.app.namespace }),
      this.applySetId,
    );
  }

  /** Applies one object the way fluxcd/pkg/ssa does: dry-run, compare with live, write only on drift. */
  async applyOne(obj: K8sObject): Promise<SyncEntry> {
    const who = subject(obj);
    try {
      const type = await this.typeOf(obj.apiVersion, obj.kind);
      const key = objectKey(obj);
      const live = this.live.get(key);
      if (live) {
        const dry = await this.deps.kube.apply(type, obj, { dryRun: true });
        if (!hasDrift(dry.object, live)) return { subject: who, action: 'unchanged' };
        const res = await this.deps.kube.apply(type, obj);
        this.live.set(key, res.object);
        return { subject: who, action: 'configured' };
      }
      const res = await this.deps.kube.apply(type, obj);
      this.live.set(key, res.object);
      return { subject: who, action: res.created ? 'created' : 'configured' };
    } catch (err) {
      return { subject: who, action: 'failed', reason: describeError(err) };
    }
  }

  /** Health of every desired object from the last-seen live objects; the app's is the worst. */
  healthNow(): HealthResult {
    const now = Date.now();
    const rules = this.app.healthRules ? { rules: this.app.healthRules } : {};
    return appHealth(
      this.desired.map((o) => objectHealth(refOf(o), this.live.get(objectKey(o)), { desired: o, now, ...rules })),
    );
  }

  /** Re-reads the desired objects' live state (one list per kind) and returns the app's health. */
  async refreshHealth(): Promise<HealthResult> {
    const kinds = new Set(this.desired.map((o) => groupKind(refOf(o))));
    const listed = await this.listMembers(kinds);
    const seen = new Set(listed.map(objectKey));
    for (const o of this.desired) if (!seen.has(objectKey(o))) this.live.delete(objectKey(o));
    const health = this.healthNow();
    this.state = { ...this.state, health };
    return health;
  }

  /** Marks the app OutOfSync because `who` drifted and self-heal is off for it. */
  markOutOfSync(who: string): void {
    this.state = { ...this.state, sync: 'OutOfSync', drifted: [...new Set([...(this.state.drifted ?? []), who])] };
  }

  /** Records a live object seen elsewhere (a watch event), for health. */
  observe(obj: K8sObject, deleted = false): void {
    if (deleted) this.live.delete(objectKey(obj));
    else this.live.set(objectKey(obj), obj);
  }

  private async typeOf(apiVersion: string, kind: string): Promise<ResourceType> {
    const type = await this.deps.discovery.resolve(apiVersion, kind);
    if (!type) throw new TetherError('kube', `the server has no resource for ${apiVersion} ${kind}`);
    return type;
  }

  /** Makes sure discovery is loaded and knows every kind of `objects` that exists, refreshing once if not. */
  private async ensureDiscovery(objects: unknown[]): Promise<void> {
    for (const o of objects) {
      const obj = o as Partial<K8sObject> | null;
      if (obj && typeof obj.apiVersion === 'string' && typeof obj.kind === 'string') {
        await this.deps.discovery.resolve(obj.apiVersion, obj.kind);
      }
    }
  }

  private async listMembers(groupKinds: Iterable<string>): Promise<K8sObject[]> {
    const out: K8sObject[] = [];
    for (const gk of groupKinds) {
      const type = this.deps.discovery.forGroupKind(gk);
      if (!type?.verbs.includes('list')) continue;
      const { items } = await this.deps.kube.list(type, { labelSelector: memberSelector(this.applySetId) });
      for (const item of items) {
        this.live.set(objectKey(item), item);
        out.push(item);
      }
    }
    return out;
  }

  private async fetchRef(ref: ObjectRef): Promise<K8sObject | undefined> {
    const type = this.deps.discovery.forGroupKind(groupKind(ref));
    if (!type) return undefined;
    return this.deps.kube.get(type, ref.name, ref.namespace);
  }

  /** Applies the parent for `members` unless the live parent already says exactly that (no write on a no-op). */
  private async writeParent(type: ResourceType, live: K8sObject | undefined, members: ObjectRef[]): Promise<K8sObject> {
    const desired = parentObject(this.parent, members);
    if (live && sameParent(desired, live)) return live;
    try {
      return (await this.deps.kube.apply(type, desired)).object;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404 && err.reason === 'NotFound') {
        // The agent's namespace is missing: create it, then retry once.
        const nsType = await this.typeOf('v1', 'Namespace');
        await this.deps.kube.apply(nsType, {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: this.parent.namespace },
        });
        return (await this.deps.kube.apply(type, desired)).object;
      }
      throw err;
    }
  }

  private async waitForCrds(objects: readonly K8sObject[]): Promise<void> {
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    if (crds.length === 0) return;
    const deadline = Date.now() + (this.deps.crdTimeoutMs ?? 30_000);
    const type = await this.typeOf('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
    for (const crd of crds) {
      for (;;) {
        const live = await this.deps.kube.get(type, crd.metadata.name);
        const conditions = (live?.status as { conditions?: { type: string; status: string }[] } | undefined)
          ?.conditions;
        if (conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
          this.live.set(objectKey(live!), live!);
          break;
        }
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await this.deps.discovery.refresh();
  }
}

function sameParent(desired: K8sObject, live: K8sObject): boolean {
  const pick = (o: K8sObject) =>
    JSON.stringify([
      Object.entries(desired.metadata.labels ?? {}).map(([k]) => [k, o.metadata.labels?.[k]]),
      Object.entries(desired.metadata.annotations ?? {}).map(([k]) => [k, o.metadata.annotations?.[k]]),
      o.data,
    ]);
  return pick(desired) === pick(live);
}

/** Prune options from an app's settings. */
export function pruneOptions(overrides: Partial<PruneOptions> = {}): PruneOptions {
  return { ...defaultPruneOptions(), ...overrides };
}
