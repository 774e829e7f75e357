// The app page's resource tree: nested <details> elements, so expanding a Deployment to its ReplicaSets and Pods
// works without JavaScript and with the keyboard (a <summary> is a button to assistive technology). Apps with many
// objects are grouped by kind first, with counts and how many are not healthy. Pure: returns escaped HTML.
import type { AppTree, TreeNode } from '../resource-tree.ts';
import { ago, badge, html, type SafeHtml } from '../status-page.ts';

/** Options of the tree renderer. */
export interface TreeViewOptions {
  now: Date;
  /** Above this many desired objects, the top level is grouped by kind. */
  groupAbove: number;
  /** At most this many children are listed under one object (a ReplicaSet of 500 Pods). */
  maxChildren: number;
}

/** Defaults: group above 20 objects, list at most 50 children per object. */
export function defaultTreeViewOptions(now = new Date()): TreeViewOptions {
  return { now, groupAbove: 20, maxChildren: 50 };
}

function line(n: TreeNode, now: Date): SafeHtml {
  const bad = n.health.status !== 'Healthy';
  // The health message starts with the subject, which the line already shows.
  const message = n.health.message.startsWith(`${n.subject}: `)
    ? n.health.message.slice(n.subject.length + 2)
    : n.health.message;
  return html`<span class="node"><span class="kind">${n.kind}</span> <span class="mono">${n.name}</span> ${badge(n.health.status)}${
    n.images.length > 0 ? html` <span class="mono muted">${n.images.join(', ')}</span>` : ''
  }${n.restarts !== undefined ? html` <span class="muted">${n.restarts} restart${n.restarts === 1 ? '' : 's'}</span>` : ''}${
    n.createdAt
      ? html` <span class="muted">age <time datetime="${n.createdAt}" title="${n.createdAt}">${ago(n.createdAt, now).replace(/ ago$/, '')}</time></span>`
      : ''
  }${bad ? html` <span class="msg${n.health.status === 'Degraded' ? ' bad' : ''}">${message}</span>` : ''}</span>`;
}

function item(n: TreeNode, o: TreeViewOptions): SafeHtml {
  if (n.children.length === 0)
    return html`<li data-subject="${n.subject}"><div class="leaf">${line(n, o.now)}</div></li>`;
  const shown = n.children.slice(0, o.maxChildren);
  const more = n.children.length - shown.length;
  return html`<li data-subject="${n.subject}"><details data-key="${n.subject}"><summary>${line(n, o.now)} <span class="muted">(${n.children.length})</span></summary>
<ul>${shown.map((c) => item(c, o))}${more > 0 ? html`<li class="muted">and ${more} more</li>` : ''}</ul>
</details></li>`;
}

/** The tree section's content: the objects with their descendants, grouped by kind for large apps. */
export function treeView(tree: AppTree, options: Partial<TreeViewOptions> = {}): SafeHtml {
  const o = { ...defaultTreeViewOptions(), ...options };
  const notes = html`${
    tree.complete
      ? ''
      : html`<p class="muted">Still reading the cluster: some Pods, ReplicaSets or Jobs may be missing.</p>`
  }${tree.errors.map((e) => html`<p class="error">Watch failing, showing what was last seen: ${e}</p>`)}`;
  if (tree.nodes.length === 0) return html`${notes}<p class="muted">No resources.</p>`;
  if (tree.nodes.length <= o.groupAbove) {
    return html`${notes}<ul class="tree" aria-label="Resource tree">${tree.nodes.map((n) => item(n, o))}</ul>`;
  }
  const byKind = new Map<string, TreeNode[]>();
  for (const n of tree.nodes) byKind.set(n.kind, [...(byKind.get(n.kind) ?? []), n]);
  const groups = [...byKind].map(([kind, nodes]) => {
    const unhealthy = nodes.filter((n) => n.health.status !== 'Healthy').length;
    return html`<li><details data-key="kind:${kind}"><summary><span class="kind">${kind}</span> <span class="muted">(${nodes.length}${
      unhealthy > 0 ? `, ${unhealthy} not healthy` : ''
    })</span></summary>
<ul>${nodes.map((n) => item(n, o))}</ul></details></li>`;
  });
  return html`${notes}<ul class="tree" aria-label="Resource tree, grouped by kind">${groups}</ul>`;
}
