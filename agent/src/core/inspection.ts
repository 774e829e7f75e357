// What a sync would change, judged per object from what the cluster answered: the one derivation behind the HTTP
// API's diff, the status page, `tether diff` and `tether status`. Pure: the reads are reconcile/inspect.ts's.
import { diff, hasDrift } from './drift.ts';
import { appHealth, type HealthContext, objectHealth } from './health.ts';
import { refOf, subject } from './objects.ts';
import type { HealthResult, K8sObject, SyncStatus } from './types.ts';

/** What the cluster answered about one desired object: its live state and a server-side dry-run, or an error. */
export interface ObservedObject {
  desired: K8sObject;
  live?: K8sObject;
  dryRun?: K8sObject;
  /** Why the object could not be read or dry-run. */
  error?: string;
}

/** One desired object judged: in sync or not, its health, and the diff from live to desired ('' when none). */
export interface ObjectInspection extends ObservedObject {
  subject: string;
  sync: SyncStatus;
  health: HealthResult;
  diff: string;
}

/** An app's inspection: the revision inspected, each object, and the app's sync status and health from them. */
export interface Inspection {
  revision: string;
  objects: ObjectInspection[];
  sync: SyncStatus;
  health: HealthResult;
}

/**
 * Judges one object: Unknown when it could not be dry-run; Synced when it exists and the dry-run shows no drift
 * (the same comparison a sync uses before writing); otherwise OutOfSync, with the diff from live (or nothing, for
 * an object to be created) to the dry-run result.
 */
export function judgeObject(observed: ObservedObject, ctx: Omit<HealthContext, 'desired'> = {}): ObjectInspection {
  const { desired, live, dryRun, error } = observed;
  const who = subject(desired);
  const health = objectHealth(refOf(desired), live, { ...ctx, desired });
  if (error !== undefined) return { ...observed, subject: who, sync: 'Unknown', health, diff: '' };
  const target = dryRun ?? desired;
  if (live && !hasDrift(target, live)) return { ...observed, subject: who, sync: 'Synced', health, diff: '' };
  const from = live ?? {
    apiVersion: desired.apiVersion,
    kind: desired.kind,
    metadata: { name: desired.metadata.name },
  };
  return {
    ...observed,
    subject: who,
    sync: 'OutOfSync',
    health,
    diff: diff(from, target, { fromLabel: `live/${who}`, toLabel: `git/${who}` }),
  };
}

/** The app's sync status (Unknown beats OutOfSync beats Synced) and health (the worst object's). */
export function summarize(objects: readonly ObjectInspection[]): { sync: SyncStatus; health: HealthResult } {
  const sync: SyncStatus = objects.some((o) => o.sync === 'Unknown')
    ? 'Unknown'
    : objects.some((o) => o.sync === 'OutOfSync')
      ? 'OutOfSync'
      : 'Synced';
  return { sync, health: appHealth(objects.map((o) => o.health)) };
}

/** The diffs of all objects as one text; objects that could not be judged appear as `# subject: error` lines. */
export function diffText(objects: readonly ObjectInspection[]): string {
  const parts: string[] = [];
  for (const o of objects) {
    if (o.error !== undefined) parts.push(`# ${o.subject}: ${o.error}`);
    else if (o.diff) parts.push(o.diff);
  }
  return parts.join('\n');
}
