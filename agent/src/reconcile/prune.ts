import { describeError, TetherError } from '../../../shared/src/errors.ts';
import { APPLYSET, staleObjects } from '../core/inventory.ts';
import { groupKind, objectKey } from '../core/objects.ts';
import { keptEntries, type PruneOptions, type PrunePlan, planPrune } from '../core/prune.ts';
import type { K8sObject, ObjectRef, SyncEntry } from '../core/types.ts';
import { type ClusterDeps, fetchRef } from './cluster.ts';

/** What pruning one app needs to know; the decisions themselves are core/prune.ts's. */
export interface PruneInput {
  applySetId: string;
  desired: readonly K8sObject[];
  /** The members the ApplySet parent recorded before this sync. */
  previous: readonly ObjectRef[];
  /** The members found live by label. */
  listed: readonly K8sObject[];
  /** Applies that failed in this sync (a guardrail: a failing sync prunes carefully). */
  failedApplies: number;
  options: PruneOptions;
  /** Members Tether adopted rather than created (kept unless `pruneAdopted`). */
  adopted?: readonly ObjectRef[];
}

/**
 * Entries of the prune, the refs that stay in the inventory (kept on purpose or failed to delete), and why nothing
 * was deleted when the whole prune was blocked (`outOfSync` when that block leaves the app OutOfSync).
 */
export interface PruneOutcome {
  entries: SyncEntry[];
  kept: ObjectRef[];
  blocked?: string;
  outOfSync?: boolean;
}

/**
 * What a prune would do, reading only: candidates are the labelled members plus whatever the parent recorded that
 * the lists did not show (fetched one by one); core/prune.ts decides. A sync then deletes (`pruneStale`); a pull
 * request plan only shows it.
 */
export async function planStalePrune(
  deps: ClusterDeps,
  live: ReadonlyMap<string, K8sObject>,
  input: PruneInput,
): Promise<PrunePlan> {
  const desiredKeys = new Set(input.desired.map(objectKey));
  const candidates = [...input.listed];
  for (const ref of input.previous) {
    const key = objectKey(ref);
    if (desiredKeys.has(key) || live.has(key)) continue;
    const obj = await fetchRef(deps, ref);
    if (obj) candidates.push(obj);
  }
  const adoptedKeys = new Set((input.adopted ?? []).map(objectKey));
  const stale = staleObjects(input.applySetId, input.desired, input.previous, candidates).map((s) =>
    adoptedKeys.has(objectKey(s.ref)) ? { ...s, adopted: true } : s,
  );
  return planPrune(
    stale,
    input.previous.length,
    { fetchFailed: false, renderFailed: false, failedApplies: input.failedApplies, desiredCount: input.desired.length },
    input.options,
  );
}

/**
 * Deletes what Git dropped, within the guardrails (`planStalePrune` decides), and records each result.
 */
export async function pruneStale(
  deps: ClusterDeps,
  live: Map<string, K8sObject>,
  input: PruneInput,
): Promise<PruneOutcome> {
  const plan = await planStalePrune(deps, live, input);
  const entries: SyncEntry[] = keptEntries(plan);
  const kept: ObjectRef[] = plan.decisions.filter((d) => d.action === 'keep').map((d) => d.ref);
  for (const d of plan.decisions) {
    if (d.action === 'release') {
      // Let go: without the member label the next sync's lists no longer find it, so it is not stale again.
      try {
        const type = deps.discovery.forGroupKind(groupKind(d.ref));
        if (!type) throw new TetherError('kube', 'kind no longer served');
        await deps.kube.mergePatch(type, d.ref.name, d.ref.namespace, {
          metadata: { labels: { [APPLYSET.partOfLabel]: null } },
        });
        live.delete(objectKey(d.ref));
        entries.push({ subject: d.subject, action: 'skipped', reason: d.reason });
      } catch (err) {
        kept.push(d.ref);
        entries.push({ subject: d.subject, action: 'failed', reason: `release: ${describeError(err)}` });
      }
      continue;
    }
    if (d.action !== 'delete') continue;
    try {
      const type = deps.discovery.forGroupKind(groupKind(d.ref));
      if (!type) throw new TetherError('kube', 'kind no longer served');
      await deps.kube.delete(type, d.ref.name, d.ref.namespace);
      live.delete(objectKey(d.ref));
      entries.push({ subject: d.subject, action: 'pruned', reason: d.reason });
    } catch (err) {
      kept.push(d.ref);
      entries.push({ subject: d.subject, action: 'failed', reason: `prune: ${describeError(err)}` });
    }
  }
  return {
    entries,
    kept,
    ...(plan.blocked ? { blocked: plan.blocked } : {}),
    ...(plan.outOfSync ? { outOfSync: true } : {}),
  };
}
