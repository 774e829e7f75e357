import type { KubeClient, ResourceType } from './kube-client.ts';

/**
 * Discovery, cached, refreshed on a miss: a kind the cache does not know triggers one new discovery (at most one
 * every `minRefreshMs`), so a CRD applied in this sync is usable in the same sync without re-discovering per object.
 */
export class Discovery {
  private byGvk = new Map<string, ResourceType>();
  private preferred = new Map<string, ResourceType>();
  private loadedAt = 0;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly minRefreshMs = 1000,
  ) {}

  /** Loads (or reloads) every resource type the server serves. */
  async refresh(): Promise<void> {
    this.inflight ??= (async () => {
      try {
        const types = await this.kube.discover();
        const byGvk = new Map<string, ResourceType>();
        const preferred = new Map<string, ResourceType>();
        for (const t of types) {
          // Subresources (deployments/scale) share kinds with their parents; only top-level resources name a type.
          if (t.resource.includes('/')) continue;
          byGvk.set(`${t.group}/${t.version}/${t.kind}`, t);
          // Aggregated discovery lists a group's versions in preference order: the first one seen is preferred.
          if (!preferred.has(`${t.kind}.${t.group}`)) preferred.set(`${t.kind}.${t.group}`, t);
        }
        this.byGvk = byGvk;
        this.preferred = preferred;
        this.loadedAt = Date.now();
      } finally {
        this.inflight = undefined;
      }
    })();
    await this.inflight;
  }

  /** The resource type of `apiVersion`+`kind`, refreshing once on a miss; undefined when the server has none. */
  async resolve(apiVersion: string, kind: string): Promise<ResourceType | undefined> {
    const key = gvkKey(apiVersion, kind);
    const hit = this.byGvk.get(key);
    if (hit) return hit;
    if (this.loadedAt === 0 || Date.now() - this.loadedAt >= this.minRefreshMs) {
      await this.refresh();
    } else if (this.inflight) {
      await this.inflight;
    }
    return this.byGvk.get(key);
  }

  /** The preferred version's type of a group-kind (`Deployment.apps`, `ConfigMap`), from the cache. */
  forGroupKind(groupKind: string): ResourceType | undefined {
    const [kind, ...group] = groupKind.split('.');
    return this.preferred.get(`${kind}.${group.join('.')}`);
  }

  /** Synchronous scope lookup from the cache, for validation: undefined when the kind is unknown. */
  isNamespaced = (apiVersion: string, kind: string): boolean | undefined =>
    this.byGvk.get(gvkKey(apiVersion, kind))?.namespaced;
}

/**
 * `group/version/kind`: an apiVersion is `group/version`, or a core `version` alone. Built without splitting it, as it
 * is once per applied object.
 */
function gvkKey(apiVersion: string, kind: string): string {
  return apiVersion.includes('/') ? `${apiVersion}/${kind}` : `/${apiVersion}/${kind}`;
}
