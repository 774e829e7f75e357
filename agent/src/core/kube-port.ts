// The Kubernetes port: what the sync, self-heal, the app loop and leader election ask of a cluster. The edge
// (edges/kube/kube-client.ts) implements it over HTTPS; tests and benchmarks wrap it. Types only: no I/O here.
import type { K8sObject } from './types.ts';

/** A resource type as discovery reports it. */
export interface ResourceType {
  group: string;
  version: string;
  kind: string;
  /** Plural name used in URLs, e.g. `deployments`. */
  resource: string;
  namespaced: boolean;
  verbs: string[];
}

/** Options of one server-side apply. */
export interface ApplyOptions {
  fieldManager: string;
  force: boolean;
  dryRun: boolean;
  /** The object's JSON when the caller has serialized it already (sent as is instead of serializing it again). */
  body?: string;
}

/**
 * Objects a sync applies at once (reconcile/apply.ts explains the figure); the kube client keeps twice as many
 * connections, so that one app's sync leaves some to the other apps and to self-heal.
 */
export const APPLY_CONCURRENCY = 16;

/** Options of one JSON merge patch. */
export interface MergePatchOptions {
  /** The manager the apiserver records in managedFields for the fields the patch sets (default `tether`). */
  fieldManager: string;
}

/** The defaults of server-side apply: field manager `tether`, force, for real. */
export function defaultApplyOptions(): ApplyOptions {
  return { fieldManager: 'tether', force: true, dryRun: false };
}

/** The answer to a server-side apply: the object, and `created` when the server answered 201. */
export interface ApplyResult {
  object: K8sObject;
  created: boolean;
}

/** One event of a watch stream. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: K8sObject;
}

/** A running watch; `done` resolves when the stream ends for any reason. */
export interface Watch {
  stop(): void;
  done: Promise<void>;
}

/** A core/v1 Event about one object, as the agent records them (Synced, Pruned, Healed, Drifted). */
export interface KubeEvent {
  /** The object the event is about. */
  involvedObject: { apiVersion: string; kind: string; name: string; namespace: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  /** The component that reports it, e.g. `tether`. */
  component: string;
}

/** A `coordination.k8s.io/v1` Lease as leader election and sharding read and write it. */
export interface Lease {
  metadata: { resourceVersion?: string; name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Options of a list. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /**
   * What to keep of each item, applied as each page arrives (items already carry apiVersion and kind); undefined
   * drops the item. A list of many objects of which the caller wants few (other tools' ApplySets, other namespaces)
   * then never holds them all at once.
   */
  keep?: (item: K8sObject) => K8sObject | undefined;
}

/** Options of a watch. */
export interface WatchOptions {
  labelSelector?: string;
  resourceVersion?: string;
  namespace?: string;
}

/** The Kubernetes edge the agent is given: raw JSON objects in and out (nothing dropped), typed Events and Leases. */
export interface KubeClient {
  /** All resource types the server serves, newest preferred version first per group. */
  discover(): Promise<ResourceType[]>;
  /** Resolves when the apiserver answers at all (any status) within `timeoutMs`; rejects when it cannot be reached. */
  ping(timeoutMs?: number): Promise<void>;
  /** Server-side apply of `obj` exactly as given; returns the object the server answers and whether it is new. */
  apply(type: ResourceType, obj: K8sObject, options?: Partial<ApplyOptions>): Promise<ApplyResult>;
  /** One object, or undefined when it does not exist. */
  get(type: ResourceType, name: string, namespace?: string): Promise<K8sObject | undefined>;
  /** The objects of a type (items carry apiVersion and kind) and the list's resourceVersion. */
  list(type: ResourceType, options?: ListOptions): Promise<{ items: K8sObject[]; resourceVersion: string }>;
  /**
   * A JSON merge patch (RFC 7386): `null` removes a key. For metadata only (dropping another tool's markers, or
   * Tether's own member label from an object it lets go); objects are written by `apply`. Undefined when gone.
   */
  mergePatch(
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: object,
    options?: Partial<MergePatchOptions>,
  ): Promise<K8sObject | undefined>;
  /**
   * Deletes (background propagation unless told otherwise); true when it existed. With `resourceVersion` the
   * deletion holds only at that version (a precondition): false when the object changed since it was read.
   */
  delete(
    type: ResourceType,
    name: string,
    namespace?: string,
    options?: { propagationPolicy?: string; resourceVersion?: string },
  ): Promise<boolean>;
  /** Watches a type; `onEvent` gets each event until the stream ends or `stop()` is called. */
  watch(type: ResourceType, options: WatchOptions, onEvent: (event: WatchEvent) => void): Watch;
  /** Records an Event in the involved object's namespace. */
  createEvent(event: KubeEvent): Promise<void>;
  /** The Lease, or undefined when it does not exist. */
  getLease(namespace: string, name: string): Promise<Lease | undefined>;
  /** Creates the Lease; false when another replica created it first (409). */
  createLease(lease: Lease): Promise<boolean>;
  /** Replaces the Lease at its resourceVersion; false when another replica updated it first (409). */
  updateLease(lease: Lease): Promise<boolean>;
}
