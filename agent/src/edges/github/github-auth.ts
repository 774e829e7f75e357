import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TetherError } from '../../../../shared/src/errors.ts';

/** Returns a current GitHub token (for the REST API and for Git over HTTPS as `x-access-token`). */
export type TokenProvider = () => Promise<string>;

/** A token read from a file on every call, so a rotated Secret is picked up without a restart. */
export function tokenFileProvider(file: string): TokenProvider {
  return async () => {
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new TetherError('config', `github.tokenFile ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (!token) throw new TetherError('config', `github.tokenFile ${file} is empty`);
    return token;
  };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** A GitHub App JWT (RS256, issued 60 s in the past for clock drift, valid 9 minutes), as GitHub documents. */
export function appJwt(appId: string, privateKeyPem: string, now = Date.now()): string {
  const iat = Math.floor(now / 1000) - 60;
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ iat, exp: iat + 600, iss: appId }));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${signer.sign(privateKeyPem).toString('base64url')}`;
}

/**
 * Installation tokens of a GitHub App: minted with the App's JWT (`POST /app/installations/{id}/access_tokens`),
 * cached, and refreshed 5 minutes before they expire.
 */
export function githubAppProvider(options: {
  appId: string;
  privateKeyFile: string;
  installationId: string;
  apiUrl: string;
  fetch?: typeof fetch;
  refreshBeforeMs?: number;
}): TokenProvider {
  let cached: { token: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  const doFetch = options.fetch ?? fetch;
  const refreshBefore = options.refreshBeforeMs ?? 5 * 60_000;
  const mint = async (): Promise<string> => {
    const key = readFileSync(options.privateKeyFile, 'utf8');
    const url = `${options.apiUrl.replace(/\/+$/, '')}/app/installations/${encodeURIComponent(options.installationId)}/access_tokens`;
    const res = await doFetch(url, {
      method: 'POST',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${appJwt(options.appId, key)}`,
        'user-agent': 'tether-agent',
      },
    });
    const body = (await res.json().catch(() => ({}))) as { token?: string; expires_at?: string; message?: string };
    if (!res.ok || !body.token) {
      throw new TetherError(
        'github',
        `GitHub App ${options.appId} installation ${options.installationId}: ${res.status} ${body.message ?? ''}`.trim(),
      );
    }
    cached = { token: body.token, expiresAt: body.expires_at ? Date.parse(body.expires_at) : Date.now() + 3_600_000 };
    return body.token;
  };
  return async () => {
    if (cached && cached.expiresAt - refreshBefore > Date.now()) return cached.token;
    inflight ??= mint().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}
