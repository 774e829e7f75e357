import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TetherError } from '../../shared/src/errors.ts';
import {
  groupKind,
  objectKey,
  parseApiVersion,
  parseObjectKey,
  refOf,
  subject,
  syncWave,
  validateObjects,
} from '../src/core/objects.ts';
import type { IsNamespaced, K8sObject, SourcedObject } from '../src/core/types.ts';

// Discovery as a small real cluster answers it.
const discovery: IsNamespaced = (apiVersion, kind) => {
  const namespaced: Record<string, boolean> = {
    'v1/ConfigMap': true,
    'v1/Namespace': false,
    'apps/v1/Deployment': true,
    'rbac.authorization.k8s.io/v1/ClusterRole': false,
    'apiextensions.k8s.io/v1/CustomResourceDefinition': false,
  };
  return namespaced[`${apiVersion}/${kind}`];
};

const cm = (name: string, namespace?: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(namespace ? { namespace } : {}), ...extra },
  data: { a: '1' },
});

function src(file: string, ...objects: unknown[]): SourcedObject[] {
  return objects.map((object, index) => ({ object, file, index }));
}

function validationError(fn: () => unknown): TetherError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TetherError);
    assert.equal(err.code, 'input');
    return err;
  }
  assert.fail('expected a validation error');
}

describe('identity', () => {
  test('apiVersion splits into group and version; the core group is empty', () => {
    assert.deepEqual(parseApiVersion('apps/v1'), { group: 'apps', version: 'v1' });
    assert.deepEqual(parseApiVersion('v1'), { group: '', version: 'v1' });
    assert.deepEqual(parseApiVersion('apiextensions.k8s.io/v1beta1'), {
      group: 'apiextensions.k8s.io',
      version: 'v1beta1',
    });
  });

  test('subject is Kind/namespace/name, or Kind/name when cluster-scoped', () => {
    const d: K8sObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'web' } };
    assert.equal(subject(d), 'Deployment/web/api');
    assert.equal(subject({ group: '', kind: 'Namespace', name: 'web' }), 'Namespace/web');
  });

  test('object keys ignore the version and round-trip', () => {
    const a: K8sObject = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'web' } };
    const b: K8sObject = { ...a, apiVersion: 'apps/v1beta2' };
    assert.equal(objectKey(a), 'apps/Deployment/web/api');
    assert.equal(objectKey(a), objectKey(b));
    assert.deepEqual(parseObjectKey(objectKey(a)), refOf(a));
    assert.deepEqual(parseObjectKey('/Namespace//web'), { group: '', kind: 'Namespace', name: 'web' });
    assert.throws(() => parseObjectKey('nope'), /not an object key/);
  });

  test('groupKind is Go GroupKind.String(): Kind.group, or Kind for the core group', () => {
    assert.equal(groupKind({ group: 'apps', kind: 'Deployment' }), 'Deployment.apps');
    assert.equal(groupKind({ group: '', kind: 'ConfigMap' }), 'ConfigMap');
  });

  test('sync wave: default 0, integers accepted, anything else names the object', () => {
    const withWave = (w: string) => cm('c', 'web', { annotations: { 'tether.dev/sync-wave': w } }) as K8sObject;
    assert.equal(syncWave(cm('c', 'web') as K8sObject), 0);
    assert.equal(syncWave(withWave('-2')), -2);
    assert.equal(syncWave(withWave(' 5 ')), 5);
    for (const bad of ['1.5', 'one', '', '1e3', '99999999999999999999']) {
      assert.throws(
        () => syncWave(withWave(bad)),
        /ConfigMap\/web\/c: annotation tether\.dev\/sync-wave must be an integer/,
      );
    }
  });
});

describe('validateObjects', () => {
  test('namespaced objects without a namespace get the default; cluster-scoped lose a stray one', () => {
    const out = validateObjects(
      [
        ...src('a.yaml', cm('one'), cm('two', 'other')),
        ...src('b.yaml', {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'reader', namespace: 'web' },
        }),
      ],
      discovery,
      { defaultNamespace: 'web' },
    );
    assert.deepEqual(
      out.map((o) => subject(o)),
      ['ConfigMap/web/one', 'ConfigMap/other/two', 'ClusterRole/reader'],
    );
  });

  test('the input is not modified', () => {
    const input = cm('one');
    validateObjects(src('a.yaml', input), discovery, { defaultNamespace: 'web' });
    assert.equal((input.metadata as { namespace?: string }).namespace, undefined);
  });

  test('without options, the default namespace is "default", as with kubectl', () => {
    assert.equal(validateObjects(src('a.yaml', cm('one')), discovery)[0]!.metadata.namespace, 'default');
  });

  test('missing apiVersion, kind or name is an error naming the file and document', () => {
    const err = validationError(() =>
      validateObjects(
        src(
          'envs/dev/web/bad.yaml',
          { kind: 'ConfigMap', metadata: { name: 'x' } },
          { apiVersion: 'v1', metadata: {} },
        ),
        discovery,
      ),
    );
    assert.match(err.message, /envs\/dev\/web\/bad\.yaml \(document 1\): ConfigMap\/x: apiVersion missing/);
    assert.match(
      err.message,
      /envs\/dev\/web\/bad\.yaml \(document 2\): <no kind>\/<no name>: kind, metadata\.name missing/,
    );
    assert.match(err.message, /^2 invalid manifests:/);
  });

  test('the same object twice is an error naming both files, also when one names the default namespace', () => {
    const err = validationError(() =>
      validateObjects([...src('a.yaml', cm('settings')), ...src('b.yaml', cm('x'), cm('settings', 'web'))], discovery, {
        defaultNamespace: 'web',
      }),
    );
    assert.match(
      err.message,
      /ConfigMap\/web\/settings is defined twice: in a\.yaml \(document 1\) and in b\.yaml \(document 2\)/,
    );
  });

  test('the same name in two namespaces, or two kinds, is not a duplicate', () => {
    const out = validateObjects(
      src('a.yaml', cm('s', 'a'), cm('s', 'b'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 's' } }),
      discovery,
    );
    assert.equal(out.length, 3);
  });

  test('a kind discovery does not know is an error, unless a CRD in the same set defines it', () => {
    const widget = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    const err = validationError(() => validateObjects(src('w.yaml', widget), discovery));
    assert.match(err.message, /w\.yaml \(document 1\): Widget\/w: the cluster has no kind Widget in example\.com\/v1/);

    const crd = (scope: string) => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: { group: 'example.com', scope, names: { kind: 'Widget', plural: 'widgets' }, versions: [{ name: 'v1' }] },
    });
    const namespaced = validateObjects(src('w.yaml', crd('Namespaced'), widget), discovery, {
      defaultNamespace: 'web',
    });
    assert.equal(subject(namespaced[1]!), 'Widget/web/w');
    const cluster = validateObjects(src('w.yaml', crd('Cluster'), widget), discovery, { defaultNamespace: 'web' });
    assert.equal(subject(cluster[1]!), 'Widget/w');
    // The CRD serves v1 only; v2 is still unknown.
    assert.throws(
      () => validateObjects(src('w.yaml', crd('Namespaced'), { ...widget, apiVersion: 'example.com/v2' }), discovery),
      /no kind Widget in example\.com\/v2/,
    );
  });

  test('non-string labels and annotations and bad sync waves are reported before the apiserver would', () => {
    const err = validationError(() =>
      validateObjects(
        src(
          'a.yaml',
          cm('n', 'web', { annotations: { 'tether.dev/sync-wave': 1 } }),
          cm('w', 'web', { annotations: { 'tether.dev/sync-wave': 'soon' } }),
          cm('l', 'web', { labels: 'app=x' }),
        ),
        discovery,
      ),
    );
    assert.match(err.message, /ConfigMap\/n: metadata\.annotations\.tether\.dev\/sync-wave must be a string, got 1/);
    assert.match(err.message, /ConfigMap\/web\/w: annotation tether\.dev\/sync-wave must be an integer, got "soon"/);
    assert.match(err.message, /ConfigMap\/l: metadata\.labels must be a map/);
  });

  test('a document that is not an object is reported', () => {
    const err = validationError(() => validateObjects(src('a.yaml', 'hello', null, [1]), discovery));
    assert.equal(err.message.match(/not an object/g)?.length, 3);
  });
});
