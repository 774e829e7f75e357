import { readFileSync } from 'node:fs';
import type { createAppAuth } from '@octokit/auth-app';
import type { Octokit } from '@octokit/rest';
import { TetherError } from '../../../../shared/src/errors.ts';

type RequestInterface = InstanceType<typeof Octokit>['request'];

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

/**
 * Installation tokens of a GitHub App through @octokit/auth-app, which signs the App's JWT, mints the token
 * (`POST /app/installations/{id}/access_tokens`), caches it and mints a new one before it expires. The private key is
 * read from its file when first needed and again whenever the file changes, so a rotated Secret is picked up.
 * @octokit/auth-app and Octokit are imported on the first token asked for: an agent with a token file loads neither.
 */
export function githubAppProvider(options: {
  appId: string;
  privateKeyFile: string;
  installationId: string;
  apiUrl: string;
  /** The request function (default: Octokit's, against `apiUrl`); tests pass their own. */
  request?: RequestInterface;
}): TokenProvider {
  let current: { key: string; auth: ReturnType<typeof createAppAuth> } | undefined;
  let request = options.request;
  return async () => {
    let key: string;
    try {
      key = readFileSync(options.privateKeyFile, 'utf8');
    } catch (err) {
      throw new TetherError(
        'config',
        `github.app.privateKeyFile ${options.privateKeyFile}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (current?.key !== key) {
      const [{ createAppAuth }, { Octokit }] = await Promise.all([
        import('@octokit/auth-app'),
        import('@octokit/rest'),
      ]);
      request ??= new Octokit({ baseUrl: options.apiUrl, userAgent: 'tether-agent' }).request;
      current = {
        key,
        auth: createAppAuth({
          appId: options.appId,
          privateKey: key,
          installationId: options.installationId,
          request,
        }),
      };
    }
    try {
      return (await current.auth({ type: 'installation' })).token;
    } catch (err) {
      const status = (err as { status?: number }).status;
      throw new TetherError(
        'github',
        `GitHub App ${options.appId} installation ${options.installationId}: ${status ?? ''} ${(err as Error).message}`
          .replace(/\s+/g, ' ')
          .trim(),
        { cause: err },
      );
    }
  };
}
