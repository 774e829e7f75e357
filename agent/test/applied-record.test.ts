import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  APPLIED_GZ_KEY,
  type AppliedRecord,
  decodeAppliedRecord,
  desiredHash,
  encodeAppliedRecord,
  unchangedSinceApplied,
} from '../src/core/applied-record.ts';
import { defaultParentRef, parentObject, readAppliedText } from '../src/core/inventory.ts';
import type { K8sObject } from '../src/core/types.ts';

const cm = (value: string, rv?: string): K8sObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'web', ...(rv ? { resourceVersion: rv } : {}) },
  data: { value },
});

test('desiredHash moves with the object and with the ignore rules, and only then', () => {
  assert.equal(desiredHash(cm('a')), desiredHash(cm('a')));
  assert.notEqual(desiredHash(cm('a')), desiredHash(cm('b')));
  assert.notEqual(
    desiredHash(cm('a')),
    desiredHash(cm('a'), [{ group: '', kind: 'ConfigMap', jsonPointers: ['/data'] }]),
  );
  // Given as the JSON already sent as the apply body, the hash is the one records written from objects hold.
  const rules = [{ group: '', kind: 'ConfigMap', jsonPointers: ['/data'] }];
  assert.equal(desiredHash(JSON.stringify(cm('a')), rules), desiredHash(cm('a'), rules));
  // Records stored in parents by earlier agents stay valid: sha256 of the object's JSON, a NUL and the rules' JSON.
  assert.equal(desiredHash(cm('a')), 'u1AviY6HQNE9t234');
});

test('an object is unchanged since applied only when both hash and resourceVersion match', () => {
  const record: AppliedRecord = new Map([['/ConfigMap/web/c', { hash: desiredHash(cm('a')), resourceVersion: '7' }]]);
  const key = '/ConfigMap/web/c';
  assert.equal(unchangedSinceApplied(record, key, desiredHash(cm('a')), cm('a', '7')), true);
  assert.equal(unchangedSinceApplied(record, key, desiredHash(cm('a')), cm('x', '8')), false, 'live moved');
  assert.equal(unchangedSinceApplied(record, key, desiredHash(cm('b')), cm('a', '7')), false, 'Git moved');
  assert.equal(unchangedSinceApplied(record, key, desiredHash(cm('a')), undefined), false, 'gone');
  assert.equal(unchangedSinceApplied(record, '/ConfigMap/web/d', desiredHash(cm('a')), cm('a', '7')), false);
});

test('the record round-trips through the ApplySet parent, keeping only members', () => {
  const record: AppliedRecord = new Map([
    ['/ConfigMap/web/c', { hash: 'h1', resourceVersion: '7' }],
    ['apps/Deployment/web/api', { hash: 'h2', resourceVersion: '9' }],
    ['/ConfigMap/web/gone', { hash: 'h3', resourceVersion: '3' }],
  ]);
  const text = encodeAppliedRecord(record, new Set(['/ConfigMap/web/c', 'apps/Deployment/web/api']));
  const ref = defaultParentRef('web');
  const parent = parentObject(ref, [], { applied: text });
  assert.equal((parent.binaryData as Record<string, string>)[APPLIED_GZ_KEY], text);
  const back = decodeAppliedRecord(readAppliedText(parent));
  assert.deepEqual(
    [...back],
    [
      ['/ConfigMap/web/c', { hash: 'h1', resourceVersion: '7' }],
      ['apps/Deployment/web/api', { hash: 'h2', resourceVersion: '9' }],
    ],
  );
  const secret = parentObject({ ...ref, kind: 'Secret' }, [], { applied: text });
  assert.equal(decodeAppliedRecord(readAppliedText(secret)).size, 2);
  assert.equal(decodeAppliedRecord('not base64 gzip').size, 0, 'unreadable: empty, the dry-runs decide');
  assert.equal(decodeAppliedRecord(undefined).size, 0);
});
