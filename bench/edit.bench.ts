// `npm run bench edit`: scan and edit a generated environment tree of 5,000 files (~50 MB) with the engine the
// CLI and the Action use, against a plain `yaml` parse of the same tree in the same run. Issue 4's goal: the edit
// costs at most 1.5× the parse. Figures only; nothing is asserted.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { readCheckout, writeEdits } from '../cli/checkout-files.ts';
import { planEdits } from '../shared/src/plan-edits.ts';
import type { Report } from './run.ts';

/** The bench's name in `npm run bench` output. */
export const name = 'edit: scan and edit a 5,000-file environment tree';

const ENVS = ['dev', 'staging', 'prod'];
const APPS = 555; // × 3 envs × 3 files ≈ 5,000 files

function deployment(app: number, env: string): string {
  const envVars = Array.from(
    { length: 40 },
    (_, i) => `            - name: SETTING_${i}\n              value: "${env}-${app}-${i}" # per environment\n`,
  ).join('');
  const config = Array.from({ length: 330 }, (_, i) => `    key.${i} = value ${app}-${i} for ${env}\n`).join('');
  return `# ${env}/app-${app}: web deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-${app}
  labels: {app: app-${app}, env: ${env}}
  annotations:
    tether.dev/sync-wave: "1"
spec:
  replicas: ${env === 'prod' ? 6 : 1}
  selector:
    matchLabels:
      app: app-${app}
  template:
    metadata:
      labels:
        app: app-${app}
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/app-${app}:1.0.${app % 7}
          args: ["migrate", "--wait"]
      containers:
        - name: app
          image: ghcr.io/acme/app-${app}:1.0.${app % 7} # bumped by CI
          ports:
            - containerPort: 8080
          env:
${envVars}          resources:
            limits: {cpu: 500m, memory: 256Mi}
            requests: {cpu: 100m, memory: 128Mi}
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
        - name: proxy
          image: "envoyproxy/envoy:v1.30.2"
---
apiVersion: v1
kind: Service
metadata:
  name: app-${app}
spec:
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: app-${app}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${app}-config
data:
  app.properties: |
${config}`;
}

function values(app: number, env: string): string {
  const extra = Array.from(
    { length: 190 },
    (_, i) => `  feature${i}:\n    enabled: ${i % 2 === 0}\n    threshold: ${i * 3} # tuned for ${env}\n`,
  ).join('');
  return `# Helm values for app-${app} in ${env}
replicaCount: 2
image:
  repository: ghcr.io/acme/app-${app}
  pullPolicy: IfNotPresent
  tag: "1.0.${app % 7}"
  digest: ""
metrics:
  image:
    registry: docker.io
    repository: bitnami/redis-exporter
    tag: 1.58.0
features:
${extra}`;
}

function kustomization(app: number): string {
  return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
images:
  - name: ghcr.io/acme/app-${app}
    newTag: 1.0.${app % 7}
  - name: envoyproxy/envoy
    newTag: v1.30.2
`;
}

function generate(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const put = (path: string, text: string) => {
    writeFileSync(path, text);
    files++;
    bytes += Buffer.byteLength(text);
  };
  for (const env of ENVS) {
    for (let app = 0; app < APPS; app++) {
      const dir = join(root, 'envs', env, `app-${app}`);
      mkdirSync(dir, { recursive: true });
      put(join(dir, 'deployment.yaml'), deployment(app, env));
      put(join(dir, 'values.yaml'), values(app, env));
      put(join(dir, 'kustomization.yaml'), kustomization(app));
    }
  }
  for (let i = 0; files < 5000; i++) put(join(root, `extra-${i}.yaml`), `# placeholder ${i}\nitems: []\n`);
  return { files, bytes };
}

/** Milliseconds of one run of `fn`. */
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** A bump scenario: the image it sets, alternating between two versions so that every round edits as much. */
interface Scenario {
  label: string;
  image: string;
  versions: [string, string];
}

const SCENARIOS: Scenario[] = [
  // The common case: CI bumps one app; its deployment, values and kustomization change in each environment.
  { label: 'one app', image: 'ghcr.io/acme/app-7', versions: ['2.0.0', '1.0.0'] },
  // The worst case: a sidecar used by every deployment and kustomization, so two thirds of the files are edited
  // (and therefore parsed twice: once to scan, once to verify the result).
  { label: 'a sidecar everywhere', image: 'envoyproxy/envoy', versions: ['v1.31.0', 'v1.30.2'] },
];

const ROUNDS = 2;

/** Runs the bench: generate, then rounds of (plain parse, each bump), reporting the best round of each. */
export async function run(report: Report): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tether-edit-bench-'));
  try {
    const { files, bytes } = generate(root);
    const mb = bytes / 1e6;
    report('tree', `${files} files, ${mb.toFixed(1)} MB`);
    const paths = readCheckout(root).files.map((f) => f.path);

    // Baseline: read every file and parse every document with the yaml library, nothing else.
    const plainParse = () => {
      for (const p of paths) parseAllDocuments(readFileSync(join(root, p), 'utf8'));
    };
    // The bump as the CLI runs it: read the checkout, plan (scan, edit, verify), write the edited files.
    const stats = new Map<string, { changes: number; files: number }>();
    const bump = (s: Scenario, round: number) => () => {
      const plan = planEdits(readCheckout(root).files, { images: [`${s.image}:${s.versions[round % 2]}`] });
      writeEdits(root, plan.edits);
      stats.set(s.label, { changes: plan.changes.length, files: plan.edits.length });
    };
    // Rounds interleave the baseline and the bumps, and the best of each is kept, so that load from other processes
    // on the machine distorts the ratio as little as possible. Round 0 warms up the JIT and is not counted.
    const best = new Map<string, number>();
    for (let round = 0; round <= ROUNDS; round++) {
      const runs: [string, () => void][] = [
        ['parse', plainParse],
        ...SCENARIOS.map((s): [string, () => void] => [s.label, bump(s, round)]),
      ];
      for (const [label, fn] of runs) {
        const ms = timed(fn);
        if (round > 0) best.set(label, Math.min(best.get(label) ?? Number.POSITIVE_INFINITY, ms));
      }
    }
    const parseMs = best.get('parse')!;
    report('plain yaml parse (read + parseAllDocuments)', files / (parseMs / 1000), 'files/s');
    report('plain yaml parse', mb / (parseMs / 1000), 'MB/s');
    for (const s of SCENARIOS) {
      const ms = best.get(s.label)!;
      const st = stats.get(s.label)!;
      report(`bump ${s.label}: ${st.changes} values in ${st.files} files`, files / (ms / 1000), 'files/s');
      report(`bump ${s.label}`, mb / (ms / 1000), 'MB/s');
      report(`bump ${s.label}: cost vs plain parse`, ms / parseMs, '×', '≤ 1.5×');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
