// Tokens shared by the Git server and the GitHub emulator, so one credential works for `git push` and the REST API
// alike, as a GitHub token does (issue 3, parts 2 and 3).

/** What one token may do: act as `login` on every repository (`'*'`) or on the listed `owner/name`s. */
export interface TokenGrant {
  login: string;
  repos: '*' | readonly string[];
}

/**
 * Token → grant. The servers read this object on every request, so tokens added or removed later take effect at
 * once.
 */
export type TokenMap = Record<string, TokenGrant>;

/** The identity behind an accepted token. */
export interface Principal {
  login: string;
  grant: TokenGrant;
}

/** The token of a REST `Authorization` header (`token X`, `Bearer X`), or undefined when there is none. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/**
 * The token of a Git `Authorization: Basic` header. GitHub takes the token as the password (`x-access-token:<token>`)
 * or, with an empty or `x-oauth-basic` password, as the user name; both are honoured.
 */
export function basicToken(header: string | null | undefined, tokens: TokenMap): string | undefined {
  if (!header) return undefined;
  const m = /^basic\s+(\S+)\s*$/i.exec(header);
  if (!m) return bearerToken(header);
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  if (password && Object.hasOwn(tokens, password)) return password;
  if (user && Object.hasOwn(tokens, user)) return user;
  return password || user || undefined;
}

/** The principal for a token, or undefined when the token is unknown. */
export function principalFor(tokens: TokenMap, token: string | undefined): Principal | undefined {
  if (token === undefined || !Object.hasOwn(tokens, token)) return undefined;
  const grant = tokens[token]!;
  return { login: grant.login, grant };
}

/** Whether a principal may read and write `owner/name` (compared case-insensitively, as GitHub does). */
export function canAccess(principal: Principal, fullName: string): boolean {
  const { repos } = principal.grant;
  if (repos === '*') return true;
  const wanted = fullName.toLowerCase();
  return repos.some((r) => r.toLowerCase() === wanted);
}
