// Health rules as data: CEL expressions per group/kind, the shape of Flux kustomize-controller's healthCheckExprs
// (https://fluxcd.io/flux/components/kustomize/kustomizations/#health-check-expressions), so a rule written for
// Flux works here. Each rule has a `current` expression (the object is ready) and optional `inProgress`, `failed`
// and `message` expressions. They see the live object as `self`, and its top-level fields (`metadata`, `spec`,
// `status`) by name as Flux's do.
//
// Evaluated with @marcbachmann/cel-js: maintained, no dependencies, ~0.3 MB, compiles an expression once into a
// function. JSON integers are handed to CEL as int (as the apiserver's own CEL does), so `status.replicas + 1` and
// `status.replicas == 3` both work.
import { Environment } from '@marcbachmann/cel-js';
import type { HealthStatus, K8sObject } from './types.ts';

/** One health rule as written in the agent config or shipped built in. */
export interface HealthRuleSpec {
  /** API group (`''` for the core group); `*.example.com` matches every group under example.com. */
  group: string;
  /** Kind, or `*` for every kind of the group. */
  kind: string;
  /** True when the object is ready (Healthy). */
  current: string;
  /** True while the object is getting there (Progressing); evaluated first. */
  inProgress?: string | undefined;
  /** True when the object failed (Degraded); evaluated after `inProgress`, before `current`. */
  failed?: string | undefined;
  /** A string saying why, shown with the verdict. */
  message?: string | undefined;
}

type Program = (context: Record<string, unknown>) => unknown;

/** A rule whose expressions are compiled, ready to evaluate. */
export interface CompiledHealthRule {
  spec: HealthRuleSpec;
  /** How errors name the rule: `health[2] (argoproj.io/Rollout)` or `built-in rule argoproj.io/Rollout`. */
  name: string;
  current: Program;
  inProgress?: Program;
  failed?: Program;
  message?: Program;
}

/** A verdict from a rule. */
export interface RuleVerdict {
  status: HealthStatus;
  why: string;
}

/** An expression that does not compile; `field` is `current`, `inProgress`, `failed` or `message`. */
export class HealthRuleError extends Error {
  constructor(
    readonly rule: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${rule}: ${field}: ${detail}`);
    this.name = 'HealthRuleError';
  }
}

const env = new Environment({ unlistedVariablesAreDyn: true, enableOptionalTypes: true });

function compile(rule: string, field: string, expression: string, want: 'bool' | 'string'): Program {
  let program: Program;
  try {
    program = env.parse(expression) as Program;
    const checked = env.check(expression);
    if (checked.valid === false) throw checked.error ?? new Error('does not type-check');
    if (checked.type !== want && checked.type !== 'dyn')
      throw new Error(`must be a ${want} expression, not ${checked.type}`);
  } catch (err) {
    // The library's message has the expression and a caret under the fault on the following lines; one line is
    // enough to find it, and the config error quotes the expression.
    const first = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new HealthRuleError(rule, field, `${first} in ${JSON.stringify(expression)}`);
  }
  return program;
}

/** Compiles a rule's expressions once; a bad expression is a HealthRuleError naming the rule and field. */
export function compileHealthRule(spec: HealthRuleSpec, name: string): CompiledHealthRule {
  const rule: CompiledHealthRule = { spec, name, current: compile(name, 'current', spec.current, 'bool') };
  if (spec.inProgress) rule.inProgress = compile(name, 'inProgress', spec.inProgress, 'bool');
  if (spec.failed) rule.failed = compile(name, 'failed', spec.failed, 'bool');
  if (spec.message) rule.message = compile(name, 'message', spec.message, 'string');
  return rule;
}

/** JSON as CEL wants it: integral numbers as int (bigint), the rest unchanged. */
function toCel(x: unknown): unknown {
  if (typeof x === 'number') return Number.isInteger(x) ? BigInt(x) : x;
  if (Array.isArray(x)) return x.map(toCel);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = toCel(v);
    return out;
  }
  return x;
}

function describe(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0] ?? 'error';
}

/**
 * Evaluates a rule on a live object: `inProgress`, then `failed`, then `current`; the first that is true decides
 * (Progressing, Degraded, Healthy). None true is Progressing. An expression that cannot be evaluated (most often a
 * field the controller has not written yet) counts as not true, and its error is part of the message when nothing
 * else decided, so a rule that never matches says why instead of waiting silently. A non-boolean result is Unknown.
 */
export function evaluateHealthRule(rule: CompiledHealthRule, live: K8sObject): RuleVerdict {
  const self = toCel(live) as Record<string, unknown>;
  const context: Record<string, unknown> = { self };
  for (const k of ['metadata', 'spec', 'status']) if (k in self) context[k] = self[k];
  const errors: string[] = [];
  const message = (): string => {
    if (!rule.message) return '';
    try {
      const m = rule.message(context);
      return typeof m === 'string' ? m : '';
    } catch {
      return '';
    }
  };
  const steps: [keyof CompiledHealthRule & ('inProgress' | 'failed' | 'current'), HealthStatus][] = [
    ['inProgress', 'Progressing'],
    ['failed', 'Degraded'],
    ['current', 'Healthy'],
  ];
  for (const [field, status] of steps) {
    const program = rule[field];
    if (!program) continue;
    let result: unknown;
    try {
      result = program(context);
    } catch (err) {
      errors.push(`${field}: ${describe(err)}`);
      continue;
    }
    if (typeof result !== 'boolean') {
      return { status: 'Unknown', why: `${rule.name}: ${field} gave ${typeof result}, not a boolean` };
    }
    if (result) {
      const m = message();
      const label = status === 'Healthy' ? 'ready' : status === 'Degraded' ? 'failed' : 'in progress';
      return { status, why: m ? `${label}: ${m}` : label };
    }
  }
  const m = message();
  const why = ['waiting', m, errors.length ? `(${errors.join('; ')})` : ''].filter(Boolean).join(': ');
  return { status: 'Progressing', why: why.replace(/: \(/, ' (') };
}

/** A rule as given to HealthRules: compiled at once, or (`lazy`) the first time an object of its kind is judged. */
interface RuleEntry {
  spec: HealthRuleSpec;
  name: string;
  lazy?: boolean;
  compiled?: CompiledHealthRule;
}

/** The rules in force, looked up by group and kind: user rules first, then built-in ones; exact before wildcard. */
export class HealthRules {
  private readonly exact = new Map<string, RuleEntry>();
  private readonly wildcard: RuleEntry[] = [];

  /**
   * Compiles every rule not marked `lazy` now (an expression that does not compile is an error here, at start-up);
   * later rules for the same group/kind are shadowed by earlier ones. The built-in rules are lazy: compiling all of
   * them cost ~40 ms of a cold `tether sync --once`, for kinds most apps never have.
   */
  constructor(rules: readonly { spec: HealthRuleSpec; name: string; lazy?: boolean }[]) {
    for (const rule of rules) {
      const entry: RuleEntry = rule.lazy ? { ...rule } : { ...rule, compiled: compileHealthRule(rule.spec, rule.name) };
      const { spec } = rule;
      if (spec.kind === '*' || spec.group.startsWith('*.')) this.wildcard.push(entry);
      else if (!this.exact.has(`${spec.group}/${spec.kind}`)) this.exact.set(`${spec.group}/${spec.kind}`, entry);
    }
  }

  /** The rule for a group/kind, if any. */
  find(group: string, kind: string): CompiledHealthRule | undefined {
    const entry =
      this.exact.get(`${group}/${kind}`) ??
      this.wildcard.find((r) => groupMatches(r.spec.group, group) && (r.spec.kind === '*' || r.spec.kind === kind));
    if (!entry) return undefined;
    entry.compiled ??= compileHealthRule(entry.spec, entry.name);
    return entry.compiled;
  }
}

function groupMatches(pattern: string, group: string): boolean {
  return pattern.startsWith('*.') ? group.endsWith(pattern.slice(1)) : pattern === group;
}

/** `self.status.conditions` has a condition of this type with this status (false when there are no conditions). */
function cond(type: string, status: 'True' | 'False'): string {
  return `self.?status.?conditions.orValue([]).exists(c, c.type == '${type}' && c.status == '${status}')`;
}

/** The message (or else the reason) of the first condition of this type, or `fallback`. */
function condMessage(type: string, fallback: string): string {
  const list = `self.?status.?conditions.orValue([]).filter(c, c.type == '${type}')`;
  const first = `${list}[0]`;
  return `size(${list}) == 0 ? '${fallback}' : ${first}.?message.orValue('') != '' ? ${first}.message : ${first}.?reason.orValue('${fallback}')`;
}

/** The condition this type's observedGeneration, where set, matches metadata.generation. */
function condCurrent(type: string): string {
  return `self.?status.?conditions.orValue([]).exists(c, c.type == '${type}' && c.status == 'True' && (!has(c.observedGeneration) || !has(self.metadata.generation) || c.observedGeneration == self.metadata.generation))`;
}

const readyRule = (group: string, kind: string, extra: Partial<HealthRuleSpec> = {}): HealthRuleSpec => ({
  group,
  kind,
  current: condCurrent('Ready'),
  failed: cond('Ready', 'False'),
  message: condMessage('Ready', 'no Ready condition yet'),
  ...extra,
});

/**
 * Rules for the custom resources users run most, as Argo CD's resource_customizations health checks and the Flux
 * CEL cheatsheet (https://fluxcd.io/flux/cheatsheets/cel-healthchecks/) judge them. Users add or override rules in
 * the agent config (`health:`).
 */
export const BUILT_IN_HEALTH_RULES: readonly HealthRuleSpec[] = [
  // Argo Rollouts reports its own verdict in status.phase (Healthy, Progressing, Paused, Degraded) and counts
  // observedGeneration as a string; a canary paused at a step waits for a promotion, so it is in progress.
  {
    group: 'argoproj.io',
    kind: 'Rollout',
    inProgress:
      "self.?status.?phase.orValue('') in ['Progressing', 'Paused'] || (has(self.metadata.generation) && string(self.?status.?observedGeneration.orValue('')) != string(self.metadata.generation))",
    failed: "self.?status.?phase.orValue('') == 'Degraded'",
    current:
      "self.?status.?phase.orValue('') == 'Healthy' && self.?status.?availableReplicas.orValue(0) >= self.?spec.?replicas.orValue(1)",
    message: "self.?status.?message.orValue(self.?status.?phase.orValue('no status yet'))",
  },
  // cert-manager: Issuing=True while a certificate is being (re)issued; Ready decides otherwise.
  readyRule('cert-manager.io', 'Certificate', {
    inProgress: cond('Issuing', 'True'),
    failed: `${cond('Ready', 'False')} && !${cond('Issuing', 'True')}`,
  }),
  readyRule('cert-manager.io', 'Issuer'),
  readyRule('cert-manager.io', 'ClusterIssuer'),
  // external-secrets: Ready=False/SecretSyncedError when the provider refuses; Ready=True once synced.
  readyRule('external-secrets.io', 'ExternalSecret'),
  readyRule('external-secrets.io', 'ClusterExternalSecret'),
  // Flux objects follow kstatus: Reconciling=True while working, Stalled=True when given up, Ready otherwise.
  readyRule('helm.toolkit.fluxcd.io', 'HelmRelease', {
    inProgress: cond('Reconciling', 'True'),
    failed: `${cond('Stalled', 'True')} || (${cond('Ready', 'False')} && !${cond('Reconciling', 'True')})`,
  }),
  readyRule('kustomize.toolkit.fluxcd.io', 'Kustomization', {
    inProgress: cond('Reconciling', 'True'),
    failed: `${cond('Stalled', 'True')} || (${cond('Ready', 'False')} && !${cond('Reconciling', 'True')})`,
  }),
  // KEDA: Ready=True once the scaler is set up; Ready=False when its trigger or target is wrong.
  readyRule('keda.sh', 'ScaledObject'),
  readyRule('keda.sh', 'ScaledJob'),
  // Crossplane-style managed resources and claims: Synced=False is a reconcile error, Ready=True is available.
  ...['*.crossplane.io', '*.upbound.io'].map(
    (group): HealthRuleSpec => ({
      group,
      kind: '*',
      failed: cond('Synced', 'False'),
      current: `${cond('Ready', 'True')} && !${cond('Synced', 'False')}`,
      message: `${cond('Synced', 'False')} ? (${condMessage('Synced', 'not synced')}) : (${condMessage('Ready', 'no Ready condition yet')})`,
    }),
  ),
];

let builtIns: HealthRules | undefined;

/** The built-in rules, compiled once per process. */
export function defaultHealthRules(): HealthRules {
  builtIns ??= healthRules([]);
  return builtIns;
}

/**
 * User rules (from the config, named `health[i] (group/Kind)`) ahead of the built-in ones, compiled once.
 * Throws a HealthRuleError naming the rule and field when an expression does not compile.
 */
export function healthRules(user: readonly HealthRuleSpec[]): HealthRules {
  return new HealthRules([
    ...user.map((spec, i) => ({ spec, name: `health[${i}] (${ruleKey(spec)})` })),
    ...BUILT_IN_HEALTH_RULES.map((spec) => ({ spec, name: `built-in rule ${ruleKey(spec)}`, lazy: true })),
  ]);
}

function ruleKey(spec: HealthRuleSpec): string {
  return spec.group ? `${spec.group}/${spec.kind}` : spec.kind;
}
