import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { subject } from '../src/core/objects.ts';
import { KIND_ORDER, kindRank, orderObjects, planSync } from '../src/core/plan.ts';
import type { K8sObject } from '../src/core/types.ts';

function obj(apiVersion: string, kind: string, name: string, namespace?: string, wave?: string): K8sObject {
  const metadata: K8sObject['metadata'] = { name };
  if (namespace) metadata.namespace = namespace;
  if (wave !== undefined) metadata.annotations = { 'tether.dev/sync-wave': wave };
  return { apiVersion, kind, metadata };
}

const ns = (name: string, wave?: string) => obj('v1', 'Namespace', name, undefined, wave);
const crd = (name: string) => obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name);
const deploy = (name: string, wave?: string) => obj('apps/v1', 'Deployment', name, 'web', wave);
const svc = (name: string, wave?: string) => obj('v1', 'Service', name, 'web', wave);
const cm = (name: string, wave?: string) => obj('v1', 'ConfigMap', name, 'web', wave);
const widget = (name: string) => obj('example.com/v1', 'Widget', name, 'web');

describe('orderObjects', () => {
  test('Namespaces, then CRDs, then waves, then kind order, then name', () => {
    const ordered = orderObjects([
      widget('w'),
      deploy('b'),
      deploy('a'),
      svc('api'),
      cm('late', '1'),
      cm('settings'),
      deploy('early', '-1'),
      crd('widgets.example.com'),
      ns('web', '5'),
      obj('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'hook'),
      obj('v1', 'ServiceAccount', 'api', 'web'),
      obj('v1', 'Secret', 'creds', 'web'),
      obj('rbac.authorization.k8s.io/v1', 'Role', 'reader', 'web'),
    ]);
    assert.deepEqual(ordered.map(subject), [
      'Namespace/web',
      'CustomResourceDefinition/widgets.example.com',
      'Deployment/web/early',
      'ServiceAccount/web/api',
      'Secret/web/creds',
      'ConfigMap/web/settings',
      'Role/web/reader',
      'Service/web/api',
      'Deployment/web/a',
      'Deployment/web/b',
      'ValidatingWebhookConfiguration/hook',
      'Widget/web/w',
      'ConfigMap/web/late',
    ]);
  });

  test('a custom resource called Service is not ordered as a core Service', () => {
    assert.equal(kindRank({ group: 'example.com', kind: 'Service' }), KIND_ORDER.length);
    assert.ok(kindRank({ group: '', kind: 'Service' }) < KIND_ORDER.length);
    const ordered = orderObjects([obj('example.com/v1', 'Service', 'x', 'web'), deploy('d')]);
    assert.deepEqual(ordered.map(subject), ['Deployment/web/d', 'Service/web/x']);
  });

  test('unknown kinds sort among themselves by group, kind and name', () => {
    const ordered = orderObjects([
      obj('b.example.com/v1', 'A', 'x', 'web'),
      obj('a.example.com/v1', 'B', 'y', 'web'),
      obj('a.example.com/v1', 'A', 'z', 'web'),
    ]);
    assert.deepEqual(ordered.map(subject), ['A/web/z', 'B/web/y', 'A/web/x']);
  });

  test('a bad sync-wave is an error naming the object', () => {
    assert.throws(() => orderObjects([cm('ok'), deploy('api', 'first')]), {
      name: 'TetherError',
      message: /Deployment\/web\/api: annotation tether\.dev\/sync-wave must be an integer, got "first"/,
    });
  });

  test('the input array is not reordered', () => {
    const input = [deploy('b'), deploy('a')];
    orderObjects(input);
    assert.deepEqual(input.map(subject), ['Deployment/web/b', 'Deployment/web/a']);
  });

  test('property: the order is a permutation, independent of input order, with prerequisites first', () => {
    const kinds: Array<[string, string]> = [
      ['v1', 'Namespace'],
      ['apiextensions.k8s.io/v1', 'CustomResourceDefinition'],
      ['v1', 'ConfigMap'],
      ['apps/v1', 'Deployment'],
      ['example.com/v1', 'Widget'],
      ['batch/v1', 'Job'],
    ];
    const arbObj = fc.record({
      k: fc.integer({ min: 0, max: kinds.length - 1 }),
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      wave: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(arbObj, { selector: (o) => `${o.k}/${o.name}` }), fc.nat(), (specs, seed) => {
        const objects = specs.map((s) => {
          const [apiVersion, kind] = kinds[s.k]!;
          const cluster = kind === 'Namespace' || kind === 'CustomResourceDefinition';
          return obj(apiVersion, kind, s.name, cluster ? undefined : 'web', s.wave?.toString());
        });
        // A seeded Fisher-Yates shuffle of the same objects.
        const shuffled = [...objects];
        let r = seed;
        for (let i = shuffled.length - 1; i > 0; i--) {
          r = (r * 1103515245 + 12345) % 2147483648;
          const j = r % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const x = orderObjects(objects).map(subject);
        const y = orderObjects(shuffled).map(subject);
        assert.deepEqual(x, y);
        assert.deepEqual([...x].sort(), objects.map(subject).sort());
        const firstOther = x.findIndex(
          (s) => !s.startsWith('Namespace/') && !s.startsWith('CustomResourceDefinition/'),
        );
        if (firstOther >= 0) {
          assert.ok(
            x.slice(firstOther).every((s) => !s.startsWith('Namespace/') && !s.startsWith('CustomResourceDefinition/')),
          );
        }
      }),
    );
  });
});

describe('planSync', () => {
  test('prerequisites form the first step, then one step per wave in order', () => {
    const plan = planSync([
      deploy('api', '2'),
      cm('settings'),
      ns('web'),
      crd('widgets.example.com'),
      svc('api', '-1'),
    ]);
    assert.deepEqual(
      plan.steps.map((s) => [s.wave, s.objects.map(subject)]),
      [
        ['prerequisites', ['Namespace/web', 'CustomResourceDefinition/widgets.example.com']],
        [-1, ['Service/web/api']],
        [0, ['ConfigMap/web/settings']],
        [2, ['Deployment/web/api']],
      ],
    );
  });

  test('no objects, no steps; no prerequisites, no prerequisites step', () => {
    assert.deepEqual(planSync([]).steps, []);
    assert.deepEqual(
      planSync([cm('a')]).steps.map((s) => s.wave),
      [0],
    );
  });
});
