import { readFileSync } from 'node:fs';
import { type AgentConfig, loadConfig, parseDuration } from '../agent/src/config.ts';
import { definedIn, type PolicyView, type ProjectView } from '../agent/src/core/agent-view.ts';
import type { Inspection } from '../agent/src/core/inspection.ts';
import { type RetryView, retryFromHistory } from '../agent/src/core/retry.ts';
import { createAgent, kubeClientFor } from '../agent/src/main.ts';
import type { Agent } from '../agent/src/reconcile/agent.ts';
import { describeError, TetherError } from '../shared/src/errors.ts';
import { jsonLogger } from '../shared/src/log.ts';
import { type CliIO, type Command, commandHelp, parseOptions } from './command.ts';
import { SYNC_WAIT_DEFAULT_MS, waitForHealth } from './sync-wait.ts';

function selectApps(config: AgentConfig, app: string | undefined): AgentConfig {
  if (!app) return config;
  const found = config.apps.filter((a) => a.name === app);
  // An app not in the file may be defined in Git: looked for once the app sources are read (see appNames).
  if (found.length === 0 && config.appsFrom.length > 0) return config;
  if (found.length === 0) {
    throw new TetherError(
      'usage',
      `--app ${app}: no such app in the configuration (apps: ${config.apps.map((a) => a.name).join(', ')})`,
    );
  }
  return { ...config, apps: found };
}

/**
 * The apps a one-shot command works on: the config's, plus those its app sources define in Git (read once;
 * `readOnly` for commands that must write nothing), narrowed to `--app`.
 */
async function appNames(
  agent: Agent,
  config: AgentConfig,
  app: string | undefined,
  options: { readOnly: boolean; warn: (line: string) => void },
): Promise<string[]> {
  if (config.appsFrom.length > 0) await agent.loadAppSources({ readOnly: options.readOnly });
  for (const s of agent.appSources()) {
    // Bad documents refuse only the apps they define: the rest are listed, the problems said once.
    if (s.state === 'failure') for (const e of s.errors) options.warn(`app source ${s.name}: ${e}`);
    // An unreadable source would make its apps look absent: no answer is better than a wrong one.
    if (s.state === 'error') {
      throw new TetherError(
        'input',
        `app source ${s.name} (${s.repo} ${s.ref} ${s.path}): ${s.errors.join('; ') || s.description}`,
      );
    }
  }
  const names = agent.apps().map((a) => a.name);
  if (!app) return names;
  if (!names.includes(app)) {
    throw new TetherError(
      'usage',
      `--app ${app}: no such app in the configuration or its app sources (apps: ${names.join(', ')})`,
    );
  }
  return [app];
}

function readSecretFile(file: string | undefined, what: string): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    throw new TetherError('config', `${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 8000;

/** Resolves on SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

/** `tether agent --config <file>`: the agent with its HTTP server, until SIGTERM. */
export const agentCommand: Command = {
  ...commandHelp.agent,
  async run(args, io) {
    const { values } = parseOptions(args, { config: { type: 'string' } });
    if (!values.config) throw new TetherError('usage', '--config is required');
    const config = loadConfig(values.config);
    const log = jsonLogger();
    const kube = kubeClientFor(config);
    const agent = await createAgent(config, { kube, log });
    // The process guard: a rejection nothing handled is a bug, but ending the process for it would take the page,
    // the webhooks and every app's statuses down with it (CrashLoopBackOff). It is logged and counted instead.
    process.on('unhandledRejection', (reason) => {
      agent.metrics.unhandledRejections++;
      log.error('unhandled rejection', { error: describeError(reason) });
    });
    const { createServer } = await import('../agent/src/edges/http/server.ts');
    const { serve } = await import('@hono/node-server');
    const app = createServer(agent, {
      webhookSecret: readSecretFile(config.server.webhookSecretFile, 'server.webhookSecretFile'),
      apiToken: readSecretFile(config.server.apiTokenFile, 'server.apiTokenFile'),
      apiTokens: (config.server.apiTokens ?? []).flatMap((t, i) => {
        const token = readSecretFile(t.tokenFile, `server.apiTokens[${i}].tokenFile`);
        return token ? [{ name: t.name, token }] : [];
      }),
      publicUrl: config.publicUrl,
    });
    const server = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, (info) => {
      log.info('listening', {
        url: `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}`,
      });
      io.out(`tether agent listening on ${info.address}:${info.port}`);
    });
    await agent.start();
    const sig = await untilSignal();
    log.info('shutting down', { signal: sig });
    // Kubernetes sends SIGKILL 30 s after SIGTERM by default; the syncs stop between requests, and a request hung on
    // a frozen apiserver must not hold the process past this deadline.
    const deadline = setTimeout(() => {
      log.warn('shutdown deadline passed; exiting with requests still in flight', { afterMs: SHUTDOWN_DEADLINE_MS });
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    await agent.stop();
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    kube.close();
    clearTimeout(deadline);
    // Everything was stopped and flushed; a keep-alive socket of a client library must not hold the process (the
    // timer is unref'd: it fires only if something else still keeps the event loop alive).
    setTimeout(() => process.exit(process.exitCode ?? 0), 500).unref();
    return 0;
  },
};

/** `tether sync --config <file> [--app X] [--once] [--timeout 5m]`: sync without the server. */
export const syncCommand: Command = {
  ...commandHelp.sync,
  async run(args, io) {
    const { values } = parseOptions(args, {
      config: { type: 'string' },
      app: { type: 'string' },
      once: { type: 'boolean' },
      timeout: { type: 'string' },
    });
    if (!values.config) throw new TetherError('usage', '--config is required');
    const timeoutMs = values.timeout === undefined ? SYNC_WAIT_DEFAULT_MS : parseDuration(values.timeout);
    if (timeoutMs === undefined) {
      throw new TetherError('usage', `--timeout ${values.timeout}: not a duration like 30s, 5m or 1h (0s: no wait)`);
    }
    const config = selectApps(loadConfig(values.config), values.app);
    const kube = kubeClientFor(config);
    const agent = await createAgent(
      { ...config, leaderElection: { ...config.leaderElection, enabled: false }, sharding: undefined },
      {
        kube,
        log: jsonLogger({ level: 'warn' }),
      },
    );
    try {
      if (!values.once) {
        await agent.start();
        await untilSignal();
        await agent.stop();
        return 0;
      }
      let failed = false;
      for (const name of await appNames(agent, config, values.app, { readOnly: false, warn: (line) => io.err(line) })) {
        const a = { name };
        // Health is read by listing (waitForHealth): watches would only cost a second read of every object.
        const out = await agent.syncNow(a.name, 'manual', 'cli', { watch: false });
        const counts: Record<string, number> = {};
        for (const e of out.entries) counts[e.action] = (counts[e.action] ?? 0) + 1;
        const summary = Object.entries(counts)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ');
        if (out.error) {
          failed = true;
          io.err(`${a.name}: ${out.error.stage} failed: ${out.error.message}`);
        }
        let health = out.health;
        // Suspended, or a sync window that lets no manual sync through: nothing was applied, and this says why.
        const held = agent.app(a.name)?.state.held;
        if (!out.error && timeoutMs > 0) {
          // A held turn judged nothing (its health is the last one known); any other just did, from what it applied.
          const waited = await waitForHealth(agent, a.name, timeoutMs, held ? {} : { judged: out.health });
          health = waited.health;
          if (waited.timedOut) {
            failed = true;
            io.err(`${a.name}: timed out after ${values.timeout ?? '5m'} waiting for health: ${health.message}`);
          }
        }
        if (health.status === 'Degraded') failed = true;
        io.out(`${a.name}: ${out.revision.slice(0, 7) || '-'} ${summary || 'nothing to do'} · ${health.status}`);
        if (health.status !== 'Healthy') io.out(`  health     ${health.message}`);
        if (held) io.out(`  held       ${held}`);
        for (const e of out.entries.filter((x) => x.action !== 'unchanged')) {
          io.out(`  ${e.action.padEnd(10)} ${e.subject}${e.reason ? ` (${e.reason})` : ''}`);
        }
      }
      // stop() posts what is still queued, so the final status is on GitHub before the process exits.
      await agent.stop();
      return failed ? 1 : 0;
    } finally {
      kube.close();
    }
  },
};

type InspectResult = (
  | { app: string; origin: string; error: string }
  | ({ app: string; origin: string; error?: undefined } & Inspection)
) & { policy?: PolicyView; retry?: RetryView };

/** Each app's inspection with where it is defined, its project and policy, and every project with its apps. */
async function inspectAll(
  configFile: string,
  app: string | undefined,
  warn: (line: string) => void,
): Promise<{ results: InspectResult[]; projects: ProjectView[] }> {
  const config = selectApps(loadConfig(configFile), app);
  const kube = kubeClientFor(config);
  const agent = await createAgent(
    { ...config, leaderElection: { ...config.leaderElection, enabled: false }, sharding: undefined },
    { kube },
  );
  const results: InspectResult[] = [];
  try {
    for (const name of await appNames(agent, config, app, { readOnly: true, warn })) {
      const view = agent.app(name);
      const origin = view?.origin ?? 'config';
      const withPolicy = view?.policy ? { policy: view.policy } : {};
      try {
        const inspection = await agent.inspect(name);
        // The running agent's retries, as its persisted history tells them: this command runs no sync itself.
        const policy = agent.runningApps().get(name)?.app.retry;
        const retry = policy
          ? retryFromHistory(await agent.persistedHistory(name).catch(() => []), inspection.revision, policy)
          : undefined;
        results.push({ app: name, origin, ...inspection, ...withPolicy, ...(retry ? { retry } : {}) });
      } catch (err) {
        results.push({ app: name, origin, error: describeError(err), ...withPolicy });
      }
    }
  } finally {
    kube.close();
  }
  return { results, projects: agent.projects() };
}

/** `tether diff`: desired (Git, dry-run) against live, as a unified diff without managedFields noise. */
export const diffCommand: Command = {
  ...commandHelp.diff,
  async run(args, io: CliIO) {
    const { values } = parseOptions(args, { config: { type: 'string' }, app: { type: 'string' } });
    if (!values.config) throw new TetherError('usage', '--config is required');
    let failed = false;
    for (const r of (await inspectAll(values.config, values.app, (line) => io.err(line))).results) {
      if (r.error !== undefined) {
        failed = true;
        io.err(`${r.app}: ${r.error}`);
        continue;
      }
      for (const o of r.objects) {
        if (o.error !== undefined) {
          failed = true;
          io.err(`${o.subject}: ${o.error}`);
        } else if (o.diff) io.out(o.diff);
      }
    }
    return failed ? 1 : 0;
  },
};

/** `tether status`: sync status and health of each app, read from Git and the cluster. */
export const statusCommand: Command = {
  ...commandHelp.status,
  async run(args, io) {
    const { values } = parseOptions(args, {
      config: { type: 'string' },
      app: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.config) throw new TetherError('usage', '--config is required');
    const { results, projects } = await inspectAll(values.config, values.app, (line) => io.err(line));
    const rows = results.map((r) => {
      const policy = r.policy ? { project: r.policy.project, policy: r.policy } : {};
      if (r.error !== undefined)
        return {
          app: r.app,
          origin: r.origin,
          revision: '',
          sync: 'Unknown',
          health: 'Unknown',
          message: r.error,
          resources: [],
          ...policy,
        };
      const resources = r.objects.map((o) => ({ subject: o.subject, sync: o.sync, health: o.health }));
      return {
        app: r.app,
        origin: r.origin,
        revision: r.revision,
        sync: r.sync,
        health: r.health.status,
        message: r.retry ? `${retryText(r.retry)} · ${r.health.message}` : r.health.message,
        resources,
        ...policy,
        ...(r.retry ? { retry: r.retry } : {}),
      };
    });
    if (values.json) io.out(JSON.stringify(rows, null, 2));
    else for (const l of statusLines(rows, projects)) io.out(l);
    return rows.some((r) => r.sync === 'Unknown') ? 1 : 0;
  },
};

/** `last sync gave up after 3 attempts; push a fix or sync by hand`, or `last sync failed (attempt 2), retrying`. */
function retryText(r: RetryView): string {
  return r.retriesExhausted ? `last sync ${r.message}` : `last sync failed (attempt ${r.attempt}), retrying`;
}

/** One app as `tether status` prints it. */
export interface StatusRow {
  app: string;
  revision: string;
  sync: string;
  health: string;
  message: string;
  /** Where the app is defined: `config`, or `repo@ref:file`. */
  origin?: string;
  project?: string;
  policy?: PolicyView;
  /** The running agent's retries of the inspected revision, from the history it persisted. */
  retry?: RetryView;
}

/**
 * The lines of `tether status`: a header, then one line per app; apps are grouped under a line per project when
 * there is more than the one default project to tell apart.
 */
export function statusLines(rows: readonly StatusRow[], projects: readonly ProjectView[]): string[] {
  const line = (r: StatusRow) =>
    `${r.app.padEnd(16)}${r.revision.slice(0, 7).padEnd(10)}${r.sync.padEnd(11)}${r.health.padEnd(13)}${policyText(r.policy).padEnd(12)}${definedIn(r.origin).padEnd(width)}${r.message}`;
  const width = Math.max(12, ...rows.map((r) => definedIn(r.origin).length + 2));
  const out = [
    `${'APP'.padEnd(16)}${'REVISION'.padEnd(10)}${'SYNC'.padEnd(11)}${'HEALTH'.padEnd(13)}${'POLICY'.padEnd(12)}${'DEFINED IN'.padEnd(width)}MESSAGE`,
  ];
  const groups = projects.filter((p) => rows.some((r) => r.project === p.name));
  if (groups.length > 1 || groups.some((p) => p.name !== 'default')) {
    for (const p of groups) {
      out.push(projectLine(p));
      for (const r of rows.filter((x) => x.project === p.name)) out.push(line(r));
    }
    // An app no listed project names is still printed.
    for (const r of rows.filter((x) => !groups.some((p) => p.name === x.project))) out.push(line(r));
  } else for (const r of rows) out.push(line(r));
  return out;
}

/** An app's sync policy in a word: `automated`, `manual` or `suspended`; a `*` while a sync window blocks it. */
function policyText(p: PolicyView | undefined): string {
  if (!p) return '-';
  if (p.suspended) return 'suspended';
  return p.windowNow ? `${p.syncPolicy}*` : p.syncPolicy;
}

/** `project team-a (config): repos …; namespaces …; cluster kinds …; windows …`, with what the windows say now. */
function projectLine(p: ProjectView): string {
  const list = (xs: readonly string[]) => (xs.length === 0 ? 'none' : xs.join(','));
  const parts = [
    `repos ${list(p.sourceRepos)}`,
    `namespaces ${list(p.destinationNamespaces)}`,
    `cluster kinds ${list(p.clusterResourceAllowlist)}`,
    ...(p.namespaceResourceDenylist.length > 0 ? [`denied ${list(p.namespaceResourceDenylist)}`] : []),
    ...(p.prune ? [] : ['no prune']),
    ...(p.selfHeal ? [] : ['no self-heal']),
    ...(p.windows.length > 0 ? [`windows ${p.windows.join(', ')}`] : []),
    ...(p.windowNow ? [`* ${p.windowNow}`] : []),
    ...(p.problem ? [`! ${p.problem}`] : []),
  ];
  return `project ${p.name} (${p.origin}): ${parts.join('; ')}`;
}
