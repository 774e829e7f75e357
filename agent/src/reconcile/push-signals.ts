import { describeError } from '../../../shared/src/errors.ts';
import type { Logger } from '../../../shared/src/log.ts';
import type { KubeClient, ResourceType } from '../core/kube-port.ts';
import { type PushRecord, pushEntry, readPushes } from '../core/push-signals.ts';
import { labelValueOf } from '../core/shards.ts';
import type { K8sObject } from '../core/types.ts';
import type { WatchHub } from './watch-hub.ts';

/** The label that selects a push-signal ConfigMap (its value: the ConfigMap's name, or a hash of a long one). */
export const PUSH_SIGNAL_LABEL = 'tether.dev/push-signals';

const CONFIGMAPS: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  resource: 'configmaps',
  namespaced: true,
  verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
};

/** Options of push signals. */
export interface PushSignalOptions {
  namespace: string;
  /** The ConfigMap's name (`<leasePrefix>-pushes`). */
  name: string;
  /** This replica's identity (its Lease holder identity). */
  identity: string;
  log: Logger;
}

/**
 * Push webhooks shared by sharded replicas through one ConfigMap: the replica GitHub's delivery reached records the
 * push there with a JSON merge patch of one data key (concurrent receivers never conflict; a newer push to the same
 * repo and branch replaces the older one, so the ConfigMap stays as small as the set of branches apps follow), and
 * every replica follows the ConfigMap through a watch hub of its own (one watch, re-listed and re-watched after an
 * apiserver restart as the hub does) and wakes the apps it holds. No replica talks to another.
 */
export class PushSignals {
  private seen: Map<string, string> | undefined;
  private onPush: (push: PushRecord) => void = () => {};

  constructor(
    private readonly kube: Pick<KubeClient, 'mergePatch' | 'apply'>,
    /** A hub selecting `PUSH_SIGNAL_LABEL` in the namespace (see pushSignalHubOptions). */
    private readonly hub: WatchHub,
    readonly options: PushSignalOptions,
  ) {}

  /** Records a push for the other replicas; throws when the ConfigMap cannot be written. */
  async record(push: Omit<PushRecord, 'by' | 'at'>): Promise<void> {
    const { namespace, name, identity } = this.options;
    const labels = { [PUSH_SIGNAL_LABEL]: labelValueOf(name) };
    // The label rides on every patch: the replicas' watches select by it, so a ConfigMap made without it (from
    // manifests, or edited by hand) would take every push and wake no replica.
    const patch = { metadata: { labels }, data: pushEntry({ ...push, at: new Date().toISOString(), by: identity }) };
    if (await this.kube.mergePatch(CONFIGMAPS, name, namespace, patch)) return;
    // Not there yet: created by server-side apply of its name and label only (no data, so a second replica's
    // creation can never take away an entry another wrote), then patched as usual.
    await this.kube.apply(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels } });
    if (!(await this.kube.mergePatch(CONFIGMAPS, name, namespace, patch)))
      throw new Error(`ConfigMap/${namespace}/${name} vanished while the push was recorded`);
  }

  /** Starts following the ConfigMap; `onPush` hears each push another replica records from now on. */
  start(onPush: (push: PushRecord) => void): void {
    this.onPush = onPush;
    const key = labelValueOf(this.options.name);
    void this.hub
      .subscribe(
        'ConfigMap',
        key,
        {
          onList: (_, items) => this.read(items.find((o) => o.metadata.name === this.options.name)),
          onEvent: (type, o) => {
            if (o.metadata.name === this.options.name) this.read(type === 'DELETED' ? undefined : o);
          },
        },
        CONFIGMAPS,
      )
      .catch((err) => this.options.log.warn('push signals not followed', { error: describeError(err) }));
  }

  /** Stops following. */
  stop(): void {
    this.hub.stop();
  }

  private read(o: K8sObject | undefined): void {
    const data = (o as { data?: Record<string, string> } | undefined)?.data;
    const reading = readPushes(this.seen, data, this.options.identity);
    this.seen = reading.seen;
    for (const push of reading.wake) {
      try {
        this.onPush(push);
      } catch (err) {
        this.options.log.warn('a signalled push was not handled', { repo: push.repo, error: describeError(err) });
      }
    }
  }
}

/** The options of the watch hub that follows the push-signal ConfigMap `name` in `namespace`. */
export function pushSignalHubOptions(namespace: string, name: string) {
  return {
    labelSelector: `${PUSH_SIGNAL_LABEL}=${labelValueOf(name)}`,
    groupLabel: PUSH_SIGNAL_LABEL,
    namespace,
  };
}
