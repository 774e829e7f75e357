import { globMatcher } from '../../shared/src/glob.ts';

/** One commit status as the REST API lists it (newest first). */
export interface StatusEntry {
  context: string;
  state: string;
  description?: string | null;
  target_url?: string | null;
  created_at?: string;
}

/** A commit and the statuses listed for it. */
export interface CommitWithStatuses {
  sha: string;
  message?: string;
  statuses: readonly StatusEntry[];
}

/** Compiled `require-status` patterns: contexts match whole, with the glob semantics of shared/src/glob.ts. */
export interface StatusGate {
  /** The patterns as given; none means no gate. */
  readonly patterns: readonly string[];
  readonly matches: (context: string) => boolean;
}

/** Compiles `require-status` patterns once. */
export function statusGate(patterns: readonly string[]): StatusGate {
  return { patterns: [...patterns], matches: globMatcher(patterns) };
}

/** The latest status per matching context of one commit. */
export function latestMatching(statuses: readonly StatusEntry[], gate: StatusGate): StatusEntry[] {
  const seen = new Map<string, StatusEntry>();
  for (const s of statuses) if (gate.matches(s.context) && !seen.has(s.context)) seen.set(s.context, s);
  return [...seen.values()].sort((a, b) => a.context.localeCompare(b.context));
}

/** The verdict on one commit: all matching statuses `success` (and at least one), or why not. */
export function gateVerdict(
  statuses: readonly StatusEntry[],
  gate: StatusGate,
): { ok: boolean; summary: string; matched: StatusEntry[] } {
  const matched = latestMatching(statuses, gate);
  if (matched.length === 0) return { ok: false, summary: 'no status', matched };
  const bad = matched.filter((s) => s.state !== 'success');
  if (bad.length === 0) return { ok: true, summary: 'success', matched };
  const states = [...new Set(bad.map((s) => s.state))].join('/');
  return {
    ok: false,
    summary: matched.length === 1 ? states : `${states} (${bad.map((s) => s.context).join(', ')})`,
    matched,
  };
}

/**
 * Picks the newest commit (the list is newest first) whose matching statuses are all `success`; `skip` leaves out
 * the newest N (rollback wants an earlier commit than the current one). Without patterns any commit qualifies.
 */
export function pickQualifying(
  commits: readonly CommitWithStatuses[],
  gate: StatusGate,
  options: { skip?: number } = {},
):
  | { commit: CommitWithStatuses; matched: StatusEntry[] }
  | { commit: undefined; newest?: { sha: string; summary: string } } {
  const candidates = commits.slice(options.skip ?? 0);
  for (const c of candidates) {
    if (gate.patterns.length === 0) return { commit: c, matched: [] };
    const v = gateVerdict(c.statuses, gate);
    if (v.ok) return { commit: c, matched: v.matched };
  }
  const newest = candidates[0];
  return {
    commit: undefined,
    ...(newest
      ? {
          newest: {
            sha: newest.sha,
            summary: gate.patterns.length ? gateVerdict(newest.statuses, gate).summary : 'none',
          },
        }
      : {}),
  };
}
