/** True for a plain JSON-like map (an object that is not an array or null): what YAML and JSON parse a mapping to. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
