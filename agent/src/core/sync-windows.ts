// Sync windows, with Argo CD's semantics (https://argo-cd.readthedocs.io/en/stable/user-guide/sync_windows/): a
// window opens at each time its cron schedule (five fields, UTC) names and stays open for its duration. Any active
// `deny` window blocks automated syncs; when a project has `allow` windows, automated syncs run only inside an active
// one. A manual sync is let through a block only when the blocking windows say `manualSync: true`. Pure: the clock is
// a parameter. Cron expressions are read by croner (no dependencies, standard five-field syntax with numbers,
// ranges, lists, steps and `*`; day-of-month and day-of-week combine with OR as in Vixie cron and Argo CD's parser).
import { Cron } from 'croner';

/** One sync window of a project. */
export interface SyncWindow {
  kind: 'allow' | 'deny';
  /** Five cron fields, UTC: minute hour day-of-month month day-of-week. */
  schedule: string;
  /** How long each opening lasts, in milliseconds. */
  duration: number;
  /** Whether a manual sync may run while this window blocks automated ones. */
  manualSync: boolean;
}

/** What the windows say at one moment. */
export interface WindowVerdict {
  /** Whether an automated sync (interval, webhook, self-heal) may run now. */
  automated: boolean;
  /** Whether a manual sync (CLI, API, page) may run now. */
  manual: boolean;
  /** Why automated syncs are blocked, e.g. `sync window deny until 22:00 UTC`; absent when they are not. */
  reason?: string;
  /** The windows open now. */
  active: SyncWindow[];
}

/** Why a schedule is not five cron fields croner accepts, or undefined when it is valid. */
export function scheduleProblem(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `"${schedule}" has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has five (minute hour day-of-month month day-of-week, UTC)`;
  }
  try {
    cron(schedule);
    return undefined;
  } catch (err) {
    return `"${schedule}" is not a cron schedule: ${(err as Error).message}`;
  }
}

/** Parsed schedules by text: windows are judged every second, and parsing costs more than the judgement. */
const parsed = new Map<string, Cron>();

/**
 * A schedule parsed for UTC. A fixed offset of zero reads the same as the `UTC` zone (which has no daylight saving)
 * and spares croner a time-zone conversion per step, about five times faster.
 */
function cron(schedule: string): Cron {
  const text = schedule.trim();
  let c = parsed.get(text);
  if (!c) {
    c = new Cron(text, { utcOffset: 0, mode: '5-part', paused: true });
    // Schedules come from configuration and Project documents: a few dozen; the bound keeps a churning source cheap.
    if (parsed.size >= 256) parsed.clear();
    parsed.set(text, c);
  }
  return c;
}

/**
 * The opening of `window` that contains `t`, as [start, end), or undefined when none does. Every opening lasts the
 * same duration, so the latest start at or before `t` has the latest end: the window is open when that end is after
 * `t`. One look back, whatever the schedule (the agent asks every second for every app).
 */
export function activeOpening(window: SyncWindow, t: Date): { start: Date; end: Date } | undefined {
  // previousRuns counts a run earlier in the reference's own second: a millisecond past t includes a run at t.
  const [start] = cron(window.schedule).previousRuns(1, new Date(t.getTime() + 1));
  if (!start) return undefined;
  const end = new Date(start.getTime() + window.duration);
  return end.getTime() > t.getTime() ? { start, end } : undefined;
}

/** The next time `window` opens after `t`, or undefined when its schedule never fires again. */
export function nextOpening(window: SyncWindow, t: Date): Date | undefined {
  return cron(window.schedule).nextRun(t) ?? undefined;
}

/** `22:00 UTC` when `at` falls on the same UTC day as `t`, else `2026-12-03 06:00 UTC`. */
export function clockText(at: Date, t: Date): string {
  const iso = at.toISOString();
  const hm = iso.slice(11, 16);
  return iso.slice(0, 10) === t.toISOString().slice(0, 10) ? `${hm} UTC` : `${iso.slice(0, 10)} ${hm} UTC`;
}

/** What `windows` allow at time `t`. No windows: everything is allowed. */
export function windowsAt(windows: readonly SyncWindow[], t: Date): WindowVerdict {
  const open = windows.map((w) => ({ w, opening: activeOpening(w, t) })).filter((x) => x.opening !== undefined);
  const active = open.map((x) => x.w);
  const denies = open.filter((x) => x.w.kind === 'deny');
  if (denies.length > 0) {
    const until = new Date(Math.max(...denies.map((x) => x.opening!.end.getTime())));
    return {
      automated: false,
      // Every window that blocks must let manual syncs through, as Argo CD requires.
      manual: denies.every((x) => x.w.manualSync),
      reason: `sync window deny until ${clockText(until, t)}`,
      active,
    };
  }
  const allows = windows.filter((w) => w.kind === 'allow');
  if (allows.length === 0 || open.some((x) => x.w.kind === 'allow')) return { automated: true, manual: true, active };
  const next = allows
    .map((w) => nextOpening(w, t))
    .filter((d): d is Date => d !== undefined)
    .sort((a, b) => a.getTime() - b.getTime())[0];
  return {
    automated: false,
    // Outside every allow window, a manual sync runs when any allow window says so (Argo CD's inactive allows).
    manual: allows.some((w) => w.manualSync),
    reason: `outside sync windows${next ? `: next allow at ${clockText(next, t)}` : ''}`,
    active,
  };
}

/** A window as people read it: `deny 0 22 * * * for 8h (manual syncs allowed)`. */
export function windowText(w: SyncWindow): string {
  return `${w.kind} ${w.schedule} for ${durationText(w.duration)}${w.manualSync ? ' (manual syncs allowed)' : ''}`;
}

function durationText(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return [h ? `${h}h` : '', m ? `${m}m` : '', s ? `${s}s` : ''].join('') || `${ms}ms`;
}
