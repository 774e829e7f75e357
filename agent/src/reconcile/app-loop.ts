/**
 * One app's loop: a sync at start, then one per interval; `request()` wakes it at once (a push webhook, the API).
 * Requests that arrive during a sync coalesce into one more sync after it. A sync in progress always finishes.
 */
export class AppLoop {
  private pending: string | undefined;
  private wake: () => void = () => {};
  private loop: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly intervalMs: number,
    private readonly syncOnce: (reason: string) => Promise<unknown>,
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

  private async run(): Promise<void> {
    while (this.running) {
      if (this.pending !== undefined) {
        const reason = this.pending;
        this.pending = undefined;
        await this.syncOnce(reason);
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.pending ??= 'interval';
          resolve();
        }, this.intervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (this.pending !== undefined) this.wake();
      });
    }
  }
}
