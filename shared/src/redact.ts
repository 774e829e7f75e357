// Credentials never reach a message: Git URLs may carry `user:token@`, and errors from HTTP clients quote the URL.

/** The userinfo of every URL in `text` replaced by nothing (`https://x:tok@host/…` → `https://host/…`). */
export function redactUrls(text: string): string {
  // Found from its `://` with one scheme character checked behind it: a pattern starting with the scheme would try
  // every letter of a long run (a base64 line of a diff) as the start of one, quadratic in the run's length.
  return text.replace(/(?<=[a-z0-9+.-]):\/\/[^@/\s?#]*@/gi, '://');
}

/**
 * `text` with every URL's userinfo removed and every given secret (tokens, passwords) replaced by `***`; secrets
 * shorter than 4 characters are not replaced, so a stray `x` does not mangle the message.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = redactUrls(text);
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}
