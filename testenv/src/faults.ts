// Fault knobs for the local world's servers (issue 3): tests turn them on to see Tether retry, back off or fail
// cleanly. Each knob arms a number of upcoming requests; a `match` narrows which requests count.

/** One injected failure. */
export type Fault =
  /** Answer with this HTTP status instead of serving the request. */
  | { kind: 'status'; status: number }
  /** Cut the answer mid-body: send the headers and part of the body, then destroy the connection (Git server). */
  | { kind: 'cut'; afterBytes: number }
  /** GitHub's secondary rate limit: 403 or 429 with `retry-after` (seconds) and GitHub's message. */
  | { kind: 'secondary-rate-limit'; status: 403 | 429; retryAfter: number }
  /** GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and a reset `resetAfter` seconds ahead. */
  | { kind: 'primary-rate-limit'; resetAfter: number }
  /** Serve the request, then pass the JSON body through `mutate` before validation (GitHub emulator). */
  | { kind: 'malform'; mutate: (body: unknown) => unknown }
  /**
   * Hold the request `ms` before serving it (a slow or stalled GitHub); one whose client goes away meanwhile is never
   * served, as a request a proxy held and the client abandoned (GitHub emulator).
   */
  | { kind: 'hold'; ms: number };

/** Narrows a knob to requests whose `"METHOD /path"` matches. */
export interface FaultScope {
  match?: RegExp;
}

interface Armed {
  fault: Fault;
  remaining: number;
  match: RegExp | undefined;
}

/** The fault knobs of one server; `take()` is called once per request by the server. */
export class Faults {
  /** Added latency before every request is served, in milliseconds. */
  latencyMs = 0;
  /** How many faults have been injected so far. */
  injected = 0;
  readonly #armed: Armed[] = [];

  /** The next `count` matching requests answer `status` (500 unless told). */
  failNext(count: number, options: FaultScope & { status?: number } = {}): this {
    return this.arm(count, { kind: 'status', status: options.status ?? 500 }, options);
  }

  /** The next `count` matching answers are cut after `afterBytes` bytes of body (default 64). */
  cutNext(count: number, options: FaultScope & { afterBytes?: number } = {}): this {
    return this.arm(count, { kind: 'cut', afterBytes: options.afterBytes ?? 64 }, options);
  }

  /** The next `count` matching requests hit GitHub's secondary rate limit (403 unless told, `retry-after` 1 s). */
  secondaryRateLimitNext(count: number, options: FaultScope & { status?: 403 | 429; retryAfter?: number } = {}): this {
    const fault: Fault = {
      kind: 'secondary-rate-limit',
      status: options.status ?? 403,
      retryAfter: options.retryAfter ?? 1,
    };
    return this.arm(count, fault, options);
  }

  /** The next `count` matching requests hit the primary rate limit, resetting `resetAfter` seconds later (1). */
  primaryRateLimitNext(count: number, options: FaultScope & { resetAfter?: number } = {}): this {
    return this.arm(count, { kind: 'primary-rate-limit', resetAfter: options.resetAfter ?? 1 }, options);
  }

  /** The next `count` matching JSON answers are passed through `mutate`, to prove the OpenAPI validator bites. */
  malformNext(count: number, mutate: (body: unknown) => unknown, options: FaultScope = {}): this {
    return this.arm(count, { kind: 'malform', mutate }, options);
  }

  /** The next `count` matching requests are held `ms` before they are served; abandoned ones are not served. */
  holdNext(count: number, options: FaultScope & { ms: number }): this {
    return this.arm(count, { kind: 'hold', ms: options.ms }, options);
  }

  /** Arms any fault for the next `count` matching requests. */
  arm(count: number, fault: Fault, scope: FaultScope = {}): this {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`fault count must be a positive integer: ${count}`);
    this.#armed.push({ fault, remaining: count, match: scope.match });
    return this;
  }

  /** Disarms every knob and removes the latency. */
  reset(): void {
    this.#armed.length = 0;
    this.latencyMs = 0;
  }

  /** Number of requests still armed with a fault. */
  get pending(): number {
    return this.#armed.reduce((n, a) => n + a.remaining, 0);
  }

  /** The fault for this request, if one is armed for it; consumes one use. Servers call this once per request. */
  take(method: string, path: string, kinds?: ReadonlyArray<Fault['kind']>): Fault | undefined {
    const line = `${method.toUpperCase()} ${path}`;
    const i = this.#armed.findIndex(
      (a) => (kinds === undefined || kinds.includes(a.fault.kind)) && (a.match === undefined || a.match.test(line)),
    );
    if (i < 0) return undefined;
    const armed = this.#armed[i]!;
    armed.remaining -= 1;
    if (armed.remaining === 0) this.#armed.splice(i, 1);
    this.injected += 1;
    return armed.fault;
  }

  /** Waits for the configured latency, if any. */
  async delay(): Promise<void> {
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
  }
}
