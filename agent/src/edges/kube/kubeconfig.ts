import { readFileSync } from 'node:fs';
import { TetherError } from '../../../../shared/src/errors.ts';
import { isRecord } from '../../../../shared/src/is-record.ts';
import { parseYamlSafeOne } from '../../../../shared/src/yaml-safe.ts';
import { type KubeCredentials, userCredentials } from './exec-credential.ts';

/** What an HTTPS request to the apiserver needs: where, and how to prove who we are. */
export interface KubeConnection {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** A bearer token. */
  token?: string;
  /** A file holding the bearer token instead, read again whenever it changes (projected tokens rotate). */
  tokenFile?: string;
  insecureSkipTLSVerify?: boolean;
  /** The context's namespace, if any. */
  namespace?: string;
  /** Credentials fetched per request (an exec plugin's, cached by it until they expire), over the static ones. */
  credentials?: () => Promise<KubeCredentials>;
}

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Reads a kubeconfig (client certificates, tokens, token files, exec plugins) into a connection.
 *
 * Why not @kubernetes/client-node's KubeConfig: importing any part of that package costs ~71-78 MB of RSS (it
 * loads the whole generated API), more than the agent's memory goal allows for everything. Exec plugins run through
 * exec-credential.ts; auth-provider users get a clear error naming the user entry.
 */
export function loadKubeconfig(path: string, context?: string): KubeConnection {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new TetherError('config', `kubeconfig ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = parseYamlSafeOne(bytes, `kubeconfig ${path}`, { code: 'config' });
  if (!isRecord(parsed)) throw new TetherError('config', `kubeconfig ${path}: not a YAML map`);
  const doc = parsed as KubeconfigFile;
  const ctxName = context ?? doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new TetherError('config', `kubeconfig ${path}: context "${ctxName ?? ''}" not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new TetherError('config', `kubeconfig ${path}: cluster "${ctx.cluster}" not found`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  const credentials = userCredentials(path, ctx.user, user, cluster);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const pem = (data: unknown, file: unknown) =>
    str(data)
      ? Buffer.from(str(data)!, 'base64').toString('utf8')
      : str(file)
        ? readFileSync(str(file)!, 'utf8')
        : undefined;
  const server = str(cluster.server);
  if (!server) throw new TetherError('config', `kubeconfig ${path}: cluster "${ctx.cluster}" has no server`);
  return {
    server: server.replace(/\/+$/, ''),
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: pem(user['client-certificate-data'], user['client-certificate']),
    key: pem(user['client-key-data'], user['client-key']),
    token: str(user.token),
    tokenFile: str(user.tokenFile),
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: ctx.namespace,
    ...(credentials ? { credentials } : {}),
  };
}

/** The in-cluster connection: the ServiceAccount token and CA mounted into the agent's pod. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new TetherError(
      'config',
      'not running in a cluster (KUBERNETES_SERVICE_HOST is unset) and no kubeconfig given',
    );
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${SA_DIR}/ca.crt`, 'utf8'),
    tokenFile: `${SA_DIR}/token`,
    namespace: readFileSync(`${SA_DIR}/namespace`, 'utf8').trim(),
  };
}
