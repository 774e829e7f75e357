import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fieldOwners,
  fieldSetContains,
  fieldSetPaths,
  formatFieldPath,
  isOwnedBy,
  ownedByOthers,
  parseFieldPath,
} from '../src/core/managed-fields.ts';
import type { FieldsV1, K8sObject } from '../src/core/types.ts';
import { fixture } from './load-fixture.ts';

describe('field paths', () => {
  test('parse and format round-trip', () => {
    for (const text of [
      'spec.replicas',
      'spec.template.spec.containers[name=app].image',
      'spec.template.spec.containers[0].image',
      'spec.ports[port=80,protocol=TCP].targetPort',
      'metadata.finalizers[="example.com/cleanup"]',
      'metadata.labels["app.kubernetes.io/name"]',
    ]) {
      assert.equal(formatFieldPath(parseFieldPath(text)), text);
    }
  });

  test('key values read as JSON when they parse', () => {
    assert.deepEqual(parseFieldPath('spec.ports[port=80,protocol=TCP]'), [
      'spec',
      'ports',
      { key: { port: 80, protocol: 'TCP' } },
    ]);
    assert.deepEqual(parseFieldPath('a[="x"][3]'), ['a', { value: 'x' }, 3]);
    assert.deepEqual(parseFieldPath('metadata.labels["a.b/c"]'), ['metadata', 'labels', 'a.b/c']);
  });

  test('a malformed path is a parse error', () => {
    assert.throws(() => parseFieldPath('spec.ports[port]'), { name: 'TetherError', message: /is not \[field=value/ });
    assert.throws(() => parseFieldPath('spec[unclosed'), /cannot read from position 4/);
  });
});

describe('ownership (fixtures with managedFields from tether, kubectl and kube-controller-manager)', () => {
  const scaled = fixture('deployment-hpa-scaled.yaml');

  test('replicas set through the scale subresource belong to kube-controller-manager, not tether', () => {
    const path = parseFieldPath('spec.replicas');
    assert.deepEqual(fieldOwners(scaled, path), [
      { manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' },
    ]);
    assert.equal(isOwnedBy(scaled, path), false);
    assert.equal(isOwnedBy(scaled, path, 'kube-controller-manager'), true);
    assert.equal(ownedByOthers(scaled, path), true);
  });

  test('the container image is tether’s, addressed by key or by index into the live list', () => {
    assert.equal(isOwnedBy(scaled, parseFieldPath('spec.template.spec.containers[name=app].image')), true);
    assert.equal(isOwnedBy(scaled, parseFieldPath('spec.template.spec.containers[0].image')), true);
    assert.equal(isOwnedBy(scaled, parseFieldPath('spec.template.spec.containers[name=sidecar].image')), false);
    assert.equal(isOwnedBy(scaled, parseFieldPath('spec.template.spec.containers[1].image')), false);
    assert.equal(ownedByOthers(scaled, parseFieldPath('spec.template.spec.containers[0].image')), false);
  });

  test('defaulted fields have no owner, so they are neither tether’s nor someone else’s', () => {
    const path = parseFieldPath('spec.template.spec.containers[0].imagePullPolicy');
    assert.deepEqual(fieldOwners(scaled, path), []);
    assert.equal(ownedByOthers(scaled, path), false);
  });

  test('status is the controller’s (status subresource); labels are tether’s', () => {
    assert.deepEqual(fieldOwners(scaled, parseFieldPath('status.conditions[type=Available].status')), [
      { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status' },
    ]);
    assert.equal(isOwnedBy(scaled, parseFieldPath('metadata.labels.app')), true);
    assert.equal(isOwnedBy(scaled, parseFieldPath('metadata.annotations["deployment.kubernetes.io/revision"]')), false);
  });

  test('kubectl client-side apply owns what it applied', () => {
    const cm = fixture('configmap-kubectl.yaml');
    const owners = fieldOwners(cm, parseFieldPath('data.LOG_LEVEL'));
    assert.deepEqual(
      owners.map((o) => o.manager),
      ['kubectl-client-side-apply'],
    );
    assert.equal(ownedByOthers(cm, parseFieldPath('data.LOG_LEVEL')), true);
  });

  test('an object without managedFields has no owners', () => {
    const bare: K8sObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1' } };
    assert.deepEqual(fieldOwners(bare, ['data', 'a']), []);
  });
});

describe('FieldsV1 sets', () => {
  // As the apiserver records a Service's ports (keys port+protocol) and a set of finalizers.
  const fields: FieldsV1 = {
    'f:metadata': { 'f:finalizers': { '.': {}, 'v:"example.com/cleanup"': {} } },
    'f:spec': {
      'f:ports': {
        '.': {},
        'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:protocol': {}, 'f:targetPort': {} },
      },
      'f:selector': {},
    },
  };
  const live = {
    metadata: { finalizers: ['example.com/cleanup', 'other'] },
    spec: {
      ports: [
        { port: 443, protocol: 'TCP' },
        { port: 80, protocol: 'TCP', targetPort: 8080 },
      ],
      selector: { a: 'b' },
    },
  };

  test('k: keys match by every key field; v: entries by value', () => {
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.ports[port=80,protocol=TCP].targetPort')), true);
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.ports[port=80].targetPort')), false);
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.ports[1].targetPort'), live), true);
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.ports[0].targetPort'), live), false);
    assert.equal(fieldSetContains(fields, parseFieldPath('metadata.finalizers[="example.com/cleanup"]')), true);
    assert.equal(fieldSetContains(fields, parseFieldPath('metadata.finalizers[0]'), live), true);
    assert.equal(fieldSetContains(fields, parseFieldPath('metadata.finalizers[1]'), live), false);
  });

  test('a leaf owns everything below it (an atomic field)', () => {
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.selector.a')), true);
    assert.equal(fieldSetContains(fields, parseFieldPath('spec.type')), false);
    assert.equal(fieldSetContains(fields, []), true);
  });

  test('fieldSetPaths lists the leaves', () => {
    assert.deepEqual(fieldSetPaths(fields).map(formatFieldPath), [
      'metadata.finalizers[="example.com/cleanup"]',
      'spec.ports[port=80,protocol=TCP].port',
      'spec.ports[port=80,protocol=TCP].protocol',
      'spec.ports[port=80,protocol=TCP].targetPort',
      'spec.selector',
    ]);
  });
});
