// What an object's annotations ask of a sync: its wave, whether it is a hook, and the per-object options Argo CD,
// Helm and Flux users already write. Tether reads its own `tether.dev/*` annotations and these tools' as aliases, so
// manifests written for Argo CD or Flux, and Helm charts with hooks, sync without edits; where both are present,
// Tether's own annotation wins. Pure: every function reads only the object it is given.
import { TetherError } from '../../../shared/src/errors.ts';
import type { K8sObject } from './types.ts';

/** Every annotation key Tether reads from objects, its own and its aliases. */
export const ANNOTATION_KEYS = {
  tetherPrune: 'tether.dev/prune',
  tetherSyncWave: 'tether.dev/sync-wave',
  tetherSelfHeal: 'tether.dev/self-heal',
  tetherHook: 'tether.dev/hook',
  tetherHookDeletePolicy: 'tether.dev/hook-delete-policy',
  argoSyncWave: 'argocd.argoproj.io/sync-wave',
  argoHook: 'argocd.argoproj.io/hook',
  argoHookDeletePolicy: 'argocd.argoproj.io/hook-delete-policy',
  argoSyncOptions: 'argocd.argoproj.io/sync-options',
  argoCompareOptions: 'argocd.argoproj.io/compare-options',
  helmHook: 'helm.sh/hook',
  helmHookWeight: 'helm.sh/hook-weight',
  helmHookDeletePolicy: 'helm.sh/hook-delete-policy',
  fluxPrune: 'kustomize.toolkit.fluxcd.io/prune',
  fluxReconcile: 'kustomize.toolkit.fluxcd.io/reconcile',
  fluxSsa: 'kustomize.toolkit.fluxcd.io/ssa',
} as const;

/** The phases a hook can run in (Argo CD's names); `Skip` means "never apply this object". */
export type HookPhase = 'PreSync' | 'Sync' | 'PostSync' | 'SyncFail' | 'PreDelete' | 'PostDelete' | 'Skip';

/** When a finished hook object is deleted (Argo CD's names; Helm's are mapped onto them). */
export type HookDeletePolicy = 'HookSucceeded' | 'HookFailed' | 'BeforeHookCreation';

/**
 * How an object is written: `apply` always (server-side apply, the default); `ifNotPresent` creates it when missing
 * and never updates or heals it afterwards; `ignore` never writes it (Flux's `ssa: Ignore` and `reconcile: disabled`).
 */
export type WriteMode = 'apply' | 'ifNotPresent' | 'ignore';

/** What an object's annotations ask of a sync, with where each non-default answer came from. */
export interface ObjectSemantics {
  /** Sync wave: lower first; default 0. */
  wave: number;
  /** Hook phases, empty for an ordinary object. An object may name several (`PreSync,PostSync`). */
  hooks: HookPhase[];
  /** Delete policies of a hook (default `BeforeHookCreation`); empty for an ordinary object. */
  hookDeletePolicies: HookDeletePolicy[];
  /** Undefined when the object may be pruned; otherwise the annotation that keeps it (`argocd…/sync-options: Prune=false`). */
  pruneDisabledBy?: string;
  /** Undefined when the object is deleted with its app; otherwise the annotation that keeps it. */
  deleteDisabledBy?: string;
  /** True when the object asks for its namespace to be created (`CreateNamespace=true`). */
  createNamespace: boolean;
  /** True when a live object that Git no longer has is neither reported nor pruned (`IgnoreExtraneous`). */
  ignoreExtraneous: boolean;
  /** Undefined when drift is healed; otherwise the annotation that turns self-heal off for this object. */
  selfHealDisabledBy?: string;
  /** How the object is written. */
  write: WriteMode;
  /** The annotation that set `write`, when not the default. */
  writeSetBy?: string;
}

/** The phases Tether accepts in `tether.dev/hook` and `argocd.argoproj.io/hook`. */
export const HOOK_PHASES: readonly HookPhase[] = [
  'PreSync',
  'Sync',
  'PostSync',
  'SyncFail',
  'PreDelete',
  'PostDelete',
  'Skip',
];

/** Helm's hook names Tether maps (Argo CD maps the same ones); any other Helm hook is never applied (`Skip`). */
export const HELM_HOOK_PHASES: Readonly<Record<string, HookPhase>> = {
  'pre-install': 'PreSync',
  'pre-upgrade': 'PreSync',
  'post-install': 'PostSync',
  'post-upgrade': 'PostSync',
  // Run only when the app is removed with cascade (reconcile/hooks.ts runDeleteHooks), as `helm uninstall` does.
  'pre-delete': 'PreDelete',
  'post-delete': 'PostDelete',
};

const DELETE_POLICIES: readonly HookDeletePolicy[] = ['HookSucceeded', 'HookFailed', 'BeforeHookCreation'];

const HELM_DELETE_POLICIES: Readonly<Record<string, HookDeletePolicy>> = {
  'hook-succeeded': 'HookSucceeded',
  'hook-failed': 'HookFailed',
  'before-hook-creation': 'BeforeHookCreation',
};

/**
 * Argo CD sync options that Tether already does or that have no meaning for it, so they are accepted and ignored:
 * every apply is server-side with a dry-run first, and pruning always runs after the applies.
 * https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/
 */
const ARGO_OPTIONS_NOOP = new Set([
  'ServerSideApply=true',
  'Validate=true',
  'Validate=false',
  'SkipDryRunOnMissingResource=true',
  'ApplyOutOfSyncOnly=true',
  'PruneLast=true',
  'RespectIgnoreDifferences=true',
  'Prune=true',
  'Delete=true',
  'CreateNamespace=false',
]);

/**
 * Argo CD sync options Tether refuses, with why. Ignoring them silently would change what the user asked for:
 * `Replace=true` deletes and recreates (or replaces) the object, `Force=true` deletes it when an apply is refused.
 */
const ARGO_OPTIONS_REFUSED: Readonly<Record<string, string>> = {
  'Replace=true': 'Tether only applies server-side and never replaces objects; remove the option',
  'Force=true': 'Tether never deletes an object to get an apply through; remove the option',
  'ServerSideApply=false': 'Tether always applies server-side; remove the option',
  'Prune=confirm': 'Tether has no manual confirmation; use Prune=false to keep the object',
  'Delete=confirm': 'Tether has no manual confirmation; use Delete=false to keep the object',
};

/** Argo CD compare options Tether accepts without effect (it compares with server-side dry-runs anyway). */
const ARGO_COMPARE_NOOP = new Set(['ServerSideDiff=true', 'ServerSideDiff=false', 'IncludeMutationWebhook=true']);

function who(obj: K8sObject): string {
  const m = obj.metadata;
  const name = m.name ?? (m.generateName ? `${m.generateName}*` : '<no name>');
  return m.namespace ? `${obj.kind}/${m.namespace}/${name}` : `${obj.kind}/${name}`;
}

function bad(obj: K8sObject, key: string, raw: string, expected: string): TetherError {
  return new TetherError('input', `${who(obj)}: annotation ${key} ${expected}, got ${JSON.stringify(raw)}`);
}

/** Comma-separated values, trimmed, empty items dropped (`"PreSync, PostSync"`). */
function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function integer(obj: K8sObject, key: string, raw: string): number {
  const text = String(raw).trim();
  const n = Number(text);
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(n)) throw bad(obj, key, raw, 'must be an integer');
  return n;
}

/** The first of `keys` the object carries, with its value. */
function first(obj: K8sObject, keys: readonly string[]): { key: string; value: string } | undefined {
  const a = obj.metadata.annotations;
  if (!a) return undefined;
  for (const key of keys) {
    const value = a[key];
    if (value !== undefined) return { key, value: String(value) };
  }
  return undefined;
}

/**
 * The object's sync wave: `tether.dev/sync-wave`, else `argocd.argoproj.io/sync-wave`, else `helm.sh/hook-weight`
 * (Argo CD orders Helm hooks by their weight the same way). Default 0. Anything but an integer is an error naming the
 * object, rather than a silent 0 that would reorder a rollout.
 */
export function syncWave(obj: K8sObject): number {
  const k = ANNOTATION_KEYS;
  const found = first(obj, [k.tetherSyncWave, k.argoSyncWave, k.helmHookWeight]);
  return found ? integer(obj, found.key, found.value) : 0;
}

/** The object's hook phases (empty when it is not a hook); throws naming the object on an unknown phase. */
export function hookPhases(obj: K8sObject): HookPhase[] {
  const k = ANNOTATION_KEYS;
  const own = first(obj, [k.tetherHook, k.argoHook]);
  if (own) {
    const phases = list(own.value);
    if (phases.length === 0) throw bad(obj, own.key, own.value, `must name a phase (${HOOK_PHASES.join(', ')})`);
    for (const p of phases) {
      if (!HOOK_PHASES.includes(p as HookPhase)) {
        throw bad(obj, own.key, own.value, `must be one or more of ${HOOK_PHASES.join(', ')}`);
      }
    }
    return [...new Set(phases as HookPhase[])];
  }
  const helm = first(obj, [k.helmHook]);
  if (!helm) return [];
  // `crd-install` was Helm 2's way to install CRDs first; Argo CD applies such objects as ordinary ones, and so does
  // Tether (CRDs are applied before every wave anyway).
  const names = list(helm.value).filter((h) => h !== 'crd-install');
  if (names.length === 0) return [];
  const phases = [...new Set(names.map((h) => HELM_HOOK_PHASES[h]).filter((p): p is HookPhase => p !== undefined))];
  // Only rollback/test hooks: Helm runs them outside an install, upgrade or uninstall, which Tether never does.
  return phases.length > 0 ? phases : ['Skip'];
}

/** The delete policies of a hook: Tether's, else Argo CD's, else Helm's; `BeforeHookCreation` by default. */
export function hookDeletePolicies(obj: K8sObject): HookDeletePolicy[] {
  const k = ANNOTATION_KEYS;
  const own = first(obj, [k.tetherHookDeletePolicy, k.argoHookDeletePolicy]);
  if (own) {
    const values = list(own.value);
    for (const v of values) {
      if (!DELETE_POLICIES.includes(v as HookDeletePolicy)) {
        throw bad(obj, own.key, own.value, `must be one or more of ${DELETE_POLICIES.join(', ')}`);
      }
    }
    return values.length > 0 ? [...new Set(values as HookDeletePolicy[])] : ['BeforeHookCreation'];
  }
  const helm = first(obj, [k.helmHookDeletePolicy]);
  if (helm) {
    const values = list(helm.value);
    const mapped = values.map((v) => HELM_DELETE_POLICIES[v]);
    if (mapped.some((m) => m === undefined)) {
      throw bad(obj, helm.key, helm.value, `must be one or more of ${Object.keys(HELM_DELETE_POLICIES).join(', ')}`);
    }
    return values.length > 0 ? [...new Set(mapped as HookDeletePolicy[])] : ['BeforeHookCreation'];
  }
  return ['BeforeHookCreation'];
}

/** Parsed `argocd.argoproj.io/sync-options`: the options Tether acts on. Throws on refused or unknown ones. */
function argoSyncOptions(obj: K8sObject): { prune: boolean; delete: boolean; createNamespace: boolean } {
  const key = ANNOTATION_KEYS.argoSyncOptions;
  const raw = obj.metadata.annotations?.[key];
  const out = { prune: true, delete: true, createNamespace: false };
  if (raw === undefined) return out;
  for (const option of list(String(raw))) {
    if (option === 'Prune=false') out.prune = false;
    else if (option === 'Delete=false') out.delete = false;
    else if (option === 'CreateNamespace=true') out.createNamespace = true;
    else if (ARGO_OPTIONS_REFUSED[option]) {
      throw new TetherError(
        'input',
        `${who(obj)}: ${key}: ${option} is not supported: ${ARGO_OPTIONS_REFUSED[option]}`,
      );
    } else if (!ARGO_OPTIONS_NOOP.has(option)) {
      throw new TetherError('input', `${who(obj)}: ${key}: unknown option ${JSON.stringify(option)}`);
    }
  }
  return out;
}

/** True when `argocd.argoproj.io/compare-options` says `IgnoreExtraneous`; throws on unknown options. */
function argoIgnoreExtraneous(obj: K8sObject): boolean {
  const key = ANNOTATION_KEYS.argoCompareOptions;
  const raw = obj.metadata.annotations?.[key];
  if (raw === undefined) return false;
  let ignore = false;
  for (const option of list(String(raw))) {
    if (option === 'IgnoreExtraneous') ignore = true;
    else if (!ARGO_COMPARE_NOOP.has(option)) {
      throw new TetherError('input', `${who(obj)}: ${key}: unknown option ${JSON.stringify(option)}`);
    }
  }
  return ignore;
}

function enabledOrDisabled(obj: K8sObject, key: string): boolean | undefined {
  const raw = obj.metadata.annotations?.[key];
  if (raw === undefined) return undefined;
  if (raw === 'disabled') return false;
  if (raw === 'enabled') return true;
  throw bad(obj, key, String(raw), 'must be "enabled" or "disabled"');
}

/** How to write the object, from Flux's `ssa` and `reconcile` annotations. */
function writeMode(obj: K8sObject): { write: WriteMode; writeSetBy?: string } {
  const k = ANNOTATION_KEYS;
  if (enabledOrDisabled(obj, k.fluxReconcile) === false) {
    return { write: 'ignore', writeSetBy: `${k.fluxReconcile}: disabled` };
  }
  const raw = obj.metadata.annotations?.[k.fluxSsa];
  if (raw === undefined) return { write: 'apply' };
  // Flux's values are case-insensitive (kustomize-controller compares with strings.ToLower).
  switch (String(raw).toLowerCase()) {
    case 'ifnotpresent':
      return { write: 'ifNotPresent', writeSetBy: `${k.fluxSsa}: ${raw}` };
    case 'ignore':
      return { write: 'ignore', writeSetBy: `${k.fluxSsa}: ${raw}` };
    // Merge keeps fields other managers set: server-side apply already leaves fields Tether does not own alone.
    case 'merge':
    case 'override':
      return { write: 'apply' };
    default:
      throw bad(obj, k.fluxSsa, String(raw), 'must be IfNotPresent, Ignore, Merge or Override');
  }
}

/**
 * Everything the object's annotations ask of a sync, Tether's own annotation winning over its aliases. Throws one
 * TetherError (`input`) naming the object and the annotation on the first value it cannot honour.
 */
export function objectSemantics(obj: K8sObject): ObjectSemantics {
  // Without annotations every answer is the default (most objects; asked several times per object and sync).
  if (obj.metadata.annotations === undefined) return defaultSemantics();
  const k = ANNOTATION_KEYS;
  const argo = argoSyncOptions(obj);
  const hooks = hookPhases(obj);
  const out: ObjectSemantics = {
    wave: syncWave(obj),
    hooks,
    hookDeletePolicies: hooks.length > 0 ? hookDeletePolicies(obj) : [],
    createNamespace: argo.createNamespace,
    ignoreExtraneous: argoIgnoreExtraneous(obj),
    ...writeMode(obj),
  };

  const ownPrune = enabledOrDisabled(obj, k.tetherPrune);
  if (ownPrune === false) out.pruneDisabledBy = `${k.tetherPrune}: disabled`;
  else if (ownPrune === undefined) {
    if (!argo.prune) out.pruneDisabledBy = `${k.argoSyncOptions}: Prune=false`;
    else if (enabledOrDisabled(obj, k.fluxPrune) === false) out.pruneDisabledBy = `${k.fluxPrune}: disabled`;
  }
  // Flux's prune annotation also keeps the object when its Kustomization is deleted.
  if (!argo.delete) out.deleteDisabledBy = `${k.argoSyncOptions}: Delete=false`;
  else if (ownPrune === undefined && enabledOrDisabled(obj, k.fluxPrune) === false) {
    out.deleteDisabledBy = `${k.fluxPrune}: disabled`;
  }

  if (enabledOrDisabled(obj, k.tetherSelfHeal) === false) out.selfHealDisabledBy = `${k.tetherSelfHeal}: disabled`;
  else if (out.write !== 'apply') out.selfHealDisabledBy = out.writeSetBy;
  return out;
}

/** The semantics of an object without annotations. */
function defaultSemantics(): ObjectSemantics {
  return {
    wave: 0,
    hooks: [],
    hookDeletePolicies: [],
    createNamespace: false,
    ignoreExtraneous: false,
    write: 'apply',
  };
}

/**
 * Why a live object must not be pruned, read from its own annotations, or undefined when it may be. An annotation
 * Tether cannot parse keeps the object (and says so): deleting is the one step that cannot be undone.
 */
export function pruneKeptBy(live: K8sObject): string | undefined {
  try {
    const s = objectSemantics(live);
    if (s.pruneDisabledBy) return s.pruneDisabledBy;
    if (s.ignoreExtraneous) return `${ANNOTATION_KEYS.argoCompareOptions}: IgnoreExtraneous`;
    return undefined;
  } catch (err) {
    return `unreadable annotation, kept: ${(err as Error).message}`;
  }
}

/**
 * Why a live object must never be deleted by Tether (`argocd.argoproj.io/sync-options: Delete=false`, or Flux's
 * `kustomize.toolkit.fluxcd.io/prune: disabled`), or undefined. Such an object that Git drops, or whose app is
 * removed with cascade, is left in place and let go: taken out of the inventory instead of deleted.
 */
export function deleteKeptBy(live: K8sObject): string | undefined {
  try {
    return objectSemantics(live).deleteDisabledBy;
  } catch {
    // pruneKeptBy keeps an object whose annotations cannot be read; it never reaches the deletion.
    return undefined;
  }
}

/**
 * Why a sync must not write `obj` now, or undefined when it applies it: a `Skip` hook is never applied, Flux's
 * `ssa: Ignore`/`reconcile: disabled` objects are left as they are, and `ssa: IfNotPresent` ones only get created.
 */
export function applySkipReason(obj: K8sObject, exists: boolean): string | undefined {
  const s = objectSemantics(obj);
  if (s.hooks.includes('Skip')) return 'hook Skip: never applied';
  if (s.write === 'ignore') return `${s.writeSetBy}: not applied`;
  if (s.write === 'ifNotPresent' && exists) return `${s.writeSetBy}: exists, not updated`;
  return undefined;
}

/** True when the object counts toward the app's health: never for a `Skip` hook or an object Tether never writes. */
export function judgedForHealth(obj: K8sObject): boolean {
  const s = objectSemantics(obj);
  return !s.hooks.includes('Skip') && s.write !== 'ignore';
}
