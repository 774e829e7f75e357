// What happens in the cluster when an app's definition is removed from Git: `orphan` leaves every object and marks
// the app's ApplySet parent as orphaned (so `kubectl get` shows whose inventory it was and since when, and a later
// definition of the same name takes its objects back); `cascade` deletes the members through the prune guardrails
// every sync uses, then the parent once nothing is left in it.
import { describeError } from '../../../shared/src/errors.ts';
import type { Hook, HookResult } from '../core/hooks.ts';
import { type ApplySetParentRef, applySetId, listScope, parentRecords } from '../core/inventory.ts';
import { groupKind, objectKey } from '../core/objects.ts';
import type { PruneOptions } from '../core/prune.ts';
import type { K8sObject, SyncEntry } from '../core/types.ts';
import { KubeApiError } from '../edges/kube/kube-client.ts';
import { type ParentState, readParentState, writeParent } from './applyset-parent.ts';
import { type ClusterDeps, listMembers, resolveType } from './cluster.ts';
import { type RunHooksOptions, runDeleteHooks } from './hooks.ts';
import { pruneStale } from './prune.ts';

/** The annotation on an orphaned app's ApplySet parent: when its definition was removed. */
export const ORPHANED_ANNOTATION = 'tether.dev/orphaned-at';
/** The annotation saying why (which definition went away). */
export const ORPHANED_REASON_ANNOTATION = 'tether.dev/orphaned-reason';

// The orphan mark is written by a field manager of its own: server-side apply by `tether` with only the annotations
// would drop the inventory `tether` owns, and the next sync by `tether` leaves the mark alone (another owner's).
const ORPHAN_MANAGER = 'tether-orphan';

/**
 * The label on the ApplySet parent of an app defined in Git: the app source that defines it. A parent so labelled
 * whose app that source no longer defines was removed, also while the agent was down: the removal survives a
 * restart. Annotations keep the app's name, where it was defined and its deletion policy as of its last definition.
 */
export const APP_SOURCE_LABEL = 'tether.dev/app-source';
/** The annotations of the definition mark (see APP_SOURCE_LABEL). */
export const DEFINITION_ANNOTATIONS = {
  app: 'tether.dev/app',
  origin: 'tether.dev/defined-in',
  deletionPolicy: 'tether.dev/deletion-policy',
  /**
   * Where the app's manifests live and how they render (see recover-hooks.ts `recordAppSpec`), as last defined. A
   * cascade renders the copy written beside the synced revision (SYNCED_SPEC_ANNOTATION) when there is one: this one
   * may be newer than what that revision synced.
   */
  spec: 'tether.dev/app-spec',
} as const;
// Written by a manager of its own, for the same reason as the orphan mark.
const DEFINITION_MANAGER = 'tether-app-set';

/** Where a Git-defined app's parent says it came from. */
export interface DefinitionMark {
  source: string;
  app: string;
  origin: string;
  deletionPolicy: 'orphan' | 'cascade';
  /** The app's recorded definition (JSON): what a cascade renders again to find its deletion hooks. */
  spec?: string;
}

/**
 * Marks the app's parent with its definition (creating the parent, and its namespace, when the app has not synced
 * yet) and lifts an orphan mark: an app of that name is defined again, and its sync takes the members back.
 * `undefined` (an app defined in the config file) releases the definition mark instead.
 */
export async function markDefinition(
  deps: ClusterDeps,
  parent: ApplySetParentRef,
  mark: DefinitionMark | undefined,
): Promise<void> {
  const state = await readParentState(deps, parent);
  const apiVersion = parent.group ? `${parent.group}/${parent.version}` : parent.version;
  const meta = { name: parent.name, namespace: parent.namespace };
  if (state.live?.metadata.annotations?.[ORPHANED_ANNOTATION]) {
    await deps.kube.apply(
      state.type,
      { apiVersion, kind: parent.kind, metadata: meta },
      { fieldManager: ORPHAN_MANAGER },
    );
  }
  const labelled = state.live?.metadata.labels?.[APP_SOURCE_LABEL] !== undefined;
  if (!mark && !labelled) return;
  const obj: K8sObject = {
    apiVersion,
    kind: parent.kind,
    metadata: mark
      ? {
          ...meta,
          labels: { [APP_SOURCE_LABEL]: mark.source },
          annotations: {
            [DEFINITION_ANNOTATIONS.app]: mark.app,
            [DEFINITION_ANNOTATIONS.origin]: mark.origin,
            [DEFINITION_ANNOTATIONS.deletionPolicy]: mark.deletionPolicy,
            ...(mark.spec ? { [DEFINITION_ANNOTATIONS.spec]: mark.spec } : {}),
          },
        }
      : meta,
  };
  try {
    await deps.kube.apply(state.type, obj, { fieldManager: DEFINITION_MANAGER });
  } catch (err) {
    // The inventory namespace may not exist before the first sync: create it and try once more.
    if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    const nsType = await resolveType(deps.discovery, 'v1', 'Namespace');
    await deps.kube.apply(nsType, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: parent.namespace } });
    await deps.kube.apply(state.type, obj, { fieldManager: DEFINITION_MANAGER });
  }
}

/** The definition marks of the parents in `namespace` labelled with app source `source`. */
export async function definitionMarks(deps: ClusterDeps, namespace: string, source: string): Promise<DefinitionMark[]> {
  const type = await resolveType(deps.discovery, 'v1', 'ConfigMap');
  const { items } = await deps.kube.list(type, { namespace, labelSelector: `${APP_SOURCE_LABEL}=${source}` });
  return items.flatMap((o) => {
    const a = o.metadata.annotations ?? {};
    const app = a[DEFINITION_ANNOTATIONS.app];
    if (!app) return [];
    return [
      {
        source,
        app,
        origin: a[DEFINITION_ANNOTATIONS.origin] ?? '(unknown)',
        deletionPolicy: a[DEFINITION_ANNOTATIONS.deletionPolicy] === 'cascade' ? 'cascade' : 'orphan',
        ...(a[DEFINITION_ANNOTATIONS.spec] ? { spec: a[DEFINITION_ANNOTATIONS.spec] } : {}),
      } satisfies DefinitionMark,
    ];
  });
}

/** What a removal did: the entries (pruned, kept with why, failed) and whether the parent is gone. */
export interface RemovalOutcome {
  policy: 'orphan' | 'cascade';
  entries: SyncEntry[];
  parentDeleted: boolean;
  /** The deletion hooks that ran (PreDelete, then PostDelete once the members were deleted). */
  hooks?: HookResult[];
  error?: string;
}

/** The deletion hooks of a cascade: the app's last rendered hooks, and how long each wave of them may run. */
export interface CascadeHooks {
  hooks: readonly Hook[];
  run: RunHooksOptions;
}

/** Marks the parent orphaned (objects untouched); no parent (the app never synced) → nothing to mark. */
export async function orphanApp(
  deps: ClusterDeps,
  parent: ApplySetParentRef,
  reason: string,
  now: Date = new Date(),
): Promise<RemovalOutcome> {
  try {
    const state = await readParentState(deps, parent);
    if (state.live) {
      await deps.kube.apply(
        state.type,
        {
          apiVersion: state.live.apiVersion,
          kind: parent.kind,
          metadata: {
            name: parent.name,
            namespace: parent.namespace,
            annotations: { [ORPHANED_ANNOTATION]: now.toISOString(), [ORPHANED_REASON_ANNOTATION]: reason },
          },
        },
        { fieldManager: ORPHAN_MANAGER, force: true },
      );
      // Released by its manager, the definition mark goes: the removal is done, and is not found again.
      await deps.kube.apply(
        state.type,
        {
          apiVersion: state.live.apiVersion,
          kind: parent.kind,
          metadata: { name: parent.name, namespace: parent.namespace },
        },
        { fieldManager: DEFINITION_MANAGER, force: true },
      );
    }
    return { policy: 'orphan', entries: [], parentDeleted: false };
  } catch (err) {
    return { policy: 'orphan', entries: [], parentDeleted: false, error: describeError(err) };
  }
}

/**
 * Deletes every member through the prune guardrails: objects annotated to be kept, protected kinds the app did not
 * opt in to and adopted objects stay (an entry says why), since removing an app is no reason to delete a Namespace
 * or a volume nobody asked to. The deletion budget does not apply: deleting everything is what removal asks. The
 * parent is deleted when nothing is left in it; otherwise it keeps listing what stayed, and is marked orphaned.
 */
export async function cascadeApp(
  deps: ClusterDeps,
  parent: ApplySetParentRef,
  prune: PruneOptions,
  reason: string,
  deleteHooks?: CascadeHooks,
): Promise<RemovalOutcome> {
  const entries: SyncEntry[] = [];
  let parentDeleted = false;
  try {
    const state = await readParentState(deps, parent);
    // Never synced: nothing of it is in the cluster, and its hooks would have nothing to clean up after.
    if (!state.live) return { policy: 'cascade', entries, parentDeleted };
    const live = state.live;
    const deleteMembers = async () => {
      parentDeleted = await deleteAll(deps, parent, { ...state, live }, prune, reason, entries);
    };
    if (!deleteHooks || deleteHooks.hooks.length === 0) {
      await deleteMembers();
      return { policy: 'cascade', entries, parentDeleted };
    }
    const out = await runDeleteHooks(deps, deleteHooks.hooks, deleteMembers, deleteHooks.run);
    return {
      policy: 'cascade',
      entries,
      parentDeleted,
      ...(out.results.length > 0 ? { hooks: out.results } : {}),
      ...(out.error ? { error: out.error } : {}),
    };
  } catch (err) {
    return { policy: 'cascade', entries, parentDeleted, error: describeError(err) };
  }
}

/** Prunes every member into `entries`; true when the parent was deleted too (nothing was kept). */
async function deleteAll(
  deps: ClusterDeps,
  parent: ApplySetParentRef,
  state: ParentState & { live: K8sObject },
  prune: PruneOptions,
  reason: string,
  entries: SyncEntry[],
): Promise<boolean> {
  const id = applySetId(parent);
  const live = new Map<string, K8sObject>();
  const kinds = new Set([...state.members.map(groupKind), ...listScope(parent, state.live).groupKinds]);
  const listed = await listMembers(deps, id, kinds, live);
  const pruned = await pruneStale(deps, live, {
    applySetId: id,
    desired: [],
    previous: state.members,
    listed,
    failedApplies: 0,
    options: { ...prune, enabled: true, allowEmpty: true, maxDeleteFraction: 1 },
    adopted: state.adopted,
  });
  entries.push(...pruned.entries);
  if (pruned.kept.length > 0) {
    const kept = new Set(pruned.kept.map(objectKey));
    // The revision stays recorded: should the orphan mark below fail, the retried cascade (maybe by a new process)
    // renders the same deletion hooks again rather than being refused.
    await writeParent(
      deps,
      parent,
      state.type,
      state.live,
      pruned.kept,
      state.adopted.filter((r) => kept.has(objectKey(r))),
      parentRecords(state.live),
    );
    const orphaned = await orphanApp(deps, parent, `${reason}; cascade kept ${pruned.kept.length} object(s)`);
    if (orphaned.error) throw new Error(`marking the inventory orphaned: ${orphaned.error}`);
    return false;
  }
  const type = await resolveType(
    deps.discovery,
    parent.group ? `${parent.group}/${parent.version}` : parent.version,
    parent.kind,
  );
  await deps.kube.delete(type, parent.name, parent.namespace);
  return true;
}
