// Runs the sync hooks of one phase, a wave at a time: each is created afresh, waited on until it succeeds or fails, and deleted as its
// policy says. Hooks are not ApplySet members: they carry no part-of label, so they are never pruned or healed.
import { describeError } from '../../../shared/src/errors.ts';
import {
  deleteAfter,
  generatedName,
  type Hook,
  type HookResult,
  hookFailureMessage,
  hookState,
  hookWaves,
} from '../core/hooks.ts';
import type { ResourceType } from '../core/kube-port.ts';
import { explainMissingNamespace } from '../core/namespaces.ts';
import { subject } from '../core/objects.ts';
import type { K8sObject } from '../core/types.ts';
import { formatMs } from '../core/waves.ts';
import { type ClusterDeps, resolveType } from './cluster.ts';

/** Options of running hooks. */
export interface RunHooksOptions {
  /** How long one wave of hooks may run (from its start) before the hooks still running count as failed. */
  timeoutMs: number;
  /** How often a running hook is re-read. */
  pollMs: number;
  /** Shutdown: stops waiting (the hook counts as failed, saying so). */
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs the hooks of `phase` wave by wave, as gitops-engine does: every hook of a wave is created at once and the wave
 * is waited on as a whole (`timeoutMs` is the wave's), then the next wave starts. A wave in which any hook failed ends
 * the phase once all its hooks have ended, as Argo CD waits for the running hooks before it fails the operation; the
 * later waves do not run. Returns every result; never throws.
 */
export async function runHooks(
  deps: ClusterDeps,
  hooks: readonly Hook[],
  phase: HookResult['phase'],
  options: RunHooksOptions,
): Promise<HookResult[]> {
  const results: HookResult[] = [];
  for (const wave of hookWaves(hooks, phase)) {
    const deadline = performance.now() + options.timeoutMs;
    const ran = await Promise.all(wave.map((hook) => runHook(deps, hook, phase, options, deadline)));
    results.push(...ran);
    if (ran.some((r) => r.outcome === 'Failed')) break;
  }
  return results;
}

/** What removing an app with its deletion hooks did: the hook results, and whether the members were deleted. */
export interface DeleteHooksOutcome {
  results: HookResult[];
  /** False when a PreDelete hook failed: nothing of the app was deleted. */
  removed: boolean;
  /** Why the removal stopped or what failed, naming the hook or the deletion. */
  error?: string;
}

/**
 * Removing an app with cascade, as Argo CD runs its deletion hooks
 * (https://argo-cd.readthedocs.io/en/stable/user-guide/resource_hooks/#hook-phases): the `PreDelete` hooks run
 * first, wave by wave, and a failed one stops the removal before anything is deleted; then `deleteMembers` (the
 * caller's cascade: prune every member through the guardrails, delete the parent); then the `PostDelete` hooks.
 * Helm's `pre-delete`/`post-delete` hooks map onto the same phases. Hooks of the sync phases are not run. Never
 * throws: a failing `deleteMembers` is reported and PostDelete hooks are not run after it.
 */
export async function runDeleteHooks(
  deps: ClusterDeps,
  hooks: readonly Hook[],
  deleteMembers: () => Promise<void>,
  options: RunHooksOptions,
): Promise<DeleteHooksOutcome> {
  const pre = await runHooks(deps, hooks, 'PreDelete', options);
  const preFailed = hookFailureMessage(pre);
  if (preFailed) {
    return { results: pre, removed: false, error: `${preFailed}; nothing of the app was deleted` };
  }
  try {
    await deleteMembers();
  } catch (err) {
    return { results: pre, removed: false, error: `deleting the app's objects: ${describeError(err)}` };
  }
  const post = await runHooks(deps, hooks, 'PostDelete', options);
  const postFailed = hookFailureMessage(post);
  return { results: [...pre, ...post], removed: true, ...(postFailed ? { error: postFailed } : {}) };
}

async function runHook(
  deps: ClusterDeps,
  hook: Hook,
  phase: HookResult['phase'],
  options: RunHooksOptions,
  deadline: number,
): Promise<HookResult> {
  const t0 = performance.now();
  const obj = structuredClone(hook.object);
  if (!obj.metadata.name) {
    obj.metadata.name = generatedName(String(obj.metadata.generateName));
    delete obj.metadata.generateName;
  }
  const who = subject(obj);
  const done = (outcome: HookResult['outcome'], message: string, deleted = false): HookResult => ({
    phase,
    subject: who,
    outcome,
    message,
    durationMs: Math.round(performance.now() - t0),
    deleted,
  });
  let type: ResourceType;
  try {
    type = await resolveType(deps.discovery, obj.apiVersion, obj.kind);
    // BeforeHookCreation (the default): the previous run's object goes first, so the hook runs again.
    if (hook.deletePolicies.includes('BeforeHookCreation')) await deleteAndWait(deps, type, obj, options, deadline);
    await deps.kube.apply(type, obj);
  } catch (err) {
    return done('Failed', `creating it: ${explainMissingNamespace(describeError(err))}`);
  }

  let state: ReturnType<typeof hookState> = { state: 'Running', message: 'created' };
  for (;;) {
    try {
      const live = await deps.kube.get(type, obj.metadata.name, obj.metadata.namespace);
      state = live ? hookState(live) : { state: 'Failed', message: 'deleted while running' };
    } catch (err) {
      state = { state: 'Running', message: `cannot read it: ${describeError(err)}` };
    }
    if (state.state !== 'Running') break;
    if (options.signal?.aborted) {
      state = { state: 'Failed', message: `stopped by shutdown while ${state.message}` };
      break;
    }
    if (performance.now() >= deadline) {
      state = { state: 'Failed', message: `not finished after ${formatMs(options.timeoutMs)}: ${state.message}` };
      break;
    }
    await sleep(options.pollMs, options.signal);
  }

  const outcome = state.state === 'Succeeded' ? 'Succeeded' : 'Failed';
  if (!deleteAfter(hook.deletePolicies, outcome)) return done(outcome, state.message);
  try {
    await deps.kube.delete(type, obj.metadata.name, obj.metadata.namespace, { propagationPolicy: 'Background' });
    return done(outcome, state.message, true);
  } catch (err) {
    return done(outcome, `${state.message}; deleting it failed: ${describeError(err)}`);
  }
}

/** Deletes the object if it exists and waits (within the wave's deadline) until it is gone, so its name is free. */
async function deleteAndWait(
  deps: ClusterDeps,
  type: ResourceType,
  obj: K8sObject,
  options: RunHooksOptions,
  deadline: number,
): Promise<void> {
  const { name, namespace } = obj.metadata;
  if (!(await deps.kube.delete(type, name, namespace, { propagationPolicy: 'Background' }))) return;
  while (await deps.kube.get(type, name, namespace)) {
    if (performance.now() >= deadline || options.signal?.aborted) {
      throw new Error(`the previous ${subject(obj)} is still being deleted`);
    }
    await sleep(Math.min(options.pollMs, 200), options.signal);
  }
}
