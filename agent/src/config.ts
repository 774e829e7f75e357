import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { z } from 'zod';
import { TetherError } from '../../shared/src/errors.ts';
import { compileHealthRule, HealthRuleError, type HealthRules, healthRules } from './core/health-cel.ts';

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

const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, -)');

const appSchema = z
  .object({
    name,
    repo: z.string().min(1),
    ref: z.string().min(1).default('main'),
    path: z.string().default(''),
    namespace: name.default('default'),
    prune: z.boolean().default(true),
    selfHeal: z.boolean().default(true),
    interval: duration.default(60_000),
    allowEmpty: z.boolean().default(false),
    allowProtectedKinds: z.array(z.string()).default([]),
    maxDeleteFraction: z.number().min(0).max(1).default(0.5),
    helm: z
      .object({
        valuesFiles: z.array(z.string()).default([]),
        releaseName: z.string().optional(),
      })
      .strict()
      .optional(),
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
    apps: z.array(appSchema).min(1, 'at least one app is needed'),
    health: z.array(healthRuleSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkHealthRules(c.health, ctx);
    const seen = new Set<string>();
    c.apps.forEach((a, i) => {
      if (seen.has(a.name))
        ctx.addIssue({ code: 'custom', path: ['apps', i, 'name'], message: `duplicate app name "${a.name}"` });
      seen.add(a.name);
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TetherError('config', `${file}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = load(text, { filename: file });
  } catch (err) {
    throw new TetherError('config', `${file}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return parseConfig(data, file);
}
