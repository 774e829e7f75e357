import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { syncEvents } from '../src/core/app-events.ts';
import type { StaleObject } from '../src/core/inventory.ts';
import { refOf, subject } from '../src/core/objects.ts';
import {
  defaultPruneOptions,
  isReleased,
  keptEntries,
  type PruneOptions,
  planPrune,
  RELEASED,
  type RevisionOutcome,
} from '../src/core/prune.ts';
import type { K8sObject } from '../src/core/types.ts';

function stale(
  apiVersion: string,
  kind: string,
  name: string,
  namespace?: string,
  annotations?: Record<string, string>,
) {
  const live: K8sObject = { apiVersion, kind, metadata: { name } };
  if (namespace) live.metadata.namespace = namespace;
  if (annotations) live.metadata.annotations = annotations;
  return { ref: refOf(live), subject: subject(live), live } satisfies StaleObject;
}

const ok: RevisionOutcome = { fetchFailed: false, renderFailed: false, failedApplies: 0, desiredCount: 5 };
const cms = (n: number) => Array.from({ length: n }, (_, i) => stale('v1', 'ConfigMap', `c${i}`, 'web'));
const opts = (o: Partial<PruneOptions> = {}): PruneOptions => ({ ...defaultPruneOptions(), ...o });

describe('planPrune', () => {
  test('stale objects are deleted, in reverse apply order (workloads before their Namespace)', () => {
    const plan = planPrune(
      [
        stale('v1', 'Namespace', 'old'),
        stale('v1', 'ConfigMap', 'settings', 'old'),
        stale('apps/v1', 'Deployment', 'api', 'old'),
      ],
      10,
      ok,
      opts({ allowProtectedKinds: ['Namespace'] }),
    );
    assert.equal(plan.blocked, undefined);
    assert.deepEqual(
      plan.decisions.map((d) => [d.subject, d.action]),
      [
        ['Deployment/old/api', 'delete'],
        ['ConfigMap/old/settings', 'delete'],
        ['Namespace/old', 'delete'],
      ],
    );
  });

  test('nothing is pruned when fetch, render or any apply of this revision failed', () => {
    const cases: Array<[Partial<RevisionOutcome>, RegExp]> = [
      [{ fetchFailed: true }, /fetching this revision failed/],
      [{ renderFailed: true }, /rendering this revision failed/],
      [{ failedApplies: 1 }, /1 object failed to apply/],
      [{ failedApplies: 3 }, /3 objects failed to apply/],
    ];
    for (const [outcome, reason] of cases) {
      const plan = planPrune(cms(1), 10, { ...ok, ...outcome });
      assert.match(plan.blocked ?? '', reason);
      assert.ok(plan.decisions.every((d) => d.action === 'keep' && reason.test(d.reason)));
    }
  });

  test('an empty desired set prunes nothing unless the app allows it', () => {
    const empty = { ...ok, desiredCount: 0 };
    assert.match(planPrune(cms(1), 10, empty).blocked ?? '', /desired set is empty/);
    const allowed = planPrune(cms(1), 10, empty, opts({ allowEmpty: true }));
    assert.equal(allowed.blocked, undefined);
    assert.equal(allowed.decisions[0]!.action, 'delete');
  });

  test('an app with pruning off keeps everything, saying so', () => {
    const plan = planPrune(cms(2), 10, ok, opts({ enabled: false }));
    assert.equal(plan.blocked, 'pruning is disabled for this app');
    assert.equal(plan.decisions.length, 2);
  });

  test('tether.dev/prune: disabled is skipped', () => {
    const plan = planPrune(
      [
        stale('v1', 'ConfigMap', 'keep', 'web', { 'tether.dev/prune': 'disabled' }),
        stale('v1', 'ConfigMap', 'go', 'web'),
      ],
      10,
      ok,
    );
    assert.deepEqual(
      plan.decisions.map((d) => [d.subject, d.action, d.reason]),
      [
        ['ConfigMap/web/keep', 'keep', 'tether.dev/prune: disabled'],
        ['ConfigMap/web/go', 'delete', 'no longer in Git'],
      ],
    );
  });

  test('Namespaces, CRDs, PVCs and PVs are pruned only when the app opts in', () => {
    const protectedOnes = [
      stale('v1', 'Namespace', 'old'),
      stale('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'widgets.example.com'),
      stale('v1', 'PersistentVolumeClaim', 'data', 'web'),
      stale('v1', 'PersistentVolume', 'pv-1'),
    ];
    const kept = planPrune(protectedOnes, 10, ok);
    assert.ok(kept.decisions.every((d) => d.action === 'keep' && /only when the app opts in/.test(d.reason)));
    assert.match(
      kept.decisions.find((d) => d.subject === 'CustomResourceDefinition/widgets.example.com')!.reason,
      /^CustomResourceDefinition\.apiextensions\.k8s\.io /,
    );
    const optedIn = planPrune(protectedOnes, 10, ok, opts({ allowProtectedKinds: ['PersistentVolumeClaim'] }));
    assert.deepEqual(
      optedIn.decisions.filter((d) => d.action === 'delete').map((d) => d.subject),
      ['PersistentVolumeClaim/web/data'],
    );
  });

  test('objects already being deleted are left to finish', () => {
    const s = stale('v1', 'ConfigMap', 'x', 'web');
    s.live.metadata.deletionTimestamp = '2026-11-21T22:00:00Z';
    assert.deepEqual(
      planPrune([s], 10, ok).decisions.map((d) => [d.action, d.reason]),
      [['keep', 'already being deleted']],
    );
  });

  test('deletion budget: more than half of the inventory refuses the whole prune, with a reason', () => {
    assert.equal(planPrune(cms(5), 10, ok).blocked, undefined);
    const plan = planPrune(cms(6), 10, ok);
    assert.match(plan.blocked ?? '', /^prune blocked: 6 of 10 objects would be deleted, budget 50 % — /);
    assert.ok(plan.decisions.every((d) => d.action === 'keep'));
    assert.equal(planPrune(cms(6), 10, ok, opts({ maxDeleteFraction: 0.6 })).blocked, undefined);
  });

  test('a blocked budget marks the app OutOfSync; other blocks carry their verdict elsewhere', () => {
    assert.equal(planPrune(cms(90), 101, ok).outOfSync, true);
    assert.match(planPrune(cms(90), 101, ok).blocked ?? '', /^prune blocked: 90 of 101 objects would be deleted/);
    assert.equal(planPrune(cms(1), 10, { ...ok, desiredCount: 0 }).outOfSync, undefined);
    assert.equal(planPrune(cms(1), 10, ok, opts({ enabled: false })).outOfSync, undefined);
    assert.equal(planPrune(cms(1), 10, { ...ok, failedApplies: 1 }).outOfSync, undefined);
  });

  test('allowEmpty lifts the budget for an empty render, and only for it', () => {
    const empty = { ...ok, desiredCount: 0 };
    const plan = planPrune(cms(101), 101, empty, opts({ allowEmpty: true }));
    assert.equal(plan.blocked, undefined);
    assert.equal(plan.decisions.filter((d) => d.action === 'delete').length, 101);
    assert.equal(planPrune(cms(90), 101, ok, opts({ allowEmpty: true })).outOfSync, true);
  });

  test('an adopted object is kept unless the app consents to pruning what it did not create', () => {
    const adopted = { ...stale('v1', 'ConfigMap', 'hand-made', 'web'), adopted: true };
    const kept = planPrune([adopted], 10, ok);
    assert.equal(kept.decisions[0]?.action, 'keep');
    assert.match(kept.decisions[0]?.reason ?? '', /adopted.*pruneAdopted: true/);
    assert.equal(planPrune([adopted], 10, ok, opts({ pruneAdopted: true })).decisions[0]?.action, 'delete');
  });

  test('the budget counts only real deletions, and one deletion is always allowed', () => {
    const withSkips = [...cms(5), stale('v1', 'ConfigMap', 'keep', 'web', { 'tether.dev/prune': 'disabled' })];
    assert.equal(planPrune(withSkips, 10, ok).blocked, undefined);
    assert.equal(planPrune(cms(1), 1, ok).blocked, undefined); // renaming the only object of an app
    assert.match(planPrune(cms(2), 2, ok).blocked ?? '', /2 of 2 objects/);
    assert.match(planPrune(cms(1), 1, ok, opts({ minDeleteBudget: 0 })).blocked ?? '', /1 of 1 objects/);
  });

  test('kept objects become skipped sync entries with their reason', () => {
    const plan = planPrune(
      [
        stale('v1', 'ConfigMap', 'keep', 'web', { 'tether.dev/prune': 'disabled' }),
        stale('v1', 'ConfigMap', 'go', 'web'),
      ],
      10,
      ok,
    );
    assert.deepEqual(keptEntries(plan), [
      { subject: 'ConfigMap/web/keep', action: 'skipped', reason: 'tether.dev/prune: disabled' },
    ]);
  });
});

describe('Delete=false', () => {
  const argo = (options: string) => ({ 'argocd.argoproj.io/sync-options': options });

  test('an object that must never be deleted is released: left in place, out of the inventory, with an Event', () => {
    const plan = planPrune(
      [
        stale('v1', 'ConfigMap', 'keep-me', 'web', argo('Delete=false')),
        stale('v1', 'ConfigMap', 'kept-member', 'web', argo('Prune=false,Delete=false')),
        stale('v1', 'ConfigMap', 'gone', 'web'),
      ],
      10,
      ok,
      opts(),
    );
    assert.deepEqual(plan.decisions.map((d) => [d.subject, d.action]).sort(), [
      ['ConfigMap/web/gone', 'delete'],
      ['ConfigMap/web/keep-me', 'release'],
      ['ConfigMap/web/kept-member', 'keep'],
    ]);
    const released = plan.decisions.find((d) => d.action === 'release')!;
    assert.equal(released.reason, `argocd.argoproj.io/sync-options: Delete=false: ${RELEASED}`);
    const entry = { subject: released.subject, action: 'skipped' as const, reason: released.reason };
    assert.equal(isReleased(entry), true);
    assert.equal(isReleased({ subject: 'x', action: 'skipped', reason: 'pruning is disabled for this app' }), false);
    const events = syncEvents({ revision: 'abcdef123', entries: [entry], noop: false }, 'old');
    assert.deepEqual(
      events.map((e) => [e.reason, e.message]),
      [
        ['Synced', 'Synced abcdef1: 1 changed, 1 total'],
        ['Released', 'Left in place and no longer managed (Delete=false): ConfigMap/web/keep-me'],
      ],
    );
  });

  test('a release does not count against the deletion budget, and a blocked prune releases nothing', () => {
    const many = Array.from({ length: 6 }, (_, i) => stale('v1', 'ConfigMap', `k${i}`, 'web', argo('Delete=false')));
    assert.ok(planPrune(many, 6, ok, opts()).decisions.every((d) => d.action === 'release'));
    const failed = planPrune(many, 6, { ...ok, failedApplies: 1 }, opts());
    assert.ok(failed.decisions.every((d) => d.action === 'keep'));
  });
});
