import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/config.ts';
import { hasDrift, type IgnoreDifference, ignoredPaths, keepLiveAt, parseJsonPointer } from '../src/core/drift.ts';
import type { K8sObject } from '../src/core/types.ts';

const deploy = (name: string, replicas: number, image: string, rv = '1'): K8sObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'web', resourceVersion: rv, annotations: { 'example.com/stamp': 'a' } },
  spec: { replicas, template: { spec: { containers: [{ name: 'c', image }] } } },
});

const rules: IgnoreDifference[] = [
  { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
  { group: 'apps', kind: 'Deployment', name: 'api', jsonPointers: ['/metadata/annotations/example.com~1stamp'] },
];

test('JSON pointers per RFC 6901', () => {
  assert.deepEqual(parseJsonPointer('/spec/replicas'), ['spec', 'replicas']);
  assert.deepEqual(parseJsonPointer('/a~1b/c~0d'), ['a/b', 'c~d']);
  assert.deepEqual(parseJsonPointer(''), []);
  assert.throws(() => parseJsonPointer('spec'), /not a JSON pointer/);
});

test('a difference only at an ignored pointer is no drift; any other difference still is', () => {
  const live = deploy('web', 5, 'a:1');
  const ignore = ignoredPaths(rules, live);
  assert.ok(ignore);
  assert.equal(hasDrift(deploy('web', 2, 'a:1'), live, { ignore }), false);
  assert.equal(hasDrift(deploy('web', 2, 'a:2'), live, { ignore }), true);
  assert.equal(hasDrift(deploy('web', 2, 'a:1'), live), true, 'without the rule it is drift');
});

test('a rule with a name applies to that object only; other kinds are untouched', () => {
  const stamped = (name: string): K8sObject => {
    const d = deploy(name, 1, 'a:1');
    d.metadata.annotations = { 'example.com/stamp': 'b' };
    return d;
  };
  const live = deploy('api', 1, 'a:1');
  assert.equal(hasDrift(stamped('api'), live, { ignore: ignoredPaths(rules, live)! }), false);
  const other = deploy('web', 1, 'a:1');
  assert.equal(hasDrift(stamped('web'), other, { ignore: ignoredPaths(rules, other)! }), true);
  assert.equal(ignoredPaths(rules, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'api' } }), undefined);
});

test('the object written keeps the live value at ignored pointers, so a write does not reset them', () => {
  const desired = deploy('web', 2, 'a:2');
  const written = keepLiveAt(rules, desired, deploy('web', 5, 'a:1'));
  assert.equal((written.spec as { replicas: number }).replicas, 5);
  assert.equal(
    (written.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image,
    'a:2',
  );
  assert.equal((desired.spec as { replicas: number }).replicas, 2, 'the desired object is not modified');
});

test('config: ignoreDifferences is validated and named', () => {
  const app = (ignoreDifferences: unknown) => ({
    cluster: 'x',
    apps: [{ name: 'web', repo: 'https://github.com/acme/env.git', ignoreDifferences }],
  });
  const ok = parseConfig(app([{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }]));
  assert.deepEqual(ok.apps[0]!.ignoreDifferences, [
    { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
  ]);
  assert.deepEqual(parseConfig(app(undefined)).apps[0]!.ignoreDifferences, []);
  assert.throws(
    () => parseConfig(app([{ kind: 'Deployment', jsonPointers: ['spec.replicas'] }]), 'tether.yaml'),
    /tether\.yaml: apps\[0\]\.ignoreDifferences\[0\]\.jsonPointers\[0\]: must be a JSON pointer/,
  );
});
