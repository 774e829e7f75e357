import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deleteAfter,
  generatedName,
  hookFailureMessage,
  hookState,
  hooksOf,
  hookWaves,
  splitHooks,
} from '../src/core/hooks.ts';
import { validateObjects } from '../src/core/objects.ts';
import type { K8sObject } from '../src/core/types.ts';

const job = (name: string, annotations: Record<string, string>, status?: unknown): K8sObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, namespace: 'web', annotations },
  ...(status ? { status } : {}),
});

test('hooks are split from members; Skip objects stay members', () => {
  const { members, hooks } = splitHooks([
    job('a', {}),
    job('b', { 'argocd.argoproj.io/hook': 'Skip' }),
    job('c', { 'helm.sh/hook': 'post-install' }),
  ]);
  assert.deepEqual(
    members.map((m) => m.metadata.name),
    ['a', 'b'],
  );
  assert.deepEqual(
    hooks.map((h) => [h.object.metadata.name, h.phases, h.deletePolicies]),
    [['c', ['PostSync'], ['BeforeHookCreation']]],
  );
});

test('hooks of a phase run by wave, then kind, then name', () => {
  const { hooks } = splitHooks([
    job('z', { 'tether.dev/hook': 'PreSync' }),
    job('late', { 'tether.dev/hook': 'PreSync', 'tether.dev/sync-wave': '2' }),
    job('a', { 'tether.dev/hook': 'PreSync' }),
    job('post', { 'tether.dev/hook': 'PostSync' }),
  ]);
  assert.deepEqual(
    hooksOf(hooks, 'PreSync').map((h) => h.object.metadata.name),
    ['a', 'z', 'late'],
  );
});

test('a Job hook ends by its conditions, a Pod by its phase, others by health', () => {
  assert.equal(hookState(job('j', {}, { conditions: [{ type: 'Complete', status: 'True' }] })).state, 'Succeeded');
  const failed = hookState(
    job('j', {}, { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }),
  );
  assert.deepEqual(failed, { state: 'Failed', message: 'BackoffLimitExceeded' });
  assert.equal(hookState(job('j', {}, { active: 1 })).state, 'Running');
  const pod = (phase: string): K8sObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    status: { phase },
  });
  assert.equal(hookState(pod('Succeeded')).state, 'Succeeded');
  assert.equal(hookState(pod('Failed')).state, 'Failed');
  assert.equal(hookState(pod('Running')).state, 'Running');
  assert.equal(hookState({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }).state, 'Succeeded');
});

test('generated names look like the apiserver makes them', () => {
  assert.match(generatedName('seed-'), /^seed-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(
    generatedName('x-', () => 0),
    'x-bbbbb',
  );
});

test('delete policies apply to the matching outcome only', () => {
  assert.equal(deleteAfter(['HookSucceeded'], 'Succeeded'), true);
  assert.equal(deleteAfter(['HookSucceeded'], 'Failed'), false);
  assert.equal(deleteAfter(['HookFailed'], 'Failed'), true);
  assert.equal(deleteAfter(['BeforeHookCreation'], 'Succeeded'), false);
});

test('generateName is accepted for a hook only', () => {
  const item = (annotations: Record<string, string>) => ({
    file: 'hooks.yaml',
    object: { apiVersion: 'batch/v1', kind: 'Job', metadata: { generateName: 'seed-', annotations } },
  });
  const ns = () => true;
  const [hook] = validateObjects([item({ 'argocd.argoproj.io/hook': 'PreSync' })], ns, { defaultNamespace: 'web' });
  assert.equal(hook?.metadata.generateName, 'seed-');
  assert.equal(hook?.metadata.namespace, 'web');
  assert.throws(() => validateObjects([item({})], ns), /hooks\.yaml: Job\/<no name>: metadata\.name missing/);
  assert.throws(() => validateObjects([item({ 'tether.dev/hook': 'Skip' })], ns), /metadata\.name missing/);
});

test('hooks of a phase are grouped into waves, in run order', () => {
  const { hooks } = splitHooks([
    job('b', { 'tether.dev/hook': 'PreSync' }),
    job('late', { 'tether.dev/hook': 'PreSync', 'tether.dev/sync-wave': '2' }),
    job('a', { 'tether.dev/hook': 'PreSync' }),
    job('first', { 'tether.dev/hook': 'PreSync', 'tether.dev/sync-wave': '-1' }),
    job('post', { 'tether.dev/hook': 'PostSync' }),
  ]);
  assert.deepEqual(
    hookWaves(hooks, 'PreSync').map((w) => w.map((h) => h.object.metadata.name)),
    [['first'], ['a', 'b'], ['late']],
  );
  assert.deepEqual(hookWaves(hooks, 'SyncFail'), []);
});

test('a failed phase names every failed hook', () => {
  const r = (subject: string, outcome: 'Succeeded' | 'Failed', message: string) => ({
    phase: 'PreSync' as const,
    subject,
    outcome,
    message,
    durationMs: 1,
    deleted: false,
  });
  assert.equal(hookFailureMessage([r('Job/web/a', 'Succeeded', 'job complete')]), undefined);
  assert.equal(
    hookFailureMessage([r('Job/web/a', 'Failed', 'boom'), r('Job/web/b', 'Succeeded', 'job complete')]),
    'PreSync hook Job/web/a failed: boom',
  );
  assert.equal(
    hookFailureMessage([r('Job/web/a', 'Failed', 'boom'), r('Job/web/b', 'Failed', 'timeout')]),
    '2 PreSync hooks failed: Job/web/a: boom; Job/web/b: timeout',
  );
});
