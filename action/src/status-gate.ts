import { globMatcher, isExclusion } from '../../shared/src/glob.ts';

/** One commit status as the REST API lists it (newest first). */
export interface StatusEntry {
  context: string;
  state: string;
  description?: string | null;
  target_url?: string | null;
  created_at?: string;
  /** The commit the status was posted on, when that is a later commit that did not change the source path. */
  on?: string;
}

/** A commit and the statuses listed for it. */
export interface CommitWithStatuses {
  sha: string;
  message?: string;
  statuses: readonly StatusEntry[];
}

/**
 * Compiled `require-status` patterns: contexts match whole, with the glob semantics of shared/src/glob.ts. Each
 * positive pattern is a requirement of its own: a commit passes only when every one of them matches at least one
 * context (exclusions applied), so a pattern naming a cluster that never reported is not passed over because
 * another pattern's contexts are green.
 */
export interface StatusGate {
  /** The patterns as given; none means no gate. */
  readonly patterns: readonly string[];
  /** Whether a context counts at all: some positive pattern (or none given) matches it and no exclusion does. */
  readonly matches: (context: string) => boolean;
  /** Each positive pattern with its matcher (exclusions applied); empty when the list holds exclusions only. */
  readonly required: readonly { pattern: string; matches: (context: string) => boolean }[];
}

/** Compiles `require-status` patterns once. */
export function statusGate(patterns: readonly string[]): StatusGate {
  const exclusions = patterns.filter(isExclusion);
  return {
    patterns: [...patterns],
    matches: globMatcher(patterns),
    required: patterns
      .filter((p) => !isExclusion(p))
      .map((pattern) => ({ pattern, matches: globMatcher([pattern, ...exclusions]) })),
  };
}

/** The latest status per matching context of one commit. */
export function latestMatching(statuses: readonly StatusEntry[], gate: StatusGate): StatusEntry[] {
  const seen = new Map<string, StatusEntry>();
  for (const s of statuses) if (gate.matches(s.context) && !seen.has(s.context)) seen.set(s.context, s);
  return [...seen.values()].sort((a, b) => a.context.localeCompare(b.context));
}

/**
 * The verdict on one commit: every positive pattern matches at least one context, and every matching status is
 * `success` (a list of exclusions alone needs at least one matching context), or why not: the states that are not
 * `success`, then `no status for <pattern>` for each pattern that matched nothing.
 */
export function gateVerdict(
  statuses: readonly StatusEntry[],
  gate: StatusGate,
): { ok: boolean; summary: string; matched: StatusEntry[] } {
  const matched = latestMatching(statuses, gate);
  const missing =
    gate.required.length === 0
      ? matched.length === 0
        ? ['no status']
        : []
      : gate.required
          .filter((r) => !matched.some((s) => r.matches(s.context)))
          .map((r) => `no status for ${r.pattern}`);
  const bad = matched.filter((s) => s.state !== 'success');
  if (bad.length === 0 && missing.length === 0) return { ok: true, summary: 'success', matched };
  const reasons: string[] = [];
  if (bad.length > 0) {
    const states = [...new Set(bad.map((s) => s.state))].join('/');
    reasons.push(
      matched.length === 1 && missing.length === 0 ? states : `${states} (${bad.map((s) => s.context).join(', ')})`,
    );
  }
  return { ok: false, summary: [...reasons, ...missing].join('; '), matched };
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

/**
 * The commits whose statuses speak for each commit that touched a path: the commit itself, then the later commits
 * up to the next one touching the path (they hold the same content there), the newest of them first, at most `max`
 * in all.
 * An agent posts its verdict on the tip it synced, which need not have touched the app's path; this is how promote
 * and rollback still see it. `history` is the branch's commits, newest first; a touching commit older than the
 * history window speaks for itself only.
 */
export function statusWindows(
  touching: readonly string[],
  history: readonly string[],
  max = 10,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const index = new Map(history.map((sha, i) => [sha, i]));
  let newerEdge = 0; // history index of the next newer touching commit (exclusive bound), 0 for the tip
  for (const [n, sha] of touching.entries()) {
    const at = index.get(sha);
    if (at === undefined) {
      out.set(sha, [sha]);
      continue;
    }
    const from = n === 0 ? 0 : newerEdge + 1;
    const later = history.slice(from, at);
    out.set(sha, [sha, ...later.slice(0, max - 1)]);
    newerEdge = at;
  }
  return out;
}

/** The statuses of a commit and of the later commits that speak for it, merged newest first. */
export function mergeWindowStatuses(sha: string, lists: ReadonlyMap<string, readonly StatusEntry[]>): StatusEntry[] {
  const all: StatusEntry[] = [];
  for (const [on, statuses] of lists) for (const st of statuses) all.push(on === sha ? st : { ...st, on });
  // Stable: for equal times the commit's own statuses (listed first) stay first.
  return all
    .map((st, i) => ({ st, i }))
    .sort((a, b) => (b.st.created_at ?? '').localeCompare(a.st.created_at ?? '') || a.i - b.i)
    .map((x) => x.st);
}
