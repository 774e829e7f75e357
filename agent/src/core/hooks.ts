// Sync hooks as Argo CD runs them: objects annotated with a phase are not part of the app's desired state but run
// at a point of the sync, once per revision, and are waited on to completion. Pure: the flow (reconcile/hooks.ts)
// creates, watches and deletes them. https://argo-cd.readthedocs.io/en/stable/user-guide/resource_hooks/
import { type HookDeletePolicy, type HookPhase, objectSemantics } from './annotations.ts';
import { healthOf } from './health.ts';
import { groupOf } from './objects.ts';
import { kindRank } from './plan.ts';
import type { HookResult, K8sObject } from './types.ts';

export type { HookResult } from './types.ts';

/** A hook of the rendered set: the object (no ApplySet label: hooks are not members), its phases and policies. */
export interface Hook {
  object: K8sObject;
  phases: HookPhase[];
  deletePolicies: HookDeletePolicy[];
  wave: number;
}

/** The phases that run hooks, in the order a sync reaches them (`SyncFail` only when something failed). */
export const RUN_PHASES: readonly HookPhase[] = ['PreSync', 'Sync', 'PostSync', 'SyncFail'];

/**
 * Splits validated objects into the app's members and its hooks. `Skip` objects stay members (they are listed as
 * skipped and never written); an object naming `Skip` with other phases is a hook of those phases.
 */
export function splitHooks(objects: readonly K8sObject[]): { members: K8sObject[]; hooks: Hook[] } {
  const members: K8sObject[] = [];
  const hooks: Hook[] = [];
  for (const object of objects) {
    const s = objectSemantics(object);
    const phases = s.hooks.filter((p) => p !== 'Skip');
    if (phases.length === 0) members.push(object);
    else hooks.push({ object, phases, deletePolicies: s.hookDeletePolicies, wave: s.wave });
  }
  return { members, hooks };
}

/** The hooks of one phase in run order: by wave, then Helm's kind order, then name. */
export function hooksOf(hooks: readonly Hook[], phase: HookPhase): Hook[] {
  const name = (h: Hook) => h.object.metadata.name ?? String(h.object.metadata.generateName ?? '');
  return hooks
    .filter((h) => h.phases.includes(phase))
    .sort(
      (a, b) =>
        a.wave - b.wave ||
        kindRank({ group: groupOf(a.object), kind: a.object.kind }) -
          kindRank({ group: groupOf(b.object), kind: b.object.kind }) ||
        name(a).localeCompare(name(b)),
    );
}

/**
 * The hooks of one phase grouped into their waves, in run order: all hooks of a wave start together and the wave ends
 * when every one of them has ended, so a later wave may rely on everything an earlier one did (Argo CD runs the
 * hooks of a phase and wave the same way, and charts written for it expect that order).
 */
export function hookWaves(hooks: readonly Hook[], phase: HookPhase): Hook[][] {
  const waves: Hook[][] = [];
  for (const h of hooksOf(hooks, phase)) {
    const last = waves.at(-1);
    if (last && last[0]!.wave === h.wave) last.push(h);
    else waves.push([h]);
  }
  return waves;
}

/** The message of a phase that failed: every failed hook by name, with its message. */
export function hookFailureMessage(results: readonly HookResult[]): string | undefined {
  const failed = results.filter((r) => r.outcome === 'Failed');
  if (failed.length === 0) return undefined;
  const phase = failed[0]!.phase;
  if (failed.length === 1) return `${phase} hook ${failed[0]!.subject} failed: ${failed[0]!.message}`;
  return `${failed.length} ${phase} hooks failed: ${failed.map((r) => `${r.subject}: ${r.message}`).join('; ')}`;
}

/** Where a running hook stands: Jobs by their conditions, Pods by their phase, anything else by its health. */
export function hookState(live: K8sObject): { state: 'Running' | 'Succeeded' | 'Failed'; message: string } {
  const status = (live.status ?? {}) as {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    phase?: string;
  };
  if (live.kind === 'Job' && groupOf(live) === 'batch') {
    const c = status.conditions ?? [];
    const failed = c.find((x) => x.type === 'Failed' && x.status === 'True');
    if (failed) return { state: 'Failed', message: failed.message || failed.reason || 'job failed' };
    const done = c.find((x) => x.type === 'Complete' && x.status === 'True');
    if (done) return { state: 'Succeeded', message: 'job complete' };
    return { state: 'Running', message: 'job running' };
  }
  if (live.kind === 'Pod' && groupOf(live) === '') {
    if (status.phase === 'Succeeded') return { state: 'Succeeded', message: 'pod succeeded' };
    if (status.phase === 'Failed') return { state: 'Failed', message: 'pod failed' };
    return { state: 'Running', message: `pod ${status.phase ?? 'pending'}` };
  }
  const h = healthOf(live);
  if (h.status === 'Healthy' || h.status === 'Suspended') return { state: 'Succeeded', message: h.message };
  if (h.status === 'Degraded') return { state: 'Failed', message: h.message };
  return { state: 'Running', message: h.message };
}

/** Letters the apiserver uses for `generateName` suffixes (no vowels, no look-alikes). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A name for a `generateName` hook, made as the apiserver would: the prefix and five random letters. */
export function generatedName(prefix: string, random: () => number = Math.random): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[Math.floor(random() * NAME_ALPHABET.length)];
  return `${prefix.slice(0, 58)}${suffix}`;
}

/** Whether a delete policy removes the hook after it ended so. */
export function deleteAfter(policies: readonly HookDeletePolicy[], outcome: HookResult['outcome']): boolean {
  return (
    (outcome === 'Succeeded' && policies.includes('HookSucceeded')) ||
    (outcome === 'Failed' && policies.includes('HookFailed'))
  );
}
