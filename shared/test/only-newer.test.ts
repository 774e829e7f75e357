// `only-newer`: a bump never downgrades a value whose current tag is newer by semver; digests and tags that are not
// versions have no order, so the requested version is set. Without the option the requested version always wins.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEdits } from '../src/plan-edits.ts';
import { newerThanRequested } from '../src/version-order.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

test('newerThanRequested orders tags by semver and nothing else', () => {
  assert.equal(newerThanRequested({ tag: '2.4.0' }, { tag: '2.2.0' }), '2.4.0');
  assert.equal(newerThanRequested({ tag: '2.10.0' }, { tag: '2.9.0' }), '2.10.0', 'numeric, not lexical');
  assert.equal(newerThanRequested({ tag: 'v1.2.0' }, { tag: '1.1.9' }), 'v1.2.0');
  assert.equal(newerThanRequested({ tag: '1.0.0' }, { tag: '1.0.0-rc.1' }), '1.0.0', 'a release is after its rc');
  assert.equal(newerThanRequested({ tag: '2.2.0' }, { tag: '2.4.0' }), undefined);
  assert.equal(newerThanRequested({ tag: '2.4.0' }, { tag: '2.4.0' }), undefined);
  assert.equal(newerThanRequested({ tag: 'latest' }, { tag: '1.0.0' }), undefined);
  assert.equal(newerThanRequested({ tag: '2.0.0' }, { tag: 'main-3f2a1c' }), undefined);
  assert.equal(newerThanRequested({ digest: D1 }, { digest: D2 }), undefined, 'digests are not ordered');
  assert.equal(newerThanRequested({ tag: '1.3.0', digest: D1 }, { tag: '1.2.0', digest: D2 }), `1.3.0@${D1}`);
  assert.equal(newerThanRequested({}, { tag: '1.0.0' }), undefined);
});

test('a bump with onlyNewer keeps a newer value, reports it, and still edits the older ones', () => {
  const files = [
    { path: 'envs/dev/web.yaml', text: 'spec:\n  containers:\n    - image: ghcr.io/acme/web:2.4.0\n' },
    { path: 'envs/prod/web.yaml', text: 'spec:\n  containers:\n    - image: ghcr.io/acme/web:2.0.0\n' },
    { path: 'envs/qa/values.yaml', text: 'image:\n  repository: ghcr.io/acme/web\n  tag: latest\n' },
  ];
  const plan = planEdits(files, { images: ['ghcr.io/acme/web:2.2.0'], onlyNewer: true });
  assert.deepEqual(
    plan.changes.map((c) => [c.file, c.new]),
    [
      ['envs/prod/web.yaml', 'ghcr.io/acme/web:2.2.0'],
      ['envs/qa/values.yaml', '2.2.0'],
    ],
  );
  assert.deepEqual(
    plan.skipped.map((s) => [s.path, s.location, s.kept, s.reason]),
    [
      [
        'envs/dev/web.yaml',
        'spec.containers[0].image',
        '2.4.0',
        'already at 2.4.0, newer than the requested 2.2.0 (only-newer)',
      ],
    ],
  );
  assert.deepEqual(plan.unmatched, [], 'a kept value is a match, not a missing image');
  // Default: the requested version wins everywhere.
  const plain = planEdits(files, { images: ['ghcr.io/acme/web:2.2.0'] });
  assert.equal(plain.changes.length, 3);
  assert.deepEqual(plain.skipped, []);
  // A digest-only request has no order against a tag: it is set.
  const byDigest = planEdits(files, { images: [`ghcr.io/acme/web@${D1}`], onlyNewer: true });
  assert.equal(byDigest.skipped.filter((s) => s.kept).length, 0);
  assert.equal(byDigest.changes.length, 2, 'both references pinned to the digest (the values file has no digest key)');
});
