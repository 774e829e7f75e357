// Migration without edits: an app written for Argo CD (argocd.argoproj.io annotations) and a Helm chart with its
// own hooks (rendered by the real helm binary) sync exactly as their twin written with Tether's annotations — the
// same hook runs, the same order of creation (a PreSync Job, then wave 1, then wave 2 once wave 1 is healthy, then
// the PostSync hook), the same final objects. Full mode: kwok runs the Pods and Jobs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureHelm } from '../../testenv/src/helm.ts';
import type { K8sObject, SyncResult } from '../src/core/types.ts';
import { type AgentWorld, startAgentWorld } from './fixtures/agent-world.ts';

/** The annotation keys of each dialect. */
const dialects = {
  tether: { wave: 'tether.dev/sync-wave', hook: (p: string) => `"tether.dev/hook": "${p}"` },
  argo: { wave: 'argocd.argoproj.io/sync-wave', hook: (p: string) => `"argocd.argoproj.io/hook": "${p}"` },
  // Helm's hook names; its charts carry waves as Argo CD's annotation (as charts written for Argo CD do).
  helm: {
    wave: 'argocd.argoproj.io/sync-wave',
    hook: (p: string) =>
      `"helm.sh/hook": "${p === 'PreSync' ? 'pre-install,pre-upgrade' : 'post-install,post-upgrade'}"`,
  },
} as const;

/** The app's manifests in one dialect: a PreSync Job (3 s), wave 1 `db` (ready after 2 s), wave 2 `web`, PostSync. */
function manifests(d: (typeof dialects)[keyof typeof dialects], ns: string): Record<string, string> {
  const deploy = (name: string, wave: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: {"${d.wave}": "${wave}"}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata:
      labels: {app: ${name}}
      annotations: {tether.test/ready-after: "2s"}
    spec:
      containers: [{name: c, image: "ghcr.io/acme/${name}:1.0.0"}]
`;
  return {
    'migrate.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: ${ns}
  annotations: {${d.hook('PreSync')}}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {tether.test/ready-after: "3s", tether.test/job-outcome: "ok"}
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "ghcr.io/acme/migrate:1.0.0"}]
`,
    'db.yaml': deploy('db', 1),
    'web.yaml': deploy('web', 2),
    'done.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: done
  namespace: ${ns}
  annotations: {${d.hook('PostSync')}}
data: {synced: "yes"}
`,
  };
}

const files: Record<string, string> = {};
for (const [name, d] of Object.entries({ tether: dialects.tether, argo: dialects.argo })) {
  files[`${name}/ns.yaml`] = `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${name}}\n`;
  for (const [f, text] of Object.entries(manifests(d, name))) files[`${name}/${f}`] = text;
}
files['helm/Chart.yaml'] = 'apiVersion: v2\nname: twin\nversion: 1.0.0\n';
files['helm/templates/ns.yaml'] = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: {{ .Release.Namespace }}}\n';
for (const [f, text] of Object.entries(manifests(dialects.helm, '{{ .Release.Namespace }}'))) {
  files[`helm/templates/${f}`] = text;
}

describe('an Argo CD app and a Helm chart behave as their Tether-annotated twin (full mode)', () => {
  let w: AgentWorld;
  before(async () => {
    process.env.PATH = `${ensureHelm()}:${process.env.PATH ?? ''}`;
    w = await startAgentWorld({ kube: 'full', files });
  });
  after(() => w?.stop());

  async function syncApp(name: string): Promise<SyncResult> {
    const app = await w.appSync(
      {
        name,
        namespace: name,
        waveTimeoutMs: 120_000,
        ...(name === 'helm' ? { render: { helm: { releaseName: 'twin', namespace: 'helm', valuesFiles: [] } } } : {}),
      },
      { wavePollMs: 200 },
    );
    const out = await app.sync();
    assert.equal(out.error, undefined, `${name}: ${JSON.stringify(out.error)}`);
    return out;
  }

  async function list(path: string): Promise<K8sObject[]> {
    const r = await w.kube.request('GET', path);
    assert.equal(r.status, 200, path);
    return (r.body as { items: K8sObject[] }).items;
  }

  /** What each twin left: objects with their creation time, hooks and members alike. */
  async function outcome(ns: string) {
    const objects = [
      ...(await list(`/apis/batch/v1/namespaces/${ns}/jobs`)).map((o) => ({ ...o, kind: 'Job' })),
      ...(await list(`/apis/apps/v1/namespaces/${ns}/deployments`)).map((o) => ({ ...o, kind: 'Deployment' })),
      ...(await list(`/api/v1/namespaces/${ns}/configmaps`))
        .filter((o) => o.metadata.name !== 'kube-root-ca.crt')
        .map((o) => ({ ...o, kind: 'ConfigMap' })),
    ];
    const created = (o: K8sObject) => Date.parse(o.metadata.creationTimestamp!);
    return {
      /** Kind/name in the order of creation (timestamps have one-second resolution; the steps are 2-3 s apart). */
      order: [...objects].sort((a, b) => created(a) - created(b)).map((o) => `${o.kind}/${o.metadata.name}`),
      times: Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, created(o)])),
      data: ((
        objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'done') as K8sObject & { data?: object }
      )?.data ?? {}) as object,
    };
  }

  test('same hook runs, same order of creation, same final objects', async () => {
    const results: Record<string, { hooks: string[]; entries: string[] }> = {};
    for (const name of ['tether', 'argo', 'helm']) {
      const out = await syncApp(name);
      results[name] = {
        hooks: (out.hooks ?? []).map((h) => `${h.phase} ${h.subject.replace(`/${name}/`, '/')} ${h.outcome}`),
        // Each twin lives in the namespace named after it: subjects are compared without it.
        entries: out.entries
          .map((e) => `${e.subject.replace(`/${name}/`, '/').replace(`Namespace/${name}`, 'Namespace/')} ${e.action}`)
          .sort(),
      };
    }
    assert.deepEqual(results.tether!.hooks, ['PreSync Job/migrate Succeeded', 'PostSync ConfigMap/done Succeeded']);
    assert.deepEqual(results.argo, results.tether);
    assert.deepEqual(results.helm, results.tether);

    const tether = await outcome('tether');
    console.log(`tether twin: ${JSON.stringify(tether.order)} ${JSON.stringify(tether.times)}`);
    // The twin itself: the Job first, each wave after the previous step, the PostSync hook last.
    assert.deepEqual(tether.order, ['Job/migrate', 'Deployment/db', 'Deployment/web', 'ConfigMap/done']);
    const t = tether.times;
    assert.ok(t['Deployment/db']! > t['Job/migrate']!, 'wave 1 after the PreSync Job');
    assert.ok(t['Deployment/web']! > t['Deployment/db']!, 'wave 2 after wave 1 was healthy');
    assert.ok(t['ConfigMap/done']! > t['Deployment/web']!, 'PostSync after the app was healthy');
    for (const name of ['argo', 'helm']) {
      const o = await outcome(name);
      assert.deepEqual(o.order, tether.order, `${name}: order of creation`);
      assert.deepEqual(o.data, tether.data, `${name}: the PostSync hook's data`);
    }
  });
});
