// The live objects an app keeps between syncs (from lists, apply answers and watch events), by objectKey. Each is kept
// without `metadata.managedFields`: nothing after the read looks at them (drift compares a dry-run answer with the
// live object and leaves them out; ownership reads labels and annotations), and they are often the largest part of a
// small object, so an agent watching thousands of objects would hold mostly field sets. Pure: no I/O.
import type { K8sObject } from './types.ts';

/** The object without `metadata.managedFields` (the same object when it has none; never mutates its argument). */
export function withoutManagedFields(obj: K8sObject): K8sObject {
  if (obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** A Map of live objects that stores each one without its managedFields, and counts its changes. */
export class LiveObjects extends Map<string, K8sObject> {
  /** Bumped by every set, delete and clear: equal versions mean the same content (verdicts can be reused). */
  version = 0;

  /** Stores `obj` without its managedFields. */
  override set(key: string, obj: K8sObject): this {
    this.version++;
    return super.set(key, withoutManagedFields(obj));
  }

  /** Removes `key`. */
  override delete(key: string): boolean {
    this.version++;
    return super.delete(key);
  }

  /** Removes every object. */
  override clear(): void {
    this.version++;
    super.clear();
  }
}
