import type { KubeClient, Lease } from '../core/kube-port.ts';

/** What a lease lock needs of the cluster: read, create and update one Lease. */
export type LeaseClient = Pick<KubeClient, 'getLease' | 'createLease' | 'updateLease'>;

/** Options of one lease lock. */
export interface LeaseLockOptions {
  namespace: string;
  name: string;
  identity: string;
  /** A lease not renewed for this long (as observed here, not by the holder's clock) is taken over. */
  leaseDurationMs: number;
  /** Labels the Lease is created with (to list a set of leases at once). */
  labels?: Record<string, string>;
}

/** MicroTime as the apiserver wants it. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Who holds a lease, as observed here. */
export interface LeaseObservation {
  holder: string;
  /** Nobody holds it: no lease, an empty holder, or not renewed for longer than its duration as observed here. */
  free: boolean;
  /** How long the lease has gone unchanged (holder and renew time) as observed here; 0 when there is none. */
  unchangedMs: number;
}

/**
 * One `coordination.k8s.io/v1` Lease held the way client-go's leaderelection holds it: create or update with the
 * resourceVersion read (a 409 means another replica won), expiry judged by how long the lease has gone unchanged as
 * observed locally (no trust in clocks), and release by clearing the holder so another replica takes it at once.
 * Leader election holds one; sharding holds one per shard and one per replica (its membership).
 */
export class LeaseLock {
  private observed: { key: string; at: number } | undefined;
  /** When (local monotonic-ish wall time) this replica last wrote the lease as its holder. */
  renewedAt: number | undefined;

  constructor(
    private readonly kube: LeaseClient,
    readonly options: LeaseLockOptions,
  ) {}

  /** Reads the lease (undefined when it does not exist). */
  read(): Promise<Lease | undefined> {
    return this.kube.getLease(this.options.namespace, this.options.name);
  }

  /** Records what `lease` says (as read now) and tells who holds it. */
  observe(lease: Lease | undefined, now = Date.now()): LeaseObservation {
    if (!lease) return { holder: '', free: true, unchangedMs: 0 };
    const holder = lease.spec.holderIdentity ?? '';
    const key = `${holder}/${lease.spec.renewTime ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const duration = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    const unchangedMs = now - this.observed.at;
    return { holder, free: holder === '' || unchangedMs > duration, unchangedMs };
  }

  /**
   * Takes or renews the lease as read in `lease` (read again when not given); false when another replica holds it
   * or won the race. Failures other than a lost race throw.
   */
  async tryAcquireOrRenew(lease?: Lease | null): Promise<boolean> {
    const { identity, leaseDurationMs, name, namespace, labels } = this.options;
    const current = lease === undefined ? await this.read() : (lease ?? undefined);
    const now = new Date();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    if (!current) {
      const body: Lease = {
        metadata: { name, namespace, ...(labels ? { labels } : {}) },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      if (!(await this.kube.createLease(body))) return false;
      this.wrote(spec.renewTime);
      return true;
    }
    const { holder, free } = this.observe(current);
    if (holder !== identity && !free) return false;
    const next: Lease = {
      ...current,
      spec: {
        ...current.spec,
        ...spec,
        ...(holder !== identity
          ? { acquireTime: microTime(now), leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    if (!(await this.kube.updateLease(next))) return false;
    this.wrote(spec.renewTime);
    return true;
  }

  /** Clears the holder when this replica holds the lease, so another takes it over at once. */
  async release(lease?: Lease): Promise<void> {
    this.renewedAt = undefined;
    const current = lease ?? (await this.read());
    if (current && current.spec.holderIdentity === this.options.identity) {
      await this.kube.updateLease({
        ...current,
        spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1 },
      });
    }
  }

  private wrote(renewTime: string): void {
    const at = Date.now();
    this.observed = { key: `${this.options.identity}/${renewTime}`, at };
    this.renewedAt = at;
  }
}
