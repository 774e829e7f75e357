// A value shared through an anchor is edited only when every place that reads it belongs to a requested image
// that needs the same value; otherwise the plan is refused, naming both places and the fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TetherError } from '../src/errors.ts';
import { parseFieldSpec } from '../src/field-spec.ts';
import { type EditRequest, planEdits } from '../src/plan-edits.ts';

function plan(text: string, request: EditRequest | string[], path = 'values.yaml') {
  return planEdits([{ path, text }], Array.isArray(request) ? { images: request } : request);
}

function refused(re: RegExp) {
  return (e: unknown) => e instanceof TetherError && e.code === 'edit' && re.test(e.message);
}

const TWO =
  'web:\n  image:\n    repository: ghcr.io/acme/web\n    tag: &tag 1.0.0\napi:\n  image:\n    repository: ghcr.io/acme/api\n    tag: *tag\n';

test('an anchor shared with another image is refused, naming both places and the fix', () => {
  assert.throws(
    () => plan(TWO, ['ghcr.io/acme/web:2.0.0']),
    refused(
      /values\.yaml: web\.image\.tag holds ghcr\.io\/acme\/web \(used at web\.image\) and is also read at api\.image\.tag by ghcr\.io\/acme\/api, which this request does not set;.*Split the anchor/,
    ),
  );
  // Asked for both images with one version: the shared value is theirs to change.
  const both = plan(TWO, ['ghcr.io/acme/web:2.0.0', 'ghcr.io/acme/api:2.0.0']);
  assert.equal(both.edits[0]?.newText, TWO.replace('&tag 1.0.0', '&tag 2.0.0'));
  // Different versions for the two: still refused (no single value fits both).
  assert.throws(() => plan(TWO, ['ghcr.io/acme/web:2.0.0', 'ghcr.io/acme/api:3.0.0']), refused(/shared/));
});

test('an anchor also read by something that is not an image is refused', () => {
  const text = 'x-version: &v 1.0.0\nimage:\n  repository: ghcr.io/acme/web\n  tag: *v\npodLabels:\n  version: *v\n';
  assert.throws(
    () => plan(text, ['ghcr.io/acme/web:2.0.0']),
    refused(/x-version holds ghcr\.io\/acme\/web .* also read at podLabels\.version by something that is not an image/),
  );
  // Only images read it: the definition alone is no other use.
  const ok = 'x-version: &v 1.0.0\nimage:\n  repository: ghcr.io/acme/web\n  tag: *v\n';
  assert.equal(plan(ok, ['ghcr.io/acme/web:2.0.0']).edits[0]?.newText, ok.replace('1.0.0', '2.0.0'));
});

test('full references shared by containers of two images, and through a merge key', () => {
  const refs =
    'x-img: &img ghcr.io/acme/web:1\nspec:\n  containers:\n    - {name: a, image: *img}\n    - {name: b, image: *img}\n';
  // Every reader is the requested image: edited once, at the anchor.
  const r = plan(refs, ['ghcr.io/acme/web:2'], 'pod.yaml');
  assert.equal(r.edits[0]?.newText, refs.replace('web:1', 'web:2'));
  const merged =
    'x-base: &base\n  repository: ghcr.io/acme/web\n  tag: "1"\nweb:\n  image:\n    <<: *base\napi:\n  image:\n    <<: *base\n    repository: ghcr.io/acme/api\n';
  assert.throws(
    () => plan(merged, ['ghcr.io/acme/web:2']),
    refused(/also read at api\.image\.tag by ghcr\.io\/acme\/api/),
  );
});

test('a marker or a field that resolves into shared text is refused the same way', () => {
  const marked = 'a:\n  tag: &t v1 # tether:image=ghcr.io/acme/web:tag\nb:\n  release: *t\n';
  assert.throws(() => plan(marked, ['ghcr.io/acme/web:v2']), refused(/a\.tag holds .* also read at b\.release/));
  const field = 'a:\n  webTag: &t v1\nb:\n  apiTag: *t\n';
  const fields = [parseFieldSpec('b.apiTag=ghcr.io/acme/api:tag'), parseFieldSpec('a.webTag=ghcr.io/acme/web:tag')];
  assert.throws(
    () => plan(field, { images: ['ghcr.io/acme/api:v2'], fields }),
    refused(/also read at a\.webTag by ghcr\.io\/acme\/web/),
  );
  assert.equal(
    plan(field, { images: ['ghcr.io/acme/api:v2', 'ghcr.io/acme/web:v2'], fields }).edits[0]?.newText,
    field.replace('&t v1', '&t v2'),
  );
});

test('a key inserted into a merged map would reach the maps that merge it: refused unless they are requested', () => {
  const text =
    'web:\n  image: &w\n    repository: ghcr.io/acme/web\napi:\n  image:\n    <<: *w\n    repository: ghcr.io/acme/api\n';
  assert.throws(
    () => plan(text, ['ghcr.io/acme/web:2']),
    refused(/web\.image\.tag holds ghcr\.io\/acme\/web .* also read at api\.image\.tag through a `<<` merge/),
  );
  // Both requested: each map gets its own tag, and api's own key wins over the merged one.
  const both = plan(text, ['ghcr.io/acme/web:2', 'ghcr.io/acme/api:2']);
  assert.equal(both.changes.length, 2);
});
