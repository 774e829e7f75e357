import type {
  ApplyOptions,
  ApplyResult,
  KubeClient,
  KubeEvent,
  Lease,
  ListOptions,
  MergePatchOptions,
  ResourceType,
  Watch,
  WatchEvent,
  WatchOptions,
} from '../../core/kube-port.ts';
import type { K8sObject } from '../../core/types.ts';

/**
 * A KubeClient that counts what it forwards, for benchmarks and tests that assert how many writes a no-op sync
 * makes. Counts use the HTTP verbs the apiserver sees (GET, PATCH, DELETE, POST, PUT, WATCH) plus APPLY and
 * APPLY_DRYRUN for server-side applies; discovery counts one GET per API root (`/api`, `/apis`).
 */
export class CountingKubeClient implements KubeClient {
  /** Requests forwarded so far, by verb. */
  readonly requests: Record<string, number> = {};

  constructor(readonly inner: KubeClient) {}

  private count(verb: string, n = 1): void {
    this.requests[verb] = (this.requests[verb] ?? 0) + n;
  }

  discover(): Promise<ResourceType[]> {
    this.count('GET', 2);
    return this.inner.discover();
  }

  ping(timeoutMs?: number): Promise<void> {
    this.count('GET');
    return this.inner.ping(timeoutMs);
  }

  apply(type: ResourceType, obj: K8sObject, options?: Partial<ApplyOptions>): Promise<ApplyResult> {
    this.count('PATCH');
    this.count(options?.dryRun ? 'APPLY_DRYRUN' : 'APPLY');
    return this.inner.apply(type, obj, options);
  }

  get(type: ResourceType, name: string, namespace?: string): Promise<K8sObject | undefined> {
    this.count('GET');
    return this.inner.get(type, name, namespace);
  }

  list(type: ResourceType, options?: ListOptions): Promise<{ items: K8sObject[]; resourceVersion: string }> {
    this.count('GET');
    return this.inner.list(type, options);
  }

  mergePatch(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: object,
    options?: Partial<MergePatchOptions>,
  ): Promise<K8sObject | undefined> {
    this.count('PATCH');
    return this.inner.mergePatch(type, name, namespace, patch, options);
  }

  delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    options?: { propagationPolicy?: string; resourceVersion?: string },
  ): Promise<boolean> {
    this.count('DELETE');
    return this.inner.delete(type, name, namespace, options);
  }

  /** Watches started and not yet ended. */
  openWatches = 0;

  watch(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void): Watch {
    this.count('WATCH');
    const w = this.inner.watch(type, options, onEvent);
    this.openWatches++;
    void w.done.then(() => {
      this.openWatches--;
    });
    return w;
  }

  createEvent(event: KubeEvent): Promise<void> {
    this.count('POST');
    return this.inner.createEvent(event);
  }

  getLease(namespace: string, name: string): Promise<Lease | undefined> {
    this.count('GET');
    return this.inner.getLease(namespace, name);
  }

  createLease(lease: Lease): Promise<boolean> {
    this.count('POST');
    return this.inner.createLease(lease);
  }

  updateLease(lease: Lease): Promise<boolean> {
    this.count('PUT');
    return this.inner.updateLease(lease);
  }
}
