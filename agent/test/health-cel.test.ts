import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HealthContext, healthOf } from '../src/core/health.ts';
import {
  BUILT_IN_HEALTH_RULES,
  compileHealthRule,
  HealthRuleError,
  type HealthRuleSpec,
  HealthRules,
  healthRules,
} from '../src/core/health-cel.ts';
import type { HealthStatus, K8sObject } from '../src/core/types.ts';

// Custom resources in the shape their controllers write them (field names, condition types, reasons and messages
// as the projects' own API types and controllers set them), as the apiserver returns them.
type Json = Record<string, unknown>;
const cr = (apiVersion: string, kind: string, spec: Json, status?: Json, generation = 1): K8sObject => ({
  apiVersion,
  kind,
  metadata: { name: 'web', namespace: 'web', generation, uid: '00000000-0000-4000-8000-000000000001' },
  spec,
  ...(status ? { status } : {}),
});
const c = (type: string, status: 'True' | 'False', reason: string, message = '', extra: Json = {}): Json => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-12-01T10:00:00Z',
  ...extra,
});

function expectHealth(o: K8sObject, want: HealthStatus, message: string | RegExp, ctx: HealthContext = {}): void {
  const h = healthOf(o, ctx);
  assert.equal(h.status, want, h.message);
  if (typeof message === 'string') assert.equal(h.message, message);
  else assert.match(h.message, message);
}

describe('built-in CEL rules', () => {
  const rollout = (status?: Json) =>
    cr(
      'argoproj.io/v1alpha1',
      'Rollout',
      { replicas: 3, strategy: { canary: { steps: [{ setWeight: 20 }] } } },
      status,
    );

  test('Argo Rollout: no status (no controller, 0 pods) is never Healthy; phase decides once reported', () => {
    expectHealth(rollout(), 'Progressing', 'Rollout/web/web: in progress: no status yet');
    expectHealth(
      rollout({ observedGeneration: '1', phase: 'Progressing', message: 'more replicas need to be updated' }),
      'Progressing',
      'Rollout/web/web: in progress: more replicas need to be updated',
    );
    expectHealth(
      rollout({ observedGeneration: '1', phase: 'Paused', message: 'CanaryPauseStep' }),
      'Progressing',
      'Rollout/web/web: in progress: CanaryPauseStep',
    );
    expectHealth(
      rollout({ observedGeneration: '1', phase: 'Degraded', message: 'ProgressDeadlineExceeded: rollout timed out' }),
      'Degraded',
      'Rollout/web/web: failed: ProgressDeadlineExceeded: rollout timed out',
    );
    expectHealth(
      rollout({ observedGeneration: '1', phase: 'Healthy', replicas: 3, availableReplicas: 3 }),
      'Healthy',
      'Rollout/web/web: ready: Healthy',
    );
    // A stale verdict for an older generation (observedGeneration is a string in Argo Rollouts).
    expectHealth(
      rollout({ observedGeneration: '0', phase: 'Healthy', replicas: 3, availableReplicas: 3 }),
      'Progressing',
      'Rollout/web/web: in progress: Healthy',
    );
  });

  test('Argo Rollout paused by Git (spec.paused) is Suspended; paused by hand it is not', () => {
    const o = rollout({ observedGeneration: '1', phase: 'Paused' });
    (o.spec as Json).paused = true;
    expectHealth(o, 'Suspended', 'Rollout/web/web: paused', { desired: o });
    expectHealth(o, 'Progressing', 'Rollout/web/web: paused, but Git does not ask for it', { desired: rollout() });
  });

  test('cert-manager Certificate: Issuing is in progress, Ready=True healthy, a failed issuance Degraded', () => {
    const cert = (conditions: Json[]) =>
      cr('cert-manager.io/v1', 'Certificate', { secretName: 'web-tls', issuerRef: { name: 'le' } }, { conditions });
    expectHealth(
      cert([
        c('Ready', 'False', 'DoesNotExist', 'Issuing certificate as Secret does not exist', { observedGeneration: 1 }),
        c('Issuing', 'True', 'DoesNotExist', 'Issuing certificate as Secret does not exist', { observedGeneration: 1 }),
      ]),
      'Progressing',
      'Certificate/web/web: in progress: Issuing certificate as Secret does not exist',
    );
    expectHealth(
      cert([c('Ready', 'True', 'Ready', 'Certificate is up to date and has not expired', { observedGeneration: 1 })]),
      'Healthy',
      'Certificate/web/web: ready: Certificate is up to date and has not expired',
    );
    expectHealth(
      cert([
        c('Ready', 'False', 'Failed', 'The certificate request has failed to complete and will be retried', {
          observedGeneration: 1,
        }),
        c('Issuing', 'False', 'Failed', 'The certificate request has failed', { observedGeneration: 1 }),
      ]),
      'Degraded',
      /^Certificate\/web\/web: failed: The certificate request has failed to complete/,
    );
    // Ready for an older generation is not ready for this one.
    expectHealth(
      cert([c('Ready', 'True', 'Ready', 'Certificate is up to date', { observedGeneration: 0 })]),
      'Progressing',
      'Certificate/web/web: waiting: Certificate is up to date',
    );
  });

  test('cert-manager Issuer and ClusterIssuer, external-secrets ExternalSecret, KEDA ScaledObject: Ready decides', () => {
    const issuer = cr(
      'cert-manager.io/v1',
      'ClusterIssuer',
      { acme: {} },
      {
        conditions: [c('Ready', 'False', 'ErrRegisterACMEAccount', 'Failed to register ACME account: 400')],
      },
    );
    expectHealth(issuer, 'Degraded', 'ClusterIssuer/web/web: failed: Failed to register ACME account: 400');
    const es = cr(
      'external-secrets.io/v1',
      'ExternalSecret',
      { refreshInterval: '1h' },
      {
        conditions: [c('Ready', 'False', 'SecretSyncedError', 'could not get secret data from provider')],
      },
    );
    expectHealth(es, 'Degraded', 'ExternalSecret/web/web: failed: could not get secret data from provider');
    const so = cr(
      'keda.sh/v1alpha1',
      'ScaledObject',
      { scaleTargetRef: { name: 'web' } },
      {
        conditions: [
          c('Ready', 'True', 'ScaledObjectReady', 'ScaledObject is defined correctly and is ready for scaling'),
          c('Active', 'False', 'ScalerNotActive', 'Scaling is not performed because triggers are not active'),
        ],
      },
    );
    expectHealth(
      so,
      'Healthy',
      'ScaledObject/web/web: ready: ScaledObject is defined correctly and is ready for scaling',
    );
    const fresh = cr('cert-manager.io/v1', 'Issuer', { selfSigned: {} });
    expectHealth(fresh, 'Progressing', 'Issuer/web/web: waiting: no Ready condition yet');
  });

  test('Flux HelmRelease and Kustomization: Reconciling in progress, Stalled or Ready=False failed, Ready healthy', () => {
    const hr = (conditions: Json[]) =>
      cr('helm.toolkit.fluxcd.io/v2', 'HelmRelease', { chart: {} }, { observedGeneration: 1, conditions });
    expectHealth(
      hr([c('Reconciling', 'True', 'Progressing', 'Running install'), c('Ready', 'Unknown' as 'True', 'Progressing')]),
      'Progressing',
      /^HelmRelease\/web\/web: in progress/,
    );
    expectHealth(
      hr([c('Ready', 'False', 'InstallFailed', 'Helm install failed: context deadline exceeded')]),
      'Degraded',
      'HelmRelease/web/web: failed: Helm install failed: context deadline exceeded',
    );
    expectHealth(
      hr([c('Ready', 'True', 'InstallSucceeded', 'Helm install succeeded', { observedGeneration: 1 })]),
      'Healthy',
      'HelmRelease/web/web: ready: Helm install succeeded',
    );
    const ks = cr(
      'kustomize.toolkit.fluxcd.io/v1',
      'Kustomization',
      { path: './' },
      {
        observedGeneration: 1,
        conditions: [c('Stalled', 'True', 'BuildFailed', 'kustomize build failed'), c('Ready', 'False', 'BuildFailed')],
      },
    );
    // Stalled=True: kstatus's generic rule would say the same; the rule decides first and agrees.
    expectHealth(ks, 'Degraded', /^Kustomization\/web\/web: failed/);
  });

  test('Crossplane-style resources: Synced=False is Degraded, Ready and Synced is Healthy', () => {
    const bucket = (conditions: Json[]) =>
      cr('s3.aws.upbound.io/v1beta1', 'Bucket', { forProvider: { region: 'eu-west-1' } }, { conditions });
    expectHealth(
      bucket([
        c('Synced', 'False', 'ReconcileError', 'cannot get referenced ProviderConfig'),
        c('Ready', 'False', 'Creating'),
      ]),
      'Degraded',
      'Bucket/web/web: failed: cannot get referenced ProviderConfig',
    );
    expectHealth(
      bucket([c('Synced', 'True', 'ReconcileSuccess'), c('Ready', 'True', 'Available')]),
      'Healthy',
      'Bucket/web/web: ready: Available',
    );
    const claim = cr(
      'platform.crossplane.io/v1alpha1',
      'Database',
      {},
      { conditions: [c('Synced', 'True', 'ReconcileSuccess')] },
    );
    expectHealth(claim, 'Progressing', 'Database/web/web: waiting: no Ready condition yet');
  });

  test('without a rule: a status nobody reads is Unknown and says so', () => {
    const wf = cr('argoproj.io/v1alpha1', 'Workflow', {}, { phase: 'Running', progress: '0/1' });
    expectHealth(
      wf,
      'Unknown',
      'Workflow/web/web: no health rule for argoproj.io/Workflow (status has phase, progress)',
    );
  });
});

describe('user rules from the config', () => {
  const widget = (phase: string) => cr('example.com/v1', 'Widget', {}, { phase, readyReplicas: 2 });
  const user: HealthRuleSpec[] = [
    {
      group: 'example.com',
      kind: 'Widget',
      current: "status.phase == 'Running' && status.readyReplicas + 1 > 2",
      inProgress: "status.phase in ['Pending', 'Provisioning']",
      failed: "status.phase == 'Failed'",
      message: "'phase ' + status.phase",
    },
    // Overrides the built-in Ingress kind rule, for an ingress controller that never publishes an address.
    { group: 'networking.k8s.io', kind: 'Ingress', current: 'true', message: "'no address expected'" },
  ];
  const rules = healthRules(user);

  test('Flux-style expressions (top-level status) decide, in inProgress, failed, current order', () => {
    expectHealth(widget('Running'), 'Healthy', 'Widget/web/web: ready: phase Running', { rules });
    expectHealth(widget('Provisioning'), 'Progressing', 'Widget/web/web: in progress: phase Provisioning', { rules });
    expectHealth(widget('Failed'), 'Degraded', 'Widget/web/web: failed: phase Failed', { rules });
    expectHealth(widget('Odd'), 'Progressing', 'Widget/web/web: waiting: phase Odd', { rules });
    // Without the rule the same object is Unknown.
    expectHealth(widget('Running'), 'Unknown', /no health rule for example\.com\/Widget/);
  });

  test('a user rule overrides a built-in one', () => {
    const ing: K8sObject = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'api', namespace: 'web', generation: 1 },
      spec: {},
      status: { loadBalancer: {} },
    };
    expectHealth(ing, 'Progressing', 'Ingress/web/api: waiting for a load balancer address');
    expectHealth(ing, 'Healthy', 'Ingress/web/api: ready: no address expected', { rules });
  });

  test('a bad expression is an error naming the rule and the field; a non-boolean is refused', () => {
    assert.throws(
      () => healthRules([{ group: 'example.com', kind: 'Widget', current: "status.phase == 'Running' &&" }]),
      (err: unknown) =>
        err instanceof HealthRuleError &&
        /^health\[0\] \(example\.com\/Widget\): current: .+ in "status\.phase == 'Running' &&"$/.test(err.message),
    );
    assert.throws(
      () => healthRules([{ group: '', kind: 'Widget', current: 'true', failed: "'yes'" }]),
      (err: unknown) =>
        err instanceof HealthRuleError &&
        err.rule === 'health[0] (Widget)' &&
        err.field === 'failed' &&
        /^health\[0\] \(Widget\): failed: must be a bool expression, not string/.test(err.message),
    );
  });

  test('every built-in rule compiles', () => {
    for (const spec of BUILT_IN_HEALTH_RULES) compileHealthRule(spec, `${spec.group}/${spec.kind}`);
  });

  test('a lazy rule compiles when its kind is first judged; user rules compile at once', () => {
    const bad: HealthRuleSpec = { group: 'example.com', kind: 'Widget', current: "'not a bool'" };
    assert.throws(() => new HealthRules([{ spec: bad, name: 'health[0] (Widget)' }]), HealthRuleError);
    const lazy = new HealthRules([{ spec: bad, name: 'built-in rule example.com/Widget', lazy: true }]);
    assert.equal(lazy.find('example.com', 'Gadget'), undefined);
    assert.throws(() => lazy.find('example.com', 'Widget'), HealthRuleError);
    // The built-in rules are lazy, and each still compiles when asked for.
    const rules = healthRules([]);
    for (const spec of BUILT_IN_HEALTH_RULES) {
      const group = spec.group.startsWith('*.') ? `aws${spec.group.slice(1)}` : spec.group;
      assert.equal(rules.find(group, spec.kind === '*' ? 'Bucket' : spec.kind)?.spec, spec);
    }
  });
});
