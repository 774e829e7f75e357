import { redactUrls } from './redact.ts';

/** Error codes Tether raises; the CLI maps `usage`/`input` to exit 2 and the rest to exit 1. */
export type TetherErrorCode =
  | 'usage'
  | 'input'
  | 'invalid-reference'
  | 'parse'
  | 'edit'
  | 'io'
  | 'git'
  | 'github'
  | 'kube'
  | 'render'
  | 'config'
  | 'internal';

/** A typed error: a `code`, a message that names the offending input or object, and an optional `cause`. */
export class TetherError extends Error {
  readonly code: TetherErrorCode;
  constructor(code: TetherErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TetherError';
    this.code = code;
  }
}

/** True for errors caused by what the user gave us (exit code 2), not by the world. */
export function isUserError(err: unknown): boolean {
  return (
    err instanceof TetherError &&
    (err.code === 'usage' ||
      err.code === 'input' ||
      err.code === 'invalid-reference' ||
      err.code === 'parse' ||
      err.code === 'config')
  );
}

/**
 * The message of any thrown value, with the chain of causes, for logs and CLI output. A cause is kept raw for its
 * code and status (retries read them), so its message may still quote a URL with credentials that the wrapper's
 * message redacted (isomorphic-git names the remote in several errors): every part loses URL credentials here.
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = redactUrls(e instanceof Error ? e.message : String(e));
    // A wrapper usually quotes its cause already; say each thing once.
    if (!parts.some((p) => p.includes(message))) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}
