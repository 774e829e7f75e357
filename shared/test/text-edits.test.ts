import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMap, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import {
  applyTextEdits,
  insertPairsEdit,
  isSafePlain,
  removePairEdit,
  setScalarEdit,
  type TextEdit,
} from '../src/text-edits.ts';

/** Sets the value under `key` of the top-level map and returns the new text. */
function setValue(text: string, key: string, value: string, json = false): string {
  const doc = parseDocument(text);
  const node = (doc.contents as YAMLMap).get(key, true) as Scalar;
  const edit = setScalarEdit(node, value, { text, json });
  assert.equal(typeof edit, 'object', String(edit));
  return applyTextEdits(text, [edit as TextEdit]);
}

test('plain stays plain unless YAML 1.2 or 1.1 would read it as something else', () => {
  assert.equal(setValue('tag: 1.2.3 # c\n', 'tag', '1.2.4'), 'tag: 1.2.4 # c\n');
  assert.equal(setValue('tag: v1\n', 'tag', '1.10'), 'tag: "1.10"\n');
  for (const v of ['1.10', '10', '1e3', '0x1F', 'true', 'null', 'yes', 'on', 'y', '0755', '1_000', '1:20', '.5', '~'])
    assert.equal(isSafePlain(v), false, v);
  for (const v of [
    '1.2.3',
    'v1.10',
    'latest',
    'sha256:abc',
    'ghcr.io/acme/web:1.2',
    'nginx@sha256:ab',
    'stable-alpine',
  ])
    assert.equal(isSafePlain(v), true, v);
  assert.equal(isSafePlain('web:'), false, 'a trailing colon would start a map');
  assert.equal(isSafePlain('@x'), false, '@ is reserved at the start');
  assert.equal(isSafePlain('a #b'), false);
});

test('quoted values keep their quote style; JSON files always get JSON strings', () => {
  assert.equal(setValue("tag: '1.0'   # keep\n", 'tag', "it's"), "tag: 'it''s'   # keep\n");
  assert.equal(setValue('tag: "1.0"\n', 'tag', 'a"b\\c'), 'tag: "a\\"b\\\\c"\n');
  assert.equal(setValue('{"tag": "1.0", "n": 1}', 'tag', '1.1', true), '{"tag": "1.1", "n": 1}');
  assert.equal(setValue('{"tag": 1.0}', 'tag', '1.1', true), '{"tag": "1.1"}');
  assert.equal(
    setValue('a: !!str 1.0\n', 'a', '1.1'),
    'a: !!str 1.1\n',
    'an explicit !!str keeps plain numbers strings',
  );
  assert.equal(setValue('a: &x old\nb: *x\n', 'a', 'new'), 'a: &x new\nb: *x\n');
});

test('an empty value gets its separating space; block scalars keep header and indentation', () => {
  assert.equal(setValue('tag:\nx: 1\n', 'tag', '1.2.3'), 'tag: 1.2.3\nx: 1\n');
  assert.equal(setValue('tag: ""\n', 'tag', '2'), 'tag: "2"\n');
  assert.equal(setValue('img: >-\r\n    web:1\r\nx: 1\r\n', 'img', 'web:2'), 'img: >-\r\n    web:2\r\nx: 1\r\n');
  const text = 'img: |\n  a\n  b\n';
  const node = (parseDocument(text).contents as YAMLMap).get('img', true) as Scalar;
  assert.match(String(setScalarEdit(node, 'x', { text, json: false })), /more than one line/);
});

function mapAt(text: string, path: (string | number)[]): YAMLMap {
  const m = parseDocument(text).getIn(path, true);
  assert.ok(isMap(m));
  return m;
}

test('inserting a pair: a new line in a block map (CRLF kept, no final newline kept), inline in a flow map', () => {
  const block = '- name: web\r\n  newTag: "1" # c\r\n- name: x';
  const m = mapAt(block, [0]);
  const e = insertPairsEdit(m, m.items[1]!, [['digest', 'sha256:ab']], { text: block, json: false }) as TextEdit;
  assert.equal(applyTextEdits(block, [e]), '- name: web\r\n  newTag: "1" # c\r\n  digest: sha256:ab\r\n- name: x');
  const flow = '- {name: web, newTag: "1"}\n';
  const f = mapAt(flow, [0]);
  const fe = insertPairsEdit(f, f.items[1]!, [['digest', '1.5']], { text: flow, json: false }) as TextEdit;
  assert.equal(applyTextEdits(flow, [fe]), '- {name: web, newTag: "1", digest: "1.5"}\n');
  const json = '{\n  "repository": "web",\n  "tag": "1"\n}';
  const j = mapAt(json, []);
  const je = insertPairsEdit(j, j.items[1]!, [['digest', 'd']], { text: json, json: true }) as TextEdit;
  assert.equal(applyTextEdits(json, [je]), '{\n  "repository": "web",\n  "tag": "1",\n  "digest": "d"\n}');
});

test('removing a pair: its whole line in a block map, the pair and a comma in a flow map', () => {
  const block = 'name: web\ndigest: sha256:ab # stale\nnewTag: x\n';
  const b = mapAt(block, []);
  assert.equal(
    applyTextEdits(block, [removePairEdit(b, b.items[1]!, { text: block, json: false }) as TextEdit]),
    'name: web\nnewTag: x\n',
  );
  const last = 'name: web\r\ndigest: d';
  const l = mapAt(last, []);
  assert.equal(
    applyTextEdits(last, [removePairEdit(l, l.items[1]!, { text: last, json: false }) as TextEdit]),
    'name: web',
  );
  const flow = '{digest: d, name: web}';
  const f = mapAt(flow, []);
  assert.equal(
    applyTextEdits(flow, [removePairEdit(f, f.items[0]!, { text: flow, json: false }) as TextEdit]),
    '{name: web}',
  );
  const flow2 = '{name: web, digest: d}';
  const f2 = mapAt(flow2, []);
  assert.equal(
    applyTextEdits(flow2, [removePairEdit(f2, f2.items[1]!, { text: flow2, json: false }) as TextEdit]),
    '{name: web}',
  );
  const seqFirst = '- digest: d\n  name: web\n';
  const s = mapAt(seqFirst, [0]);
  assert.match(String(removePairEdit(s, s.items[0]!, { text: seqFirst, json: false })), /does not start its line/);
});

test('overlapping edits are a bug and throw', () => {
  assert.throws(() =>
    applyTextEdits('abcdef', [
      { start: 1, end: 3, insert: '' },
      { start: 2, end: 4, insert: '' },
    ]),
  );
  assert.equal(
    applyTextEdits('abcdef', [
      { start: 4, end: 5, insert: 'X' },
      { start: 0, end: 1, insert: 'Y' },
    ]),
    'YbcdXf',
  );
});
