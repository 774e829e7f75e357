// The agent's memory of what each app's syncs and heals did, for the API and the app page. The last syncs are also
// kept on the cluster, as an annotation of the app's ApplySet parent, so a restarted agent shows them again; heals
// and idle polls stay in memory (the Kubernetes Events on the parent outlive them too).
import { describeError } from '../../../shared/src/errors.ts';
import {
  type AppHistory,
  addHeal,
  addSync,
  decodeHistory,
  encodeHistory,
  type HealHistoryEntry,
  HISTORY_ANNOTATION,
  HISTORY_LIMIT,
  mergeRestored,
  type SyncHistoryEntry,
} from '../core/history.ts';
import type { ApplySetParentRef } from '../core/inventory.ts';
import type { KubeClient } from '../core/kube-port.ts';
import type { Discovery } from '../edges/kube/discovery.ts';
import { resolveType } from './cluster.ts';

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

  /** Puts syncs read back from the cluster under those recorded since the start. */
  restore(app: string, syncs: readonly SyncHistoryEntry[]): void {
    const h = this.of(app);
    h.syncs = mergeRestored(h.syncs, syncs, this.limit);
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

/** What reading and writing a persisted history needs. */
export interface HistoryStoreDeps {
  kube: KubeClient;
  discovery: Discovery;
}

/** The syncs persisted on the app's ApplySet parent (none when it does not exist yet or holds none). One GET. */
export async function readPersistedHistory(
  deps: HistoryStoreDeps,
  parent: ApplySetParentRef,
): Promise<SyncHistoryEntry[]> {
  const type = await resolveType(deps.discovery, parentApiVersion(parent), parent.kind);
  const live = await deps.kube.get(type, parent.name, parent.namespace);
  return decodeHistory(live?.metadata.annotations?.[HISTORY_ANNOTATION]);
}

/**
 * Writes the newest syncs of `syncs` to the app's ApplySet parent: one JSON merge patch of one annotation, so the
 * parent's server-side applies (which own its other fields) never remove it. Nothing is written when the parent does
 * not exist yet (a sync that failed before writing it). Failures are returned as text, never thrown: the history is
 * worth a log line, not a failed sync.
 */
export async function writePersistedHistory(
  deps: HistoryStoreDeps,
  parent: ApplySetParentRef,
  syncs: readonly SyncHistoryEntry[],
): Promise<string | undefined> {
  try {
    const type = await resolveType(deps.discovery, parentApiVersion(parent), parent.kind);
    await deps.kube.mergePatch(type, parent.name, parent.namespace, {
      metadata: { annotations: { [HISTORY_ANNOTATION]: encodeHistory(syncs) } },
    });
    return undefined;
  } catch (err) {
    return describeError(err);
  }
}

function parentApiVersion(parent: ApplySetParentRef): string {
  return parent.group ? `${parent.group}/${parent.version}` : parent.version;
}
