// The agent's memory of what each app's syncs and heals did, for the API and the app page. In memory only: a
// restarted agent starts a new history (the Kubernetes Events on the ApplySet parent outlive it).
import {
  type AppHistory,
  addHeal,
  addSync,
  type HealHistoryEntry,
  HISTORY_LIMIT,
  type SyncHistoryEntry,
} from '../core/history.ts';

/** The last syncs and heals of every app, newest first, bounded per app. */
export class SyncHistory {
  private readonly apps = new Map<string, AppHistory>();

  constructor(private readonly limit = HISTORY_LIMIT) {}

  /** Records a sync of `app`. */
  recordSync(app: string, entry: SyncHistoryEntry): void {
    const h = this.of(app);
    h.syncs = addSync(h.syncs, entry, this.limit);
  }

  /** Records a heal of `app`. */
  recordHeal(app: string, entry: HealHistoryEntry): void {
    const h = this.of(app);
    h.heals = addHeal(h.heals, entry, this.limit);
  }

  /** A copy of the history of `app` (empty when it has none yet). */
  get(app: string): AppHistory {
    const h = this.apps.get(app);
    return { syncs: [...(h?.syncs ?? [])], heals: [...(h?.heals ?? [])] };
  }

  private of(app: string): AppHistory {
    let h = this.apps.get(app);
    if (!h) {
      h = { syncs: [], heals: [] };
      this.apps.set(app, h);
    }
    return h;
  }
}
