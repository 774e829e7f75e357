// The deletion hooks of an app removed from Git when the process that ran it is gone (removed while the agent was
// down, or a failed removal retried by a new process). Git stays the source of truth: the app's ApplySet parent records
// the revision last synced through and, in the same write, where its manifests lived then (repo, ref, path, render
// settings; the definition mark's copy for parents written before that was recorded), so the app is rendered again
// at that revision and its PreDelete/PostDelete hooks are taken from that render. Hook bodies are never stored in the cluster (they may carry credentials). When they cannot be recovered,
// the cascade is refused rather than run without them: a PreDelete hook is often what makes a deletion safe
// (a final backup, deregistering from something outside the cluster), so deleting without it may lose what it
// guarded; Argo CD likewise never deletes an app without running its PreDelete hooks.
import { describeError } from '../../../shared/src/errors.ts';
import { redactUrls } from '../../../shared/src/redact.ts';
import { type AppConfig, helmOptions } from '../config.ts';
import type { DesiredStateSource, Renderer } from '../core/desired-state.ts';
import { type ApplySetParentRef, readSyncedRevision, SYNCED_SPEC_ANNOTATION } from '../core/inventory.ts';
import type { K8sObject } from '../core/types.ts';
import type { ClusterDeps } from './cluster.ts';
import type { CascadeHooks } from './remove-app.ts';
import { AppSync, pruneOptions } from './sync.ts';

/**
 * The annotation a user sets on a parent (`"true"`) to let a refused cascade go ahead without the app's deletion
 * hooks, when Git no longer has what rendered them.
 */
export const CASCADE_WITHOUT_HOOKS_ANNOTATION = 'tether.dev/cascade-without-hooks';

/**
 * How long a refused cascade is left alone while nothing it depends on changes (see refusalKey). Not forever: a
 * commit gone from Git may come back (a branch restored, a force push undone) and a fetch may have failed for a
 * passing reason. Not every read: each attempt fetches (up to several deepening fetches for a missing commit) and
 * renders again, which an idle source would otherwise pay every interval.
 */
export const REFUSAL_RETRY_MS = 60 * 60 * 1000;

/** A refused cascade as remembered: what it was refused for (refusalKey), when (epoch ms), and why. */
export interface Refusal {
  key: string;
  at: number;
  message: string;
}

/**
 * What a cascade's refusal depends on: the revision the parent records, the recorded definition, and the
 * CASCADE_WITHOUT_HOOKS_ANNOTATION. A change of any of them may let the cascade go ahead, so it is tried at once.
 */
export function refusalKey(live: K8sObject, specText: string | undefined): string {
  return JSON.stringify([
    readSyncedRevision(live) ?? '',
    live.metadata.annotations?.[SYNCED_SPEC_ANNOTATION] ?? '',
    specText ?? '',
    live.metadata.annotations?.[CASCADE_WITHOUT_HOOKS_ANNOTATION] ?? '',
  ]);
}

/**
 * What to do about a removed app's cascade whose refusal is remembered as `last`, the parent now giving `key`:
 * `retry` renders the hooks again (and, refused again, says so with an Event only when `event` is true: once per
 * key, not once per attempt); `hold` keeps the refusal as it is without touching Git or the cluster.
 */
export function refusalDecision(
  last: Refusal | undefined,
  key: string,
  now: number,
  retryMs = REFUSAL_RETRY_MS,
): { action: 'retry'; event: boolean } | { action: 'hold' } {
  if (!last || last.key !== key) return { action: 'retry', event: true };
  return now - last.at >= retryMs ? { action: 'retry', event: false } : { action: 'hold' };
}

/** The most the recorded definition may take: an annotation must stay small beside the inventory it sits with. */
export const MAX_APP_SPEC_BYTES = 8 * 1024;

/** What of an app's definition the parent records: enough to render it again and to cascade it as it asked. */
export interface RecordedAppSpec {
  repo: string;
  ref: string;
  path: string;
  namespace: string;
  helm?: { valuesFiles: string[]; releaseName?: string };
  waveTimeout?: number;
  allowProtectedKinds?: string[];
  pruneAdopted?: boolean;
}

/**
 * The recorded form of an app's definition (JSON), or undefined when it would exceed MAX_APP_SPEC_BYTES. Credentials
 * in the repository URL are left out.
 */
export function recordAppSpec(app: AppConfig): string | undefined {
  const spec: RecordedAppSpec = {
    repo: redactUrls(app.repo),
    ref: app.ref,
    path: app.path,
    namespace: app.namespace,
    ...(app.helm ? { helm: app.helm } : {}),
    waveTimeout: app.waveTimeout,
    allowProtectedKinds: app.allowProtectedKinds,
    pruneAdopted: app.pruneAdopted,
  };
  const text = JSON.stringify(spec);
  return Buffer.byteLength(text) <= MAX_APP_SPEC_BYTES ? text : undefined;
}

/** Reads `recordAppSpec` text back; undefined when it is missing or not such a record. */
export function readAppSpec(text: string | undefined): RecordedAppSpec | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as Partial<RecordedAppSpec>;
    const str = (x: unknown) => typeof x === 'string';
    return str(v.repo) && str(v.ref) && str(v.path) && str(v.namespace) ? (v as RecordedAppSpec) : undefined;
  } catch {
    return undefined;
  }
}

/** What the recovery needs beyond the cluster: a renderer and the app's own Git source. */
export interface RecoverDeps extends ClusterDeps {
  renderer: Renderer;
  openSource(key: string, repo: string, ref: string): Promise<DesiredStateSource>;
}

/** The recovered hooks (none when the app had none), or why they could not be recovered. */
export type Recovery = { hooks: CascadeHooks; spec?: RecordedAppSpec } | { error: string };

/**
 * The deletion hooks of removed app `name` whose parent is `live`: rendered from Git at the revision the parent says
 * was last synced, with the definition recorded beside that revision (else the definition mark's `specText`). The
 * parent's CASCADE_WITHOUT_HOOKS_ANNOTATION skips them.
 */
export async function recoverDeleteHooks(
  deps: RecoverDeps,
  name: string,
  parent: ApplySetParentRef,
  live: K8sObject,
  specText: string | undefined,
): Promise<Recovery> {
  const spec = readAppSpec(live.metadata.annotations?.[SYNCED_SPEC_ANNOTATION]) ?? readAppSpec(specText);
  const none = { hooks: [], run: { timeoutMs: 0, pollMs: 0 } };
  if (live.metadata.annotations?.[CASCADE_WITHOUT_HOOKS_ANNOTATION] === 'true') {
    return { hooks: none, ...(spec ? { spec } : {}) };
  }
  const revision = readSyncedRevision(live);
  const refuse = (why: string) => ({
    error:
      `cascade refused: the app's PreDelete/PostDelete hooks cannot be recovered from Git (${why}); nothing was ` +
      `deleted. Delete the app's objects and ${parent.kind}/${parent.namespace}/${parent.name} by hand, or annotate ` +
      `that ${parent.kind} with ${CASCADE_WITHOUT_HOOKS_ANNOTATION}=true to cascade without them`,
  });
  if (!spec) return refuse('its inventory records no definition');
  if (!revision) return refuse('its inventory records no synced revision');
  try {
    const source = await deps.openSource(name, spec.repo, spec.ref);
    const app = { ...spec, name } as AppConfig;
    const sync = new AppSync(
      {
        name,
        path: spec.path,
        namespace: spec.namespace,
        // Only the hooks are wanted: an app whose render held nothing else is no error here.
        prune: pruneOptions({ allowEmpty: true }),
        render: { helm: helmOptions(app) },
        ...(spec.waveTimeout !== undefined ? { waveTimeoutMs: spec.waveTimeout } : {}),
      },
      { kube: deps.kube, discovery: deps.discovery, source, renderer: deps.renderer, parent },
    );
    return { hooks: await sync.deleteHooksAt(revision), spec };
  } catch (err) {
    return refuse(`rendering ${spec.path} at ${revision.slice(0, 7)}: ${describeError(err)}`);
  }
}
