import { describeError } from '../../../shared/src/errors.ts';
import type { HealthContext } from '../core/health.ts';
import { judgeObject, type ObjectInspection, type ObservedObject } from '../core/inspection.ts';
import { compareObjects } from '../core/plan.ts';
import type { K8sObject } from '../core/types.ts';
import { type ClusterDeps, pool, resolveType } from './cluster.ts';

/**
 * Reads each desired object's live state and a server-side dry-run of it, without writing, and judges them
 * (core/inspection.ts). Errors are per object; the result is in apply order. Once `signal` is aborted no request
 * starts (not even an object's dry-run after its read), and the objects not reached are left out of the result.
 */
export async function inspectObjects(
  deps: ClusterDeps,
  desired: readonly K8sObject[],
  options: { concurrency: number; health?: Omit<HealthContext, 'desired'>; signal?: AbortSignal } = {
    concurrency: 8,
  },
): Promise<ObjectInspection[]> {
  const observed: ObservedObject[] = [];
  const { signal } = options;
  await pool(
    desired,
    options.concurrency,
    async (obj) => {
      try {
        const type = await resolveType(deps.discovery, obj.apiVersion, obj.kind);
        const live = await deps.kube.get(type, obj.metadata.name, obj.metadata.namespace);
        if (signal?.aborted) return;
        const dryRun = (await deps.kube.apply(type, obj, { dryRun: true })).object;
        observed.push({ desired: obj, ...(live ? { live } : {}), dryRun });
      } catch (err) {
        observed.push({ desired: obj, error: describeError(err) });
      }
    },
    signal,
  );
  observed.sort((a, b) => compareObjects(a.desired, b.desired));
  return observed.map((o) => judgeObject(o, options.health));
}
