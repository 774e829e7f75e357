// The agent's composition root: the one place that builds clients from a configuration (Kubernetes, GitHub, Git
// sources, status reporter, leader elector, renderer) and hands them to the Agent. The CLI, the demo and the
// benchmarks call it; nothing here runs at import time.
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitHubClient } from '../../shared/src/github.ts';
import { type Logger, silentLogger } from '../../shared/src/log.ts';
import type { AgentConfig } from './config.ts';
import { emptyMetrics, recordStatusPost } from './core/agent-metrics.ts';
import type { DesiredStateSource, Renderer } from './core/desired-state.ts';
import type { KubeClient } from './core/kube-port.ts';
import { GitSource } from './edges/git/git-source.ts';
import { FleetReader } from './edges/github/fleet-reader.ts';
import { githubAppProvider, type TokenProvider, tokenFileProvider } from './edges/github/github-auth.ts';
import { Discovery } from './edges/kube/discovery.ts';
import { HttpKubeClient } from './edges/kube/kube-client.ts';
import { inClusterConnection, loadKubeconfig } from './edges/kube/kubeconfig.ts';
import { toolRenderer } from './edges/render/render.ts';
import { Agent } from './reconcile/agent.ts';
import { LeaderElector } from './reconcile/leader.ts';
import { PushSignals, pushSignalHubOptions } from './reconcile/push-signals.ts';
import { type ShardGate, ShardLeases } from './reconcile/shard-leases.ts';
import { StatusReporter } from './reconcile/status-reporter.ts';
import { WatchHub } from './reconcile/watch-hub.ts';

/** The Kubernetes client of a configuration: its kubeconfig, else $KUBECONFIG, else the pod's ServiceAccount. */
export function kubeClientFor(config: AgentConfig, env: NodeJS.ProcessEnv = process.env): HttpKubeClient {
  const kubeconfig = config.kubeconfig ?? env.KUBECONFIG;
  return new HttpKubeClient(kubeconfig ? loadKubeconfig(kubeconfig) : inClusterConnection(env));
}

/** What the caller may supply instead of what the configuration says (tests, the demo, benchmarks). */
export interface AgentOptions {
  /** The cluster; the caller owns it (and closes it). */
  kube: KubeClient;
  log?: Logger;
  /** GitHub client for statuses; default: built from `config.github`. No GitHub settings → no statuses. */
  github?: GitHubClient;
  /** Token for the GitHub API and Git fetches; default: from `config.github`. */
  token?: TokenProvider;
  /** Health is recomputed from watched objects this often (no requests). */
  healthIntervalMs?: number;
  /** Identity for leader election and sharding; default hostname + pid. */
  identity?: string;
  /** Renders apps; default: plain manifests in process, kustomize and helm as tools. */
  renderer?: Renderer;
  /** Poll open pull requests for plans at the apps' interval; default: when no webhook secret is configured. */
  pollPullRequests?: boolean;
  /** Which apps this replica works on; default: the Leases of `config.sharding`, or every app without it. */
  shards?: ShardGate;
}

/** The GitHub token of a configuration: a GitHub App's installation token, or a token file; none without either. */
export function tokenProviderFor(config: AgentConfig): TokenProvider | undefined {
  if (config.github?.app) return githubAppProvider({ ...config.github.app, apiUrl: config.github.apiUrl });
  if (config.github?.tokenFile) return tokenFileProvider(config.github.tokenFile);
  return undefined;
}

/** Builds an agent and everything it is given (no network yet: Git sources only open their caches). */
export async function createAgent(config: AgentConfig, options: AgentOptions): Promise<Agent> {
  const log = (options.log ?? silentLogger).with({ cluster: config.cluster });
  const token = options.token ?? tokenProviderFor(config);
  // Octokit is loaded only by an agent that posts statuses (a file of its own in the split bundle).
  const createGitHub = token && !options.github ? (await import('../../shared/src/github.ts')).createGitHub : undefined;
  const github =
    options.github ??
    (token && createGitHub
      ? createGitHub({ auth: token, baseUrl: config.github?.apiUrl, log, userAgent: 'tether-agent' })
      : undefined);
  const metrics = emptyMetrics();
  const reporter = github
    ? new StatusReporter(github, { log, onResult: (ok) => recordStatusPost(metrics, ok) })
    : undefined;
  // The fleet view's reads never wait out a rate limit inside a page view (retries 0): the reader backs off itself.
  const fleetGitHub =
    options.github ??
    (token && createGitHub
      ? createGitHub({ auth: token, baseUrl: config.github?.apiUrl, log, userAgent: 'tether-agent', retries: 0 })
      : undefined);
  const fleet = fleetGitHub ? new FleetReader(fleetGitHub) : undefined;
  const elector = config.leaderElection.enabled
    ? new LeaderElector(options.kube, {
        namespace: config.leaderElection.namespace,
        name: config.leaderElection.leaseName ?? `tether-${config.cluster}`,
        identity: options.identity ?? `${hostname()}-${process.pid}`,
        leaseDurationMs: config.leaderElection.leaseDuration,
        retryMs: config.leaderElection.renewInterval,
        log,
      })
    : undefined;
  const sharding = config.sharding?.enabled ? config.sharding : undefined;
  const leasePrefix = sharding?.leasePrefix ?? `tether-${config.cluster}-shard`;
  const shards =
    options.shards ??
    (sharding
      ? new ShardLeases(options.kube, {
          shards: sharding.shards,
          namespace: sharding.namespace,
          leasePrefix,
          identity: options.identity ?? `${hostname()}-${process.pid}`,
          leaseDurationMs: sharding.leaseDuration,
          renewIntervalMs: sharding.renewInterval,
          log,
        })
      : undefined);
  const discovery = new Discovery(options.kube);
  // Sharded: a push webhook reaches one replica; it tells the others through one ConfigMap next to the Leases.
  const pushSignals =
    sharding && shards
      ? new PushSignals(
          options.kube,
          new WatchHub(
            { kube: options.kube, discovery },
            pushSignalHubOptions(sharding.namespace, `${leasePrefix}-pushes`),
          ),
          { namespace: sharding.namespace, name: `${leasePrefix}-pushes`, identity: shards.identity, log },
        )
      : undefined;
  const gitToken = config.github?.gitTokenFile
    ? tokenFileProvider(config.github.gitTokenFile, { field: 'github.gitTokenFile' })
    : token;
  const cacheRoot = config.cacheDir ?? join(tmpdir(), 'tether-cache');
  // One cache directory per key (a shared repo and ref, an app's plans, a location of App documents): one shallow
  // clone each.
  const openSource = (key: string, repo: string, ref: string): Promise<GitSource> =>
    GitSource.create({
      url: repo,
      ref,
      cacheDir: join(cacheRoot, config.cluster, key),
      credentials: gitToken ? async () => ({ username: 'x-access-token', password: await gitToken() }) : undefined,
    });
  const sources = new Map<string, DesiredStateSource>();
  // Apps of one repository and ref share one source: one object store, one fetch, one parsed pack in memory (200
  // apps of one environment repo would otherwise hold 200 copies of it).
  const shared = new Map<string, GitSource>();
  for (const app of config.apps) {
    const key = `${app.repo}#${app.ref}`;
    let source = shared.get(key);
    if (!source) {
      source = await openSource(
        join('git', createHash('sha256').update(key).digest('hex').slice(0, 16)),
        app.repo,
        app.ref,
      );
      shared.set(key, source);
    }
    sources.set(app.name, source);
  }
  // Pull request heads go to a store of their own per app (`<app>.plans`; app names have no dots), so planning never
  // touches the store the synced state is read from.
  const planSources = new Map<string, GitSource>();
  for (const app of github ? config.apps.filter((a) => a.planPullRequests) : []) {
    planSources.set(app.name, await openSource(`${app.name}.plans`, app.repo, app.ref));
  }
  return new Agent({
    config,
    ...(github && (planSources.size > 0 || config.appsFrom.length > 0)
      ? {
          github,
          planSources,
          openPlanSource: openSource,
          pollPullRequests: options.pollPullRequests ?? !config.server.webhookSecretFile,
        }
      : {}),
    metrics,
    kube: options.kube,
    discovery,
    renderer: options.renderer ?? toolRenderer,
    sources,
    openSource,
    ...(options.log ? { log: options.log } : {}),
    ...(reporter ? { reporter } : {}),
    ...(elector ? { elector } : {}),
    ...(shards ? { shards } : {}),
    ...(pushSignals ? { pushSignals } : {}),
    ...(fleet ? { fleet } : {}),
    ...(options.healthIntervalMs !== undefined ? { healthIntervalMs: options.healthIntervalMs } : {}),
  });
}
