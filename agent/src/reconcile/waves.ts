// Waits for each sync wave to be healthy before the next one is applied, recording every step's timings.
import { describeError } from '../../../shared/src/errors.ts';
import { judgedForHealth } from '../core/annotations.ts';
import { objectHealth } from '../core/health.ts';
import { objectKey, refOf, subject } from '../core/objects.ts';
import type { PlanStep } from '../core/plan.ts';
import type { HealthResult, K8sObject, SyncEntry, WaveResult } from '../core/types.ts';
import { formatMs, judgeWave } from '../core/waves.ts';
import { type ClusterDeps, fetchRef } from './cluster.ts';

/** Options of waiting for waves. */
export interface WaveGateOptions {
  /** How long one wave may take to become healthy before the sync stops with `failure`. */
  timeoutMs: number;
  /** How often the wave's objects are re-read while waiting. */
  pollMs: number;
  /** Wait for the last wave too (when PostSync hooks must run on a healthy app). */
  waitLast?: boolean;
  /** Shutdown: stops waiting at once. */
  signal?: AbortSignal;
}

/** Defaults: 5 minutes per wave (Argo CD's default sync timeout is of that order), polled every second. */
export function defaultWaveGateOptions(): WaveGateOptions {
  return { timeoutMs: 5 * 60_000, pollMs: 1000 };
}

/** Why the sync stopped at a wave: the step's result, and the health that stopped it. */
export interface WaveStop {
  wave: WaveResult;
  health: HealthResult;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The gate between waves, handed to `applySteps` as `afterStep`. After a wave with a successor is applied it re-reads
 * the wave's objects until every one is Healthy or Suspended; a Degraded object or the timeout stops the sync there.
 * The last wave is waited on only before PostSync hooks; otherwise the app's health after the sync judges it.
 */
export class WaveGate {
  /** Every step so far, in order, with its timings. */
  readonly waves: WaveResult[] = [];
  /** Set when a wave stopped the sync. */
  stopped: WaveStop | undefined;
  /** The objects of every step applied so far. */
  readonly applied: K8sObject[] = [];
  private mark = performance.now();

  constructor(
    private readonly deps: ClusterDeps,
    private readonly live: Map<string, K8sObject>,
    private readonly options: WaveGateOptions = defaultWaveGateOptions(),
  ) {}

  /** `applySteps`' `afterStep`: resolves true when the next step may start. */
  readonly afterStep = async (step: PlanStep, entries: readonly SyncEntry[], last: boolean): Promise<boolean> => {
    const applyMs = Math.round(performance.now() - this.mark);
    this.applied.push(...step.objects);
    const record = (outcome: WaveResult['outcome'], waitMs: number, health?: HealthResult): WaveResult => {
      const wave: WaveResult = { wave: step.wave, objects: step.objects.length, applyMs, waitMs, outcome };
      if (health?.subject) wave.subject = health.subject;
      if (health) wave.message = health.message;
      this.waves.push(wave);
      this.mark = performance.now();
      return wave;
    };
    if (this.options.signal?.aborted) return !record('cancelled', 0);
    // An object that failed to apply will not become healthy; the failure is already the sync's verdict.
    if (entries.some((e) => e.action === 'failed')) return !!record('failed', 0);
    if (step.wave === 'prerequisites' || (last && !this.options.waitLast)) return !!record('applied', 0);

    const judged = step.objects.filter(judgedForHealth);
    const t0 = performance.now();
    const deadline = t0 + this.options.timeoutMs;
    for (;;) {
      const health = await this.readHealth(judged);
      const verdict = judgeWave(health);
      const waited = Math.round(performance.now() - t0);
      if (verdict.state === 'ready') return !!record('healthy', waited);
      if (verdict.state === 'degraded') {
        this.stopped = { wave: record('degraded', waited, verdict.health), health: verdict.health };
        return false;
      }
      if (this.options.signal?.aborted) return !record('cancelled', waited, verdict.health);
      if (performance.now() >= deadline) {
        this.stopped = { wave: record('timeout', waited, verdict.health), health: verdict.health };
        return false;
      }
      await sleep(Math.min(this.options.pollMs, Math.max(0, deadline - performance.now())), this.options.signal);
    }
  };

  /** Reads each object afresh (one GET each: a wave is small) and judges it; a read error is Unknown, not fatal. */
  private async readHealth(objects: readonly K8sObject[]): Promise<HealthResult[]> {
    return Promise.all(
      objects.map(async (o) => {
        const ref = refOf(o);
        try {
          const current = await fetchRef(this.deps, ref);
          if (current) this.live.set(objectKey(current), current);
          return objectHealth(ref, current);
        } catch (err) {
          const who = subject(ref);
          return { status: 'Unknown' as const, message: `${who}: cannot read it: ${describeError(err)}`, subject: who };
        }
      }),
    );
  }

  /** The sync's error message when a wave stopped it: `wave 1 Degraded: Deployment/web/api: …; later waves …`. */
  stopMessage(): string | undefined {
    const s = this.stopped;
    if (!s) return undefined;
    const what = s.wave.outcome === 'timeout' ? `timed out after ${formatMs(this.options.timeoutMs)}` : 'Degraded';
    return `wave ${s.wave.wave} ${what}: ${s.health.message}; later waves not applied, nothing pruned`;
  }
}
