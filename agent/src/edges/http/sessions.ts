// Login sessions of the UI: a random id in an HttpOnly cookie points into this server-side map, so the cookie
// carries no credential (never the API token) and a logout or expiry ends the session for good. Each session has
// its own CSRF token, which every state-changing form posts back.
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** One logged-in browser. */
export interface Session {
  id: string;
  /** Posted back by every state-changing form of this session. */
  csrf: string;
  /** Epoch milliseconds after which the session is gone. */
  expiresAt: number;
}

/** Options of the session store. */
export interface SessionOptions {
  /** How long a session lasts from login (no sliding renewal: a stolen id stops working on time). */
  ttlMs: number;
  /** At most this many live sessions; the oldest is dropped first, so logins cannot grow memory without bound. */
  maxSessions: number;
  now: () => number;
}

/** Defaults: 8 hours, 1,000 sessions, the real clock. */
export function defaultSessionOptions(): SessionOptions {
  return { ttlMs: 8 * 3600_000, maxSessions: 1000, now: () => Date.now() };
}

/** Compares secrets in constant time (different lengths are unequal without a timing hint on the content). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The server-side session map. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly options: SessionOptions;

  constructor(options: Partial<SessionOptions> = {}) {
    this.options = { ...defaultSessionOptions(), ...options };
  }

  /** A new session with fresh random id and CSRF token (256 bits each). */
  create(): Session {
    this.sweep();
    while (this.sessions.size >= this.options.maxSessions) {
      this.sessions.delete(this.sessions.keys().next().value as string);
    }
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      expiresAt: this.options.now() + this.options.ttlMs,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id; expired ones are removed and not returned. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.options.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /** Ends a session. */
  delete(id: string): void {
    this.sessions.delete(id);
  }

  /** How many sessions are held (tests). */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now = this.options.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}

/**
 * Failed logins, for all clients together (behind a proxy every client has the proxy's address): after `max`
 * failures within `windowMs`, logins are refused until the oldest failure leaves the window, so the API token cannot
 * be guessed at line speed.
 */
export class LoginThrottle {
  private failures: number[] = [];

  constructor(
    private readonly max = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Milliseconds until a login may be tried again; 0 when it may now. */
  waitMs(): number {
    const t = this.now();
    this.failures = this.failures.filter((f) => t - f < this.windowMs);
    return this.failures.length >= this.max ? this.failures[0]! + this.windowMs - t : 0;
  }

  /** Records a failed login. */
  failed(): void {
    this.failures.push(this.now());
  }
}
