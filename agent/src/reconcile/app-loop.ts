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
        try {
          await this.syncOnce(reason);
          this.failures = 0;
        } catch (err) {
          // The loop must outlive any one sync: a rejection here would end the app's syncs for good.
          this.failures++;
          this.onError(err);
          this.pending ??= 'retry';
          await this.sleep(
            Math.min(this.intervalMs, 1000 * 2 ** Math.min(this.failures, 10)) * (0.8 + Math.random() * 0.4),
          );
          continue;
        }
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.pending ??= 'interval';
          resolve();
        }, intervalDelay(this.intervalMs));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (this.pending !== undefined) this.wake();
      });
    }
  }
}
