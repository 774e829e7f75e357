// The alias-expansion limit both YAML readers share (yaml-file.ts for editing, yaml-safe.ts for manifests), in a
// module of its own: the agent's parse worker loads yaml-safe.ts and must not load the editor's YAML library with it.

/** Limits that keep hostile input from exhausting memory. */
export interface ParseLimits {
  /** A document whose aliases would expand to more nodes than this is refused (billion laughs). */
  maxExpandedNodes: number;
}

/** The defaults: generous for real manifests (anchors reused a few hundred times), fatal for alias bombs. */
export function defaultParseLimits(): ParseLimits {
  return { maxExpandedNodes: 1_000_000 };
}
