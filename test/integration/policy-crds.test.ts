// The policies airlock writes are objects the API server accepts (issue 12 Acceptance): the
// Kyverno ClusterPolicy against kyverno.io/v1 of Kyverno v1.18.2's CRD, the CiliumNetworkPolicies
// against cilium.io/v2 of Cilium v1.16.15's (test/data/crds, with their sources). The schemas are
// read as the server reads them (test/helpers/crd-schema.ts), and the check can fail: a misspelled
// field, a value outside an enum, a malformed CIDR are refused.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { type CRDVersion, crdErrors, loadCRD } from '../helpers/crd-schema.ts';
import { kyvernoPolicy, parseCacheConfig } from '../../src/images/index.ts';
import { type GoMap, isGoMap, parseGoYAMLDocuments } from '../../src/goyaml/index.ts';
import { parseEgressConfig, planEgress } from '../../src/fleet/index.ts';

const crd = async (file: string): Promise<CRDVersion> =>
  loadCRD(await readFile(new URL(`../data/crds/${file}`, import.meta.url), 'utf8'));
const kyverno = await crd('kyverno.io_clusterpolicies.yaml');
const cilium = await crd('cilium.io_ciliumnetworkpolicies.yaml');

const CACHES = {
  'the issue example':
    'rules: [{upstream: docker.io, to: registry.internal/dockerhub}, {upstream: quay.io, to: registry.internal/quay}]\n',
  'ports, a bare host, IPv6 and Docker Hub aliases':
    'rules:\n  - {upstream: index.docker.io, to: "registry.internal:5000/hub"}\n  - {upstream: registry.k8s.io, to: cache.internal}\n  - {upstream: "[::1]:5001", to: registry.internal/v6}\n  - {upstream: "localhost:5000", to: registry.internal/local}\n  - {upstream: ghcr.io, to: registry.internal/ghcr}\n  - {upstream: gcr.io, to: registry.internal/gcr}\n',
};

const clone = <T>(value: T): T => structuredClone(value);
type Rule = { name: string; mutate: { foreach: Record<string, unknown>[] } } & Record<
  string,
  unknown
>;

describe('kyverno.io/v1 ClusterPolicy (Kyverno v1.18.2 CRD)', () => {
  it('the CRD is the one stored: ClusterPolicy, cluster-scoped, v1', () => {
    assert.equal(kyverno.kind, 'ClusterPolicy');
    assert.equal(kyverno.version, 'v1');
    assert.equal(kyverno.scope, 'Cluster');
  });

  for (const [name, text] of Object.entries(CACHES))
    it(`the generated policy validates: ${name}`, () => {
      const { policy } = kyvernoPolicy(parseCacheConfig(text, 'cache.yaml'), {
        name: 'image-cache',
      });
      assert.deepEqual(crdErrors(kyverno, policy), []);
    });

  const { policy } = kyvernoPolicy(parseCacheConfig(CACHES['the issue example'], 'cache.yaml'));
  const rules = (p: Record<string, unknown>): Rule[] => (p.spec as { rules: Rule[] }).rules;

  it('refuses a misspelled field (patchesJSON6902 for patchesJson6902)', () => {
    const broken = clone(policy);
    const entry = rules(broken)[0]?.mutate.foreach[0];
    assert.ok(entry);
    entry.patchesJSON6902 = entry.patchesJson6902;
    delete entry.patchesJson6902;
    assert.deepEqual(crdErrors(kyverno, broken), [
      '/spec/rules/0/mutate/foreach/0: must NOT have additional properties (patchesJSON6902)',
    ]);
  });

  it('refuses a value outside an enum, and a rule name over 63 characters', () => {
    const broken = clone(policy);
    (broken.spec as Record<string, unknown>).webhookConfiguration = { failurePolicy: 'fail' };
    const rule = rules(broken)[1];
    assert.ok(rule);
    rule.name = 'x'.repeat(64);
    const errors = crdErrors(kyverno, broken);
    assert.ok(
      errors.some((e) => e.startsWith('/spec/webhookConfiguration/failurePolicy: ')),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => e.startsWith('/spec/rules/1/name: ')),
      errors.join('\n'),
    );
  });

  it('refuses a namespace on a cluster-scoped policy and a wrong apiVersion', () => {
    const broken = clone(policy);
    (broken.metadata as Record<string, unknown>).namespace = 'kyverno';
    broken.apiVersion = 'kyverno.io/v2beta1';
    const errors = crdErrors(kyverno, broken);
    assert.ok(errors.includes('/metadata: must NOT have additional properties (namespace)'));
    assert.ok(errors.some((e) => e.startsWith('/apiVersion: ')));
  });
});

const objects = (text: string): GoMap[] =>
  parseGoYAMLDocuments(text).filter((d): d is GoMap => isGoMap(d));

const RENDERED = [
  {
    // CoreDNS as fleet init installs it: its own tenant namespace, its Service seen online.
    appliedBy: 'Kustomization/coredns/platform',
    objects: objects(`apiVersion: v1
kind: Service
metadata: {name: coredns, namespace: coredns}
spec: {selector: {k8s-app: coredns, app.kubernetes.io/instance: coredns}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hubble-relay, namespace: kube-system}
spec: {template: {spec: {containers: [{name: r, image: hubble-relay}]}}}
`),
  },
  {
    appliedBy: 'Kustomization/flux-system/flux-system',
    objects: objects(`apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec: {distribution: {version: "2.x", registry: "registry.internal:5000/fluxcd"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: apps, namespace: apps}
spec: {url: "oci://10.0.0.5:5000/acme/apps"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: operator, namespace: operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: operator}
subjects: [{kind: ServiceAccount, name: operator, namespace: operator}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: operator}
spec: {template: {spec: {serviceAccountName: operator, containers: [{name: op, image: op}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apps}
spec: {template: {spec: {containers: [{name: db, image: postgres}]}}}
`),
  },
];

describe('cilium.io/v2 CiliumNetworkPolicy (Cilium v1.16.15 CRD)', () => {
  const cache = parseCacheConfig(CACHES['the issue example'], 'cache.yaml');
  const egress = parseEgressConfig(
    `namespaces:
  apps:
    registry: true
    to:
      - {fqdn: api.example.com, ports: [443]}
      - {fqdn: "trailing.example.com."}
      - {fqdnPattern: "*.vault.internal", ports: [{port: 8200}]}
      - {cidr: 10.20.0.0/16, ports: [{port: 5432, protocol: TCP}, {port: 8000, endPort: 8100, protocol: UDP}]}
      - {cidr: "fd00:10::/32", ports: [{port: 9, protocol: SCTP}, {port: 7, protocol: ANY}]}
      - {namespace: monitoring, matchLabels: {app.kubernetes.io/name: prometheus}, ports: [9090]}
      - {namespace: databases}
      - {entity: host, ports: [{port: 10250}]}
      - {entity: remote-node}
      - {entity: cluster, ports: [{port: 8080, protocol: UDP}]}
  quiet: {kubeAPI: false}
`,
    'egress.yaml',
  );
  const { policies, dns } = planEgress(RENDERED, { cache, egress });

  it('the CRD is the one stored: CiliumNetworkPolicy, namespaced, v2', () => {
    assert.equal(cilium.kind, 'CiliumNetworkPolicy');
    assert.equal(cilium.version, 'v2');
    assert.equal(cilium.scope, 'Namespaced');
  });

  it('every generated policy validates: DNS, own namespace, API, registry FQDNs and CIDRs, every declared kind', () => {
    // kube-system and coredns (where the DNS runs) are left alone: not declared.
    assert.deepEqual(
      policies.map((p) => p.namespace),
      ['apps', 'flux-system', 'operator', 'quiet'],
    );
    assert.equal(dns.namespace, 'coredns');
    for (const p of policies) assert.deepEqual(crdErrors(cilium, p.policy), [], p.namespace);
    // The rules that need checking are there: toFQDNs, toCIDR, toEntities, ranges.
    const text = JSON.stringify(policies.map((p) => p.policy));
    for (const needle of [
      '"toFQDNs"',
      '"toCIDR"',
      '"kube-apiserver"',
      '"endPort"',
      '"matchPattern"',
      '"toEndpoints"',
      '"k8s:app.kubernetes.io/name"',
      '"remote-node"',
      '"k8s:io.kubernetes.pod.namespace":"coredns"',
    ])
      assert.ok(text.includes(needle), needle);
  });

  const apps = policies[0]?.policy;
  assert.ok(apps);
  const egressOf = (p: Record<string, unknown>): Record<string, unknown>[] =>
    (p.spec as { egress: Record<string, unknown>[] }).egress;

  it('refuses an entity Cilium does not know (the parser only allows known in-cluster ones)', () => {
    const broken = clone(policies[0]?.policy ?? {});
    egressOf(broken).push({ toEntities: ['nodes'] });
    assert.notDeepEqual(crdErrors(cilium, broken), []);
  });

  it('refuses a misspelled field (toFQDN for toFQDNs)', () => {
    const broken = clone(apps);
    const rule = egressOf(broken).find((r) => 'toFQDNs' in r);
    assert.ok(rule);
    rule.toFQDN = rule.toFQDNs;
    delete rule.toFQDNs;
    const errors = crdErrors(cilium, broken);
    assert.ok(
      errors.some((e) => e.endsWith('must NOT have additional properties (toFQDN)')),
      errors.join('\n'),
    );
  });

  it('refuses a port as a number, a lower-case protocol, a malformed CIDR, an unknown entity', () => {
    const broken = clone(apps);
    const [dns] = egressOf(broken);
    const ports = (dns?.toPorts as { ports: Record<string, unknown>[] }[])[0]?.ports;
    assert.ok(ports?.[0] && ports[1]);
    ports[0].port = 53;
    ports[1].protocol = 'tcp';
    const at = egressOf(broken).push({ toCIDR: ['10.0.0.0/33'] }, { toEntities: ['kube-api'] });
    const errors = crdErrors(cilium, broken);
    for (const wanted of [
      '/spec/egress/0/toPorts/0/ports/0/port: must be string',
      '/spec/egress/0/toPorts/0/ports/1/protocol: must be equal to one of the allowed values',
      `/spec/egress/${at - 2}/toCIDR/0: must match format "cidr"`,
      `/spec/egress/${at - 1}/toEntities/0: must be equal to one of the allowed values`,
    ])
      assert.ok(errors.includes(wanted), `${wanted} not in\n${errors.join('\n')}`);
  });

  it('refuses a policy without a selector (endpointSelector or nodeSelector is required)', () => {
    const broken = clone(apps);
    delete (broken.spec as Record<string, unknown>).endpointSelector;
    assert.notDeepEqual(crdErrors(cilium, broken), []);
  });
});
