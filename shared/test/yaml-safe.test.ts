import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultYamlLimits, parseYamlSafe, parseYamlSafeOne, yamlBudget } from '../src/yaml-safe.ts';
import { aliasBomb } from './hostile-yaml.ts';

describe('parseYamlSafe', () => {
  test('parses every document of a stream, with merge keys and shared anchors', () => {
    const docs = parseYamlSafe('a: &base {x: 1}\nb:\n  <<: *base\n  y: 2\n---\n---\n[1, 2]\n', 'm.yaml');
    assert.deepEqual(docs, [{ a: { x: 1 }, b: { x: 1, y: 2 } }, null, [1, 2]]);
  });

  test('an alias bomb of ~300 bytes is refused quickly, naming the file and the document', () => {
    const bomb = aliasBomb();
    assert.ok(bomb.length < 400, `bomb is ${bomb.length} bytes`);
    const t0 = performance.now();
    assert.throws(
      () => parseYamlSafe(`kind: ConfigMap\n---\n${bomb}`, 'envs/dev/bomb.yaml', { code: 'render' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'render');
        assert.match(err.message, /^envs\/dev\/bomb\.yaml: document 2: aliases expand to more than 1000000 nodes/);
        return true;
      },
    );
    assert.ok(performance.now() - t0 < 2000, 'the check is linear in the document');
  });

  test('an alias that contains itself is refused', () => {
    assert.throws(
      () => parseYamlSafe('a: &a [1, *a]\n', 'loop.yaml'),
      /loop\.yaml: .*(refers to a node that contains it|alias)/,
    );
  });

  test('a 50 MB file is refused by its size, before it is parsed', () => {
    const big = new Uint8Array(50 * 1024 * 1024).fill(0x61);
    const t0 = performance.now();
    assert.throws(
      () => parseYamlSafe(big, 'envs/dev/huge.yaml'),
      /^TetherError: envs\/dev\/huge\.yaml: 52428800 bytes is more than the 8388608/,
    );
    assert.ok(performance.now() - t0 < 500);
  });

  test('200,000 documents are refused by their count, before they are built', () => {
    const many = 'kind: ConfigMap\n---\n'.repeat(200_000);
    assert.throws(() => parseYamlSafe(many, 'envs/dev/many.yaml'), /envs\/dev\/many\.yaml: more than 10000 documents/);
  });

  test('one budget across files: total size and documents are limited for the whole render', () => {
    const budget = yamlBudget({ ...defaultYamlLimits(), maxTotalBytes: 100, maxDocuments: 3 });
    parseYamlSafe('a: 1\n---\nb: 2\n', 'one.yaml', { budget });
    assert.throws(
      () => parseYamlSafe('c: 1\n---\nd: 2\n', 'two.yaml', { budget }),
      /two\.yaml: more than 3 documents in all/,
    );
    const small = yamlBudget({ ...defaultYamlLimits(), maxTotalBytes: 10 });
    parseYamlSafe('a: 1\n', 'a.yaml', { budget: small });
    assert.throws(
      () => parseYamlSafe('bbbbbb: 1\n', 'b.yaml', { budget: small }),
      /b\.yaml: the files read together exceed 10 bytes/,
    );
  });

  test('syntax errors and bad UTF-8 name the file; a config file holds one document', () => {
    assert.throws(() => parseYamlSafe('a: [1, 2\n', 'bad.yaml', { code: 'config' }), /^TetherError: bad\.yaml: /);
    assert.throws(
      () => parseYamlSafe(new Uint8Array([0x61, 0x3a, 0x20, 0xff]), 'bin.yaml'),
      /bin\.yaml: not valid UTF-8/,
    );
    assert.equal(parseYamlSafeOne('', 'empty.yaml'), undefined);
    assert.throws(
      () => parseYamlSafeOne('a: 1\n---\nb: 2\n', 'c.yaml'),
      /c\.yaml: expected one YAML document, found 2/,
    );
  });
});
