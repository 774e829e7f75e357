// What the apiserver itself counts as writes: `apiserver_request_total` from its /metrics, by verb and resource,
// dry-run requests left out. A test that must prove a component wrote nothing reads it before and after, so even a
// write the component's own client did not count (or a second client) would show.
import type { LocalKube } from './kube.ts';

/** The write verbs as the apiserver labels them. */
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

/** One `apiserver_request_total` sample: its labels and its count. */
export interface RequestSample {
  labels: Record<string, string>;
  count: number;
}

/** Every `apiserver_request_total` sample the apiserver's /metrics shows now. */
export async function apiserverRequestSamples(kube: LocalKube): Promise<RequestSample[]> {
  const r = await kube.request('GET', '/metrics');
  const text = typeof r.body === 'string' ? r.body : '';
  const out: RequestSample[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]),
    );
    out.push({ labels, count: Number(line.slice(line.lastIndexOf(' ') + 1)) });
  }
  return out;
}

/** Real (not dry-run) writes the apiserver served so far, by `<verb> <resource>[/<subresource>]`. */
export async function apiserverWrites(kube: LocalKube): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const { labels, count } of await apiserverRequestSamples(kube)) {
    const verb = labels['verb'] ?? '';
    if (!WRITE_VERBS.has(verb) || labels['dry_run']) continue;
    const key = `${verb} ${labels['resource']}${labels['subresource'] ? `/${labels['subresource']}` : ''}`;
    out.set(key, (out.get(key) ?? 0) + count);
  }
  return out;
}

/** The writes between two snapshots, `<verb> <resource>=<count>`, leaving out the resources `except` names. */
export function writesBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  except: readonly string[] = [],
): string[] {
  const out: string[] = [];
  for (const [key, v] of after) {
    const d = v - (before.get(key) ?? 0);
    if (d !== 0 && !except.includes(key.split(' ')[1]!)) out.push(`${key}=${d}`);
  }
  return out.sort();
}
