import { describeError, TetherError } from '../../../shared/src/errors.ts';
import { judgedForHealth } from '../core/annotations.ts';
import { type AppliedRecord, decodeAppliedRecord, encodeAppliedRecord } from '../core/applied-record.ts';
import { syncVerdict, unrenderedEntry } from '../core/commit-status.ts';
import {
  type DesiredStateSource,
  defaultRenderOptions,
  emptyRenderMessage,
  type Renderer,
  type RenderOptions,
} from '../core/desired-state.ts';
import type { IgnoreDifference } from '../core/drift.ts';
import { appHealth, type HealthContext, objectHealth } from '../core/health.ts';
import type { HealthRules } from '../core/health-cel.ts';
import { type Hook, hookFailureMessage, hooksOf, splitHooks } from '../core/hooks.ts';
import { type Inspection, summarize } from '../core/inspection.ts';
import {
  type ApplySetParentRef,
  applySetId,
  defaultParentRef,
  labelMembers,
  listScope,
  parentRecords,
  readAppliedText,
  readSyncedRevision,
} from '../core/inventory.ts';
import type { KubeClient } from '../core/kube-port.ts';
import { LiveObjects } from '../core/live-objects.ts';
import { namespaceObject, namespacesToCreate } from '../core/namespaces.ts';
import { groupKind, isNamespace, objectKey, refOf, subject, validateObjects } from '../core/objects.ts';
import type { ForeignTool } from '../core/ownership.ts';
import { defaultPruneOptions, type PruneOptions } from '../core/prune.ts';
import type {
  AppState,
  HealthResult,
  HookResult,
  K8sObject,
  SyncAction,
  SyncEntry,
  SyncResult,
  WaveResult,
} from '../core/types.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import type { SkippedFile } from '../edges/render/render.ts';
import { applyOne, applySteps, defaultApplyStepsOptions } from './apply.ts';
import { readParentState, writeParent } from './applyset-parent.ts';
import { listMembers } from './cluster.ts';
import { runHooks } from './hooks.ts';
import { inspectObjects } from './inspect.ts';
import { checkOwners, markAdopted, recordedAsCreated, releaseTakenOver } from './ownership.ts';
import { pruneStale } from './prune.ts';
import type { CascadeHooks } from './remove-app.ts';
import { defaultWaveGateOptions, WaveGate } from './waves.ts';

export type { DesiredStateSource } from '../core/desired-state.ts';

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
  /** How long each sync wave may take to become healthy before the next (default 5 minutes). */
  waveTimeoutMs?: number;
  /** Create the app's namespace, and any its objects name that Git does not define, before the first wave. */
  createNamespace?: boolean;
  /** Fields whose drift is neither reported nor healed. */
  ignoreDifferences?: IgnoreDifference[];
  /** The app's project, consulted at every sync (it can change while the agent runs); absent: no fence. */
  policy?: AppPolicy;
  /** Tools (Argo CD, Flux) whose live objects this app takes over and adopts instead of reporting a conflict. */
  takeOver?: ForeignTool[];
  /** The app's definition as recorded beside each synced revision (see SYNCED_SPEC_ANNOTATION); absent: none. */
  recordedSpec?: string;
}

/** What an app's project says, asked at sync time. */
export interface AppPolicy {
  /** Why the app may not sync at all (project not defined, repo or namespace refused): checked before any fetch. */
  refusal(): string | undefined;
  /** A `refused` entry, naming the rule, for each desired object outside the project. */
  refuse(objects: readonly K8sObject[]): SyncEntry[];
  /** Whether the project lets the app prune (the app's own `prune` can only narrow it further). */
  mayPrune(): boolean;
  /** Whether the app's project is defined and lets it fetch its repo (`sourceRepos`), whatever else it refuses. */
  vouchesForRepo(): boolean;
}

/** What a sync would do now, computed without writing (manual sync policy, a blocking sync window). */
export interface SyncPreview {
  revision: string;
  /** Desired objects that differ from the cluster or do not exist (server-side dry-run). */
  toApply: string[];
  /** Objects the app's inventory lists that Git no longer has and a prune would delete. */
  toPrune: string[];
  /** Objects the project refuses (a sync would apply nothing). */
  refused: SyncEntry[];
}

/** What the engine is given: the cluster, the desired state's source and the renderer, all as parameters. */
export interface SyncDeps {
  kube: KubeClient;
  discovery: Discovery;
  source: DesiredStateSource;
  renderer: Renderer;
  /** The app's ApplySet parent; default: ConfigMap `tether-<app>` in `tether-system`. */
  parent?: ApplySetParentRef;
  /** Objects applied at once. */
  concurrency?: number;
  /** How long to wait for CRDs to be Established before their custom resources are applied. */
  crdTimeoutMs?: number;
  /** How often a wave's objects are re-read while waiting for them to be healthy. */
  wavePollMs?: number;
}

/** Options of one sync. */
export interface SyncOptions {
  /** Re-render and compare even when the app's tree did not change. */
  force: boolean;
  /** Called once a changed revision is about to be rendered and applied (the agent posts `pending` then). */
  onStart?: (revision: string) => void;
  /**
   * Shutdown: once aborted, no new request starts; the objects already applied stay, the prune and the final parent
   * write are skipped, so the parent keeps listing the superset it was given before the apply (kubectl's
   * updateToSuperset) and the next sync finishes the job.
   */
  signal?: AbortSignal;
  /**
   * Asked once the revision is fetched, before anything is rendered or applied: a reason not to apply it now (its
   * failed sync waits for a retry, or gave up retrying). The turn then only refreshes health; the app keeps its last
   * result, and the outcome is a no-op carrying `waiting`.
   */
  hold?: (revision: string) => string | undefined;
  /**
   * Called with the rendered desired objects once they passed the project's fence, before anything is applied: the
   * agent starts the resource tree's watches of their namespaces then, so what the applies create is seen from the
   * start rather than listed after the sync.
   */
  onRendered?: (desired: readonly K8sObject[]) => void;
}

/** The outcome of a sync as data; `noop` when the tree was unchanged and nothing was rendered or applied. */
export interface SyncOutcome extends SyncResult {
  noop: boolean;
  /** How long the Git fetch took (absent when it failed). */
  fetchMs?: number;
  health: HealthResult;
  /** The objects Git asks for after this sync (labelled), for self-heal and `tether diff`. */
  desired: K8sObject[];
  /** Why this turn applied nothing although the last sync failed (see SyncOptions.hold). */
  waiting?: string;
}

/** The actions of a sync entry that changed the cluster. */
const WROTE: ReadonlySet<SyncAction> = new Set(['created', 'configured', 'adopted', 'pruned']);

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
  /** The objects of the last preview (see `preview`), shown in the diff while the app is held back. */
  private awaiting: K8sObject[] = [];
  /** Files in the app's path that the last render left unrendered (shown as `skipped` entries). */
  private renderSkipped: SkippedFile[] = [];
  /** The hooks of the last render: run during a sync, never members. */
  private hooks: Hook[] = [];
  /** Whether a render has set `hooks` (an app never rendered has unknown hooks, not none). */
  private rendered = false;
  /** Live objects as last seen (from lists, apply answers and watches), by objectKey. */
  readonly live: Map<string, K8sObject> = new LiveObjects();
  /** The last health verdict and what it was judged on (see healthNow). */
  private healthCache:
    | { version: number; desired: readonly K8sObject[]; at: number; health: HealthResult; readClock: boolean }
    | undefined;
  /** What was last applied per object (see core/applied-record.ts); read from the parent on the first sync. */
  private readonly applied: AppliedRecord = new Map();
  private appliedRestored = false;
  /** The revision this engine last recorded in the parent and the tree it had at the app's path. */
  private recorded: { revision: string; tree: string | undefined } | undefined;
  state: AppState;

  constructor(
    readonly app: AppSpec,
    private readonly deps: SyncDeps,
  ) {
    this.parent = deps.parent ?? defaultParentRef(app.name);
    this.applySetId = applySetId(this.parent);
    this.state = initialState(app.name);
  }

  /**
   * Forgets all this engine learned of the app and the cluster, as if it were new: another replica syncs the app now,
   * so the live objects (and the health judged on them), the applied record and the revision recorded in the parent
   * go stale as it writes. Kept, they would cost memory for an app this replica does not hold, and a later sync here
   * would start from them: the applied record would overwrite the one the other replica left in the parent, and a
   * turn that lists nothing (a suspended app) would judge and report the old live objects. A later sync here starts
   * afresh: it renders, lists and reads the parent again. Call only while no sync runs.
   */
  forget(): void {
    this.lastTree = undefined;
    this.lastGood = false;
    this.lastGoodResult = undefined;
    this.desired = [];
    this.awaiting = [];
    this.renderSkipped = [];
    this.hooks = [];
    this.rendered = false;
    this.live.clear();
    this.healthCache = undefined;
    this.applied.clear();
    this.appliedRestored = false;
    this.recorded = undefined;
    this.liveIsWatched = () => false;
    this.state = initialState(this.app.name);
  }

  /** The desired objects of the last successful render, labelled as members. */
  get desiredObjects(): readonly K8sObject[] {
    return this.desired;
  }

  /**
   * The deletion hooks (PreDelete, PostDelete) of the last render, with the app's wave timeout for each wave: what a
   * cascade removal runs around its deletion. Undefined before the first render (not known, rather than none).
   */
  get deleteHooks(): CascadeHooks | undefined {
    if (!this.rendered) return undefined;
    const defaults = defaultWaveGateOptions();
    return {
      hooks: [...hooksOf(this.hooks, 'PreDelete'), ...hooksOf(this.hooks, 'PostDelete')],
      run: {
        timeoutMs: this.app.waveTimeoutMs ?? defaults.timeoutMs,
        pollMs: this.deps.wavePollMs ?? defaults.pollMs,
      },
    };
  }

  /**
   * Renders the app at `revision` (a commit the source has or can fetch) for its deletion hooks only: what a cascade
   * runs when the process that last rendered the app is gone. Throws when the commit or the render fails.
   */
  async deleteHooksAt(revision: string): Promise<CascadeHooks> {
    await this.deps.source.ensureCommit?.(revision);
    await this.renderDesired(revision);
    return this.deleteHooks!;
  }

  /**
   * Takes a successful sync of `revision` that another process made (`tether sync --once`) as this engine's own, so
   * the next turn at that revision's tree is a no-op (health read again, nothing applied, no hook run). The revision is
   * rendered for the desired set health and self-heal judge, and the applied record is read again from the parent at
   * the next real sync (the other process rewrote it). Throws when the tree or the render cannot be read.
   */
  async adoptSync(revision: string, startedAt: string): Promise<void> {
    const tree = await this.deps.source.treeHash(revision, this.app.path);
    if (tree === undefined)
      throw new TetherError('render', `path '${this.app.path}' does not exist at ${revision.slice(0, 7)}`);
    this.desired = await this.renderDesired(revision);
    this.applied.clear();
    this.appliedRestored = false;
    this.lastTree = tree;
    this.lastGood = true;
    const result: SyncResult = { revision, startedAt, durationMs: 0, entries: [] };
    this.lastGoodResult = result;
    this.state = { ...this.state, revision, lastSync: result, sync: syncVerdict(result) };
  }

  /**
   * Whether `revision` (the one recorded in the parent) has `tree` at the app's path: known when this engine recorded
   * it, else read from the source (false when the commit is not there, as after a shallow fetch of a newer one).
   */
  private async sameTree(revision: string, tree: string | undefined): Promise<boolean> {
    if (tree === undefined) return false;
    if (this.recorded?.revision === revision) return this.recorded.tree === tree;
    try {
      return (await this.deps.source.treeHash(revision, this.app.path)) === tree;
    } catch {
      return false;
    }
  }

  /**
   * The commit the app's ref points at now, read from the remote's ref listing without fetching anything: where the
   * refusal of an app its project refuses before any fetch is reported. `credentials: false` lists without them (a
   * repo no project vouches for gets no token). Throws when the listing fails or names no such ref, or the source
   * cannot list refs.
   */
  headCommit(options: { credentials: boolean }): Promise<string> {
    const { source } = this.deps;
    if (!source.head) return Promise.reject(new TetherError('git', 'the source cannot list its refs'));
    return source.head(options);
  }

  /** The hooks of the last render (any phase): what a sync of it would run around its apply, never members. */
  get renderedHooks(): readonly Hook[] {
    return this.hooks;
  }

  /** The newest revision's objects while the app is held back (manual policy, a window): what a sync would apply. */
  get awaitingObjects(): readonly K8sObject[] {
    return this.state.held ? this.awaiting : this.desired;
  }

  /**
   * One reconciliation. Never throws: fetch, render, apply and prune failures are in the result, and so is an
   * apiserver that cannot be reached (stage `cluster`: Unknown, since it says nothing about the commit).
   */
  async sync(options: Partial<SyncOptions> = {}): Promise<SyncOutcome> {
    this.syncing = true;
    // A sync that has never rendered will render: the parser's thread starts now and overlaps the fetch. It is let
    // go as soon as this sync has rendered (before the apply) or stopped short of rendering.
    const rendered = this.lastTree === undefined ? this.deps.renderer.prepare?.() : undefined;
    try {
      const out = await this.syncOnce(options, rendered);
      return out.error && out.error.stage !== 'fetch' && out.error.stage !== 'render'
        ? await this.unlessUnreachable(out)
        : out;
    } finally {
      rendered?.();
      this.syncing = false;
    }
  }

  /**
   * A sync that failed while the apiserver went away is about the cluster, not the commit: when a quick probe cannot
   * reach the apiserver either, the outcome becomes stage `cluster` with state Unknown, so no `failure` is posted for
   * a commit that was never judged.
   */
  private async unlessUnreachable(out: SyncOutcome): Promise<SyncOutcome> {
    try {
      await this.deps.kube.ping();
      return out;
    } catch (err) {
      const message = `cluster unreachable: ${describeError(err)} (while: ${out.error?.message ?? 'syncing'})`;
      const health: HealthResult = { status: 'Unknown', message };
      const error = { stage: 'cluster' as const, message };
      this.lastGood = false;
      this.state = {
        ...this.state,
        sync: 'Unknown',
        health,
        lastSync: { ...(this.state.lastSync ?? out), error },
      };
      return { ...out, error, health };
    }
  }

  /** `rendered`, when given, is called once the render is over (see sync()). */
  private async syncOnce(options: Partial<SyncOptions>, rendered?: () => void): Promise<SyncOutcome> {
    const startedAt = new Date();
    const t0 = performance.now();
    const entries: SyncEntry[] = [];
    let revision = this.state.revision ?? '';
    let fetchMs: number | undefined;
    let waves: WaveResult[] = [];
    const hookResults: HookResult[] = [];
    const finish = (extra: {
      error?: SyncResult['error'];
      noop?: boolean;
      health?: HealthResult;
      pruneBlocked?: string;
    }): SyncOutcome => {
      const health = extra.health ?? this.state.health;
      const result: SyncResult = {
        revision,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        entries,
        ...(extra.error ? { error: extra.error } : {}),
        ...(extra.pruneBlocked ? { pruneBlocked: extra.pruneBlocked } : {}),
        ...(waves.length > 0 ? { waves } : {}),
        ...(hookResults.length > 0 ? { hooks: hookResults } : {}),
      };
      const lastSync = extra.noop ? (this.lastGoodResult ?? this.state.lastSync ?? result) : result;
      // Drift seen with self-heal off stays until Git changes (a real sync) or the object does (self-heal clears it).
      const drifted = extra.noop ? (this.state.drifted ?? []) : [];
      this.state = {
        app: this.app.name,
        sync: syncVerdict(extra.noop ? lastSync : result, drifted),
        health,
        revision,
        lastSync,
        ...(drifted.length > 0 ? { drifted } : {}),
      };
      return {
        ...result,
        noop: extra.noop ?? false,
        health,
        desired: this.desired,
        ...(fetchMs !== undefined ? { fetchMs } : {}),
      };
    };

    // The project may refuse the app outright: nothing is fetched for an app that may not sync.
    const refusal = this.app.policy?.refusal();
    if (refusal) {
      this.lastGood = false;
      return finish({ error: { stage: 'project', message: refusal } });
    }

    // A sync that has never rendered will resolve kinds: discovery starts now, with the parser's thread (sync()), and
    // overlaps the fetch instead of following it (a failed discovery here is tried again, and reported, when used).
    if (this.lastTree === undefined) this.deps.discovery.resolve('v1', 'Namespace').catch(() => undefined);

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
      try {
        return finish({ noop: true, health: await this.refreshHealth() });
      } catch (err) {
        // Nothing was written: its own stage, which no retry counts as an attempt (core/retry.ts countsAsAttempt).
        return finish({ error: { stage: 'read', message: `reading live state: ${describeError(err)}` } });
      }
    }

    const waiting = options.hold?.(revision);
    if (waiting !== undefined) {
      // The failed sync stays the app's last result (and its verdict): only the revision seen and health move.
      // A failed read keeps the health last judged: this turn applies nothing, so it must not become a failed sync.
      const health = await this.refreshHealth().catch(() => this.state.health);
      this.state = { ...this.state, revision, health };
      return {
        revision,
        startedAt: startedAt.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        entries: [],
        noop: true,
        health,
        desired: this.desired,
        waiting,
        ...(fetchMs !== undefined ? { fetchMs } : {}),
      };
    }

    options.onStart?.(revision);
    // The parent is read while the render parses (in its worker), and used, or its failure reported, only once the
    // render succeeded and the project allowed every object: as if read then, one round trip sooner.
    const parentRead = readParentState(this.deps, this.parent);
    parentRead.catch(() => undefined);
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
    } finally {
      rendered?.();
    }

    // Objects outside the project block the whole sync, as in Argo CD: applying the rest would leave the app half
    // applied in an order nobody reviewed, and a refused object is often what the rest depends on (a binding, a
    // namespace). Nothing is written, nothing pruned; the entries name every refused object and its rule.
    const refused = this.app.policy?.refuse(desired) ?? [];
    if (refused.length > 0) {
      entries.push(...refused);
      this.lastGood = false;
      const rules = refused.map((e) => `${e.subject} (${e.reason})`).join('; ');
      return finish({ error: { stage: 'apply', message: `refused, nothing was applied: ${rules}` } });
    }
    options.onRendered?.(desired);

    try {
      // Inventory: the parent first, as the superset of what it had and what Git wants (kubectl updateToSuperset).
      let parent: Awaited<ReturnType<typeof readParentState>>;
      let storedApplied: string | undefined;
      let storedRevision: string | undefined;
      try {
        parent = await parentRead;
        storedApplied = readAppliedText(parent.live);
        storedRevision = readSyncedRevision(parent.live);
        if (!this.appliedRestored) {
          for (const [k, m] of decodeAppliedRecord(storedApplied)) this.applied.set(k, m);
          this.appliedRestored = true;
        }
        parent.live = await writeParent(
          this.deps,
          this.parent,
          parent.type,
          parent.live,
          [...parent.members, ...desired.map(refOf)],
          parent.adopted,
          // Kept through the superset write: the revision last synced through stays recorded until this one is.
          parentRecords(parent.live),
        );
      } catch (err) {
        this.lastGood = false;
        return finish({
          error: { stage: 'apply', message: `ApplySet parent ${subject({ ...this.parent })}: ${describeError(err)}` },
        });
      }
      const previous = parent.members;

      // What is live now: one list per group-kind the app has, had or its parent names.
      const scope = listScope(this.parent, parent.live);
      const kinds = new Set([
        ...desired.map((o) => groupKind(refOf(o))),
        ...previous.map(groupKind),
        ...scope.groupKinds,
      ]);
      this.live.clear();
      const listed = await listMembers(this.deps, this.applySetId, kinds, this.live);

      // One owner per object: what another ApplySet or tool manages is left alone, unowned live objects adopted.
      const owners = await checkOwners(this.deps, this.live, desired, {
        applySetId: this.applySetId,
        recorded: recordedAsCreated(previous, parent.adopted),
        takeOver: this.app.takeOver ?? [],
        concurrency: this.deps.concurrency ?? defaultApplyStepsOptions().concurrency,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      entries.push(...owners.conflicts);

      // PostSync hooks run once the app is healthy, so the last wave is waited on too when there are any.
      const gate = this.waveGate(options.signal, hooksOf(this.hooks, 'PostSync').length > 0);
      waves = gate.waves;
      entries.push(...(await this.createNamespaces(owners.allowed)));

      // PreSync hooks run before anything of the app is written but the Namespaces Git defines, which the hooks may
      // need to run in; a failed hook stops the sync there, and the parent keeps the superset written above.
      let rest = owners.allowed;
      if (hooksOf(this.hooks, 'PreSync').length > 0) {
        for (const ns of rest.filter((o) => isNamespace(refOf(o)))) {
          entries.push(await applyOne(this.deps, this.live, ns));
        }
        rest = rest.filter((o) => !isNamespace(refOf(o)));
        const preSync = await this.runHookPhase('PreSync', hookResults, options.signal);
        if (preSync) {
          await this.runHookPhase('SyncFail', hookResults, options.signal);
          this.lastGood = false;
          return finish({ error: { stage: 'apply', message: `${preSync}; the app was not applied` } });
        }
      }

      const applied = await releaseTakenOver(
        this.deps,
        owners.takenOver,
        markAdopted(
          await applySteps(this.deps, this.live, rest, {
            concurrency: this.deps.concurrency ?? defaultApplyStepsOptions().concurrency,
            crdTimeoutMs: this.deps.crdTimeoutMs ?? defaultApplyStepsOptions().crdTimeoutMs,
            ...(options.signal ? { signal: options.signal } : {}),
            afterStep: gate.afterStep,
            ...(this.app.ignoreDifferences ? { ignoreDifferences: this.app.ignoreDifferences } : {}),
            record: this.applied,
          }),
          owners.adopted,
        ),
      );
      entries.push(...applied);
      if (options.signal?.aborted) {
        this.lastGood = false;
        return finish({
          error: {
            stage: 'cancelled',
            message: `stopped by shutdown after ${applied.length} of ${desired.length} objects; nothing was pruned`,
          },
        });
      }

      if (gate.stopped) {
        await this.runHookPhase('SyncFail', hookResults, options.signal);
        return this.stoppedAt(gate, finish, gate.stopMessage()!, gate.stopped.health);
      }
      if (!applied.some((e) => e.action === 'failed')) {
        const syncHook = await this.runHookPhase('Sync', hookResults, options.signal);
        if (syncHook) {
          await this.runHookPhase('SyncFail', hookResults, options.signal);
          return this.stoppedAt(gate, finish, `${syncHook}; nothing pruned`);
        }
      }

      const pruned = await pruneStale(this.deps, this.live, {
        applySetId: this.applySetId,
        desired,
        previous,
        listed,
        failedApplies: applied.filter((e) => e.action === 'failed').length,
        options: this.app.policy?.mayPrune() === false ? { ...this.app.prune, enabled: false } : this.app.prune,
        adopted: parent.adopted,
      });
      entries.push(...pruned.entries);
      const pruneBlocked = pruned.outOfSync ? pruned.blocked : undefined;

      // The parent now records what remains ours, plus the objects in conflict it already listed: they are never
      // pruned (not our label), and dropping them would make every interval's superset write add them back.
      const conflicted = new Set(owners.conflicts.map((e) => e.subject));
      try {
        const written = await writeParent(
          this.deps,
          this.parent,
          parent.type,
          parent.live,
          [
            ...owners.allowed.map(refOf),
            ...pruned.kept,
            ...desired.filter((o) => conflicted.has(subject(o))).map(refOf),
          ],
          [...parent.adopted, ...owners.adopted],
          {
            ...this.appliedToStore(owners.allowed, applied, storedApplied),
            // A re-sync at a new HEAD that wrote nothing, of the same definition and the same tree at the app's path,
            // keeps the revision already recorded, so it does not send the whole parent (and its applied record)
            // again. Delete hooks render the app at it (recover-hooks.ts). Only when nothing was written: a render
            // also reads files outside the path (a kustomize base, Helm values), so an unchanged path alone does
            // not prove the older revision renders what was just applied.
            revision:
              storedRevision &&
              !entries.some((e) => WROTE.has(e.action)) &&
              parentRecords(parent.live).spec === this.app.recordedSpec &&
              (await this.sameTree(storedRevision, tree))
                ? storedRevision
                : revision,
            ...(this.app.recordedSpec ? { spec: this.app.recordedSpec } : {}),
          },
        );
        this.recorded = { revision: readSyncedRevision(written) ?? revision, tree };
      } catch (err) {
        entries.push({ subject: subject({ ...this.parent }), action: 'failed', reason: describeError(err) });
      }

      // Objects another owner has are not ours to heal or judge: self-heal never sees them.
      this.desired = owners.allowed;
      const firstFailure = entries.find((e) => e.action === 'failed');
      const hookFailed = firstFailure
        ? await this.runHookPhase('SyncFail', hookResults, options.signal)
        : await this.runHookPhase('PostSync', hookResults, options.signal);
      if (hookFailed && !firstFailure) {
        await this.runHookPhase('SyncFail', hookResults, options.signal);
        this.lastGood = false;
        return finish({ error: { stage: 'apply', message: hookFailed }, health: this.healthNow() });
      }
      const health = this.healthNow();
      this.lastTree = tree;
      // A conflict is re-checked every interval (the other owner may let go), without writing to the object.
      this.lastGood = firstFailure === undefined && owners.conflicts.length === 0;
      const outcome = finish({
        health,
        ...(pruneBlocked ? { pruneBlocked } : {}),
        ...(firstFailure
          ? {
              error: {
                // A failed deletion is the prune stage's; a failed apply or parent write is the apply stage's.
                stage: pruned.entries.includes(firstFailure) ? ('prune' as const) : ('apply' as const),
                message: `${firstFailure.subject}: ${firstFailure.reason ?? 'failed'}`,
              },
            }
          : {}),
      });
      if (!outcome.error) this.lastGoodResult = this.state.lastSync;
      return outcome;
    } catch (err) {
      // Reading the inventory, listing or health failed outright (apply and prune failures are entries instead).
      this.lastGood = false;
      return finish({ error: { stage: 'apply', message: describeError(err) } });
    }
  }

  /**
   * The applied record to keep in the parent: rewritten when this sync wrote an object (or none is stored), else the
   * stored one kept as is, so a sync that only confirmed objects (a controller moved their resourceVersion) writes
   * nothing; an older record costs a restarted agent only dry-runs. Left out when it would crowd the parent.
   */
  private appliedToStore(
    members: readonly K8sObject[],
    entries: readonly SyncEntry[],
    stored: string | undefined,
  ): { applied?: string } {
    const wrote = entries.some((e) => e.action === 'created' || e.action === 'configured' || e.action === 'failed');
    if (stored !== undefined && !wrote) return { applied: stored };
    const text = encodeAppliedRecord(this.applied, new Set(members.map(objectKey)));
    return text.length <= MAX_APPLIED_RECORD_BYTES ? { applied: text } : {};
  }

  /** Creates the namespaces the app asks for that do not exist yet (see core/namespaces.ts); failures are entries. */
  private async createNamespaces(desired: readonly K8sObject[]): Promise<SyncEntry[]> {
    const names = namespacesToCreate([...desired, ...this.hooks.map((h) => h.object)], {
      appNamespace: this.app.namespace,
      createNamespace: this.app.createNamespace ?? false,
    });
    const entries: SyncEntry[] = [];
    if (names.length === 0) return entries;
    const type = await this.deps.discovery.resolve('v1', 'Namespace');
    if (!type) return entries;
    for (const name of names) {
      try {
        if (await this.deps.kube.get(type, name)) continue;
        await this.deps.kube.apply(type, namespaceObject(name));
        entries.push({ subject: `Namespace/${name}`, action: 'created', reason: 'createNamespace' });
      } catch (err) {
        entries.push({ subject: `Namespace/${name}`, action: 'failed', reason: describeError(err) });
      }
    }
    return entries;
  }

  /** The gate that waits for each wave's health (the last one too when `waitLast`), with the app's timeout. */
  private waveGate(signal: AbortSignal | undefined, waitLast: boolean): WaveGate {
    const defaults = defaultWaveGateOptions();
    return new WaveGate(this.deps, this.live, {
      timeoutMs: this.app.waveTimeoutMs ?? defaults.timeoutMs,
      pollMs: this.deps.wavePollMs ?? defaults.pollMs,
      waitLast,
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * Runs the rendered hooks of `phase`, adding their results to `results`; returns the failure, naming every hook that
   * failed (undefined when none did). Each wave of hooks has the app's wave timeout.
   */
  private async runHookPhase(
    phase: HookResult['phase'],
    results: HookResult[],
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    if (hooksOf(this.hooks, phase).length === 0) return undefined;
    const defaults = defaultWaveGateOptions();
    const ran = await runHooks(this.deps, this.hooks, phase, {
      timeoutMs: this.app.waveTimeoutMs ?? defaults.timeoutMs,
      pollMs: this.deps.wavePollMs ?? defaults.pollMs,
      ...(signal ? { signal } : {}),
    });
    results.push(...ran);
    return hookFailureMessage(ran);
  }

  /**
   * A wave went Degraded or timed out: the later waves were not applied, so nothing is pruned and the parent keeps
   * the superset written before the apply; the verdict names the object. Self-heal heals towards what was applied
   * (the new version of the applied waves, the previous one of the rest), so it neither reverts the waves that ran
   * nor creates the later ones behind the stop's back.
   */
  private stoppedAt(
    gate: WaveGate,
    finish: (extra: { error?: SyncResult['error']; health?: HealthResult }) => SyncOutcome,
    message: string,
    health?: HealthResult,
  ): SyncOutcome {
    this.lastGood = false;
    const applied = new Set(gate.applied.map(objectKey));
    this.desired = [...gate.applied, ...this.desired.filter((o) => !applied.has(objectKey(o)))];
    const out = finish({ error: { stage: 'apply', message }, health: health ?? this.healthNow() });
    this.state = { ...this.state, sync: 'OutOfSync' };
    return out;
  }

  /**
   * What a sync would do, without writing: fetch, render, validate, then a server-side dry-run of every object
   * against its live state. For `tether diff` and `tether status`; throws on fetch or render failures, and without
   * fetching when the app's project refuses it. Once `signal` is aborted no further request starts (a plan of a pull
   * request head that moved on), and the objects not reached are left out.
   */
  async inspect(options: { signal?: AbortSignal } = {}): Promise<Inspection> {
    const refusal = this.app.policy?.refusal();
    if (refusal) throw new TetherError('config', refusal);
    const revision = await this.deps.source.fetch();
    const desired = await this.renderDesired(revision);
    const objects = await inspectObjects(this.deps, desired, {
      concurrency: this.deps.concurrency ?? defaultApplyStepsOptions().concurrency,
      health: this.healthContext(),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.desired = desired;
    for (const o of objects) if (o.live) this.live.set(objectKey(o.live), o.live);
    return { revision, objects, ...summarize(objects) };
  }

  /**
   * What a sync would do now, writing nothing: fetch, render, server-side dry-run of each object, and the inventory's
   * members Git no longer has. The desired set becomes the new revision's, so the page's diff shows what awaits; the
   * state turns OutOfSync (when anything differs) and `held` says why nothing is applied. Throws, as `inspect` does, on
   * fetch or render failures and when the project refuses the app.
   */
  async preview(held: (p: SyncPreview) => string | undefined): Promise<SyncPreview> {
    const applied = this.desired;
    const inspection = await this.inspect();
    const next = this.desired;
    // The cluster still runs what was last applied: health, self-heal and the synced commit's status stay about that
    // until a sync applies the new revision. An app never synced has nothing applied: what it awaits is its desired set.
    if (this.state.lastSync) this.desired = applied;
    this.awaiting = next;
    const refused = this.app.policy?.refuse(next) ?? [];
    const parent = await readParentState(this.deps, this.parent);
    const wanted = new Set(next.map(objectKey));
    const prunes = this.app.prune.enabled && this.app.policy?.mayPrune() !== false;
    const preview: SyncPreview = {
      revision: inspection.revision,
      toApply: inspection.objects.filter((o) => o.sync !== 'Synced').map((o) => o.subject),
      toPrune: prunes ? parent.members.filter((m) => !wanted.has(objectKey(m))).map((m) => subject(m)) : [],
      refused,
    };
    const differs = preview.toApply.length + preview.toPrune.length + refused.length > 0;
    const { held: _, ...rest } = this.state;
    const text = held(preview);
    this.state = {
      ...rest,
      revision: preview.revision,
      sync: differs ? 'OutOfSync' : 'Synced',
      health: this.healthNow(),
      ...(text ? { held: text } : {}),
    };
    return preview;
  }

  /**
   * Starts the Git fetch the next sync makes, which then joins it (the source shares a fetch in flight); a failure is
   * left for that sync's own fetch to meet and report. `signal` gives the prefetch up (see DesiredStateSource.fetch).
   */
  prefetch(signal: AbortSignal): void {
    this.deps.source.fetch({ signal }).catch(() => undefined);
  }

  /** Records why the agent holds the app back without having compared it (suspended, a failed preview). */
  hold(reason: string, sync?: AppState['sync']): void {
    this.state = { ...this.state, held: reason, ...(sync ? { sync } : {}) };
  }

  /** Reads, renders and validates the app's path at `revision`: the desired objects, labelled as members; hooks aside. */
  private async renderDesired(revision: string): Promise<K8sObject[]> {
    const files = await this.deps.source.readFiles(revision, this.app.path);
    const rendered = await this.deps.renderer.render(files, () => this.deps.source.readFiles(revision, ''), {
      ...defaultRenderOptions(this.app.path),
      ...this.app.render,
      path: this.app.path,
    });
    this.renderSkipped = rendered.skipped ?? [];
    if (rendered.objects.length === 0 && !this.app.prune.allowEmpty) {
      throw new TetherError('render', emptyRenderMessage(this.app.path, files));
    }
    await this.ensureDiscovery(rendered.objects.map((o) => o.object));
    const { members, hooks } = splitHooks(
      validateObjects(rendered.objects, this.deps.discovery.isNamespaced, { defaultNamespace: this.app.namespace }),
    );
    this.hooks = hooks;
    this.rendered = true;
    return labelMembers(members, this.applySetId);
  }

  /** Applies one desired object now (self-heal's write), recording the answer as live; see apply.ts. */
  applyOne(obj: K8sObject): Promise<SyncEntry> {
    return applyOne(this.deps, this.live, obj, this.app.ignoreDifferences, this.applied);
  }

  /**
   * Health of every desired object from the last-seen live objects; the app's is the worst. The agent asks every
   * second for every app: a verdict is reused while neither the live objects nor the desired set changed, for at
   * most HEALTH_REUSE_MS, since some verdicts move with the clock alone (a crash-loop window passing).
   */
  healthNow(): HealthResult {
    const ctx = this.healthContext();
    const now = ctx.now ?? Date.now();
    const version = this.live instanceof LiveObjects ? this.live.version : undefined;
    const c = this.healthCache;
    if (
      c &&
      version !== undefined &&
      c.version === version &&
      c.desired === this.desired &&
      (!c.readClock || now - c.at < HEALTH_REUSE_MS)
    )
      return c.health;
    // Whether any verdict read the clock: one that did not is a function of the objects alone and holds until they
    // change. The agent asks every app every second; recomputing 200 apps' verdicts was most of an idle agent's CPU.
    let readClock = false;
    const health = appHealth(
      this.desired.filter(judgedForHealth).map((o) =>
        objectHealth(refOf(o), this.live.get(objectKey(o)), {
          ...(ctx.rules ? { rules: ctx.rules } : {}),
          desired: o,
          get now() {
            readClock = true;
            return now;
          },
        }),
      ),
    );
    if (version !== undefined) this.healthCache = { version, desired: this.desired, at: now, health, readClock };
    return health;
  }

  /** What health is judged with now: the clock and the app's rules (the desired object is added per object). */
  healthContext(): Omit<HealthContext, 'desired'> {
    return { now: Date.now(), ...(this.app.healthRules ? { rules: this.app.healthRules } : {}) };
  }

  /**
   * Set by self-heal while watches feed `live` for every kind of the desired set: a no-op reconcile then judges
   * health from them instead of listing each kind again.
   */
  liveIsWatched: () => boolean = () => false;

  /**
   * Re-reads the desired objects' live state (one list per kind; none while watches keep it current) and returns the
   * app's health.
   */
  async refreshHealth(): Promise<HealthResult> {
    if (this.liveIsWatched()) {
      const health = this.healthNow();
      this.state = { ...this.state, health };
      return health;
    }
    const kinds = new Set(this.desired.map((o) => groupKind(refOf(o))));
    const listed = await listMembers(this.deps, this.applySetId, kinds, this.live);
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

  /** `who` changed back to what Git wants (self-heal off): it no longer keeps the app OutOfSync. */
  clearDrift(who: string): void {
    const drifted = (this.state.drifted ?? []).filter((d) => d !== who);
    if (drifted.length === (this.state.drifted ?? []).length) return;
    const { drifted: _, ...rest } = this.state;
    const next = { ...rest, ...(drifted.length > 0 ? { drifted } : {}) };
    this.state = { ...next, sync: next.lastSync ? syncVerdict(next.lastSync, drifted) : next.sync };
  }

  /** Records a live object seen elsewhere (a watch event), for health. */
  observe(obj: K8sObject, deleted = false): void {
    if (deleted) this.live.delete(objectKey(obj));
    else this.live.set(objectKey(obj), obj);
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
}

/** How long a health verdict is reused while nothing it was judged on changed. */
const HEALTH_REUSE_MS = 5000;

/** The most of the parent the applied record may take (about 10,000 objects); beyond, it stays in memory only. */
const MAX_APPLIED_RECORD_BYTES = 320 * 1024;

/** Prune options from an app's settings. */
export function pruneOptions(overrides: Partial<PruneOptions> = {}): PruneOptions {
  return { ...defaultPruneOptions(), ...overrides };
}

/** The state of an app no sync of this engine has told anything about yet. */
function initialState(app: string): AppState {
  return { app, sync: 'Unknown', health: { status: 'Unknown', message: 'not synced yet' } };
}
