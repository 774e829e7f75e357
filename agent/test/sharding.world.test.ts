import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { freePort, waitFor } from '../../testenv/src/processes.ts';
import { startWorld, type World } from '../../testenv/src/world.ts';

// Three agent processes share one cluster by sharding; one is killed mid-sync and the others take its apps over.

const bin = new URL('../../bin/tether.js', import.meta.url).pathname;
const APPS = Array.from({ length: 12 }, (_, i) => `app-${i}`);
/** The last four are defined in Git (an `appsFrom` source), the others in the config file. */
const FROM_GIT = APPS.slice(8);
const SHARDS = 8;
const LEASE_MS = 3000;
const RENEW_MS = 1000;
/** ConfigMaps per app in the second revision: enough that a sync is still running when a replica is killed. */
const BIG = 40;

const cm = (app: string, i: number, rev: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${app}-cm-${i}\ndata: {rev: "${rev}"}\n`;

interface SyncEntry {
  revision: string;
  startedAt: string;
  durationMs: number;
  noop: boolean;
  counts: { applied: number };
  error?: { stage: string };
}

interface ShardMap {
  identity: string;
  held: number[];
  map: { shard: number; holder: string }[];
}

class Replica {
  readonly child: ChildProcess;
  output = '';
  dead = false;
  identity = '';
  constructor(
    readonly name: string,
    readonly port: number,
    config: string,
  ) {
    this.child = spawn(process.execPath, [bin, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString('utf8')).slice(-100_000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.child.on('exit', () => {
      this.dead = true;
    });
  }
  async get<T>(path: string): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${this.port}${path}`, { signal: AbortSignal.timeout(3000) });
    return (await r.json()) as T;
  }
  async apps(): Promise<{ apps: { name: string }[]; sharding: ShardMap }> {
    return this.get('/api/apps');
  }
}

let world: World;
let dir: string;
let gh: Octokit;
const replicas: Replica[] = [];
/** Every sync the replicas recorded, by the replica that ran it, app and start time (polled while the test runs). */
const seen = new Map<string, SyncEntry & { replica: string; app: string }>();
let polling = true;
let poller: Promise<void> | undefined;

async function pollHistories(only?: Replica): Promise<void> {
  for (const r of only ? [only] : replicas) {
    if (r.dead) continue;
    for (const app of APPS) {
      try {
        const h = await r.get<{ syncs?: SyncEntry[] }>(`/api/apps/${app}/history`);
        // An entry names the replica that ran it: a replica that took an app over also shows the entries it
        // restored from the app's persisted history, which were another replica's syncs.
        for (const e of h.syncs ?? []) {
          const who = (e as { replica?: string }).replica ?? r.identity;
          seen.set(`${who}/${app}/${e.startedAt}`, { ...e, replica: who, app });
        }
      } catch {
        // Not up yet, or killed.
      }
    }
  }
}

before(async () => {
  world = await startWorld({ kube: 'api', github: true });
  gh = new Octokit({ baseUrl: world.github!.url, auth: world.token });
  dir = mkdtempSync(join(tmpdir(), 'tether-shard-'));
  const files: Record<string, string> = {};
  for (const app of APPS) files[`envs/dev/${app}/cm-0.yaml`] = cm(app, 0, 'one');
  for (const app of FROM_GIT)
    files[`apps/${app}.yaml`] =
      `apiVersion: tether.dev/v1alpha1\nkind: App\nmetadata:\n  name: ${app}\nspec:\n  source: {path: envs/dev/${app}}\n  namespace: default\n  interval: 5s\n`;
  await world.github!.state.createRepo('acme/env', { files });
  await world.kube!.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'tether-system' },
  });
});

after(async () => {
  polling = false;
  await poller;
  for (const r of replicas) if (!r.dead) r.child.kill('SIGKILL');
  await world?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startReplica(name: string): Promise<Replica> {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, world.token);
  const port = await freePort();
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `cluster: dev
kubeconfig: ${world.kube!.kubeconfig}
cacheDir: ${join(dir, `cache-${name}`)}
github: {tokenFile: ${tokenFile}, apiUrl: "${world.github!.url}"}
server: {host: 127.0.0.1, port: ${port}}
sharding: {shards: ${SHARDS}, leaseDuration: ${LEASE_MS}ms, renewInterval: ${RENEW_MS}ms}
appsFrom:
  - {repo: "${world.git!.cloneUrl('acme/env')}", path: apps, interval: 5s}
apps:
${APPS.filter((a) => !FROM_GIT.includes(a))
  .map((a) => `  - {name: ${a}, repo: "${world.git!.cloneUrl('acme/env')}", path: envs/dev/${a}, interval: 5s}`)
  .join('\n')}
`,
  );
  const r = new Replica(name, port, config);
  replicas.push(r);
  return r;
}

async function statusOf(sha: string, app: string): Promise<string | undefined> {
  const list = await gh.paginate(gh.repos.listCommitStatusesForRef, { owner: 'acme', repo: 'env', ref: sha });
  return list.find((s) => s.context === `tether/dev/${app}`)?.state;
}

async function allSucceeded(sha: string): Promise<string[]> {
  const list = await gh.paginate(gh.repos.listCommitStatusesForRef, { owner: 'acme', repo: 'env', ref: sha });
  // Newest first: the first status per context is the current one.
  const current = new Map<string, string>();
  for (const s of list) if (!current.has(s.context)) current.set(s.context, s.state);
  return [...APPS, 'apps'].filter((a) => current.get(`tether/dev/${a}`) !== 'success');
}

async function configMaps(): Promise<Map<string, string>> {
  const r = await world.kube!.request('GET', '/api/v1/namespaces/default/configmaps');
  const items = (r.body as { items: { metadata: { name: string }; data?: { rev?: string } }[] }).items;
  return new Map(items.map((i) => [i.metadata.name, i.data?.rev ?? '']));
}

const describeAll = () =>
  replicas.map((r) => `--- ${r.name}${r.dead ? ' (dead)' : ''}\n${r.output.slice(-2500)}`).join('\n');

test('three replicas share twelve apps (four defined in Git) by shard; one killed mid-sync is taken over and nothing is synced twice at once', async () => {
  const main = world.git!.repo('acme/env');
  const first = (await main.resolve('refs/heads/main'))!;
  for (const n of ['a', 'b', 'c']) await startReplica(n);
  poller = (async () => {
    while (polling) {
      await pollHistories();
      await new Promise((r) => setTimeout(r, 300));
    }
  })();

  // Every app converges once, each on the replica holding its shard.
  await waitFor(async () => (await allSucceeded(first)).length === 0, {
    timeoutMs: 90_000,
    describe: () => `not success on the first commit\n${describeAll()}`,
  });
  const maps = await Promise.all(replicas.map((r) => r.apps()));
  for (const [i, m] of maps.entries()) replicas[i]!.identity = m.sharding.identity;
  const heldBy = maps.flatMap((m) => m.sharding.held.map((s) => [s, m.sharding.identity] as const));
  assert.equal(new Set(heldBy.map(([s]) => s)).size, heldBy.length, `a shard is held twice: ${JSON.stringify(heldBy)}`);
  const listed = maps.flatMap((m) => m.apps.map((a) => a.name));
  assert.equal(new Set(listed).size, listed.length, 'an app is listed by two replicas');
  for (const m of maps)
    assert.ok(m.sharding.held.length <= Math.ceil(SHARDS / 3), `over its share: ${m.sharding.held}`);
  console.log(`# shards held: ${maps.map((m) => `${m.sharding.identity}=${m.sharding.held.join(',')}`).join(' ')}`);

  // A big revision of every app; kill the replica holding the most apps while it is applying it.
  const files: Record<string, string> = {};
  for (const app of APPS) for (let i = 0; i < BIG; i++) files[`envs/dev/${app}/cm-${i}.yaml`] = cm(app, i, 'two');
  await main.commitFiles({ branch: 'main', files, message: 'big' });
  const second = (await main.resolve('refs/heads/main'))!;
  const victimIndex = maps.reduce((best, m, i) => (m.apps.length > maps[best]!.apps.length ? i : best), 0);
  const victim = replicas[victimIndex]!;
  const victimApps = maps[victimIndex]!.apps.map((a) => a.name);
  await waitFor(
    async () => {
      const cms = await configMaps();
      return victimApps.some((a) => cms.get(`${a}-cm-${BIG - 1}`) === 'two' || cms.get(`${a}-cm-0`) === 'two');
    },
    {
      timeoutMs: 30_000,
      intervalMs: 50,
      describe: () => `the victim never started the big revision\n${describeAll()}`,
    },
  );
  await pollHistories(victim);
  victim.child.kill('SIGKILL');
  const killedAt = Date.now();
  const partial = [...(await configMaps()).values()].filter((v) => v === 'two').length;

  // Its shards go to the survivors within leaseDuration + renewInterval (plus slack for a round's requests).
  const survivors = replicas.filter((r) => r !== victim);
  await waitFor(
    async () => {
      const views = await Promise.all(survivors.map((r) => r.apps()));
      const held = new Set(views.flatMap((v) => v.sharding.held));
      return held.size === SHARDS;
    },
    { timeoutMs: 30_000, intervalMs: 100, describe: () => `the survivors did not take every shard\n${describeAll()}` },
  );
  const takeoverMs = Date.now() - killedAt;
  console.log(
    `# victim ${victim.identity} held ${victimApps.length} apps, killed with ${partial}/${APPS.length * BIG} ConfigMaps of the big revision applied; shards taken over after ${takeoverMs} ms`,
  );
  assert.ok(takeoverMs <= LEASE_MS + RENEW_MS + 6000, `takeover took ${takeoverMs} ms`);

  // Every app converges on the big revision: success on that commit, every object present.
  await waitFor(async () => (await allSucceeded(second)).length === 0, {
    timeoutMs: 90_000,
    describe: () => `not success on the second commit\n${describeAll()}`,
  });
  const cms = await configMaps();
  for (const app of APPS)
    for (let i = 0; i < BIG; i++) assert.equal(cms.get(`${app}-cm-${i}`), 'two', `${app}-cm-${i} is missing`);
  for (const app of victimApps) assert.equal(await statusOf(second, app), 'success');

  // The victim's membership Lease (never released: it was killed) is deleted by the survivors once it has gone
  // unrenewed for five lease durations; the survivors' own stay.
  const memberHolders = async () => {
    const r = await world.kube!.request('GET', '/apis/coordination.k8s.io/v1/namespaces/tether-system/leases');
    const items = (r.body as { items: { metadata: { name: string }; spec: { holderIdentity?: string } }[] }).items;
    return items.filter((l) => l.metadata.name.includes('-member-')).map((l) => l.spec.holderIdentity ?? '');
  };
  await waitFor(async () => !(await memberHolders()).includes(victim.identity), {
    timeoutMs: 5 * LEASE_MS + 20_000,
    describe: () => `the victim's membership lease is still there\n${describeAll()}`,
  });
  assert.deepEqual((await memberHolders()).sort(), survivors.map((r) => r.identity).sort());

  polling = false;
  await poller;
  await pollHistories();

  // No app was synced by two replicas at overlapping times.
  const entries = [...seen.values()];
  for (const app of APPS) {
    const mine = entries
      .filter((e) => e.app === app)
      .map((e) => ({ ...e, from: Date.parse(e.startedAt), to: Date.parse(e.startedAt) + e.durationMs }))
      .sort((x, y) => x.from - y.from);
    for (let i = 0; i < mine.length; i++)
      for (let j = i + 1; j < mine.length; j++) {
        const x = mine[i]!;
        const y = mine[j]!;
        if (x.replica !== y.replica)
          assert.ok(
            y.from >= x.to,
            `${app}: ${x.replica} synced ${x.startedAt}+${x.durationMs}ms and ${y.replica} from ${y.startedAt}`,
          );
      }
    // Each commit is applied once: at most one sync that wrote objects per revision, across replicas.
    for (const rev of [first, second]) {
      const writes = mine.filter((e) => e.revision === rev && !e.error && e.counts.applied > 0);
      assert.ok(writes.length <= 1, `${app}@${rev.slice(0, 7)} written by ${writes.map((w) => w.replica).join(', ')}`);
    }
  }
  console.log(`# ${entries.length} syncs recorded across replicas, none overlapping`);
  // Each history entry names the replica that ran it, the identity in its Leases: the holder's own syncs, and
  // those of a replica that held the app before (restored from the persisted history after a take-over).
  const identities = new Set(replicas.map((r) => r.identity));
  for (const r of survivors) {
    const held = new Set((await r.apps()).apps.map((a) => a.name));
    for (const app of APPS) {
      const h = await r.get<{ syncs?: (SyncEntry & { replica?: string })[] }>(`/api/apps/${app}/history`);
      for (const e of h.syncs ?? [])
        assert.ok(e.replica && identities.has(e.replica), `${r.name}: ${JSON.stringify(e)}`);
      // An app it holds now converged through its own sync of the second commit.
      if (held.has(app))
        assert.ok(
          (h.syncs ?? []).some((e) => e.replica === r.identity && e.revision === second && !e.error),
          `${r.name} holds ${app} but its history names no sync of its own: ${JSON.stringify(h.syncs)}`,
        );
    }
  }
});
