import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { diff, diffLines, driftPaths, editScript, hasDrift, normalizeForDiff } from '../src/core/drift.ts';
import { formatFieldPath, ownedByOthers } from '../src/core/managed-fields.ts';
import type { K8sObject } from '../src/core/types.ts';
import { fixture } from './load-fixture.ts';

describe('hasDrift (fixtures: real server-side dry-run results against live objects)', () => {
  test('the unchanged manifest dry-run applied over the live Deployment is no drift', () => {
    const live = fixture('deployment-available.yaml');
    const dryRun = fixture('deployment-available.dry-run-same.yaml');
    assert.equal(hasDrift(dryRun, live), false);
    assert.deepEqual(driftPaths(dryRun, live), []);
  });

  test('a new image is drift, at the image field', () => {
    const live = fixture('deployment-available.yaml');
    const dryRun = fixture('deployment-available.dry-run-new-image.yaml');
    assert.equal(hasDrift(dryRun, live), true);
    assert.deepEqual(driftPaths(dryRun, live).map(formatFieldPath), ['spec.template.spec.containers[0].image']);
  });

  test('no live object, or a dry-run without resourceVersion (a dry-run create), is drift', () => {
    const dryRun = fixture('deployment-available.dry-run-same.yaml');
    assert.equal(hasDrift(dryRun, undefined), true);
    const created = structuredClone(dryRun);
    delete created.metadata.resourceVersion;
    assert.equal(hasDrift(created, fixture('deployment-available.yaml')), true);
  });

  test('server-maintained metadata, noisy annotations and status are not drift', () => {
    const live = fixture('deployment-available.yaml');
    const dryRun = fixture('deployment-available.dry-run-same.yaml');
    dryRun.metadata.resourceVersion = '999';
    dryRun.metadata.generation = 7;
    dryRun.metadata.uid = 'other';
    dryRun.metadata.creationTimestamp = '2030-01-01T00:00:00Z';
    dryRun.metadata.managedFields = [];
    dryRun.metadata.annotations = {
      ...dryRun.metadata.annotations,
      'deployment.kubernetes.io/revision': '42',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    };
    dryRun.status = { replicas: 0 };
    assert.equal(hasDrift(dryRun, live), false);
  });

  test('a changed label or annotation is drift', () => {
    const live = fixture('deployment-available.yaml');
    const labelled = fixture('deployment-available.dry-run-same.yaml');
    labelled.metadata.labels = { ...labelled.metadata.labels, tier: 'api' };
    assert.deepEqual(driftPaths(labelled, live).map(formatFieldPath), ['metadata.labels.tier']);
    const annotated = fixture('deployment-available.dry-run-same.yaml');
    annotated.metadata.annotations = { ...annotated.metadata.annotations, team: 'core' };
    assert.equal(hasDrift(annotated, live), true);
  });

  test('replicas owned by an HPA (scale subresource) is drift, unless differences owned by others are ignored', () => {
    const live = fixture('deployment-hpa-scaled.yaml');
    const dryRun = fixture('deployment-hpa-scaled.dry-run.yaml');
    assert.deepEqual(driftPaths(dryRun, live).map(formatFieldPath), ['spec.replicas']);
    assert.equal(hasDrift(dryRun, live), true);
    assert.equal(hasDrift(dryRun, live, { ignore: (p) => ownedByOthers(live, p) }), false);
    // A difference Tether owns still counts with the same filter.
    const imageChanged = structuredClone(dryRun);
    type WithImage = { spec: { template: { spec: { containers: { image: string }[] } } } };
    (imageChanged as unknown as WithImage).spec.template.spec.containers[0]!.image = 'ghcr.io/acme/api:9';
    assert.equal(hasDrift(imageChanged, live, { ignore: (p) => ownedByOthers(live, p) }), true);
  });

  test('normalizeForDiff leaves the input alone', () => {
    const live = fixture('deployment-available.yaml');
    const before = structuredClone(live);
    const n = normalizeForDiff(live);
    assert.deepEqual(live, before);
    assert.equal(n.status, undefined);
    assert.equal(n.metadata.managedFields, undefined);
    assert.equal(n.metadata.annotations, undefined); // only deployment.kubernetes.io/revision was there
  });
});

describe('diff', () => {
  test('a new image: one hunk with three lines of context, in live → desired order', () => {
    const text = diff(fixture('deployment-available.yaml'), fixture('deployment-available.dry-run-new-image.yaml'));
    assert.equal(
      text,
      [
        '--- live Deployment/web/api',
        '+++ desired Deployment/web/api',
        '@@ -23,7 +23,7 @@',
        '         app: api',
        '     spec:',
        '       containers:',
        '-        - image: ghcr.io/acme/api:1.4.0',
        '+        - image: ghcr.io/acme/api:1.5.0',
        '           imagePullPolicy: IfNotPresent',
        '           name: app',
        '           resources: {}',
        '',
      ].join('\n'),
    );
  });

  test('no difference, no diff', () => {
    assert.equal(diff(fixture('deployment-available.yaml'), fixture('deployment-available.dry-run-same.yaml')), '');
  });

  test('a create shows every line added, a prune every line removed', () => {
    const cm = fixture('configmap-kubectl.yaml');
    const created = diff(undefined, cm);
    assert.match(
      created,
      /^--- live ConfigMap\/web\/settings\n\+\+\+ desired ConfigMap\/web\/settings\n@@ -0,0 \+1,\d+ @@\n/,
    );
    assert.ok(
      created
        .split('\n')
        .slice(3, -1)
        .every((l) => l.startsWith('+')),
    );
    const pruned = diff(cm, undefined, { fromLabel: 'cluster', toLabel: 'git' });
    assert.match(
      pruned,
      /^--- cluster ConfigMap\/web\/settings\n\+\+\+ git ConfigMap\/web\/settings\n@@ -1,\d+ \+0,0 @@\n/,
    );
    assert.ok(
      pruned
        .split('\n')
        .slice(3, -1)
        .every((l) => l.startsWith('-')),
    );
    // The last-applied annotation and managedFields are noise, not content.
    assert.doesNotMatch(created, /last-applied|managedFields|resourceVersion/);
  });

  test('Secret values never appear, but a changed value still shows as changed', () => {
    const secret = (password: string, user: string): K8sObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: 'web' },
      data: { password, user },
    });
    const text = diff(secret('b2xk', 'YWRtaW4='), secret('bmV3', 'YWRtaW4='));
    assert.doesNotMatch(text, /b2xk|bmV3|YWRtaW4=/);
    assert.match(text, /@@ -1,\d+ \+1,\d+ @@\n[\s\S]*- {2}password: <redacted>\n\+ {2}password: <redacted, changed>/);
    assert.match(text, /\n {3}user: <redacted>\n/);
    assert.equal(diff(secret('b2xk', 'x'), secret('b2xk', 'x')), '');
    const shown = diff(secret('b2xk', 'x'), secret('bmV3', 'x'), { maskSecrets: false });
    assert.match(shown, /- {2}password: b2xk\n\+ {2}password: bmV3/);
  });

  test('changes far apart make separate hunks; close ones share one', () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[2] = 'two';
    b[17] = 'seventeen';
    const text = diffLines(a, b, 2);
    assert.equal(
      text,
      [
        '@@ -1,5 +1,5 @@',
        ' line 0',
        ' line 1',
        '-line 2',
        '+two',
        ' line 3',
        ' line 4',
        '@@ -16,5 +16,5 @@',
        ' line 15',
        ' line 16',
        '-line 17',
        '+seventeen',
        ' line 18',
        ' line 19',
        '',
      ].join('\n'),
    );
    b[17] = 'line 17';
    b[6] = 'six';
    assert.equal(diffLines(a, b, 2).match(/^@@/gm)?.length, 1);
  });

  test('property: the edit script turns one side into the other and keeps a longest common subsequence', () => {
    const lines = fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 25 });
    fc.assert(
      fc.property(lines, lines, (a, b) => {
        const ops = editScript(a, b);
        assert.deepEqual(
          ops.filter((o) => o.op !== '+').map((o) => o.line),
          a,
        );
        assert.deepEqual(
          ops.filter((o) => o.op !== '-').map((o) => o.line),
          b,
        );
        // Compare the kept lines with an independent LCS length (memoised recursion).
        const memo = new Map<string, number>();
        const lcs = (i: number, j: number): number => {
          if (i === a.length || j === b.length) return 0;
          const k = `${i},${j}`;
          let v = memo.get(k);
          if (v === undefined) {
            v = a[i] === b[j] ? 1 + lcs(i + 1, j + 1) : Math.max(lcs(i + 1, j), lcs(i, j + 1));
            memo.set(k, v);
          }
          return v;
        };
        assert.equal(ops.filter((o) => o.op === ' ').length, lcs(0, 0));
      }),
    );
  });

  test('very long inputs skip the LCS table but still produce a correct script', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}`);
    const ops = editScript(['same', ...a, 'end'], ['same', ...b, 'end']);
    assert.equal(ops.length, 6002);
    assert.deepEqual(ops[0], { op: ' ', line: 'same' });
    assert.deepEqual(ops[ops.length - 1], { op: ' ', line: 'end' });
  });
});
