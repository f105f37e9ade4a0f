import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { celParseError, checkRender, type FleetRender, readObjects } from './index.ts';

// The pure half of fleet check: CEL parsed as Flux parses it, and the rules on a rendered set.

const render = (yaml: string): FleetRender => {
  const objects = readObjects(yaml);
  return {
    cluster: 'dev',
    groups: [{ appliedBy: 'Kustomization/flux-system/flux-system', objects }],
    unresolved: [],
    objects: objects.length,
    sources: [],
    toolMs: 0,
  };
};

describe('celParseError: CEL as Flux parses it', () => {
  it('accepts macros, the extensions and the optional syntax; refuses broken expressions', () => {
    for (const ok of [
      "status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
      "'a,b'.split(',').size() == 2",
      'sets.contains([1, 2], [1])',
      "base64.encode(b'x') != ''",
      'status.?observedGeneration.orValue(0) >= 0',
      '[?a.?b, 1].size() > 0',
      "{?'k': a.?b}.size() >= 0",
      "a[?'x'].hasValue() ? 1 : 2",
      "'what?.' == 'x' // a comment?.",
    ])
      assert.equal(celParseError(ok), undefined, ok);
    for (const bad of ['status.conditions.filter(', 'a ==', '', 'a ? b', "'unterminated"])
      assert.notEqual(celParseError(bad), undefined, bad);
  });
});

describe('checkRender', () => {
  it('keyless identities need issuer and subject; the sync pull secret counts as present', () => {
    const findings = checkRender(
      render(`
apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: "2.x", registry: r.internal/fluxcd}
  sync: {kind: OCIRepository, url: oci://r.internal/fleet, path: clusters/dev, pullSecret: registry-auth}
---
apiVersion: v1
kind: Secret
metadata:
  name: registry-auth
  namespace: apps
  annotations: {fluxcd.controlplane.io/copyFrom: flux-system/registry-auth}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: keyless, namespace: apps}
spec:
  url: oci://r.internal/apps
  interval: 5m
  verify:
    provider: cosign
    matchOIDCIdentity:
      - issuer: "^https://token.actions.githubusercontent.com$"
`),
    );
    assert.deepEqual(
      findings.map((f) => [f.severity, f.rule, f.object, f.field]),
      [
        [
          'error',
          'verify-missing',
          'OCIRepository/apps/keyless',
          'spec.verify.matchOIDCIdentity[0].subject',
        ],
      ],
    );
  });

  it('a CRD dependency not rendered is a warning; a self-dependency is a cycle', () => {
    const findings = checkRender(
      render(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps, namespace: flux-system}
spec:
  dependsOn:
    - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: helmreleases.helm.toolkit.fluxcd.io}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: self, namespace: flux-system}
spec:
  interval: 10m
  prune: true
  sourceRef: {kind: OCIRepository, name: flux-system}
  dependsOn: [{name: self}]
`),
    );
    assert.deepEqual(
      findings.map((f) => [f.severity, f.rule, f.object, f.field]),
      [
        ['warning', 'depends-on-missing', 'ResourceSet/flux-system/apps', 'spec.dependsOn[0]'],
        ['error', 'depends-on-cycle', 'Kustomization/flux-system/self', 'spec.dependsOn[0]'],
      ],
    );
  });

  it('escapes control characters in what it reports', () => {
    const findings = checkRender(
      render(`
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: "a\\nb", namespace: apps}
spec: {url: oci://r/x}
`),
    );
    assert.equal(findings[0]?.object, 'OCIRepository/apps/a\\nb');
  });
});
