import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveObjects, withoutManagedFields } from '../src/core/live-objects.ts';
import type { K8sObject } from '../src/core/types.ts';

const live: K8sObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name: 'c',
    namespace: 'web',
    resourceVersion: '5',
    managedFields: [{ manager: 'tether', operation: 'Apply', fieldsV1: { 'f:data': {} } }],
  },
  data: { a: '1' },
};

test('live objects are kept without managedFields, the rest untouched, the argument not mutated', () => {
  const map = new LiveObjects();
  map.set('k', live);
  const kept = map.get('k')!;
  assert.equal(kept.metadata.managedFields, undefined);
  assert.deepEqual(kept.data, { a: '1' });
  assert.equal(kept.metadata.resourceVersion, '5');
  assert.equal(live.metadata.managedFields?.length, 1, 'the object given is not changed');
  const bare = withoutManagedFields(kept);
  assert.equal(bare, kept, 'an object without them is kept as is');
});

test('every change bumps the version, so a verdict judged on one version is stale after any change', () => {
  const map = new LiveObjects();
  const v0 = map.version;
  map.set('k', live);
  const v1 = map.version;
  assert.ok(v1 > v0);
  map.delete('k');
  assert.ok(map.version > v1);
  const v2 = map.version;
  map.clear();
  assert.ok(map.version > v2);
});
