// Prune guardrails: decide, as data, what may be deleted. Deleting is the one step GitOps cannot undo, so
// every rule here errs towards keeping: a bad revision, an empty render or an unusually large deletion stops the
// whole prune with a reason the user can read, instead of deleting.

import { deleteKeptBy, pruneKeptBy } from './annotations.ts';
import type { StaleObject } from './inventory.ts';
import { groupKind } from './objects.ts';
import { compareRefs } from './plan.ts';
import type { ObjectRef, SyncEntry } from './types.ts';

/**
 * Kinds whose deletion takes data with it (a Namespace all its objects, a CRD all its custom resources, a PVC or PV
 * its volume). They are pruned only when the app names them in `allowProtectedKinds`, like Argo CD's
 * `Prune=confirm` for the same reasons.
 */
export const PROTECTED_KINDS: readonly string[] = [
  'Namespace',
  'CustomResourceDefinition.apiextensions.k8s.io',
  'PersistentVolumeClaim',
  'PersistentVolume',
];

/** How the entry of a released object ends (see PruneDecision), so that Events and views can tell it apart. */
export const RELEASED = 'left in place and removed from the inventory (no longer managed)';

/** True for the `skipped` entry of an object let go rather than deleted (`Delete=false`). */
export function isReleased(entry: SyncEntry): boolean {
  return entry.action === 'skipped' && (entry.reason ?? '').endsWith(RELEASED);
}

/** Options of `planPrune`, from the app's configuration. */
export interface PruneOptions {
  /** The app's `prune` setting. */
  enabled: boolean;
  /** Allow pruning everything when the desired set is empty (otherwise an empty render deletes nothing). */
  allowEmpty: boolean;
  /** Protected kinds (as `Kind.group`, e.g. `Namespace`) the app opts in to pruning. */
  allowProtectedKinds: string[];
  /** Refuse to prune when more than this fraction of the inventory would be deleted. */
  maxDeleteFraction: number;
  /**
   * Deletions always within budget, however small the inventory: renaming the only object of a one-object app is
   * not a mass deletion, and without this it could never be pruned.
   */
  minDeleteBudget: number;
  /**
   * Prune objects Tether adopted (found live without an owner and took over) rather than created. Off by default:
   * someone made them by hand, and Git dropping them says nothing about whether they are still needed.
   */
  pruneAdopted: boolean;
}

/**
 * Defaults: prune on, empty renders refused, protected kinds kept, at most half of the inventory per sync, adopted
 * objects kept.
 */
export function defaultPruneOptions(): PruneOptions {
  return {
    enabled: true,
    allowEmpty: false,
    allowProtectedKinds: [],
    maxDeleteFraction: 0.5,
    minDeleteBudget: 1,
    pruneAdopted: false,
  };
}

/** What happened earlier in this revision's sync; any failure means the desired set cannot be trusted. */
export interface RevisionOutcome {
  fetchFailed: boolean;
  renderFailed: boolean;
  /** Number of objects whose apply failed. */
  failedApplies: number;
  /** Number of objects in the desired set. */
  desiredCount: number;
}

/**
 * The decision for one stale object: delete it, keep it as a member, or `release` it — leave it in place and take it
 * out of the inventory, for an object that asks never to be deleted (`Delete=false`).
 */
export interface PruneDecision {
  ref: ObjectRef;
  subject: string;
  action: 'delete' | 'keep' | 'release';
  reason: string;
}

/**
 * The prune plan: decisions in deletion order; `blocked` says why nothing at all is deleted. `outOfSync` is set when
 * the block leaves objects running that Git no longer has for a reason nobody chose (the deletion budget): the app
 * is then OutOfSync and its commit status a failure, never "Synced". A prune that is off, or held back by a failed
 * fetch, render or apply, already has its verdict elsewhere and does not set it.
 */
export interface PrunePlan {
  blocked?: string;
  outOfSync?: boolean;
  decisions: PruneDecision[];
}

function blockedReason(outcome: RevisionOutcome, options: PruneOptions): string | undefined {
  if (!options.enabled) return 'pruning is disabled for this app';
  if (outcome.fetchFailed) return 'not pruning: fetching this revision failed';
  if (outcome.renderFailed) return 'not pruning: rendering this revision failed';
  if (outcome.failedApplies > 0) {
    const n = outcome.failedApplies;
    return `not pruning: ${n} object${n === 1 ? '' : 's'} failed to apply in this revision`;
  }
  if (outcome.desiredCount === 0 && !options.allowEmpty) {
    return 'not pruning: the desired set is empty (set allowEmpty to prune everything)';
  }
  return undefined;
}

/**
 * Decides, for each stale object, whether to delete it. Nothing is deleted when the revision's fetch, render or any
 * apply failed, when the desired set is empty (unless `allowEmpty`, which also lifts the budget), or when the
 * deletions exceed the budget (`maxDeleteFraction` of `inventorySize`, the number of objects the app owned before
 * this sync). Objects annotated `tether.dev/prune: disabled` (or an Argo CD/Flux alias, see annotations.ts),
 * protected kinds the app did not opt in to, objects already being deleted and adopted objects (unless
 * `pruneAdopted`) are kept. Deletions come in reverse apply order: workloads before the Namespaces and CRDs they
 * live in.
 */
export function planPrune(
  stale: readonly StaleObject[],
  inventorySize: number,
  outcome: RevisionOutcome,
  options: PruneOptions = defaultPruneOptions(),
): PrunePlan {
  const ordered = [...stale].sort((a, b) => compareRefs(b.ref, a.ref));
  const keepAll = (reason: string, outOfSync = false): PrunePlan => ({
    blocked: reason,
    ...(outOfSync ? { outOfSync } : {}),
    decisions: ordered.map((s) => ({ ref: s.ref, subject: s.subject, action: 'keep', reason })),
  });

  const blocked = blockedReason(outcome, options);
  if (blocked) return keepAll(blocked);

  const decisions: PruneDecision[] = ordered.map((s) => {
    const keep = (reason: string): PruneDecision => ({ ref: s.ref, subject: s.subject, action: 'keep', reason });
    const keptBy = pruneKeptBy(s.live);
    if (keptBy) return keep(keptBy);
    // Argo CD's Delete=false (and Flux's prune: disabled, which already kept it above) asks that the object outlive
    // its app: Git dropping it lets go of it rather than deleting it, so it does not stay stale forever.
    const neverDelete = deleteKeptBy(s.live);
    if (neverDelete) {
      const reason = `${neverDelete}: ${RELEASED}`;
      return { ref: s.ref, subject: s.subject, action: 'release', reason };
    }
    const gk = groupKind(s.ref);
    if (PROTECTED_KINDS.includes(gk) && !options.allowProtectedKinds.includes(gk)) {
      return keep(`${gk} is pruned only when the app opts in (allowProtectedKinds)`);
    }
    if (s.live.metadata.deletionTimestamp) return keep('already being deleted');
    if (s.adopted && !options.pruneAdopted) {
      return keep('adopted: Tether took it over but did not create it (set pruneAdopted: true to prune it)');
    }
    return { ref: s.ref, subject: s.subject, action: 'delete', reason: 'no longer in Git' };
  });

  const deletions = decisions.filter((d) => d.action === 'delete').length;
  const budget = Math.max(options.minDeleteBudget, inventorySize * options.maxDeleteFraction);
  // An empty render the app explicitly allows means "delete everything": the budget would only ever refuse it.
  const emptyAllowed = outcome.desiredCount === 0 && options.allowEmpty;
  if (deletions > budget && !emptyAllowed) {
    const pct = Math.round(options.maxDeleteFraction * 100);
    return keepAll(
      `prune blocked: ${deletions} of ${inventorySize} objects would be deleted, budget ${pct} % — ` +
        'check the revision; raise maxDeleteFraction to allow it',
      true,
    );
  }
  return { decisions };
}

/**
 * Sync entries for the objects a prune plan keeps (`skipped` with the reason); deletions and releases are recorded
 * when done.
 */
export function keptEntries(plan: PrunePlan): SyncEntry[] {
  return plan.decisions
    .filter((d) => d.action === 'keep')
    .map((d) => ({ subject: d.subject, action: 'skipped', reason: d.reason }));
}
