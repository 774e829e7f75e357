import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainMissingNamespace, namespacesToCreate } from '../src/core/namespaces.ts';
import type { K8sObject } from '../src/core/types.ts';

const cm = (ns: string, annotations: Record<string, string> = {}): K8sObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: ns, annotations },
});
const nsObj = (name: string): K8sObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

test('createNamespace: the app namespace and every named one that Git does not define', () => {
  assert.deepEqual(
    namespacesToCreate([cm('b'), cm('a'), cm('defined'), nsObj('defined')], {
      appNamespace: 'web',
      createNamespace: true,
    }),
    ['a', 'b', 'web'],
  );
});

test('without it, only objects annotated CreateNamespace=true get theirs', () => {
  assert.deepEqual(
    namespacesToCreate([cm('a'), cm('b', { 'argocd.argoproj.io/sync-options': 'CreateNamespace=true' })], {
      appNamespace: 'web',
      createNamespace: false,
    }),
    ['b'],
  );
});

test('a missing namespace error says how to fix it', () => {
  assert.equal(
    explainMissingNamespace('PATCH /api/v1/namespaces/gb/configmaps/x: 404 namespaces "gb" not found'),
    'PATCH /api/v1/namespaces/gb/configmaps/x: 404 namespaces "gb" not found (add a Namespace gb to Git, or set createNamespace: true for the app)',
  );
  assert.equal(explainMissingNamespace('403 forbidden'), '403 forbidden');
});
