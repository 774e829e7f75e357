// The one judgement behind the API's diff, the status page, `tether diff` and `tether status`, on captured objects.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { healEvent, syncEvents } from '../src/core/app-events.ts';
import { diffText, judgeObject, summarize } from '../src/core/inspection.ts';
import { fixture } from './load-fixture.ts';

describe('judgeObject and summarize', () => {
  const live = fixture('deployment-available.yaml');

  test('a dry-run equal to live is Synced, with no diff and the live health', () => {
    const o = judgeObject({ desired: live, live, dryRun: fixture('deployment-available.dry-run-same.yaml') });
    assert.equal(o.sync, 'Synced');
    assert.equal(o.diff, '');
    assert.equal(o.health.status, 'Healthy');
  });

  test('a dry-run with a new image is OutOfSync, and the diff shows the image line changing', () => {
    const o = judgeObject({ desired: live, live, dryRun: fixture('deployment-available.dry-run-new-image.yaml') });
    assert.equal(o.sync, 'OutOfSync');
    assert.match(o.diff, /^--- live\/Deployment\//m);
    assert.match(o.diff, /^\+ +- image: /m);
    assert.match(o.diff, /^- +- image: /m);
  });

  test('an object not yet in the cluster is OutOfSync and Missing; an error is Unknown and named in the text', () => {
    const missing = judgeObject({ desired: live, dryRun: live });
    assert.equal(missing.sync, 'OutOfSync');
    assert.equal(missing.health.status, 'Missing');
    assert.match(missing.diff, /^\+spec:$/m);
    const failed = judgeObject({ desired: live, error: 'kube: connection refused' });
    assert.equal(failed.sync, 'Unknown');
    assert.equal(diffText([missing, failed]).split('\n').at(-1), `# ${failed.subject}: kube: connection refused`);
    assert.equal(summarize([missing, failed]).sync, 'Unknown');
    assert.equal(summarize([missing]).sync, 'OutOfSync');
    assert.equal(summarize([missing]).health.status, 'Missing');
  });
});

describe('app events', () => {
  const entries = [
    { subject: 'Deployment/web/api', action: 'configured' as const },
    { subject: 'ConfigMap/web/old', action: 'pruned' as const },
    { subject: 'Service/web/api', action: 'unchanged' as const },
  ];

  test('a sync that changed things records Synced and Pruned; a no-op, unchanged or failed sync records none', () => {
    const events = syncEvents({ revision: 'abcdef0123', entries, noop: false }, 'prev');
    assert.deepEqual(
      events.map((e) => [e.reason, e.message]),
      [
        ['Synced', 'Synced abcdef0: 2 changed, 3 total'],
        ['Pruned', 'Pruned ConfigMap/web/old'],
      ],
    );
    assert.deepEqual(syncEvents({ revision: 'a', entries, noop: true }, 'prev'), []);
    assert.deepEqual(syncEvents({ revision: 'a', entries: [entries[2]!], noop: false }, 'a'), []);
    assert.deepEqual(syncEvents({ revision: 'b', entries, noop: false, error: { stage: 'apply' } }, 'a'), []);
  });

  test('a revision its project refuses records one Refused warning naming each object and rule', () => {
    const refused = [
      { subject: 'ClusterRoleBinding/admin', action: 'refused' as const, reason: 'project team-a: cluster-scoped' },
      { subject: 'ConfigMap/kube-system/x', action: 'refused' as const, reason: 'project team-a: namespace' },
    ];
    const out = { revision: 'abcdef0123', entries: refused, noop: false, error: { stage: 'apply' } };
    assert.deepEqual(syncEvents(out, 'prev'), [
      {
        reason: 'Refused',
        message:
          'Refused abcdef0, nothing applied: ClusterRoleBinding/admin (project team-a: cluster-scoped); ConfigMap/kube-system/x (project team-a: namespace)',
        type: 'Warning',
      },
    ]);
    // Refused again at the same revision (every interval): no second event.
    assert.deepEqual(syncEvents(out, 'abcdef0123'), []);
  });

  test('a heal names the object, the action and the reason', () => {
    const e = healEvent('detected', 'Deployment/web/api', { subject: 'x', action: 'skipped', reason: 'self-heal off' });
    assert.deepEqual(e, { reason: 'Drifted', message: 'Deployment/web/api: skipped (self-heal off)', type: 'Normal' });
  });
});
