import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../shared/src/log.ts';
import type { Lease } from '../src/core/kube-port.ts';
import type { K8sObject } from '../src/core/types.ts';
import { type ShardLeaseClient, ShardLeases } from '../src/reconcile/shard-leases.ts';

/**
 * Leases kept in memory with the apiserver's optimistic concurrency (a write at a stale resourceVersion is a 409,
 * a create of an existing name is a 409), and a switch that makes every request fail (an unreachable apiserver).
 */
class LeaseStore implements ShardLeaseClient {
  private readonly leases = new Map<string, Lease>();
  private version = 0;
  down = new Set<string>();
  constructor(private readonly caller = '') {}
  as(caller: string): LeaseStore {
    const view = Object.create(this) as LeaseStore;
    Object.defineProperty(view, 'caller', { value: caller });
    return view;
  }
  private check(): void {
    if (this.down.has(this.caller)) throw new Error('connect ECONNREFUSED');
  }
  async list(): Promise<{ items: K8sObject[]; resourceVersion: string }> {
    this.check();
    return {
      items: [...this.leases.values()].map((l) => structuredClone(l) as unknown as K8sObject),
      resourceVersion: '',
    };
  }
  async getLease(_ns: string, name: string): Promise<Lease | undefined> {
    this.check();
    const l = this.leases.get(name);
    return l ? structuredClone(l) : undefined;
  }
  async createLease(lease: Lease): Promise<boolean> {
    this.check();
    if (this.leases.has(lease.metadata.name)) return false;
    this.leases.set(lease.metadata.name, {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.version) },
    });
    return true;
  }
  async updateLease(lease: Lease): Promise<boolean> {
    this.check();
    const cur = this.leases.get(lease.metadata.name);
    if (!cur || cur.metadata.resourceVersion !== lease.metadata.resourceVersion) return false;
    this.leases.set(lease.metadata.name, {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.version) },
    });
    return true;
  }
  async delete(_type: unknown, name: string, _ns?: string, options: { resourceVersion?: string } = {}) {
    this.check();
    const cur = this.leases.get(name);
    if (!cur) return false;
    if (options.resourceVersion && cur.metadata.resourceVersion !== options.resourceVersion) return false;
    return this.leases.delete(name);
  }
  names(): string[] {
    return [...this.leases.keys()].sort();
  }
}

const SHARDS = 8;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await sleep(25);
  }
  assert.fail(`never: ${what}`);
}

function replica(store: LeaseStore, identity: string, working: Map<number, string>, log: string[]): ShardLeases {
  const s = new ShardLeases(store.as(identity), {
    shards: SHARDS,
    namespace: 'tether-system',
    leasePrefix: 'tether-dev-shard',
    identity,
    leaseDurationMs: 1000,
    renewIntervalMs: 100,
    log: silentLogger,
  });
  s.start({
    onAcquired: (shards) => {
      for (const x of shards) {
        // The heart of it: a shard is never worked on by two replicas at once.
        const other = working.get(x);
        if (other) log.push(`${identity} acquired shard ${x} while ${other} works on it`);
        working.set(x, identity);
      }
    },
    onLost: async (shards) => {
      for (const x of shards) if (working.get(x) === identity) working.delete(x);
    },
  });
  return s;
}

test('replicas share the shards fairly, rebalance when one joins, and take over a dead one, never two on one shard', async () => {
  const store = new LeaseStore();
  const working = new Map<number, string>();
  const problems: string[] = [];
  const a = replica(store, 'a', working, problems);
  const b = replica(store, 'b', working, problems);
  await until(() => working.size === SHARDS, 'two replicas cover every shard');
  await until(() => a.heldCount() === 4 && b.heldCount() === 4, 'two replicas hold 4 shards each');

  const c = replica(store, 'c', working, problems);
  await until(
    () => working.size === SHARDS && [a, b, c].every((r) => r.heldCount() >= 2 && r.heldCount() <= 3),
    'a third replica gets its share',
  );
  assert.deepEqual(c.view().replicas, ['a', 'b', 'c']);
  const owners = new Map(c.view().map.map((m) => [m.shard, m.holder]));
  assert.equal(c.owns('web'), c.holderOf('web').holder === 'c');
  assert.equal(owners.get(c.holderOf('web').shard), c.holderOf('web').holder);

  // c can no longer reach the apiserver: it drops its shards before they expire; a and b take them over.
  const cHeld = c.view().held;
  store.down.add('c');
  await until(() => c.heldCount() === 0, 'the cut-off replica stops work on its shards');
  await until(() => working.size === SHARDS && a.heldCount() + b.heldCount() === SHARDS, 'the others take them');
  assert.ok(cHeld.every((s) => working.get(s) !== 'c'));
  assert.ok(c.problem(), 'the cut-off replica reports why (readiness)');

  await Promise.all([a.stop(), b.stop(), c.stop()]);
  assert.deepEqual(problems, []);
});

test('a replica stopping releases its shards and membership; another takes the shards', async () => {
  const store = new LeaseStore();
  const working = new Map<number, string>();
  const problems: string[] = [];
  const a = replica(store, 'a', working, problems);
  await until(() => a.heldCount() === SHARDS, 'a lone replica holds every shard');
  const b = replica(store, 'b', working, problems);
  await until(() => b.heldCount() === SHARDS / 2, 'the newcomer gets half');
  await a.stop();
  // Released: no Lease names `a` any more (holder cleared), so nothing waits for an expiry.
  const leases = (await store.list()).items as unknown as Lease[];
  assert.deepEqual(
    leases.filter((l) => l.spec.holderIdentity === 'a').map((l) => l.metadata.name),
    [],
  );
  await until(() => b.heldCount() === SHARDS, 'the survivor takes the released shards');
  await b.stop();
  assert.deepEqual(problems, []);
});

test('the membership lease of a replica gone for good is deleted by the live ones; back again, it joins anew', async () => {
  const store = new LeaseStore();
  const working = new Map<number, string>();
  const problems: string[] = [];
  const a = replica(store, 'a', working, problems);
  const b = replica(store, 'b', working, problems);
  await until(() => a.view().replicas.length === 2, 'a sees b');
  const members = () => store.names().filter((n) => n.includes('-member-'));
  assert.equal(members().length, 2);
  // b is cut off (as if killed): after STALE_MEMBER_DURATIONS lease durations unrenewed, a deletes its membership.
  store.down.add('b');
  await until(() => members().length === 1, "b's membership lease is deleted");
  assert.deepEqual(a.view().replicas, ['a']);
  // b comes back: its next round creates its membership again and it gets its share.
  store.down.delete('b');
  await until(() => members().length === 2 && b.heldCount() === SHARDS / 2, 'b joins again');
  await Promise.all([a.stop(), b.stop()]);
  assert.deepEqual(problems, []);
});
