import type { Logger } from '../../../shared/src/log.ts';
import type { KubeClient, Lease } from '../core/kube-port.ts';

/** What leader election needs of the cluster: read, create and update one Lease. */
export type LeaseClient = Pick<KubeClient, 'getLease' | 'createLease' | 'updateLease'>;

/** Options of leader election. */
export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  /** A lease not renewed for this long (as observed here, not by the holder's clock) is taken over. */
  leaseDurationMs: number;
  /** How often the leader renews and a follower checks. */
  retryMs: number;
  log: Logger;
}

/** What a leader elector tells its owner. */
export interface LeaderCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/** MicroTime as the apiserver wants it. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does it: create or
 * update with the resourceVersion read (a 409 means another replica won), expiry judged by how long the lease has
 * gone unchanged as observed locally (no trust in clocks), and release on a graceful stop so a successor takes over at
 * once.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private observed: { key: string; at: number } | undefined;
  private stopped = false;

  private callbacks: LeaderCallbacks = { onStartedLeading: () => {}, onStoppedLeading: () => {} };

  constructor(
    private readonly kube: LeaseClient,
    private readonly options: LeaderOptions,
  ) {}

  /** Whether this replica leads now. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts trying to acquire and renew; `callbacks` hear when this replica starts and stops leading. */
  start(callbacks: LeaderCallbacks): void {
    this.callbacks = callbacks;
    void this.tick();
  }

  /** Stops; a leader releases the lease (holder cleared) so another replica can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    const lease = await this.read();
    if (lease && lease.spec.holderIdentity === this.options.identity) {
      lease.spec.holderIdentity = '';
      lease.spec.leaseDurationSeconds = 1;
      await this.kube.updateLease(lease);
    }
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    this.options.log.info(v ? 'became leader' : 'stopped leading', {
      lease: this.options.name,
      identity: this.options.identity,
    });
    if (v) this.callbacks.onStartedLeading();
    else this.callbacks.onStoppedLeading();
  }

  private async read(): Promise<Lease | undefined> {
    return this.kube.getLease(this.options.namespace, this.options.name);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      this.setLeading(await this.tryAcquireOrRenew());
    } catch (err) {
      this.options.log.warn('leader election', { error: (err as Error).message });
      // Cannot tell whether we still lead: a leader that cannot renew steps down before its lease can expire.
      if (this.leading && this.observed && Date.now() - this.observed.at > this.options.leaseDurationMs * 0.66)
        this.setLeading(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.options.retryMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, leaseDurationMs, name, namespace } = this.options;
    const now = new Date();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewTime: microTime(now),
    };
    const lease = await this.read();
    if (!lease) {
      const body: Lease = {
        metadata: { name, namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      if (await this.kube.createLease(body)) {
        this.observed = { key: `${identity}/${spec.renewTime}`, at: Date.now() };
        return true;
      }
      return false;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const key = `${holder}/${lease.spec.renewTime ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: Date.now() };
    const duration = (lease.spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = holder === '' || Date.now() - this.observed.at > duration;
    if (holder !== identity && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        ...(holder !== identity
          ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 }
          : {}),
      },
    };
    // false: another replica updated it first (409); any other failure throws and is judged by tick().
    if (!(await this.kube.updateLease(next))) return false;
    this.observed = { key: `${identity}/${spec.renewTime}`, at: Date.now() };
    return true;
  }
}
