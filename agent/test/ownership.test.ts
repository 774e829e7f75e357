import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeApplySetOwner, ownerOf, releasePatch } from '../src/core/ownership.ts';
import type { K8sObject } from '../src/core/types.ts';

const cm = (labels: Record<string, string> = {}, annotations: Record<string, string> = {}): K8sObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'shared', namespace: 'web', labels, annotations },
});

test('a member of this ApplySet is ours; of another, a conflict naming its id', () => {
  assert.deepEqual(ownerOf(cm({ 'applyset.kubernetes.io/part-of': 'applyset-me-v1' }), 'applyset-me-v1'), {
    owner: 'self',
  });
  assert.deepEqual(ownerOf(cm({ 'applyset.kubernetes.io/part-of': 'applyset-them-v1' }), 'applyset-me-v1'), {
    owner: 'other',
    description: 'owned by another ApplySet (applyset-them-v1)',
    applySetId: 'applyset-them-v1',
  });
  const parent: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'tether-a',
      namespace: 'tether-system',
      annotations: { 'applyset.kubernetes.io/tooling': 'tether/v1' },
    },
  };
  assert.equal(describeApplySetOwner(parent), 'owned by the ApplySet of ConfigMap/tether-system/tether-a (tether/v1)');
});

test('Argo CD and Flux marks name the owner; a lone Helm instance label does not', () => {
  const argo = cm(
    { 'app.kubernetes.io/instance': 'guestbook' },
    { 'argocd.argoproj.io/tracking-id': 'guestbook:/ConfigMap:web/shared' },
  );
  assert.deepEqual(ownerOf(argo, 'x'), {
    owner: 'other',
    description: 'managed by Argo CD application guestbook',
    tool: 'argocd',
  });
  const argoAnnotationOnly = cm({}, { 'argocd.argoproj.io/tracking-id': 'shop:/ConfigMap:web/shared' });
  assert.deepEqual(ownerOf(argoAnnotationOnly, 'x'), {
    owner: 'other',
    description: 'managed by Argo CD application shop',
    tool: 'argocd',
  });
  const flux = cm({
    'kustomize.toolkit.fluxcd.io/name': 'apps',
    'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
  });
  assert.deepEqual(ownerOf(flux, 'x'), {
    owner: 'other',
    description: 'managed by Flux Kustomization flux-system/apps',
    tool: 'flux',
  });
  assert.deepEqual(ownerOf(cm({ 'app.kubernetes.io/instance': 'my-release' }), 'x'), { owner: 'none' });
  assert.deepEqual(ownerOf(cm({ 'kustomize.toolkit.fluxcd.io/name': 'apps' }), 'x'), { owner: 'none' });
  assert.deepEqual(ownerOf(cm(), 'x'), { owner: 'none' });
});

test('taking over: the patch removes the other tool ownership marks and keeps the Helm instance label', () => {
  const argo = cm(
    { 'app.kubernetes.io/instance': 'guestbook' },
    { 'argocd.argoproj.io/tracking-id': 'guestbook:/ConfigMap:web/shared', note: 'kept' },
  );
  assert.deepEqual(releasePatch(argo, 'argocd'), {
    metadata: { annotations: { 'argocd.argoproj.io/tracking-id': null } },
  });
  const flux = cm({
    'kustomize.toolkit.fluxcd.io/name': 'apps',
    'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
    team: 'a',
  });
  assert.deepEqual(releasePatch(flux, 'flux'), {
    metadata: {
      labels: { 'kustomize.toolkit.fluxcd.io/name': null, 'kustomize.toolkit.fluxcd.io/namespace': null },
    },
  });
  assert.equal(releasePatch(cm({ team: 'a' }), 'flux'), undefined, 'nothing to remove, no patch');
});
