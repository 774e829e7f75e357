// Where a YAML value is read. With anchors, aliases and merge keys (`<<`) one scalar can be the value of many keys:
// `web.tag: &t 1.0` and `api.tag: *t` are one node read at two places. Editing it changes every place, so the
// planner asks for all of them before it edits a shared value.
import { type Document, isAlias, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { PathSegment } from './yaml-path.ts';

/** One place a value is read: a key of a map (own or merged) or an index of a list. */
export interface Place {
  /** The map or list whose entry reads the value. */
  parent: Node;
  key: PathSegment;
  /** YAML path of the entry, as written in the file (the path of `parent`, then `key`). */
  path: PathSegment[];
  /** True where the value is written (its anchor, or an unaliased value); false through an alias or a merge. */
  direct: boolean;
}

/** The text of a scalar map key, or undefined for complex and merge keys. */
export function keyOf(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  const v = key.value;
  return typeof v === 'symbol' ? undefined : String(v);
}

/** True for a `<<` merge key. */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<');
}

/** The maps a map merges with `<<`, aliases resolved, in precedence order. */
export function mergedMaps(map: YAMLMap, doc: Document.Parsed): YAMLMap[] {
  const out: YAMLMap[] = [];
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const targets = isSeq(pair.value) ? pair.value.items : [pair.value];
    for (const t of targets) {
      const m = isAlias(t) ? t.resolve(doc) : t;
      if (isMap(m)) out.push(m);
    }
  }
  return out;
}

/**
 * Looks a key up in a map, then in the maps it merges with `<<` (as go-yaml does: own keys win, then the merged maps
 * in order), returning the pair and the map that holds it.
 */
export function lookupOwned(
  map: YAMLMap,
  key: string,
  doc: Document.Parsed,
  depth = 0,
): { pair: Pair; owner: YAMLMap } | undefined {
  let merges = false;
  for (const pair of map.items) {
    if (isMergeKey(pair.key)) merges = true;
    else if (keyOf(pair.key) === key) return { pair, owner: map };
  }
  if (!merges || depth > 8) return undefined;
  for (const m of mergedMaps(map, doc)) {
    const found = lookupOwned(m, key, doc, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Every place each node of a document is read, and the maps that merge each map (directly or through others). */
export interface ValueReaders {
  places: Map<Node, Place[]>;
  mergedInto: Map<YAMLMap, YAMLMap[]>;
}

/** Indexes a document's readers. One walk; aliases are not followed, so the cost is linear in the written nodes. */
export function valueReaders(doc: Document.Parsed): ValueReaders {
  const places = new Map<Node, Place[]>();
  const mergedInto = new Map<YAMLMap, YAMLMap[]>();
  const add = (value: unknown, place: Place) => {
    const target = isAlias(value) ? value.resolve(doc) : value;
    if (!target || typeof target !== 'object') return;
    const list = places.get(target as Node);
    if (list) list.push(place);
    else places.set(target as Node, [place]);
  };
  const walk = (node: unknown, path: PathSegment[]) => {
    if (isMap(node)) {
      const own = new Set<string>();
      let merges = false;
      for (const pair of node.items) {
        if (isMergeKey(pair.key)) {
          merges = true;
          continue;
        }
        const k = keyOf(pair.key);
        if (k === undefined) continue;
        own.add(k);
        add(pair.value, { parent: node, key: k, path: [...path, k], direct: !isAlias(pair.value) });
        if (!isAlias(pair.value)) walk(pair.value, [...path, k]);
      }
      if (merges) {
        const seen = new Set<YAMLMap>();
        const visitMerged = (m: YAMLMap, depth: number) => {
          if (seen.has(m) || depth > 8) return;
          seen.add(m);
          mergedInto.set(m, [...(mergedInto.get(m) ?? []), node]);
          for (const pair of m.items) {
            const k = keyOf(pair.key);
            if (k === undefined || own.has(k)) continue;
            // Only where this map's lookup lands on that pair (an earlier merge or an own key may win).
            if (lookupOwned(node, k, doc)?.pair === pair)
              add(pair.value, { parent: node, key: k, path: [...path, k], direct: false });
          }
          for (const inner of mergedMaps(m, doc)) visitMerged(inner, depth + 1);
        };
        for (const m of mergedMaps(node, doc)) visitMerged(m, 0);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        add(item, { parent: node, key: i, path: [...path, i], direct: !isAlias(item) });
        if (!isAlias(item)) walk(item, [...path, i]);
      });
    }
  };
  walk(doc.contents, []);
  return { places, mergedInto };
}
