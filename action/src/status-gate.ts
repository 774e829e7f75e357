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

/** A context pattern: `*` matches any run of characters except `/`; `**` matches anything. */
export function contextMatcher(patterns: readonly string[]): (context: string) => boolean {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('**')
          .map((part) =>
            part
              .split('*')
              .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
              .join('[^/]*'),
          )
          .join('.*')}$`,
      ),
  );
  return (context) => res.some((r) => r.test(context));
}

/** The latest status per matching context of one commit. */
export function latestMatching(statuses: readonly StatusEntry[], patterns: readonly string[]): StatusEntry[] {
  const match = contextMatcher(patterns);
  const seen = new Map<string, StatusEntry>();
  for (const s of statuses) if (match(s.context) && !seen.has(s.context)) seen.set(s.context, s);
  return [...seen.values()].sort((a, b) => a.context.localeCompare(b.context));
}

/** The verdict on one commit: all matching statuses `success` (and at least one), or why not. */
export function gateVerdict(
  statuses: readonly StatusEntry[],
  patterns: readonly string[],
): { ok: boolean; summary: string; matched: StatusEntry[] } {
  const matched = latestMatching(statuses, patterns);
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
  patterns: readonly string[],
  options: { skip?: number } = {},
):
  | { commit: CommitWithStatuses; matched: StatusEntry[] }
  | { commit: undefined; newest?: { sha: string; summary: string } } {
  const candidates = commits.slice(options.skip ?? 0);
  for (const c of candidates) {
    if (patterns.length === 0) return { commit: c, matched: [] };
    const v = gateVerdict(c.statuses, patterns);
    if (v.ok) return { commit: c, matched: v.matched };
  }
  const newest = candidates[0];
  return {
    commit: undefined,
    ...(newest
      ? {
          newest: {
            sha: newest.sha,
            summary: patterns.length ? gateVerdict(newest.statuses, patterns).summary : 'none',
          },
        }
      : {}),
  };
}
