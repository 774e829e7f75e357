import type { Logger } from '../../../shared/src/log.ts';
import { type LeaseClient, LeaseLock } from './lease-lock.ts';

export type { LeaseClient } from './lease-lock.ts';

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

/**
 * Leader election on one Lease (see lease-lock.ts for how it is held), with release on a graceful stop so a
 * successor takes over at once.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  private readonly lock: LeaseLock;

  private callbacks: LeaderCallbacks = { onStartedLeading: () => {}, onStoppedLeading: () => {} };

  constructor(
    kube: LeaseClient,
    private readonly options: LeaderOptions,
  ) {
    this.lock = new LeaseLock(kube, options);
  }

  /** The identity this replica holds the Lease under. */
  get identity(): string {
    return this.options.identity;
  }

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
    await this.lock.release();
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

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      this.setLeading(await this.lock.tryAcquireOrRenew());
    } catch (err) {
      this.options.log.warn('leader election', { error: (err as Error).message });
      // Cannot tell whether we still lead: a leader that cannot renew steps down before its lease can expire.
      const renewed = this.lock.renewedAt;
      if (this.leading && renewed !== undefined && Date.now() - renewed > this.options.leaseDurationMs * 0.66)
        this.setLeading(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.options.retryMs);
  }
}
