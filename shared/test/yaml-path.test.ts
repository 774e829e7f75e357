import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatYamlPath, parseYamlPath } from '../src/yaml-path.ts';

test('formats keys, indices and keys that need quoting', () => {
  assert.equal(
    formatYamlPath(['spec', 'template', 'spec', 'containers', 0, 'image']),
    'spec.template.spec.containers[0].image',
  );
  assert.equal(formatYamlPath(['images', 0, 'newTag']), 'images[0].newTag');
  assert.equal(
    formatYamlPath(['metadata', 'annotations', 'example.com/image']),
    'metadata.annotations["example.com/image"]',
  );
  assert.equal(formatYamlPath([0, 'a']), '[0].a');
});

test('parses what it formats, and user paths', () => {
  for (const p of [
    ['a', 'b', 0, 'c'],
    ['x', 'k.with.dots', 2],
    ['frontend', 'image', 'tag'],
  ])
    assert.deepEqual(parseYamlPath(formatYamlPath(p)), p);
  assert.deepEqual(parseYamlPath('frontend.image-tag'), ['frontend', 'image-tag']);
  assert.throws(() => parseYamlPath(''), /empty/);
  assert.throws(() => parseYamlPath('a[x]'), /malformed at column 2/);
  assert.throws(() => parseYamlPath('.a'), /malformed/);
});
