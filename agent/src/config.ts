import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { TetherError } from '../../shared/src/errors.ts';
import { normalizeRepoPath, repoPathProblem } from '../../shared/src/repo-path.ts';
import { parseYamlSafeOne } from '../../shared/src/yaml-safe.ts';
import { sourceClash, sourceLabels } from './core/app-set-plan.ts';
import { compileHealthRule, HealthRuleError, type HealthRules, healthRules } from './core/health-cel.ts';
import { PROTECTED_KINDS } from './core/prune.ts';
import { defaultRetryPolicy } from './core/retry.ts';
import { scheduleProblem } from './core/sync-windows.ts';

/** `60s`, `5m`, `1h30m`, `500ms` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration like 30s, 5m or 1h` });
    return z.NEVER;
  }
  return ms;
});

/** The shortest poll interval: each poll is a fetch, and the API and Git servers of GitHub are shared. */
export const MIN_INTERVAL_MS = 5000;

/**
 * A Git repository URL the agent can fetch: HTTPS (plain HTTP only to this machine), no credentials in it. SSH and
 * local paths are refused because the Git client speaks only smart HTTP; credentials belong in `github.tokenFile`,
 * where they are never echoed by the API, the page or a log line.
 */
const repoUrl = z.string().superRefine((s, ctx) => {
  const bad = (message: string) => ctx.addIssue({ code: 'custom', message });
  if (/^(ssh|git\+ssh|git):\/\//i.test(s) || /^[\w.-]+@[\w.-]+:/.test(s)) {
    return bad(`"${s}" is an SSH URL; the agent fetches over HTTPS only — use https://<host>/<owner>/<repo>.git`);
  }
  if (/^file:/i.test(s) || s.startsWith('/') || s.startsWith('.')) {
    return bad(`"${s}" is a local path; the agent fetches over HTTPS only — use https://<host>/<owner>/<repo>.git`);
  }
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return bad(`"${s}" is not a URL — use https://<host>/<owner>/<repo>.git`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return bad(`"${url.protocol}" URLs are not supported — use https://<host>/<owner>/<repo>.git`);
  }
  if (url.username || url.password) {
    return bad(
      'the URL carries credentials; remove them and put the token in github.tokenFile (never served or logged)',
    );
  }
});

/** Whether `host` (a URL's hostname) is this machine, where plain HTTP exposes nothing on the wire. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Why the agent must not fetch `repo` with a token (plain HTTP to another machine would carry it in clear text), or
 * undefined when it may. Checked for the config's apps and sources and for every app defined in Git.
 */
export function plainHttpProblem(repo: string, withToken: boolean): string | undefined {
  const url = URL.parse(repo);
  if (!withToken || url?.protocol !== 'http:' || isLoopback(url.hostname)) return undefined;
  return `"${repo}" is plain HTTP and a token is configured: it would cross the network in clear text — use https://`;
}

/** Whether the agent fetches Git with a token (so plain HTTP to another machine is refused). */
export function fetchesWithToken(config: Pick<AgentConfig, 'github'>): boolean {
  return !!(config.github?.tokenFile || config.github?.app || config.github?.gitTokenFile);
}

const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, -)');

// The app's directory in the repository, in the one canonical form the Git reader and the renderers use.
const repoPath = z.string().transform((s, ctx) => {
  const problem = repoPathProblem(s);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: `"${s}": ${problem}` });
    return z.NEVER;
  }
  return normalizeRepoPath(s);
});

const retryDefaults = defaultRetryPolicy();

/** An app's `retry`: every field optional, Tether's defaults fill the rest. */
const retrySchema = z
  .object({
    limit: z.number().int().default(retryDefaults.limit),
    backoff: z
      .object({
        duration: duration.default(retryDefaults.backoff.duration),
        factor: z.number().int().min(1).default(retryDefaults.backoff.factor),
        maxDuration: duration.default(retryDefaults.backoff.maxDuration),
      })
      .strict()
      .default(retryDefaults.backoff),
  })
  .strict()
  .refine((r) => r.backoff.maxDuration >= r.backoff.duration, {
    path: ['backoff', 'maxDuration'],
    message: 'must not be shorter than backoff.duration',
  });

const appSchema = z
  .object({
    name,
    repo: repoUrl,
    ref: z.string().min(1).default('main'),
    path: repoPath.default(''),
    namespace: name.default('default'),
    prune: z.boolean().default(true),
    selfHeal: z.boolean().default(true),
    interval: duration
      .refine((ms) => ms >= MIN_INTERVAL_MS, {
        message: `at least ${MIN_INTERVAL_MS / 1000}s: each poll fetches from Git (a push webhook makes syncs immediate)`,
      })
      .default(60_000),
    allowEmpty: z.boolean().default(false),
    allowProtectedKinds: z
      .array(
        z.string().refine((k) => PROTECTED_KINDS.includes(k), {
          error: (i) =>
            `"${String(i.input)}" is not a protected kind; the protected kinds are ${PROTECTED_KINDS.join(', ')}`,
        }),
      )
      .default([]),
    maxDeleteFraction: z.number().min(0).max(1).default(0.5),
    pruneAdopted: z.boolean().default(false),
    takeOver: z.array(z.enum(['argocd', 'flux'])).default([]),
    waveTimeout: duration.default(5 * 60_000),
    createNamespace: z.boolean().default(false),
    ignoreDifferences: z
      .array(
        z
          .object({
            group: z.string().default(''),
            kind: z.string().min(1),
            name: z.string().optional(),
            namespace: z.string().optional(),
            jsonPointers: z
              .array(z.string().regex(/^(\/([^~]|~[01])*)+$/, 'must be a JSON pointer such as /spec/replicas'))
              .min(1),
          })
          .strict(),
      )
      .default([]),
    helm: z
      .object({
        valuesFiles: z.array(z.string()).default([]),
        releaseName: z.string().optional(),
      })
      .strict()
      .optional(),
    /** The project whose rules bound what this app may fetch and apply; `default` allows all the agent's RBAC does. */
    project: name.default('default'),
    /** `automated` syncs every new revision; `manual` fetches and diffs, and applies only when someone asks. */
    syncPolicy: z.enum(['automated', 'manual']).default('automated'),
    /** A suspended app is not synced or healed at all until this is lifted. */
    suspended: z.boolean().default(false),
    /** When the app's definition is removed: `orphan` leaves its objects (inventory kept), `cascade` prunes them. */
    deletionPolicy: z.enum(['orphan', 'cascade']).default('orphan'),
    /**
     * Plan open pull requests that touch the app's path: render the PR head and dry-run it against this cluster. Off
     * by default, since it runs the renderers on content nobody has reviewed yet.
     */
    planPullRequests: z.boolean().default(false),
    /**
     * How a failed sync is retried (Argo CD's `syncPolicy.retry`): `limit` retries (below 0 unlimited, 0 none), each
     * after `duration × factor^n`, at most `maxDuration`; then the app waits for a new revision or a manual sync.
     */
    retry: retrySchema.default(defaultRetryPolicy()),
  })
  .strict();

/** A sync window: a cron schedule (five fields, UTC) and a duration during which automated syncs are allowed or denied. */
const syncWindowSchema = z
  .object({
    kind: z.enum(['allow', 'deny']),
    schedule: z.string().superRefine((s, ctx) => {
      const problem = scheduleProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    duration: duration,
    /** Whether a manual sync (CLI, API, page) may run while this window blocks automated ones. */
    manualSync: z.boolean().default(false),
  })
  .strict();

/**
 * A project: the fence around a team's apps, in Argo CD's AppProject terms. Globs use the one glob semantics of the
 * repository. Kinds are written `Kind` (core group) or `group/Kind`; a glob may stand for either part.
 */
export const projectSchema = z
  .object({
    name,
    description: z.string().optional(),
    /** Repository URLs (globs) its apps may fetch from; default: any. */
    sourceRepos: z.array(z.string().min(1)).default(['*']),
    /** Namespaces (globs) its apps' namespaced objects may land in; default: any. */
    destinationNamespaces: z.array(z.string().min(1)).default(['*']),
    /** Cluster-scoped kinds its apps may apply; default: none. */
    clusterResourceAllowlist: z.array(z.string().min(1)).default([]),
    /** Namespaced kinds its apps may not apply; default: none denied. */
    namespaceResourceDenylist: z.array(z.string().min(1)).default([]),
    /** Whether its apps may prune and self-heal (an app's own `prune`/`selfHeal` can only narrow this). */
    prune: z.boolean().default(true),
    selfHeal: z.boolean().default(true),
    syncWindows: z.array(syncWindowSchema).default([]),
  })
  .strict();

/** One project of the configuration or of a Project document, validated, defaults filled in. */
export type ProjectConfig = z.output<typeof projectSchema>;

/** The schema of one app: the config's `apps:` entries and the spec of App documents read from Git. */
export const appConfigSchema = appSchema;

/** A Git location whose App and Project documents (and Argo CD Applications) define apps without a restart. */
const appsFromSchema = z
  .object({
    /** Names the source in its commit status `tether/<cluster>/apps` (`apps-<name>` when several). */
    name: name.optional(),
    repo: repoUrl,
    ref: z.string().min(1).default('main'),
    path: repoPath.default(''),
    interval: duration
      .refine((ms) => ms >= MIN_INTERVAL_MS, { message: `at least ${MIN_INTERVAL_MS / 1000}s` })
      .default(60_000),
    /** How deep an App may point at a path holding more App documents (app of apps). */
    maxDepth: z.number().int().min(1).max(10).default(3),
  })
  .strict();

// Custom health rules: CEL per group/kind, as Flux's healthCheckExprs. Compiled while validating, so a bad
// expression is a config error naming the rule and field, before the agent starts.
const healthRuleSchema = z
  .object({
    group: z.string(),
    kind: z.string().min(1),
    current: z.string().min(1),
    inProgress: z.string().min(1).optional(),
    failed: z.string().min(1).optional(),
    message: z.string().min(1).optional(),
  })
  .strict();

/** Adds an issue for every health rule whose expressions do not compile. */
function checkHealthRules(rules: z.output<typeof healthRuleSchema>[], ctx: z.RefinementCtx): void {
  rules.forEach((rule, i) => {
    try {
      compileHealthRule(rule, `health[${i}]`);
    } catch (err) {
      if (!(err instanceof HealthRuleError)) throw err;
      const kind = rule.group ? `${rule.group}/${rule.kind}` : rule.kind;
      const detail = err.message.slice(err.rule.length + err.field.length + 4);
      ctx.addIssue({ code: 'custom', path: ['health', i, err.field], message: `rule ${kind}: ${detail}` });
    }
  });
}

const configSchema = z
  .object({
    cluster: name,
    github: z
      .object({
        tokenFile: z.string().optional(),
        apiUrl: z.string().url().default('https://api.github.com'),
        app: z
          .object({
            appId: z.union([z.number().int(), z.string()]).transform(String),
            privateKeyFile: z.string(),
            installationId: z.union([z.number().int(), z.string()]).transform(String),
          })
          .strict()
          .optional(),
        /** Token used for Git fetches when it differs from the API token (defaults to the same). */
        gitTokenFile: z.string().optional(),
      })
      .strict()
      .refine((g) => !(g.tokenFile && g.app), { message: 'give tokenFile or app, not both' })
      .optional(),
    publicUrl: z.string().url().optional(),
    kubeconfig: z.string().optional(),
    cacheDir: z.string().optional(),
    inventoryNamespace: name.default('tether-system'),
    server: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8080),
        webhookSecretFile: z.string().optional(),
        apiTokenFile: z.string().optional(),
        /** Named tokens for the sync API: a manual sync made with one is recorded as asked for by its name. */
        apiTokens: z
          .array(
            z
              .object({
                name: z.string().regex(/^[\w.@-]{1,64}$/, 'letters, digits, . _ @ - (at most 64)'),
                tokenFile: z.string(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .default({ host: '0.0.0.0', port: 8080 }),
    leaderElection: z
      .object({
        enabled: z.boolean().default(true),
        namespace: name.default('tether-system'),
        leaseName: name.optional(),
        // A standby takes over at most leaseDuration + renewInterval after the leader's last renewal: 10 s.
        leaseDuration: duration.default(8_000),
        renewInterval: duration.default(2_000),
      })
      .strict()
      .default({ enabled: false, namespace: 'tether-system', leaseDuration: 8_000, renewInterval: 2_000 }),
    /**
     * Apps spread over replicas: one Lease per shard, each replica holds its fair share and syncs only the apps of
     * its shards. Off unless given; not together with leaderElection.
     */
    sharding: z
      .object({
        enabled: z.boolean().default(true),
        shards: z.number().int().min(1).max(1024).default(16),
        namespace: name.default('tether-system'),
        /** Shard leases are `<leasePrefix>-<n>`; default `tether-<cluster>-shard`. */
        leasePrefix: name.optional(),
        // A dead replica's shards are taken over at most leaseDuration + renewInterval after its last renewal.
        leaseDuration: duration.default(8_000),
        renewInterval: duration.default(2_000),
      })
      .strict()
      .optional(),
    apps: z.array(appSchema).default([]),
    appsFrom: z.array(appsFromSchema).default([]),
    /**
     * API server URLs that mean this cluster in an Argo CD Application's `spec.destination.server`, besides
     * https://kubernetes.default.svc (Argo CD's name for the cluster it runs in, which is where the agent runs).
     */
    clusterServers: z.array(z.string().url()).default([]),
    projects: z.array(projectSchema).default([]),
    health: z.array(healthRuleSchema).default([]),
    /** Pull request plans: how many (pull request, app) plans run at once, each a render and a dry-run per object. */
    planning: z
      .object({ concurrency: z.number().int().min(1).max(32).default(2) })
      .strict()
      .default({ concurrency: 2 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkHealthRules(c.health, ctx);
    if (c.sharding?.enabled && c.leaderElection.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['sharding'],
        message: 'sharding and leaderElection are exclusive: a sharded replica already syncs only what it holds',
      });
    }
    if (c.sharding && c.sharding.renewInterval >= c.sharding.leaseDuration * 0.66) {
      ctx.addIssue({
        code: 'custom',
        path: ['sharding', 'renewInterval'],
        message: 'must be shorter than two thirds of leaseDuration (a shard is dropped when not renewed by then)',
      });
    }
    if (c.apps.length === 0 && c.appsFrom.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['apps'],
        message: 'at least one app (apps) or app source (appsFrom) is needed',
      });
    }
    const seen = new Set<string>();
    // An app may not take the name an app source posts its status under (`apps`, `apps-<name>`).
    const labels = sourceLabels(c.appsFrom);
    const withToken = fetchesWithToken(c);
    c.appsFrom.forEach((a, i) => {
      const problem = plainHttpProblem(a.repo, withToken);
      if (problem) ctx.addIssue({ code: 'custom', path: ['appsFrom', i, 'repo'], message: problem });
    });
    c.apps.forEach((a, i) => {
      if (seen.has(a.name))
        ctx.addIssue({ code: 'custom', path: ['apps', i, 'name'], message: `duplicate app name "${a.name}"` });
      seen.add(a.name);
      const source = labels.indexOf(a.name);
      if (source >= 0)
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'name'],
          message: `app "${a.name}" ${sourceClash(c.cluster, a.name, source, c.appsFrom[source]!)}`,
        });
      const url = URL.parse(a.repo);
      if (withToken && url?.protocol === 'http:' && !isLoopback(url.hostname)) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'repo'],
          message: `"${a.repo}" is plain HTTP and a token is configured: it would cross the network in clear text — use https://`,
        });
      }
    });
  });

/** The agent's configuration, parsed and validated, with defaults filled in and durations in milliseconds. */
export type AgentConfig = z.output<typeof configSchema>;
/** One app of the configuration. */
export type AppConfig = AgentConfig['apps'][number];

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)),
    '',
  );
}

/**
 * How an app's Helm chart is rendered: its values files, its release name (the app's name unless `helm.releaseName`
 * says otherwise, so objects are named after the app and not after a placeholder) and its namespace.
 */
export function helmOptions(app: AppConfig): { valuesFiles: string[]; releaseName: string; namespace: string } {
  return {
    valuesFiles: app.helm?.valuesFiles ?? [],
    releaseName: app.helm?.releaseName ?? app.name,
    namespace: app.namespace,
  };
}

const compiledRules = new WeakMap<AgentConfig, HealthRules>();

/** The config's health rules ahead of the built-in ones, compiled once per config object. */
export function configHealthRules(config: AgentConfig): HealthRules {
  let rules = compiledRules.get(config);
  if (!rules) {
    rules = healthRules(config.health);
    compiledRules.set(config, rules);
  }
  return rules;
}

/** Validates a parsed configuration; errors name the file and every offending field. */
export function parseConfig(data: unknown, file = 'config'): AgentConfig {
  const r = configSchema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const where = fieldPath(i.path) || '(top level)';
    const message =
      i.code === 'unrecognized_keys'
        ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`
        : i.message;
    return `${file}: ${where}: ${message}`;
  });
  throw new TetherError('config', problems.join('\n'));
}

/** Reads and validates a YAML configuration file. */
export function loadConfig(file: string): AgentConfig {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new TetherError('config', `${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(parseYamlSafeOne(bytes, file, { code: 'config' }), file);
}
