// Kubeconfig users of type `exec` (EKS `aws eks get-token`, GKE `gke-gcloud-auth-plugin`, AKS `kubelogin`): the
// client runs a command that prints an ExecCredential and uses its token or client certificate.
// Protocol: https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
//
// Written here rather than taken from @kubernetes/client-node, measured on this project's Node 20: importing that
// package costs +71 MB RSS and 1.5-3 s; bundled into dist/tether.mjs it adds 15 MB of code, and merely carrying it
// in the bundle, never called, raised every process (the in-cluster agent too) from 39 to 85 MB RSS and its start by
// ~0.8 s. Its ExecAuth also re-runs the plugin on every request when the credential has no expirationTimestamp,
// passes no KUBERNETES_EXEC_INFO, and does not resolve a relative command against the kubeconfig's directory.
import { spawn } from 'node:child_process';
import { dirname, isAbsolute, resolve } from 'node:path';
import { TetherError } from '../../../../shared/src/errors.ts';

/** What an exec plugin proves: a bearer token and/or a client certificate and key (PEM). */
export interface KubeCredentials {
  token?: string;
  cert?: string;
  key?: string;
}

/** The `user.exec` entry of a kubeconfig, validated. */
export interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  installHint?: string;
  provideClusterInfo: boolean;
  interactiveMode?: string;
}

/** The cluster an exec plugin is told about when it sets `provideClusterInfo`. */
export interface ExecClusterInfo {
  server: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
}

/** Options of running a plugin; tests shorten the clock and the timeout. */
export interface ExecOptions {
  /** Kill the plugin after this long (a plugin waiting for a browser login must not hang the agent). */
  timeoutMs: number;
  /** Renew this long before the credential's expirationTimestamp, so a request never carries an expired token. */
  renewBeforeMs: number;
  now: () => number;
}

/** Two minutes to run, renewal ten seconds before expiry. */
export function defaultExecOptions(): ExecOptions {
  return { timeoutMs: 120_000, renewBeforeMs: 10_000, now: Date.now };
}

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** Validates a kubeconfig's `user.exec`; `where` names the kubeconfig and user in errors. */
export function parseExecConfig(where: string, exec: unknown, kubeconfigPath: string): ExecConfig {
  const bad = (msg: string) => new TetherError('config', `${where}: exec.${msg}`);
  if (typeof exec !== 'object' || exec === null || Array.isArray(exec)) throw bad('… must be a map');
  const e = exec as Record<string, unknown>;
  if (typeof e.apiVersion !== 'string' || !API_VERSIONS.includes(e.apiVersion)) {
    throw bad(`apiVersion "${String(e.apiVersion ?? '')}" is not supported (use ${API_VERSIONS.join(' or ')})`);
  }
  if (typeof e.command !== 'string' || e.command === '') throw bad('command is required');
  const args = e.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw bad('args must be a list of strings');
  const env = e.env ?? [];
  if (
    !Array.isArray(env) ||
    !env.every((v) => typeof v?.name === 'string' && typeof (v as { value?: unknown }).value === 'string')
  ) {
    throw bad('env must be a list of {name, value} strings');
  }
  if (e.interactiveMode === 'Always') {
    throw bad('interactiveMode is Always: the plugin needs a terminal, which Tether never gives it');
  }
  // As kubectl does: a relative path with a separator is relative to the kubeconfig, a bare name is looked up on
  // PATH.
  const command =
    !isAbsolute(e.command) && e.command.includes('/') ? resolve(dirname(kubeconfigPath), e.command) : e.command;
  return {
    apiVersion: e.apiVersion,
    command,
    args: args as string[],
    env: env as { name: string; value: string }[],
    installHint: typeof e.installHint === 'string' ? e.installHint : undefined,
    provideClusterInfo: e.provideClusterInfo === true,
    interactiveMode: typeof e.interactiveMode === 'string' ? e.interactiveMode : undefined,
  };
}

/**
 * Runs an exec plugin when a credential is needed and keeps its answer until `expirationTimestamp` (for the life of
 * the process when there is none, as client-go does). Concurrent callers share one run.
 */
export class ExecCredentialPlugin {
  private cached?: { credentials: KubeCredentials; expiresAt: number };
  private running?: Promise<KubeCredentials>;
  private readonly options: ExecOptions;

  constructor(
    private readonly where: string,
    private readonly config: ExecConfig,
    private readonly cluster: ExecClusterInfo,
    options: Partial<ExecOptions> = {},
  ) {
    this.options = { ...defaultExecOptions(), ...options };
  }

  /** The current credentials, running the plugin when there are none or they are about to expire. */
  credentials(): Promise<KubeCredentials> {
    if (this.cached && this.options.now() < this.cached.expiresAt - this.options.renewBeforeMs) {
      return Promise.resolve(this.cached.credentials);
    }
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Forgets the cached credentials (e.g. after the apiserver answered 401), so the next call runs the plugin. */
  invalidate(): void {
    this.cached = undefined;
  }

  private async run(): Promise<KubeCredentials> {
    const { stdout, stderr, code, error } = await this.spawn();
    const cmd = this.config.command;
    if (error) {
      const hint = this.config.installHint ? `\n${this.config.installHint.trim()}` : '';
      throw new TetherError('kube', `${this.where}: exec plugin ${cmd} could not run: ${error.message}${hint}`, {
        cause: error,
      });
    }
    if (code !== 0) {
      throw new TetherError(
        'kube',
        `${this.where}: exec plugin ${cmd} exited with ${code}${stderr.trim() ? `: ${stderr.trim().slice(0, 500)}` : ''}`,
      );
    }
    let out: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> };
    try {
      out = JSON.parse(stdout);
    } catch {
      // The output is not echoed: it may hold a token.
      throw new TetherError('kube', `${this.where}: exec plugin ${cmd} did not print JSON`);
    }
    if (out?.kind !== 'ExecCredential' || out.apiVersion !== this.config.apiVersion) {
      throw new TetherError(
        'kube',
        `${this.where}: exec plugin ${cmd} printed ${String(out?.kind)} ${String(out?.apiVersion)}, not ExecCredential ${this.config.apiVersion}`,
      );
    }
    const s = out.status ?? {};
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const credentials: KubeCredentials = {
      token: str(s.token),
      cert: str(s.clientCertificateData),
      key: str(s.clientKeyData),
    };
    if ((credentials.cert === undefined) !== (credentials.key === undefined)) {
      throw new TetherError(
        'kube',
        `${this.where}: exec plugin ${cmd} gave only one of clientCertificateData and clientKeyData`,
      );
    }
    if (!credentials.token && !credentials.cert) {
      throw new TetherError(
        'kube',
        `${this.where}: exec plugin ${cmd} gave neither status.token nor clientCertificateData and clientKeyData`,
      );
    }
    let expiresAt = Number.POSITIVE_INFINITY;
    if (s.expirationTimestamp !== undefined) {
      expiresAt = Date.parse(String(s.expirationTimestamp));
      if (Number.isNaN(expiresAt)) {
        throw new TetherError(
          'kube',
          `${this.where}: exec plugin ${cmd} gave an expirationTimestamp that is not a time: ${String(s.expirationTimestamp)}`,
        );
      }
    }
    this.cached = { credentials, expiresAt };
    return credentials;
  }

  private spawn(): Promise<{ stdout: string; stderr: string; code: number | null; error?: Error }> {
    const info = {
      apiVersion: this.config.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(this.config.provideClusterInfo ? { cluster: this.cluster } : {}) },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const { name, value } of this.config.env) env[name] = value;
    return new Promise((resolvePromise) => {
      const child = spawn(this.config.command, this.config.args, {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: this.options.timeoutMs,
      });
      let stdout = '';
      let stderr = '';
      let error: Error | undefined;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      // A command that cannot start emits 'error' and may never emit 'close'; the first to come settles.
      child.on('error', (err) => {
        error ??= err;
        resolvePromise({ stdout, stderr, code: null, error });
      });
      child.on('close', (code, signal) => {
        if (signal && !error) error = new Error(`killed by ${signal} (timeout ${this.options.timeoutMs} ms)`);
        resolvePromise({ stdout, stderr, code, error });
      });
    });
  }
}

/**
 * The credentials source of a kubeconfig user: its exec plugin, or none for static users. `auth-provider` users
 * (oidc; gcp and azure left kubectl in 1.26 for exec plugins) are refused with a clear error naming them.
 */
export function userCredentials(
  kubeconfigPath: string,
  userName: string,
  user: Record<string, unknown>,
  cluster: Record<string, unknown>,
  options: Partial<ExecOptions> = {},
): (() => Promise<KubeCredentials>) | undefined {
  const where = `kubeconfig ${kubeconfigPath}: user "${userName}"`;
  const provider = user['auth-provider'] as { name?: unknown } | undefined;
  if (provider) {
    throw new TetherError(
      'config',
      `${where} uses the auth-provider "${String(provider.name ?? '')}", which Tether does not run; use an exec plugin (e.g. kubelogin for OIDC), a token or a client certificate`,
    );
  }
  if (user.exec === undefined) return undefined;
  const info: ExecClusterInfo = { server: String(cluster.server ?? '') };
  if (typeof cluster['certificate-authority-data'] === 'string') {
    info['certificate-authority-data'] = cluster['certificate-authority-data'];
  }
  if (cluster['insecure-skip-tls-verify'] === true) info['insecure-skip-tls-verify'] = true;
  const plugin = new ExecCredentialPlugin(where, parseExecConfig(where, user.exec, kubeconfigPath), info, options);
  return () => plugin.credentials();
}
