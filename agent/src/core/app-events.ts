// Which Kubernetes Events an app's results deserve, derived from the results as data. Pure; the agent records them
// on the app's ApplySet parent (reconcile/agent.ts).
import { isReleased } from './prune.ts';
import type { SyncEntry } from './types.ts';

/** One Event to record about an app. */
export interface AppEvent {
  reason: 'Synced' | 'Pruned' | 'Released' | 'Healed' | 'Drifted' | 'SyncRequested' | 'Refused';
  message: string;
  type: 'Normal' | 'Warning';
}

/** Events hold at most this much message (the apiserver takes more, `kubectl describe` shows less). */
const MAX_MESSAGE = 1000;

/**
 * Events of a completed sync: `Synced` when the revision moved or something changed, plus `Pruned` naming what was
 * deleted. A no-op or failed sync records none (its log line and commit status say enough), except a `Refused`
 * warning the first time a revision is refused by the app's project, naming each object and rule: `kubectl get
 * events` is where a cluster admin looks for what a team tried to apply.
 */
export function syncEvents(
  out: { revision: string; entries: readonly SyncEntry[]; noop: boolean; error?: unknown },
  previousRevision: string | undefined,
): AppEvent[] {
  if (out.noop) return [];
  if (out.error) {
    const refused = out.entries.filter((e) => e.action === 'refused');
    if (refused.length === 0 || out.revision === previousRevision) return [];
    const rules = refused.map((e) => `${e.subject} (${e.reason ?? 'refused'})`).join('; ');
    return [
      {
        reason: 'Refused',
        message: `Refused ${out.revision.slice(0, 7)}, nothing applied: ${rules}`.slice(0, MAX_MESSAGE),
        type: 'Warning',
      },
    ];
  }
  const changed = out.entries.filter((e) => e.action !== 'unchanged').length;
  if (out.revision === previousRevision && changed === 0) return [];
  const events: AppEvent[] = [
    {
      reason: 'Synced',
      message: `Synced ${out.revision.slice(0, 7)}: ${changed} changed, ${out.entries.length} total`,
      type: 'Normal',
    },
  ];
  const pruned = out.entries.filter((e) => e.action === 'pruned').map((e) => e.subject);
  if (pruned.length)
    events.push({ reason: 'Pruned', message: `Pruned ${pruned.join(', ')}`.slice(0, MAX_MESSAGE), type: 'Normal' });
  const released = out.entries.filter(isReleased).map((e) => e.subject);
  if (released.length)
    events.push({
      reason: 'Released',
      message: `Left in place and no longer managed (Delete=false): ${released.join(', ')}`.slice(0, MAX_MESSAGE),
      type: 'Normal',
    });
  return events;
}

/** The Event of one heal, or of drift detected with self-heal off. */
export function healEvent(mode: 'healed' | 'detected', subject: string, entry: SyncEntry): AppEvent {
  return {
    reason: mode === 'healed' ? 'Healed' : 'Drifted',
    message: `${subject}: ${entry.action}${entry.reason ? ` (${entry.reason})` : ''}`,
    type: 'Normal',
  };
}
