import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TetherError } from '../../shared/src/errors.ts';
import {
  applySkipReason,
  hookDeletePolicies,
  hookPhases,
  judgedForHealth,
  objectSemantics,
  pruneKeptBy,
  syncWave,
} from '../src/core/annotations.ts';
import { planSync } from '../src/core/plan.ts';
import { planPrune } from '../src/core/prune.ts';
import type { K8sObject } from '../src/core/types.ts';

const obj = (name: string, annotations: Record<string, string> = {}, kind = 'Job'): K8sObject => ({
  apiVersion: kind === 'Job' ? 'batch/v1' : 'v1',
  kind,
  metadata: { name, namespace: 'web', annotations },
});

function throwsNaming(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TetherError);
    for (const p of parts) assert.ok(err.message.includes(p), `${err.message} should mention ${p}`);
    return true;
  });
}

describe('sync waves', () => {
  test('Tether, then Argo CD, then Helm hook weight; default 0', () => {
    assert.equal(syncWave(obj('a')), 0);
    assert.equal(syncWave(obj('a', { 'argocd.argoproj.io/sync-wave': '-3' })), -3);
    assert.equal(syncWave(obj('a', { 'helm.sh/hook-weight': '7' })), 7);
    assert.equal(syncWave(obj('a', { 'tether.dev/sync-wave': '2', 'argocd.argoproj.io/sync-wave': '9' })), 2);
    assert.equal(syncWave(obj('a', { 'argocd.argoproj.io/sync-wave': '4', 'helm.sh/hook-weight': '1' })), 4);
  });

  test('a bad alias names the object and the annotation', () => {
    throwsNaming(() => syncWave(obj('a', { 'argocd.argoproj.io/sync-wave': 'one' })), 'Job/web/a', 'argocd');
  });

  test('planSync orders by the alias waves', () => {
    const plan = planSync([
      obj('late', { 'argocd.argoproj.io/sync-wave': '5' }),
      obj('early', { 'helm.sh/hook-weight': '-1' }),
      obj('zero'),
    ]);
    assert.deepEqual(
      plan.steps.map((s) => [s.wave, s.objects.map((o) => o.metadata.name)]),
      [
        [-1, ['early']],
        [0, ['zero']],
        [5, ['late']],
      ],
    );
  });
});

describe('hooks', () => {
  test('Tether and Argo CD phases, several per object, Tether first', () => {
    assert.deepEqual(hookPhases(obj('a')), []);
    assert.deepEqual(hookPhases(obj('a', { 'argocd.argoproj.io/hook': 'PreSync, PostSync' })), ['PreSync', 'PostSync']);
    assert.deepEqual(
      hookPhases(
        obj('a', { 'tether.dev/hook': 'SyncFail', 'argocd.argoproj.io/hook': 'PreSync', 'helm.sh/hook': 'x' }),
      ),
      ['SyncFail'],
    );
    throwsNaming(() => hookPhases(obj('a', { 'tether.dev/hook': 'PreSynk' })), 'Job/web/a', 'PreSynk');
  });

  test('Helm hooks map onto phases; test/rollback hooks are skipped; crd-install is ordinary', () => {
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'pre-install,pre-upgrade' })), ['PreSync']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'post-install' })), ['PostSync']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'post-upgrade' })), ['PostSync']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'pre-install,post-install' })), ['PreSync', 'PostSync']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'test' })), ['Skip']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'pre-rollback' })), ['Skip']);
    // Deletion hooks run only when the app is removed (runDeleteHooks), never in a sync.
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'pre-delete' })), ['PreDelete']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'post-delete' })), ['PostDelete']);
    assert.deepEqual(hookPhases(obj('a', { 'argocd.argoproj.io/hook': 'PreDelete' })), ['PreDelete']);
    assert.deepEqual(hookPhases(obj('a', { 'helm.sh/hook': 'crd-install' })), []);
  });

  test('delete policies: BeforeHookCreation by default, Helm names mapped, Tether first', () => {
    assert.deepEqual(hookDeletePolicies(obj('a')), ['BeforeHookCreation']);
    assert.deepEqual(hookDeletePolicies(obj('a', { 'helm.sh/hook-delete-policy': 'hook-succeeded,hook-failed' })), [
      'HookSucceeded',
      'HookFailed',
    ]);
    assert.deepEqual(
      hookDeletePolicies(
        obj('a', {
          'tether.dev/hook-delete-policy': 'HookFailed',
          'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded',
        }),
      ),
      ['HookFailed'],
    );
    throwsNaming(() => hookDeletePolicies(obj('a', { 'helm.sh/hook-delete-policy': 'always' })), 'always');
    throwsNaming(() => hookDeletePolicies(obj('a', { 'argocd.argoproj.io/hook-delete-policy': 'Never' })), 'Never');
  });

  test('a Skip hook is never applied nor judged for health', () => {
    const skip = obj('a', { 'argocd.argoproj.io/hook': 'Skip' });
    assert.match(applySkipReason(skip, false) ?? '', /Skip/);
    assert.equal(judgedForHealth(skip), false);
    assert.equal(judgedForHealth(obj('b')), true);
  });
});

describe('Argo CD sync and compare options', () => {
  test('Prune=false, Delete=false, CreateNamespace=true; harmless options accepted', () => {
    const s = objectSemantics(
      obj('a', {
        'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false, CreateNamespace=true,ServerSideApply=true',
      }),
    );
    assert.equal(s.pruneDisabledBy, 'argocd.argoproj.io/sync-options: Prune=false');
    assert.equal(s.deleteDisabledBy, 'argocd.argoproj.io/sync-options: Delete=false');
    assert.equal(s.createNamespace, true);
    const plain = objectSemantics(obj('b'));
    assert.equal(plain.pruneDisabledBy, undefined);
    assert.equal(plain.deleteDisabledBy, undefined);
    assert.equal(plain.createNamespace, false);
    // An object without annotations at all has the semantics of one whose annotations say nothing.
    const { annotations: _, ...bare } = obj('b').metadata;
    assert.deepEqual(objectSemantics({ ...obj('b'), metadata: bare }), plain);
  });

  test('Replace=true and unknown options are refused, naming the object and option', () => {
    throwsNaming(
      () => objectSemantics(obj('a', { 'argocd.argoproj.io/sync-options': 'Replace=true' })),
      'Job/web/a',
      'Replace=true',
      'not supported',
    );
    throwsNaming(
      () => objectSemantics(obj('a', { 'argocd.argoproj.io/sync-options': 'Frobnicate=yes' })),
      'Frobnicate=yes',
    );
  });

  test('IgnoreExtraneous keeps a live object out of pruning', () => {
    const live = obj('a', { 'argocd.argoproj.io/compare-options': 'IgnoreExtraneous' });
    assert.equal(pruneKeptBy(live), 'argocd.argoproj.io/compare-options: IgnoreExtraneous');
    throwsNaming(() => objectSemantics(obj('a', { 'argocd.argoproj.io/compare-options': 'Nope' })), 'Nope');
  });
});

describe('Flux annotations', () => {
  test('prune: disabled keeps the object from prune and deletion', () => {
    const s = objectSemantics(obj('a', { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }));
    assert.equal(s.pruneDisabledBy, 'kustomize.toolkit.fluxcd.io/prune: disabled');
    assert.equal(s.deleteDisabledBy, 'kustomize.toolkit.fluxcd.io/prune: disabled');
  });

  test("Tether's own prune annotation wins over the aliases", () => {
    const s = objectSemantics(
      obj('a', {
        'tether.dev/prune': 'enabled',
        'kustomize.toolkit.fluxcd.io/prune': 'disabled',
        'argocd.argoproj.io/sync-options': 'Prune=false',
      }),
    );
    assert.equal(s.pruneDisabledBy, undefined);
    assert.equal(
      objectSemantics(obj('b', { 'tether.dev/prune': 'disabled', 'argocd.argoproj.io/sync-options': 'Prune=false' }))
        .pruneDisabledBy,
      'tether.dev/prune: disabled',
    );
  });

  test('reconcile: disabled and ssa: Ignore are never written; IfNotPresent only created', () => {
    const off = obj('a', { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' });
    assert.match(applySkipReason(off, false) ?? '', /reconcile: disabled/);
    assert.ok(objectSemantics(off).selfHealDisabledBy);
    assert.equal(judgedForHealth(off), false);
    const ignore = obj('b', { 'kustomize.toolkit.fluxcd.io/ssa': 'Ignore' });
    assert.match(applySkipReason(ignore, true) ?? '', /ssa: Ignore/);
    const once = obj('c', { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' });
    assert.equal(applySkipReason(once, false), undefined);
    assert.match(applySkipReason(once, true) ?? '', /exists, not updated/);
    assert.equal(objectSemantics(once).selfHealDisabledBy, 'kustomize.toolkit.fluxcd.io/ssa: IfNotPresent');
    assert.equal(applySkipReason(obj('d', { 'kustomize.toolkit.fluxcd.io/ssa': 'merge' }), true), undefined);
    throwsNaming(() => objectSemantics(obj('e', { 'kustomize.toolkit.fluxcd.io/ssa': 'Sometimes' })), 'Sometimes');
    throwsNaming(() => objectSemantics(obj('f', { 'kustomize.toolkit.fluxcd.io/reconcile': 'off' })), 'reconcile');
  });

  test('the prune decision keeps an object annotated by Flux or Argo CD', () => {
    const stale = (name: string, annotations: Record<string, string>) => {
      const live = obj(name, annotations, 'ConfigMap');
      return {
        ref: { group: '', kind: 'ConfigMap', namespace: 'web', name },
        subject: `ConfigMap/web/${name}`,
        live,
      };
    };
    const plan = planPrune(
      [
        stale('flux', { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }),
        stale('argo', { 'argocd.argoproj.io/sync-options': 'Prune=false' }),
        stale('gone', {}),
      ],
      100,
      { fetchFailed: false, renderFailed: false, failedApplies: 0, desiredCount: 5 },
    );
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.ref.name, d.action]));
    assert.deepEqual(byName, { flux: 'keep', argo: 'keep', gone: 'delete' });
  });
});
