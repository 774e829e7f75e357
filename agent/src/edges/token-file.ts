// Secrets the agent reads from files that are replaced while it runs: the ServiceAccount token the kubelet rotates (a
// projected token, rotated well before it expires; the old one stays valid meanwhile), and the GitHub token or App
// private key of a mounted Secret, which the kubelet swaps in by moving a symbolic link. Reading the file at every use
// was an open, read and close per apiserver request or status write; client-go instead re-reads its token about once
// a minute (its cached file token source). Here the file is looked at (one stat) at most once every `recheckMs` and
// read only when it changed, so a rotated secret is used within that time and no request waits on reading a file.
// One implementation for the kube and github edges.
import { readFileSync, statSync } from 'node:fs';

/** Options of `TokenFile`. */
export interface TokenFileOptions {
  /** Least time between two looks at the file; default 1 s. */
  recheckMs: number;
  /** Clock in milliseconds; tests move it. */
  now: () => number;
}

/** Defaults of `TokenFile`: the file looked at once a second at most, the real clock. */
export function defaultTokenFileOptions(): TokenFileOptions {
  return { recheckMs: 1000, now: () => Date.now() };
}

/** A secret read from a file again only when the file changed (another file, size or modification time). */
export class TokenFile {
  private readonly options: TokenFileOptions;
  private cached: { token: string; identity: string; checkedAt: number } | undefined;

  constructor(
    readonly path: string,
    options: Partial<TokenFileOptions> = {},
  ) {
    this.options = { ...defaultTokenFileOptions(), ...options };
  }

  /** The file's text (trimmed); throws when the file cannot be read, and then tries again on the next call. */
  token(): string {
    const now = this.options.now();
    const c = this.cached;
    if (c && now - c.checkedAt < this.options.recheckMs) return c.token;
    // The kubelet swaps a symbolic link to a new file (a projected token, a Secret's volume): stat follows it, so a
    // rotation is another inode.
    const s = statSync(this.path);
    const identity = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    const token = c?.identity === identity ? c.token : readFileSync(this.path, 'utf8').trim();
    this.cached = { token, identity, checkedAt: now };
    return token;
  }
}
