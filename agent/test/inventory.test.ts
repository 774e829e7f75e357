import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  APPLYSET,
  type ApplySetParentRef,
  applySetId,
  decodeInventory,
  defaultParentRef,
  encodeInventory,
  encodeParentInventory,
  INVENTORY_GZ_KEY,
  INVENTORY_KEY,
  labelMembers,
  listScope,
  MAX_PARENT_DATA_BYTES,
  memberSelector,
  parentMetadata,
  parentObject,
  readAdopted,
  readParent,
  staleObjects,
} from '../src/core/inventory.ts';
import { refOf, subject } from '../src/core/objects.ts';
import type { K8sObject, ObjectRef } from '../src/core/types.ts';
import { fixture } from './load-fixture.ts';

function obj(apiVersion: string, kind: string, name: string, namespace?: string, labels?: Record<string, string>) {
  const o: K8sObject = { apiVersion, kind, metadata: { name } };
  if (namespace) o.metadata.namespace = namespace;
  if (labels) o.metadata.labels = labels;
  return o;
}

describe('ApplySet id', () => {
  test('matches kubectl: the test vector of kubectl apply_test.go (Secret my-set in test)', () => {
    assert.equal(
      applySetId({ name: 'my-set', namespace: 'test', kind: 'Secret', group: '' }),
      'applyset-0eFHV8ySqp7XoShsGvyWFQD3s96yqwHmzc4e0HR1dsY-v1',
    );
  });

  test('matches the id kubectl put on a real parent and on its members', () => {
    const parent = fixture('applyset-kubectl-parent.yaml');
    const id = applySetId({ name: 'kubectl-set', namespace: 'web', kind: 'ConfigMap', group: '' });
    assert.equal(parent.metadata.labels?.[APPLYSET.idLabel], id);
    assert.equal(fixture('applyset-kubectl-member.yaml').metadata.labels?.[APPLYSET.partOfLabel], id);
    assert.match(id, /^applyset-[A-Za-z0-9_-]{43}-v1$/);
  });

  test('every part of name.namespace.kind.group changes the id', () => {
    const base = { name: 'web', namespace: 'tether-system', kind: 'ConfigMap', group: '' };
    const ids = new Set([
      applySetId(base),
      applySetId({ ...base, name: 'api' }),
      applySetId({ ...base, namespace: 'other' }),
      applySetId({ ...base, kind: 'Secret' }),
      applySetId({ ...base, group: 'example.com' }),
    ]);
    assert.equal(ids.size, 5);
  });
});

describe('parent metadata', () => {
  test('same annotations as kubectl for the same members (only tooling differs)', () => {
    const kubectlParent = fixture('applyset-kubectl-parent.yaml');
    const ref: ApplySetParentRef = {
      group: '',
      version: 'v1',
      kind: 'ConfigMap',
      name: 'kubectl-set',
      namespace: 'web',
    };
    const members = [
      obj('v1', 'ConfigMap', 'a', 'web'),
      obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'b'),
      obj('apps/v1', 'Deployment', 'c', 'web'),
    ];
    const { labels, annotations } = parentMetadata(ref, members);
    assert.deepEqual(labels, kubectlParent.metadata.labels);
    assert.deepEqual(
      { ...annotations, [APPLYSET.toolingAnnotation]: 'x' },
      { ...kubectlParent.metadata.annotations, [APPLYSET.toolingAnnotation]: 'x' },
    );
    assert.equal(annotations[APPLYSET.toolingAnnotation], 'tether/v1');
  });

  test('group-kinds sorted and unique; additional namespaces exclude the parent’s', () => {
    const ref = defaultParentRef('web');
    const { annotations } = parentMetadata(ref, [
      obj('apps/v1', 'Deployment', 'api', 'web'),
      obj('apps/v1', 'Deployment', 'worker', 'jobs'),
      obj('v1', 'Service', 'api', 'web'),
      obj('v1', 'ConfigMap', 'x', 'tether-system'),
      obj('v1', 'Namespace', 'web'),
    ]);
    assert.equal(annotations[APPLYSET.groupKindsAnnotation], 'ConfigMap,Deployment.apps,Namespace,Service');
    assert.equal(annotations[APPLYSET.namespacesAnnotation], 'jobs,web');
  });

  test('labelMembers sets part-of on copies and keeps other labels', () => {
    const id = applySetId(defaultParentRef('web'));
    const input = [obj('v1', 'ConfigMap', 'a', 'web', { app: 'web' })];
    const [labelled] = labelMembers(input, id);
    assert.deepEqual(labelled!.metadata.labels, { app: 'web', [APPLYSET.partOfLabel]: id });
    assert.deepEqual(input[0]!.metadata.labels, { app: 'web' });
    assert.equal(memberSelector(id), `applyset.kubernetes.io/part-of=${id}`);
  });
});

describe('recorded inventory', () => {
  const members = [
    obj('apps/v1', 'Deployment', 'api', 'web'),
    obj('v1', 'Namespace', 'web'),
    obj('v1', 'ConfigMap', 'settings', 'web'),
    obj('apps/v1', 'Deployment', 'api', 'web'),
  ];

  test('encoded sorted in apply order, de-duplicated, and decoded back', () => {
    const text = encodeInventory(members);
    assert.equal(text, '/Namespace//web\n/ConfigMap/web/settings\napps/Deployment/web/api\n');
    assert.deepEqual(decodeInventory(text).map(subject), [
      'Namespace/web',
      'ConfigMap/web/settings',
      'Deployment/web/api',
    ]);
  });

  test('a ConfigMap or Secret parent carries it and reads it back', () => {
    for (const kind of ['ConfigMap', 'Secret'] as const) {
      const ref: ApplySetParentRef = { ...defaultParentRef('web'), kind };
      const parent = parentObject(ref, members);
      assert.equal(parent.apiVersion, 'v1');
      assert.equal(parent.kind, kind);
      assert.equal(parent.metadata.labels?.[APPLYSET.idLabel], applySetId(ref));
      assert.deepEqual(readParent(ref, parent).map(subject), [
        'Namespace/web',
        'ConfigMap/web/settings',
        'Deployment/web/api',
      ]);
    }
    const secret = parentObject({ ...defaultParentRef('web'), kind: 'Secret' }, members);
    assert.doesNotMatch(JSON.stringify(secret.data), /Deployment/); // base64, as Secret data must be
  });

  test('a large inventory is stored gzipped under the limit, read back, and an impossible one refused by name', () => {
    const many = Array.from({ length: 40_000 }, (_, i) => obj('v1', 'ConfigMap', `settings-${i}`, 'web'));
    for (const kind of ['ConfigMap', 'Secret'] as const) {
      const ref: ApplySetParentRef = { ...defaultParentRef('web'), kind };
      const plain = Buffer.byteLength(encodeInventory(many));
      assert.ok(plain > MAX_PARENT_DATA_BYTES, `plain ${plain} bytes`);
      const parent = parentObject(ref, many);
      const size = Buffer.byteLength(JSON.stringify(parent));
      assert.ok(size < MAX_PARENT_DATA_BYTES, `encoded parent ${size} bytes`);
      const stored = kind === 'Secret' ? (parent.data as object) : (parent.binaryData as object);
      assert.deepEqual(Object.keys(stored), [INVENTORY_GZ_KEY]);
      assert.equal(readParent(ref, parent).length, 40_000);
      assert.deepEqual(readParent(ref, parent), decodeInventory(encodeInventory(many)));
    }
    // Small inventories stay readable plain text.
    assert.deepEqual(Object.keys(parentObject(defaultParentRef('web'), members).data as object), [INVENTORY_KEY]);
    assert.throws(() => encodeParentInventory(defaultParentRef('web'), many, 1000), {
      message:
        /^ConfigMap\/tether-system\/tether-web: the ApplySet inventory of 40000 objects takes \d+ bytes even compressed/,
    });
  });

  test('adopted members are recorded in the parent and read back; ones no longer members are dropped', () => {
    const ref = defaultParentRef('web');
    const adopted = [refOf(members[1]!), { group: '', kind: 'ConfigMap', namespace: 'web', name: 'gone' }];
    const parent = parentObject(ref, members, { adopted });
    assert.deepEqual(readAdopted(ref, parent), [refOf(members[1]!)]);
    assert.deepEqual(readAdopted(ref, parentObject(ref, members)), []);
  });

  test('no parent yet: nothing recorded', () => {
    assert.deepEqual(readParent(defaultParentRef('web'), undefined), []);
  });

  test('a parent of another tool, or with another id, is refused', () => {
    const kubectlParent = fixture('applyset-kubectl-parent.yaml');
    const ref: ApplySetParentRef = {
      group: '',
      version: 'v1',
      kind: 'ConfigMap',
      name: 'kubectl-set',
      namespace: 'web',
    };
    assert.throws(() => readParent(ref, kubectlParent), {
      name: 'TetherError',
      message: /ConfigMap\/web\/kubectl-set: ApplySet parent belongs to "kubectl\/v1\.32\.4-dispatcher", not Tether/,
    });
    const mine = parentObject(defaultParentRef('web'), members);
    assert.throws(
      () => readParent(defaultParentRef('api'), { ...mine, metadata: { ...mine.metadata, name: 'tether-api' } }),
      /does not match/,
    );
  });

  test('listScope names the group-kinds and namespaces to list members in', () => {
    const ref = defaultParentRef('web');
    const parent = parentObject(ref, [obj('apps/v1', 'Deployment', 'api', 'web'), obj('v1', 'ConfigMap', 'c', 'jobs')]);
    assert.deepEqual(listScope(ref, parent), {
      groupKinds: ['ConfigMap', 'Deployment.apps'],
      namespaces: ['jobs', 'tether-system', 'web'],
    });
    assert.deepEqual(listScope(ref, undefined), { groupKinds: [], namespaces: ['tether-system'] });
  });
});

describe('staleObjects', () => {
  const id = applySetId(defaultParentRef('web'));
  const other = applySetId(defaultParentRef('api'));
  const mine = { [APPLYSET.partOfLabel]: id };
  const ref = (kind: string, name: string, namespace?: string, group = ''): ObjectRef =>
    namespace ? { group, kind, name, namespace } : { group, kind, name };

  test('(previous inventory ∪ labelled in cluster) − desired, only objects labelled with this id', () => {
    const desired = [obj('apps/v1', 'Deployment', 'api', 'web', mine)];
    const previous = [
      ref('Deployment', 'api', 'web', 'apps'), // still desired
      ref('ConfigMap', 'old', 'web'), // dropped from Git, still labelled: stale
      ref('ConfigMap', 'gone', 'web'), // already deleted: nothing to do
      ref('ConfigMap', 'adopted', 'web'), // now another app's
      ref('ConfigMap', 'released', 'web'), // label removed by hand
    ];
    const live = [
      obj('apps/v1', 'Deployment', 'api', 'web', mine),
      obj('v1', 'ConfigMap', 'old', 'web', mine),
      obj('v1', 'ConfigMap', 'adopted', 'web', { [APPLYSET.partOfLabel]: other }),
      obj('v1', 'ConfigMap', 'released', 'web', { app: 'web' }),
      obj('v1', 'Service', 'orphan', 'web', mine), // labelled but missing from the record (e.g. a crash mid-sync)
      obj('v1', 'Namespace', 'scratch', undefined, mine),
    ];
    const stale = staleObjects(id, desired, previous, live);
    assert.deepEqual(
      stale.map((s) => s.subject),
      ['Namespace/scratch', 'ConfigMap/web/old', 'Service/web/orphan'],
    );
    assert.equal(stale[1]!.live.metadata.name, 'old');
    assert.deepEqual(stale[1]!.ref, ref('ConfigMap', 'old', 'web'));
  });

  test('desired given as references works the same', () => {
    const live = [obj('v1', 'ConfigMap', 'a', 'web', mine)];
    assert.deepEqual(staleObjects(id, [ref('ConfigMap', 'a', 'web')], [], live), []);
    assert.equal(staleObjects(id, [], [], live).length, 1);
  });
});
