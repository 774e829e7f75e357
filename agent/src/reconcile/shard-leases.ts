import { createHash } from 'node:crypto';
import { describeError } from '../../../shared/src/errors.ts';
import type { Logger } from '../../../shared/src/log.ts';
import type { KubeClient, Lease, ResourceType } from '../core/kube-port.ts';
import {
  labelValueOf,
  type MemberObservation,
  planShardMoves,
  type ShardObservation,
  shardOf,
  staleMembers,
} from '../core/shards.ts';
import { LeaseLock } from './lease-lock.ts';

/**
 * What sharding needs of the cluster: list the set's Leases, read, create and update one, delete the membership
 * Lease of a replica gone for good.
 */
export type ShardLeaseClient = Pick<KubeClient, 'list' | 'getLease' | 'createLease' | 'updateLease' | 'delete'>;

/** Options of sharding. */
export interface ShardOptions {
  /** How many shards (Leases) the apps are spread over. */
  shards: number;
  namespace: string;
  /** Shard leases are `<prefix>-<n>`, replica memberships `<prefix>-member-<id>`. */
  leasePrefix: string;
  identity: string;
  /** A lease not renewed for this long (as observed elsewhere) is taken over. */
  leaseDurationMs: number;
  /** How often leases are renewed and the shard map read. */
  renewIntervalMs: number;
  log: Logger;
}

/** The label every Lease of one shard set carries (its value: the lease prefix), so one list reads them all. */
export const SHARD_SET_LABEL = 'tether.dev/shard-set';

/** One shard as the API shows it. */
export interface ShardView {
  shard: number;
  /** The replica holding it; empty when none does (free, or its holder stopped renewing). */
  holder: string;
}

/** The shard map as this replica sees it (the API's /api/apps). */
export interface ShardMapView {
  identity: string;
  shards: number;
  /** The shards this replica holds now. */
  held: number[];
  /** Replicas whose membership lease is renewed, this one included. */
  replicas: string[];
  map: ShardView[];
}

/** Where the agent hears about shards it gained or is about to lose. */
export interface ShardListener {
  /** Shards now held: their apps may be worked on. */
  onAcquired(shards: number[]): void;
  /** Shards no longer held (or about to be let go): resolves once no work on their apps runs any more. */
  onLost(shards: number[]): Promise<void>;
}

/** What the agent asks of sharding: does this replica own app X now, and who does. */
export interface ShardGate {
  readonly identity: string;
  /** Whether this replica holds the shard of `name` (an app, or an app source) now. */
  owns(name: string): boolean;
  /** The shard of `name` and the replica holding it as last read (empty holder: none). */
  holderOf(name: string): { shard: number; holder: string };
  /** How many shards this replica holds. */
  heldCount(): number;
  /** Why the shard leases cannot be read or renewed, while they cannot (readiness). */
  problem(): string | undefined;
  view(): ShardMapView;
  start(listener: ShardListener): void;
  stop(): Promise<void>;
}

const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  resource: 'leases',
  namespaced: true,
  verbs: [],
};

/** A lease name for a replica identity: a DNS subdomain (identities are free text, e.g. `Host_1-42`). */
function memberName(prefix: string, identity: string): string {
  const readable = identity
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `${prefix}-member-${readable ? `${readable}-` : ''}${hash}`;
}

/**
 * Apps sharded over replicas by Leases: one Lease per shard, one membership Lease per replica. Each round (every
 * renewInterval) a replica lists the set's Leases in one request, renews its membership and the shards it holds,
 * takes free shards up to its fair share (ceil(shards / live replicas)) and lets go of shards beyond it, stopping
 * their work first, so a replica that joins gets its share and no shard is ever worked on by two replicas.
 *
 * A shard that could not be renewed for two thirds of the lease duration is dropped (its work stopped) before
 * another replica can see the lease expire, as client-go's renew deadline does; a watchdog checks this between
 * rounds too, so a round stuck on a slow apiserver cannot keep work going past it.
 */
export class ShardLeases implements ShardGate {
  readonly identity: string;
  private readonly member: LeaseLock;
  private readonly locks: LeaseLock[];
  /** Observers of other replicas' membership leases, by lease name. */
  private readonly memberLocks = new Map<string, LeaseLock>();
  private readonly held = new Set<number>();
  /** Shards let go of whose work is still stopping: renewed until it has, then released. */
  private readonly releasing = new Map<number, Promise<void>>();
  private holders: string[];
  private replicas: string[];
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopped = false;
  private announced = false;
  private round: Promise<void> | undefined;
  private lastProblem: string | undefined = 'shard leases not read yet';
  private listener: ShardListener = { onAcquired: () => {}, onLost: async () => {} };

  constructor(
    private readonly kube: ShardLeaseClient,
    private readonly options: ShardOptions,
  ) {
    this.identity = options.identity;
    const labels = { [SHARD_SET_LABEL]: this.setLabel() };
    const lock = (name: string) =>
      new LeaseLock(kube, {
        namespace: options.namespace,
        name,
        identity: options.identity,
        leaseDurationMs: options.leaseDurationMs,
        labels,
      });
    this.member = lock(memberName(options.leasePrefix, options.identity));
    this.locks = Array.from({ length: options.shards }, (_, s) => lock(`${options.leasePrefix}-${s}`));
    this.holders = this.locks.map(() => '');
    this.replicas = [options.identity];
  }

  owns(name: string): boolean {
    return this.held.has(shardOf(name, this.options.shards));
  }

  holderOf(name: string): { shard: number; holder: string } {
    const shard = shardOf(name, this.options.shards);
    return { shard, holder: this.held.has(shard) ? this.identity : (this.holders[shard] ?? '') };
  }

  heldCount(): number {
    return this.held.size;
  }

  problem(): string | undefined {
    return this.lastProblem;
  }

  view(): ShardMapView {
    return {
      identity: this.identity,
      shards: this.options.shards,
      held: [...this.held].sort((a, b) => a - b),
      replicas: [...this.replicas],
      map: this.locks.map((_, shard) => ({
        shard,
        holder: this.held.has(shard) ? this.identity : (this.holders[shard] ?? ''),
      })),
    };
  }

  start(listener: ShardListener): void {
    this.listener = listener;
    const deadline = this.renewDeadlineMs();
    this.watchdog = setInterval(
      () =>
        void this.dropOverdue().catch((err) =>
          this.options.log.warn('stopping the work of overdue shards failed', { error: describeError(err) }),
        ),
      Math.max(100, Math.min(deadline / 4, 1000)),
    );
    void this.tick();
  }

  /** Stops renewing: the work on every held shard stops, then their leases and the membership are released. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    await this.round;
    await Promise.all(this.releasing.values());
    const shards = [...this.held];
    await this.lose(shards);
    await Promise.all(
      [...shards.map((s) => this.locks[s]!), this.member].map((l) =>
        l.release().catch((err) => this.options.log.warn('lease not released', { error: describeError(err) })),
      ),
    );
  }

  /** The set's label value: the lease prefix, or a hash of it when longer than a label value may be. */
  private setLabel(): string {
    return labelValueOf(this.options.leasePrefix);
  }

  /** Work on a shard stops this long after its last renewal, before any other replica can judge it expired. */
  private renewDeadlineMs(): number {
    return this.options.leaseDurationMs * 0.66;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.round = this.runRound().catch((err) => {
      this.lastProblem = `shard leases: ${describeError(err)}`;
      this.options.log.warn('shard leases', { error: describeError(err) });
    });
    await this.round;
    this.round = undefined;
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.options.renewIntervalMs);
  }

  /** Drops every held shard whose last renewal is older than the renew deadline. */
  private async dropOverdue(): Promise<void> {
    const now = Date.now();
    const overdue = [...this.held].filter((s) => now - (this.locks[s]!.renewedAt ?? 0) > this.renewDeadlineMs());
    if (overdue.length === 0) return;
    this.options.log.warn('shards not renewed in time: stopping their work', { shards: overdue });
    await this.lose(overdue);
  }

  /**
   * Lets go of a held shard: its work stops first (the lease still renewed meanwhile, so it cannot expire while a
   * sync winds down), then the lease is released, so the replica that takes it next never overlaps with this one.
   * The round goes on meanwhile: the other shards are renewed in time.
   */
  private letGo(s: number): void {
    const done = (async () => {
      await this.lose([s]);
      this.holders[s] = '';
      await this.locks[s]!.release();
    })()
      .catch((err) =>
        this.options.log.warn('shard not released; it expires instead', { shard: s, error: describeError(err) }),
      )
      .finally(() => this.releasing.delete(s));
    this.releasing.set(s, done);
  }

  private async lose(shards: number[]): Promise<void> {
    const lost = shards.filter((s) => this.held.delete(s));
    if (lost.length === 0) return;
    await this.listener.onLost(lost);
  }

  private async runRound(): Promise<void> {
    const { namespace, leasePrefix, identity } = this.options;
    const listed = await this.kube.list(LEASES, {
      namespace,
      labelSelector: `${SHARD_SET_LABEL}=${this.setLabel()}`,
    });
    const byName = new Map(listed.items.map((o) => [o.metadata.name, o as unknown as Lease]));
    const now = Date.now();

    // Membership first: the others count this replica from this round on. A failed renewal of it must not keep the
    // shard leases below from being renewed in this round.
    await this.member.tryAcquireOrRenew(byName.get(this.member.options.name) ?? null).catch((err) => {
      this.options.log.warn('membership lease not renewed', { error: describeError(err) });
    });
    const replicas = new Set([identity]);
    const members: MemberObservation[] = [];
    for (const [name, lease] of byName) {
      if (!name.startsWith(`${leasePrefix}-member-`) || name === this.member.options.name) continue;
      let observer = this.memberLocks.get(name);
      if (!observer) {
        observer = new LeaseLock(this.kube, { namespace, name, identity, leaseDurationMs: 0 });
        this.memberLocks.set(name, observer);
      }
      const seen = observer.observe(lease, now);
      if (!seen.free) replicas.add(seen.holder);
      members.push({ name, unchangedMs: seen.unchangedMs });
    }
    // Observers of leases gone from the list (deleted) are forgotten, so memory stays bounded as replicas come and go.
    for (const name of this.memberLocks.keys()) if (!byName.has(name)) this.memberLocks.delete(name);
    this.replicas = [...replicas].sort();

    // Renew what is held (and what is being let go, until its work has stopped), all at once; a shard whose lease
    // another replica now holds is lost at once.
    const renewals = await Promise.all(
      this.locks.map(async (lock, s) => {
        if (!this.held.has(s) && !this.releasing.has(s)) return true;
        try {
          return await lock.tryAcquireOrRenew(byName.get(lock.options.name) ?? null);
        } catch (err) {
          // Judged by the watchdog against the renew deadline.
          this.options.log.warn('shard lease not renewed', { shard: s, error: describeError(err) });
          return true;
        }
      }),
    );
    const lost = renewals.flatMap((ok, s) => (ok ? [] : [s]));
    if (lost.length > 0) await this.lose(lost);

    const observed: ShardObservation[] = [];
    for (const [s, lock] of this.locks.entries()) {
      const seen = lock.observe(byName.get(lock.options.name), now);
      this.holders[s] = seen.free ? '' : seen.holder;
      // A lease still naming this replica but no longer held (dropped at the deadline, its work stopped) may be
      // taken again; one being let go may not.
      const mine = this.held.has(s);
      const releasing = this.releasing.has(s);
      observed.push({ shard: s, mine, free: !mine && !releasing && (seen.free || seen.holder === identity) });
    }

    // The first round only announces this replica: replicas started together then see each other before taking
    // shards, instead of the first one taking all of them and handing most back a round later.
    const first = !this.announced;
    this.announced = true;
    const moves = planShardMoves(identity, observed, this.replicas.length);
    if (first) moves.acquire = [];
    if (moves.release.length > 0) {
      this.options.log.info('releasing shards beyond the fair share', {
        shards: moves.release,
        replicas: this.replicas.length,
      });
      for (const s of moves.release) this.letGo(s);
    }
    const won = await Promise.all(
      moves.acquire.map((s) =>
        this.stopped ? false : this.locks[s]!.tryAcquireOrRenew(byName.get(this.locks[s]!.options.name) ?? null),
      ),
    );
    const acquired = moves.acquire.filter((_, i) => won[i]);
    for (const s of acquired) {
      this.held.add(s);
      this.holders[s] = identity;
    }
    this.lastProblem = undefined;
    if (acquired.length > 0) {
      this.options.log.info('acquired shards', { shards: acquired, held: this.held.size });
      this.listener.onAcquired(acquired);
    }
    await this.deleteStaleMembers(members, byName);
  }

  /**
   * Deletes the membership Leases of replicas that stopped renewing long ago (see STALE_MEMBER_DURATIONS), each at
   * the resourceVersion read this round: a replica that came back and renewed meanwhile keeps its Lease. Every live
   * replica may try; the first wins, the others find it gone.
   */
  private async deleteStaleMembers(members: MemberObservation[], byName: Map<string, Lease>): Promise<void> {
    const { namespace, leaseDurationMs, log } = this.options;
    for (const name of staleMembers(members, leaseDurationMs, this.member.options.name)) {
      const resourceVersion = byName.get(name)?.metadata.resourceVersion;
      if (!resourceVersion || this.stopped) continue;
      try {
        if (await this.kube.delete(LEASES, name, namespace, { resourceVersion })) {
          this.memberLocks.delete(name);
          log.info('deleted the membership lease of a replica gone for good', {
            lease: name,
            holder: byName.get(name)?.spec.holderIdentity ?? '',
          });
        }
      } catch (err) {
        log.warn('stale membership lease not deleted', { lease: name, error: describeError(err) });
      }
    }
  }
}
