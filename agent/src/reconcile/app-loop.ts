/**
 * How long until a loop's next interval sync: the next multiple of `intervalMs` on the wall clock, at least half an
 * interval away (so syncs stay between 0.5 and 1.5 intervals apart, one interval on average). Every loop of the
 * agent with the same interval wakes at the same moment: apps of one repository then share one Git fetch (GitSource
 * joins a fetch in flight) and the process wakes once per interval instead of once per app: 200 apps of one
 * repository polling every 60 s make one fetch a minute instead of 200, each on a wake-up of its own.
 */
export function intervalDelay(intervalMs: number, now: number = Date.now()): number {
  const toBoundary = intervalMs - (now % intervalMs);
  return toBoundary < intervalMs / 2 ? toBoundary + intervalMs : toBoundary;
}

/**
 * One app's loop: a sync at start, then one per interval (aligned across apps, see intervalDelay); `request()` wakes
 * it at once (a push webhook, the API). Requests that arrive during a sync coalesce into one more sync after it.
 * Stopping waits for the sync in progress (which the agent cancels between requests on shutdown).
 */
export class AppLoop {
  private pending: string | undefined;
  private wake: () => void = () => {};
  private loop: Promise<void> | undefined;
  private running = false;

  /** When a retry of a failed sync is due (see retryAt). */
  private retryDue: number | undefined;
  private syncing = false;

  /** Consecutive syncs that threw; each waits longer (capped exponential backoff with jitter). */
  private failures = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly syncOnce: (reason: string) => Promise<unknown>,
    /** A sync that threw instead of returning its failure as data: reported here, and the loop goes on. */
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Starts the loop; the first sync runs at once (reason `startup`, or the reason already requested). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.pending ??= 'startup';
    this.loop = this.run();
  }

  /** Stops after the sync in progress, if any. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  /** Asks for a sync now (or, when stopped, as the first one after start). */
  request(reason: string): void {
    this.pending = reason;
    this.wake();
  }

  /**
   * Wakes the loop at `at` (epoch ms) with reason `retry`, ahead of the interval when that comes first: a failed
   * sync's retry after its backoff. Undefined cancels it; a later call replaces it.
   */
  retryAt(at: number | undefined): void {
    this.retryDue = at;
    // The loop may be asleep until the interval: wake it so it sleeps again until the sooner of the two.
    if (!this.syncing) this.wake();
  }

  /** Waits `ms`, or less when woken (stop, a request). */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
      if (!this.running) this.wake();
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.pending !== undefined) {
        const reason = this.pending;
        this.pending = undefined;
        this.syncing = true;
        try {
          await this.syncOnce(reason);
          this.failures = 0;
        } catch (err) {
          // The loop must outlive any one sync: a rejection here would end the app's syncs for good.
          this.failures++;
          this.onError(err);
          this.syncing = false;
          this.pending ??= 'retry';
          await this.sleep(
            Math.min(this.intervalMs, 1000 * 2 ** Math.min(this.failures, 10)) * (0.8 + Math.random() * 0.4),
          );
          continue;
        }
        this.syncing = false;
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const now = Date.now();
        const toInterval = intervalDelay(this.intervalMs, now);
        const retry = this.retryDue !== undefined && this.retryDue - now < toInterval;
        const timer = setTimeout(
          () => {
            if (retry) this.retryDue = undefined;
            this.pending ??= retry ? 'retry' : 'interval';
            resolve();
          },
          retry ? Math.max(0, (this.retryDue ?? now) - now) : toInterval,
        );
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (this.pending !== undefined) this.wake();
      });
    }
  }
}
