// Which namespaces a sync creates before its first wave, and how a missing one is explained. Argo CD's
// `CreateNamespace=true`: the app's namespace, and any namespace its objects name that Git does not define, is
// created (and never pruned: it carries no ApplySet label).
import { objectSemantics } from './annotations.ts';
import { isNamespace, refOf } from './objects.ts';
import type { K8sObject } from './types.ts';

/**
 * The namespaces to make sure exist, sorted: with `createNamespace`, the app's namespace and every namespace the
 * objects (members and hooks) name; without it, only those of objects annotated `CreateNamespace=true`. Namespaces
 * that Git defines as objects are left to the apply.
 */
export function namespacesToCreate(
  objects: readonly K8sObject[],
  options: { appNamespace: string; createNamespace: boolean },
): string[] {
  const defined = new Set(objects.filter((o) => isNamespace(refOf(o))).map((o) => o.metadata.name));
  const wanted = new Set<string>();
  if (options.createNamespace) wanted.add(options.appNamespace);
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (ns && (options.createNamespace || objectSemantics(o).createNamespace)) wanted.add(ns);
  }
  return [...wanted].filter((ns) => !defined.has(ns)).sort();
}

/** A Namespace object as Tether creates it: nothing but the name, and no ApplySet label, so it is never pruned. */
export function namespaceObject(name: string): K8sObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** Adds how to fix it to an apiserver answer that a namespace does not exist; other messages are returned as is. */
export function explainMissingNamespace(message: string): string {
  const m = /namespaces "([^"]+)" not found/.exec(message);
  if (!m) return message;
  return `${message} (add a Namespace ${m[1]} to Git, or set createNamespace: true for the app)`;
}
