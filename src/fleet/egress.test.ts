// policy cilium (issue 12 §4), the pure part: which namespaces get a CiliumNetworkPolicy and
// which destinations each allows, from rendered objects; and egress.yaml, whose parser and
// docs/egress.schema.json agree, with every problem at file:line:col.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYAML } from 'yaml';
import { AirlockError } from '../errors.ts';
import { type GoMap, isGoMap, parseGoYAMLDocuments } from '../goyaml/index.ts';
import { parseCacheConfig } from '../images/index.ts';
import { tempDir } from '../../test/harness/tools.ts';
import {
  checkIsolation,
  type EgressPlan,
  type EgressPolicy,
  egressPoliciesYAML,
  type FleetRenderGroup,
  parseEgressConfig,
  planEgress,
  writeEgressPolicies,
} from './index.ts';

const objects = (text: string): GoMap[] =>
  parseGoYAMLDocuments(text).filter((d): d is GoMap => isGoMap(d));

const group = (appliedBy: string, text: string): FleetRenderGroup => ({
  appliedBy,
  objects: objects(text),
});

const cache = parseCacheConfig(
  'rules:\n  - {upstream: docker.io, to: registry.internal/dockerhub}\n  - {upstream: quay.io, to: "registry.internal:5000/quay"}\n',
  'cache.yaml',
);

const PLATFORM = group(
  'Kustomization/flux-system/platform',
  `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: "2.x", registry: "registry.internal/fluxcd"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: apps, namespace: apps}
spec: {url: "oci://10.0.0.5:5000/acme/apps", ref: {tag: latest}}
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
spec:
  template:
    spec:
      serviceAccountName: operator
      containers: [{name: op, image: quay.io/acme/op:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  template:
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reports, namespace: batch}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reports}
subjects: [{kind: ServiceAccount, name: default}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: batch}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          automountServiceAccountToken: false
          containers: [{name: r, image: busybox}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: quiet}
data: {a: b}
`,
);

/** A chart rendered by helm: objects without a namespace land in the release's targetNamespace. */
const RELEASE = group(
  'HelmRelease/flux-system/metrics',
  `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: exporter}
spec:
  template:
    spec:
      serviceAccountName: exporter
      containers: [{name: e, image: quay.io/prometheus/node-exporter:v1.8.2}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: all-accounts, namespace: monitoring}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read}
subjects: [{kind: Group, name: "system:serviceaccounts:monitoring", apiGroup: rbac.authorization.k8s.io}]
`,
);
const RELEASE_OBJECT = group(
  'Kustomization/flux-system/infra',
  `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: metrics, namespace: flux-system}
spec: {targetNamespace: monitoring, chart: {spec: {chart: exporter}}}
`,
);

const fullPlan = (options: Parameters<typeof planEgress>[1] = { cache }): EgressPlan =>
  planEgress([PLATFORM, RELEASE_OBJECT, RELEASE], options);
const plan = (options: Parameters<typeof planEgress>[1] = { cache }): readonly EgressPolicy[] =>
  fullPlan(options).policies;
const policyOf = (policies: readonly EgressPolicy[], namespace: string): EgressPolicy => {
  const found = policies.find((p) => p.namespace === namespace);
  assert.ok(found, `no policy for ${namespace}: ${policies.map((p) => p.namespace).join(', ')}`);
  return found;
};
const egress = (p: EgressPolicy): unknown[] => (p.policy.spec as { egress: unknown[] }).egress;

/** The rule that lets the pods of a namespace reach each other (a backend and its redis). */
const OWN = (namespace: string): unknown => ({
  toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': namespace } }],
});

const DNS = {
  toEndpoints: [
    {
      matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' },
    },
  ],
  toPorts: [
    {
      ports: [
        { port: '53', protocol: 'UDP' },
        { port: '53', protocol: 'TCP' },
      ],
      rules: { dns: [{ matchPattern: '*' }] },
    },
  ],
};

describe('planEgress: one policy per namespace with workloads', () => {
  it('covers the namespaces that run workloads or hold the FluxInstance, sorted, and no others', () => {
    const policies = plan();
    assert.deepEqual(
      policies.map((p) => p.namespace),
      ['apps', 'batch', 'flux-system', 'monitoring', 'operator'],
    );
    assert.deepEqual(policyOf(policies, 'apps').workloads, ['Deployment/apps/web']);
    assert.deepEqual(policyOf(policies, 'monitoring').workloads, ['DaemonSet/monitoring/exporter']);
  });

  it('every policy selects the whole namespace and allows DNS with the visibility rule first', () => {
    for (const p of plan()) {
      assert.equal(p.policy.apiVersion, 'cilium.io/v2');
      assert.equal(p.policy.kind, 'CiliumNetworkPolicy');
      assert.deepEqual((p.policy.metadata as { namespace: string }).namespace, p.namespace);
      assert.deepEqual((p.policy.spec as { endpointSelector: unknown }).endpointSelector, {});
      assert.deepEqual(egress(p)[0], DNS);
    }
  });

  it('every policy lets the pods of its own namespace reach each other, second after DNS', () => {
    for (const p of plan()) assert.deepEqual(egress(p)[1], OWN(p.namespace), p.namespace);
  });

  it('a workload without a bound ServiceAccount gets DNS and its own namespace only', () => {
    const apps = policyOf(plan(), 'apps');
    assert.deepEqual(egress(apps), [DNS, OWN('apps')]);
    assert.equal(apps.kubeAPI.allowed, false);
    assert.equal(apps.registry.allowed, false);
    assert.match(apps.registry.reason, /kubelet/);
  });

  it('the Kubernetes API where a ClusterRoleBinding binds the ServiceAccount a workload runs as', () => {
    const operator = policyOf(plan(), 'operator');
    assert.equal(operator.kubeAPI.allowed, true);
    assert.equal(
      operator.kubeAPI.reason,
      'ServiceAccount operator/operator (Deployment/operator/operator) is bound by ClusterRoleBinding/operator',
    );
    assert.deepEqual(egress(operator), [DNS, OWN('operator'), { toEntities: ['kube-apiserver'] }]);
  });

  it('a group subject (system:serviceaccounts:NS) binds every account of the namespace', () => {
    assert.match(
      policyOf(plan(), 'monitoring').kubeAPI.reason,
      /RoleBinding\/monitoring\/all-accounts/,
    );
  });

  it('no API when the pod does not mount its token, even with a binding', () => {
    const batch = policyOf(plan(), 'batch');
    assert.equal(batch.kubeAPI.allowed, false);
    assert.equal(batch.kubeAPI.reason, 'no workload mounts a ServiceAccount token');
  });

  it('the FluxInstance namespace reaches the API and every registry host the fleet names', () => {
    const flux = policyOf(plan(), 'flux-system');
    assert.equal(flux.kubeAPI.allowed, true);
    assert.equal(flux.registry.allowed, true);
    assert.deepEqual(flux.registry.hosts, [
      '10.0.0.5:5000',
      'registry.internal',
      'registry.internal:5000',
    ]);
    assert.deepEqual(egress(flux).slice(2), [
      { toEntities: ['kube-apiserver'] },
      {
        toFQDNs: [{ matchName: 'registry.internal' }],
        toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
      },
      {
        toFQDNs: [{ matchName: 'registry.internal' }],
        toPorts: [{ ports: [{ port: '5000', protocol: 'TCP' }] }],
      },
      { toCIDR: ['10.0.0.5/32'], toPorts: [{ ports: [{ port: '5000', protocol: 'TCP' }] }] },
    ]);
  });

  it('egress.yaml adds destinations, overrides the heuristics and adds namespaces the render misses', () => {
    const declared = parseEgressConfig(
      `namespaces:
  apps:
    registry: true
    to:
      - fqdn: api.example.com
        ports: [443]
      - fqdnPattern: "*.vault.internal"
      - cidr: 10.20.0.0/16
        ports: [{port: 5432}, {port: 8000, endPort: 8100, protocol: UDP}]
  flux-system:
    kubeAPI: false
  tenant-b: {}
`,
      'egress.yaml',
    );
    const policies = plan({ cache, egress: declared, policyName: 'egress' });
    const apps = policyOf(policies, 'apps');
    assert.equal(apps.registry.reason, 'registry: true in egress.yaml (egress.yaml:2:3)');
    assert.deepEqual(egress(apps).slice(-3), [
      {
        toFQDNs: [{ matchName: 'api.example.com' }],
        toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
      },
      { toFQDNs: [{ matchPattern: '*.vault.internal' }] },
      {
        toCIDR: ['10.20.0.0/16'],
        toPorts: [
          {
            ports: [
              { port: '5432', protocol: 'TCP' },
              { port: '8000', protocol: 'UDP', endPort: 8100 },
            ],
          },
        ],
      },
    ]);
    assert.equal(policyOf(policies, 'flux-system').kubeAPI.allowed, false);
    const tenant = policyOf(policies, 'tenant-b');
    assert.deepEqual(tenant.workloads, []);
    assert.deepEqual(tenant.because, ['declared in egress.yaml (egress.yaml:12:3)']);
    assert.equal((tenant.policy.metadata as { name: string }).name, 'egress');
  });

  it('is deterministic, and the YAML stream is the objects', () => {
    const first = egressPoliciesYAML({ cluster: 'dev', ...fullPlan(), unresolved: [] });
    assert.equal(first, egressPoliciesYAML({ cluster: 'dev', ...fullPlan(), unresolved: [] }));
    const decoded = first
      .split(/^---\n/m)
      .filter((d) => d.trim() !== '')
      .map((d) => parseYAML(d) as unknown);
    assert.deepEqual(
      decoded,
      plan().map((p) => p.policy),
    );
    assert.match(
      first,
      /^---\n# CiliumNetworkPolicy generated by airlock policy cilium\n# apps: 1 workload\n# Kubernetes API: denied: /,
    );
  });

  it('refuses a policy name that is not a DNS subdomain (INPUT_INVALID, option policyName)', () => {
    assert.throws(
      () => plan({ policyName: 'Not_A_Name' }),
      (e: unknown) =>
        e instanceof AirlockError && e.code === 'INPUT_INVALID' && e.data.option === 'policyName',
    );
  });
});

describe('planEgress: in-cluster destinations from egress.yaml', () => {
  it('another namespace (all its pods, or those with matchLabels) and entities, with ports', () => {
    const declared = parseEgressConfig(
      `namespaces:
  apps:
    to:
      - namespace: monitoring
        matchLabels: {app.kubernetes.io/name: prometheus, tier: "1"}
        ports: [9090]
      - namespace: databases
      - entity: host
        ports: [{port: 10250}]
      - entity: remote-node
`,
      'egress.yaml',
    );
    const apps = policyOf(plan({ cache, egress: declared }), 'apps');
    assert.deepEqual(egress(apps).slice(-4), [
      {
        toEndpoints: [
          {
            matchLabels: {
              'k8s:io.kubernetes.pod.namespace': 'monitoring',
              'k8s:app.kubernetes.io/name': 'prometheus',
              'k8s:tier': '1',
            },
          },
        ],
        toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }],
      },
      { toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'databases' } }] },
      { toEntities: ['host'], toPorts: [{ ports: [{ port: '10250', protocol: 'TCP' }] }] },
      { toEntities: ['remote-node'] },
    ]);
  });
});

/** What `fleet init` renders offline for the network phase: CoreDNS in its own tenant namespace. */
const COREDNS_TENANT = group(
  'ResourceSet/flux-system/network',
  `apiVersion: v1
kind: Namespace
metadata: {name: coredns, labels: {toolkit.fluxcd.io/role: tenant}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: platform, namespace: coredns}
spec: {targetNamespace: coredns, path: ./dev, sourceRef: {kind: OCIRepository, name: platform}}
`,
);
const KUBE_SYSTEM = group(
  'Kustomization/flux-system/system',
  `apiVersion: apps/v1
kind: Deployment
metadata: {name: hubble-relay, namespace: kube-system}
spec: {template: {spec: {containers: [{name: r, image: quay.io/cilium/hubble-relay}]}}}
`,
);
const dnsRuleOf = (p: EgressPolicy): unknown => egress(p)[0];
const dnsTo = (labels: Record<string, string>): unknown => ({
  ...DNS,
  toEndpoints: [{ matchLabels: labels }],
});

describe('planEgress: where DNS goes', () => {
  it('by default to k8s-app: kube-dns in kube-system, and says so', () => {
    const { dns, policies } = fullPlan();
    assert.deepEqual(dns.namespace, 'kube-system');
    assert.deepEqual(dns.matchLabels, { 'k8s-app': 'kube-dns' });
    assert.match(dns.reason, /default/);
    for (const p of policies) assert.deepEqual(p.dns, dns);
  });

  it("fleet init's fleet: CoreDNS in the coredns tenant namespace, every pod of it, port 53", () => {
    const { dns, policies } = planEgress([PLATFORM, COREDNS_TENANT], { cache });
    assert.equal(dns.namespace, 'coredns');
    assert.match(dns.reason, /^Namespace\/coredns /);
    for (const p of policies)
      assert.deepEqual(
        dnsRuleOf(p),
        dnsTo({ 'k8s:io.kubernetes.pod.namespace': 'coredns' }),
        p.namespace,
      );
  });

  it('a Service named kube-dns or coredns (or labelled k8s-app: kube-dns): its namespace and selector', () => {
    const dnsService = group(
      'HelmRelease/flux-system/coredns',
      `apiVersion: v1
kind: Service
metadata: {name: coredns-coredns, labels: {k8s-app: kube-dns}}
spec: {selector: {k8s-app: coredns, app.kubernetes.io/instance: coredns}, ports: [{port: 53}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: elsewhere}
spec: {selector: {matchLabels: {app: other}}, template: {spec: {containers: [{name: c, image: coredns}]}}}
`,
    );
    const release = group(
      'Kustomization/flux-system/network',
      `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: coredns, namespace: flux-system}
spec: {targetNamespace: dns-system, chart: {spec: {chart: coredns}}}
`,
    );
    const { dns, policies, skipped } = planEgress([PLATFORM, release, dnsService, COREDNS_TENANT], {
      cache,
    });
    // The Service wins over the Deployment, the Namespace and the HelmRelease.
    assert.equal(dns.namespace, 'dns-system');
    assert.deepEqual(dns.matchLabels, {
      'app.kubernetes.io/instance': 'coredns',
      'k8s-app': 'coredns',
    });
    assert.deepEqual(
      dnsRuleOf(policyOf(policies, 'apps')),
      dnsTo({
        'k8s:io.kubernetes.pod.namespace': 'dns-system',
        'k8s:app.kubernetes.io/instance': 'coredns',
        'k8s:k8s-app': 'coredns',
      }),
    );
    assert.ok(!skipped.some((k) => k.namespace === 'elsewhere'));
  });

  it('a Deployment named coredns when no Service shows: its matchLabels', () => {
    const deployment = group(
      'Kustomization/flux-system/dns',
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: dns}
spec: {selector: {matchLabels: {app: coredns}}, template: {spec: {containers: [{name: c, image: coredns}]}}}
`,
    );
    const { dns } = planEgress([PLATFORM, deployment], { cache });
    assert.deepEqual(dns, {
      namespace: 'dns',
      matchLabels: { app: 'coredns' },
      reason: 'Deployment/dns/coredns runs the cluster DNS: its matchLabels',
    });
  });

  it('egress.yaml dns overrides what the render shows', () => {
    const declared = parseEgressConfig(
      'dns:\n  namespace: resolvers\n  matchLabels: {app: unbound}\nnamespaces: {}\n',
      'egress.yaml',
    );
    const { dns, policies } = planEgress([PLATFORM, COREDNS_TENANT], { cache, egress: declared });
    assert.equal(dns.reason, 'dns in egress.yaml (egress.yaml:2:3)');
    assert.deepEqual(
      dnsRuleOf(policyOf(policies, 'apps')),
      dnsTo({ 'k8s:io.kubernetes.pod.namespace': 'resolvers', 'k8s:app': 'unbound' }),
    );
  });
});

describe('planEgress: system namespaces', () => {
  it('kube-system gets no policy unless egress.yaml declares it, and is listed as skipped', () => {
    const { policies, skipped } = planEgress([PLATFORM, KUBE_SYSTEM], { cache });
    assert.ok(!policies.some((p) => p.namespace === 'kube-system'));
    assert.deepEqual(
      skipped.map((k) => [k.namespace, k.workloads]),
      [['kube-system', ['Deployment/kube-system/hubble-relay']]],
    );
    const declared = parseEgressConfig(
      'namespaces:\n  kube-system: {kubeAPI: true}\n',
      'egress.yaml',
    );
    const closed = planEgress([PLATFORM, KUBE_SYSTEM], { cache, egress: declared });
    assert.equal(policyOf(closed.policies, 'kube-system').kubeAPI.allowed, true);
    assert.deepEqual(closed.skipped, []);
  });

  it('nor does the namespace the cluster DNS runs in (CoreDNS needs its upstream resolvers)', () => {
    const coredns = group(
      'Kustomization/coredns/platform',
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: coredns}
spec: {selector: {matchLabels: {k8s-app: coredns}}, template: {spec: {containers: [{name: c, image: coredns}]}}}
`,
    );
    const { policies, skipped, dns } = planEgress([PLATFORM, COREDNS_TENANT, coredns], { cache });
    assert.deepEqual(dns.matchLabels, { 'k8s-app': 'coredns' });
    assert.ok(!policies.some((p) => p.namespace === 'coredns'));
    assert.deepEqual(
      skipped.map((k) => k.namespace),
      ['coredns'],
    );
  });

  it('what policy cilium writes satisfies fleet check --cache (egress-policy-missing) for every namespace it covers', async () => {
    const groups = [PLATFORM, RELEASE_OBJECT, RELEASE, KUBE_SYSTEM];
    const { policies, skipped } = planEgress(groups, { cache });
    const written = group(
      'Kustomization/flux-system/egress',
      egressPoliciesYAML({
        cluster: 'dev',
        policies,
        skipped,
        dns: policies[0]!.dns,
        unresolved: [],
      }),
    );
    const missing = (await checkIsolation([...groups, written], { cache }))
      .filter((f) => f.rule === 'egress-policy-missing')
      .map((f) => f.object);
    const covered = new Set(policies.map((p) => p.namespace));
    assert.ok(covered.size > 0);
    for (const object of missing) assert.ok(!covered.has(object.split('/')[1] ?? ''), object);
    // Before the policies, every covered namespace with workloads was missing one.
    const before = (await checkIsolation(groups, { cache })).filter(
      (f) => f.rule === 'egress-policy-missing',
    );
    assert.ok(before.length > missing.length);
  });
});

describe('planEgress: namespaces become file names', () => {
  const escaping = group(
    'HelmRelease/flux-system/remote',
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ../../escaped}
spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}
`,
  );

  it('a namespace that is not a DNS-1123 label is INPUT_INVALID, naming the object', () => {
    assert.throws(
      () => planEgress([PLATFORM, escaping], { cache }),
      (e: unknown) =>
        e instanceof AirlockError &&
        e.code === 'INPUT_INVALID' &&
        e.message.startsWith('Deployment/../../escaped/web: '),
    );
  });

  it('a release target namespace that is not one is refused too', () => {
    const release = group(
      'Kustomization/flux-system/apps',
      `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: remote, namespace: flux-system}
spec: {targetNamespace: "/etc", chart: {spec: {chart: x}}}
`,
    );
    const chart = group(
      'HelmRelease/flux-system/remote',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n',
    );
    assert.throws(
      () => planEgress([release, chart], { cache }),
      (e: unknown) => e instanceof AirlockError && e.code === 'INPUT_INVALID',
    );
  });

  it('writeEgressPolicies refuses a result whose namespace leaves the directory, writing nothing', async () => {
    const dir = await tempDir('airlock-egress-write-');
    try {
      const good = plan()[0]!;
      const out = join(dir.path, 'out', 'policies');
      await mkdir(join(dir.path, 'out'), { recursive: true });
      const result = {
        cluster: 'dev',
        policies: [good, { ...good, namespace: '../../escaped' }],
        skipped: [],
        dns: good.dns,
        unresolved: [],
      };
      await assert.rejects(
        writeEgressPolicies(result, out),
        (e: unknown) => e instanceof AirlockError && e.code === 'INPUT_INVALID',
      );
      assert.deepEqual(await readdir(dir.path), ['out']);
      assert.deepEqual(await readdir(join(dir.path, 'out')), []);
    } finally {
      await dir.remove();
    }
  });
});

// ------------------------------------------------------------------------------- egress.yaml

const SCHEMA = new URL('../../docs/egress.schema.json', import.meta.url);
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  JSON.parse(await readFile(SCHEMA, 'utf8')) as object,
);
const schemaAccepts = (text: string): boolean =>
  validate(parseYAML(text, { uniqueKeys: false }) as unknown);

/** The CONFIG_INVALID problems, or [] when the parser accepts the text. */
function problems(text: string): string[] {
  try {
    parseEgressConfig(text, 'egress.yaml');
    return [];
  } catch (error) {
    assert.ok(error instanceof AirlockError);
    assert.equal(error.code, 'CONFIG_INVALID', error.message);
    const list = error.details.length > 0 ? [...error.details] : [error.message];
    for (const line of list) assert.match(line, /^egress\.yaml:\d+:\d+: /);
    return list;
  }
}

const GOOD: Record<string, string> = {
  'an empty namespace map': 'namespaces: {}\n',
  'flags only': 'namespaces:\n  kyverno: {kubeAPI: true, registry: true}\n',
  'every destination kind':
    'namespaces:\n  a:\n    to:\n      - {fqdn: x.example.com, ports: [443]}\n      - {fqdn: "x.example.com."}\n      - {fqdnPattern: "*.example.com", ports: [{port: 80, protocol: ANY}]}\n      - {cidr: 192.168.0.0/16}\n      - {cidr: "fd00:10::/32", ports: [{port: 1000, endPort: 2000, protocol: SCTP}]}\n      - {namespace: monitoring}\n      - {namespace: db, matchLabels: {app: postgres, example.com/role: primary, empty: ""}, ports: [5432]}\n      - {entity: cluster}\n      - {entity: host, ports: [{port: 10250}]}\n',
  'every in-cluster entity':
    'namespaces:\n  a:\n    to: [{entity: cluster}, {entity: host}, {entity: remote-node}, {entity: health}, {entity: ingress}, {entity: init}, {entity: unmanaged}]\n',
  'a dns namespace': 'dns: {namespace: coredns}\nnamespaces: {}\n',
  'a dns namespace and labels':
    'dns:\n  namespace: kube-system\n  matchLabels: {k8s-app: kube-dns}\nnamespaces: {}\n',
};

const BAD: Record<string, string> = {
  'not a mapping': '- a\n',
  'namespaces missing': 'other: 1\n',
  'an unknown top-level field': 'namespaces: {}\nclusters: {}\n',
  'namespaces a list': 'namespaces: [a]\n',
  'a namespace name with upper case': 'namespaces:\n  Apps: {}\n',
  'a namespace not a mapping': 'namespaces:\n  apps: true\n',
  'an unknown namespace field': 'namespaces:\n  apps: {egress: []}\n',
  'kubeAPI not a boolean': 'namespaces:\n  apps: {kubeAPI: "yes"}\n',
  'to not a list': 'namespaces:\n  apps: {to: {fqdn: a.b}}\n',
  'a destination with nothing': 'namespaces:\n  apps: {to: [{ports: [443]}]}\n',
  'a destination with two kinds': 'namespaces:\n  apps: {to: [{fqdn: a.b, cidr: 10.0.0.0/8}]}\n',
  'an unknown destination field': 'namespaces:\n  apps: {to: [{fqdn: a.b, port: 443}]}\n',
  'an fqdn with a space': 'namespaces:\n  apps: {to: [{fqdn: "a b.com"}]}\n',
  'an fqdn with a wildcard': 'namespaces:\n  apps: {to: [{fqdn: "*.b.com"}]}\n',
  'a cidr without a prefix': 'namespaces:\n  apps: {to: [{cidr: 10.0.0.1}]}\n',
  'a port zero': 'namespaces:\n  apps: {to: [{fqdn: a.b, ports: [0]}]}\n',
  'a port as a string': 'namespaces:\n  apps: {to: [{fqdn: a.b, ports: ["443"]}]}\n',
  'ports empty': 'namespaces:\n  apps: {to: [{fqdn: a.b, ports: []}]}\n',
  'a bad protocol': 'namespaces:\n  apps: {to: [{fqdn: a.b, ports: [{port: 1, protocol: tcp}]}]}\n',
  'a port object without port':
    'namespaces:\n  apps: {to: [{fqdn: a.b, ports: [{protocol: UDP}]}]}\n',
  'the world entity': 'namespaces:\n  apps: {to: [{entity: world}]}\n',
  'the all entity': 'namespaces:\n  apps: {to: [{entity: all, ports: [443]}]}\n',
  'the kube-apiserver entity (kubeAPI says that)':
    'namespaces:\n  apps: {to: [{entity: kube-apiserver}]}\n',
  'an unknown entity': 'namespaces:\n  apps: {to: [{entity: nodes}]}\n',
  'a namespace and an entity in one entry':
    'namespaces:\n  apps: {to: [{namespace: db, entity: host}]}\n',
  'a destination namespace that is not a DNS label':
    'namespaces:\n  apps: {to: [{namespace: ../escaped}]}\n',
  'matchLabels without namespace':
    'namespaces:\n  apps: {to: [{fqdn: a.b, matchLabels: {app: x}}]}\n',
  'empty matchLabels': 'namespaces:\n  apps: {to: [{namespace: db, matchLabels: {}}]}\n',
  'a label value that is not a string':
    'namespaces:\n  apps: {to: [{namespace: db, matchLabels: {replica: 1}}]}\n',
  'a label key with a Cilium source prefix':
    'namespaces:\n  apps: {to: [{namespace: db, matchLabels: {"k8s:app": x}}]}\n',
  'the namespace label as a pod label':
    'namespaces:\n  apps: {to: [{namespace: db, matchLabels: {io.kubernetes.pod.namespace: kube-system}}]}\n',
  'a label value with a space':
    'namespaces:\n  apps: {to: [{namespace: db, matchLabels: {app: "a b"}}]}\n',
  'dns without namespace': 'dns: {matchLabels: {app: x}}\nnamespaces: {}\n',
  'dns not a mapping': 'dns: coredns\nnamespaces: {}\n',
  'a dns namespace that is not a DNS label': 'dns: {namespace: Kube_System}\nnamespaces: {}\n',
  'an unknown dns field': 'dns: {namespace: coredns, port: 53}\nnamespaces: {}\n',
};

/** Valid for the schema, refused by the parser: the checks the schema's description lists. */
const PARSER_ONLY: Record<string, string> = {
  'host bits set': 'namespaces:\n  apps: {to: [{cidr: 10.0.0.1/8}]}\n',
  'a /0 block': 'namespaces:\n  apps: {to: [{cidr: 0.0.0.0/0}]}\n',
  'an IPv4 prefix past /32': 'namespaces:\n  apps: {to: [{cidr: 10.0.0.0/33}]}\n',
  'an address that is not one': 'namespaces:\n  apps: {to: [{cidr: 300.0.0.0/8}]}\n',
  'a pattern matching every name': 'namespaces:\n  apps: {to: [{fqdnPattern: "*"}]}\n',
  'a range that runs backwards':
    'namespaces:\n  apps: {to: [{fqdn: a.b, ports: [{port: 9, endPort: 8}]}]}\n',
  'a repeated namespace': 'namespaces:\n  apps: {}\n  apps: {}\n',
  'an fqdn over 253 characters': `namespaces:\n  apps: {to: [{fqdn: ${Array(5).fill('a'.repeat(60)).join('.')}}]}\n`,
  'a label key prefix over 253 characters': `namespaces:\n  apps: {to: [{namespace: db, matchLabels: {${Array(5).fill('a'.repeat(60)).join('.')}/app: x}}]}\n`,
};

describe('egress.yaml: docs/egress.schema.json and parseEgressConfig', () => {
  for (const [name, text] of Object.entries(GOOD))
    it(`both accept ${name}`, () => {
      assert.deepEqual(problems(text), []);
      assert.ok(schemaAccepts(text), JSON.stringify(validate.errors));
    });
  for (const [name, text] of Object.entries(BAD))
    it(`both refuse ${name}`, () => {
      assert.notDeepEqual(problems(text), []);
      assert.equal(schemaAccepts(text), false);
    });
  for (const [name, text] of Object.entries(PARSER_ONLY))
    it(`the parser alone refuses ${name}`, () => {
      assert.notDeepEqual(problems(text), []);
      // A repeated key is a YAML error; the schema sees the parsed (last) value.
      assert.equal(schemaAccepts(text), true, name);
    });

  it('reports every problem at once, each at its line and column', () => {
    assert.deepEqual(
      problems(
        'namespaces:\n  apps:\n    kubeAPI: 1\n    to:\n      - {cidr: 10.0.0.1/8}\n      - {fqdn: a.b, ports: [70000]}\n',
      ),
      [
        'egress.yaml:3:14: namespaces.apps.kubeAPI: must be true or false',
        'egress.yaml:5:16: namespaces.apps.to[0].cidr: 10.0.0.1/8 has host bits set: write 10.0.0.0/8',
        'egress.yaml:6:29: namespaces.apps.to[1].ports[0]: must be a port number from 1 to 65535',
      ],
    );
  });

  it('malformed YAML names the line', () => {
    assert.match(problems('namespaces:\n  apps: {to: [\n')[0] ?? '', /^egress\.yaml:3:1: /);
  });

  it('IPv6 host bits are named with the network to write', () => {
    assert.match(
      problems('namespaces:\n  a: {to: [{cidr: "fd00::1/64"}]}\n')[0] ?? '',
      /write fd00::\/64$/,
    );
  });
});
