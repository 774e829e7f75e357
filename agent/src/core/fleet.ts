// "What runs where": an app's `tether/<cluster>/<app>` statuses across every cluster that reports on the env
// repo, taken from the newest commits of the branch. Each agent posts on the commit it synced, so a cluster's row is
// its newest status on the newest commit that carries one. Pure: the reads are edges/github/fleet-reader.ts's.

/** A commit status as the fleet view needs it (GitHub's combined-status entries have these fields). */
export interface FleetStatus {
  context: string;
  state: string;
  description: string | null;
  target_url: string | null;
  updated_at: string;
}

/** One cluster's view of the app. */
export interface FleetRow {
  cluster: string;
  /** The commit that cluster last reported on. */
  sha: string;
  state: string;
  description: string;
  /** Where that cluster's agent says to look (its app page), when it has a public URL. */
  targetUrl?: string;
  updatedAt: string;
  /** How many commits behind the newest one read (0: on the newest). */
  behind: number;
}

/** Everything the fleet view shows for an app. */
export interface FleetView {
  repo: string;
  ref: string;
  rows: FleetRow[];
  /** When GitHub was read (the cache's age). */
  fetchedAt?: string;
  /** Why the rows may be old or missing: a rate limit being waited out, an error. */
  note?: string;
  /** How many commits were read, newest first. */
  commitsRead: number;
}

/** The cluster of a `tether/<cluster>/<app>` context for this app; undefined for other apps, plans and app sources. */
export function clusterOf(context: string, app: string): string | undefined {
  const m = /^tether\/([^/]+)\/([^/]+)$/.exec(context);
  return m && m[2] === app ? m[1] : undefined;
}

/** The rows of an app from commits newest first, each with its latest statuses: one row per cluster, sorted by name. */
export function fleetRows(
  app: string,
  commits: readonly { sha: string; statuses: readonly FleetStatus[] }[],
): FleetRow[] {
  const rows = new Map<string, FleetRow>();
  commits.forEach((c, behind) => {
    for (const s of c.statuses) {
      const cluster = clusterOf(s.context, app);
      if (!cluster || rows.has(cluster)) continue;
      rows.set(cluster, {
        cluster,
        sha: c.sha,
        state: s.state,
        description: s.description ?? '',
        ...(s.target_url ? { targetUrl: s.target_url } : {}),
        updatedAt: s.updated_at,
        behind,
      });
    }
  });
  return [...rows.values()].sort((a, b) => a.cluster.localeCompare(b.cluster));
}

/** Where the agent reads the fleet from (edges/github/fleet-reader.ts); never throws, a failure is the `note`. */
export interface FleetSource {
  read(owner: string, repo: string, ref: string, app: string): Promise<FleetView>;
}
