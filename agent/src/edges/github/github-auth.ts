import type { createAppAuth } from '@octokit/auth-app';
import type { Octokit } from '@octokit/rest';
import { TetherError } from '../../../../shared/src/errors.ts';
import { TokenFile, type TokenFileOptions } from '../token-file.ts';

type RequestInterface = InstanceType<typeof Octokit>['request'];

/** Returns a current GitHub token (for the REST API and for Git over HTTPS as `x-access-token`). */
export type TokenProvider = () => Promise<string>;

/** Options of a file-backed token provider. */
export interface TokenFileProviderOptions {
  /** The configuration field naming the file, for errors; default `github.tokenFile`. */
  field: string;
  /** How often the file is looked at (tests move the clock). */
  file: Partial<TokenFileOptions>;
}

/**
 * A token read from a file when it changed (see TokenFile: one stat a second at most), so a rotated Secret is picked
 * up without a restart and a status write does not read a file.
 */
export function tokenFileProvider(path: string, options: Partial<TokenFileProviderOptions> = {}): TokenProvider {
  const field = options.field ?? 'github.tokenFile';
  const file = new TokenFile(path, options.file);
  return async () => {
    const token = readSecret(file, field);
    if (!token) throw new TetherError('config', `${field} ${path} is empty`);
    return token;
  };
}

/** The text of a secret file, or a configuration error naming the field. */
function readSecret(file: TokenFile, field: string): string {
  try {
    return file.token();
  } catch (err) {
    throw new TetherError('config', `${field} ${file.path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Installation tokens of a GitHub App through @octokit/auth-app, which signs the App's JWT, mints the token
 * (`POST /app/installations/{id}/access_tokens`), caches it and mints a new one before it expires. The private key is
 * read from its file when first needed and again once the file changed (see TokenFile), so a rotated Secret is
 * picked up; a new key starts a new auth (its cached token was minted with the old one).
 * @octokit/auth-app and Octokit are imported on the first token asked for: an agent with a token file loads neither.
 */
export function githubAppProvider(options: {
  appId: string;
  privateKeyFile: string;
  installationId: string;
  apiUrl: string;
  /** The request function (default: Octokit's, against `apiUrl`); tests pass their own. */
  request?: RequestInterface;
  /** How often the key file is looked at (tests move the clock). */
  keyFile?: Partial<TokenFileOptions>;
}): TokenProvider {
  let current: { key: string; auth: ReturnType<typeof createAppAuth> } | undefined;
  let request = options.request;
  const keyFile = new TokenFile(options.privateKeyFile, options.keyFile);
  return async () => {
    const key = readSecret(keyFile, 'github.app.privateKeyFile');
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
