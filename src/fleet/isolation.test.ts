import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCacheConfig } from '../images/index.ts';
import { checkIsolation, type FleetFinding, type FleetRenderGroup, readObjects } from './index.ts';

// The isolation rules of fleet check on rendered groups (pure): images against the cache rules,
// egress per namespace, Cilium and Kyverno in the first phase and every other phase after them.

const ROOT = 'Kustomization/flux-system/flux-system';
const cache = parseCacheConfig(
  'rules:\n  - {upstream: docker.io, to: registry.internal/dockerhub}\n  - {upstream: quay.io, to: registry.internal/quay}\n',
  'cache.yaml',
);

const flux = (
  kind: 'Kustomization' | 'HelmRelease',
  name: string,
  ns: string,
  extra = '',
): string =>
  `apiVersion: ${kind === 'Kustomization' ? 'kustomize' : 'helm'}.toolkit.fluxcd.io/v2
kind: ${kind}
metadata: {name: ${name}, namespace: ${ns}}
spec:
  interval: 10m${extra}
`;
const deployment = (ns: string, name: string, image: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  template:
    spec:
      containers:
        - {name: main, image: "${image}"}
`;
const closeEgress = (ns: string): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: egress, namespace: ${ns}}
spec:
  endpointSelector: {}
  egress:
    - toEndpoints:
        - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
`;
const docs = (...parts: string[]): string => parts.join('---\n');

/** A clean cluster: core (Cilium, Kyverno) first, apps after it, egress closed, images cached. */
function cluster(
  overrides: {
    core?: string;
    apps?: string;
    appsDependsOn?: string;
    coreObjects?: string[];
    appsObjects?: string[];
    platform?: string[];
  } = {},
): FleetRenderGroup[] {
  return [
    {
      appliedBy: ROOT,
      objects: readObjects(
        docs(
          flux('Kustomization', 'core', 'flux-system', overrides.core ?? ''),
          flux(
            'Kustomization',
            'apps',
            'flux-system',
            overrides.appsDependsOn ?? '\n  dependsOn:\n    - name: core',
          ),
          ...(overrides.platform ?? []),
        ),
      ),
    },
    {
      appliedBy: 'Kustomization/flux-system/core',
      objects: readObjects(
        docs(
          ...(overrides.coreObjects ?? [
            flux('HelmRelease', 'cilium', 'kube-system', '\n  chart: {spec: {chart: cilium}}'),
            flux('HelmRelease', 'kyverno', 'kyverno'),
          ]),
        ),
      ),
    },
    {
      appliedBy: 'Kustomization/flux-system/apps',
      objects: readObjects(
        docs(
          ...(overrides.appsObjects ?? [
            deployment('shop', 'web', 'nginx:1.27'),
            deployment('shop', 'api', 'quay.io/acme/api@sha256:' + 'a'.repeat(64)),
            closeEgress('shop'),
          ]),
        ),
      ),
    },
  ];
}

const rules = (findings: readonly FleetFinding[]): string[] =>
  findings.map((f) => `${f.rule} ${f.object} ${f.field}`).sort();

describe('checkIsolation', () => {
  it('a clean cluster has no finding', async () => {
    assert.deepEqual(await checkIsolation(cluster(), { cache }), []);
  });

  it('image-public: an image no cache rule covers, with its object and field', async () => {
    const findings = await checkIsolation(
      cluster({
        appsObjects: [deployment('shop', 'web', 'ghcr.io/acme/web:1.0'), closeEgress('shop')],
      }),
      { cache },
    );
    assert.deepEqual(rules(findings), [
      'image-public Deployment/shop/web spec.template.spec.containers[0].image',
    ]);
    assert.equal(findings[0]?.appliedBy, 'Kustomization/flux-system/apps');
  });

  it('an image under a private registry is not public; online, image-not-mirrored when the registry lacks it', async () => {
    const groups = cluster({
      appsObjects: [
        deployment('shop', 'web', 'registry.internal:5000/apps/web:1.0'),
        deployment('shop', 'cached', 'registry.internal/dockerhub/library/redis:7'),
        closeEgress('shop'),
      ],
    });
    const options = { cache, privateRegistries: ['registry.internal:5000'] };
    assert.deepEqual(await checkIsolation(groups, options), []);
    const asked: string[] = [];
    const findings = await checkIsolation(groups, options, (image) => {
      asked.push(image);
      return Promise.resolve(false);
    });
    // The cache path is pulled through on demand: only the direct mirror reference is asked for.
    assert.deepEqual(asked, ['registry.internal:5000/apps/web:1.0']);
    assert.deepEqual(rules(findings), [
      'image-not-mirrored Deployment/shop/web spec.template.spec.containers[0].image',
    ]);
    assert.deepEqual(await checkIsolation(groups, options, () => Promise.resolve(true)), []);
  });

  it('a rule of mode mirror is asked for what it rewrites to; a cache rule is not', async () => {
    const mirrored = parseCacheConfig(
      'rules:\n  - {upstream: docker.io, to: registry.internal/dockerhub}\n  - {upstream: ghcr.io, to: registry.internal/mirror/ghcr.io, mode: mirror}\n',
      'cache.yaml',
    );
    const groups = cluster({
      appsObjects: [
        deployment('shop', 'web', 'ghcr.io/acme/web:1.0'),
        deployment('shop', 'cache', 'redis:7'),
        closeEgress('shop'),
      ],
    });
    const asked: string[] = [];
    const findings = await checkIsolation(groups, { cache: mirrored }, (image) => {
      asked.push(image);
      return Promise.resolve(false);
    });
    assert.deepEqual(asked, ['registry.internal/mirror/ghcr.io/acme/web:1.0']);
    assert.deepEqual(rules(findings), [
      'image-not-mirrored Deployment/shop/web spec.template.spec.containers[0].image',
    ]);
  });

  it('image-invalid: an unparsable workload image is a finding, not a crash', async () => {
    const findings = await checkIsolation(
      cluster({ appsObjects: [deployment('shop', 'web', 'Nginx:1'), closeEgress('shop')] }),
      { cache },
    );
    assert.deepEqual(rules(findings), [
      'image-invalid Deployment/shop/web spec.template.spec.containers[0].image',
    ]);
  });

  it('egress-policy-missing: a namespace with workloads and no policy closing egress', async () => {
    const partial = closeEgress('shop').replace(
      '  endpointSelector: {}',
      '  endpointSelector:\n    matchLabels: {app: web}',
    );
    for (const policies of [[], [partial], [closeEgress('other')]]) {
      const findings = await checkIsolation(
        cluster({ appsObjects: [deployment('shop', 'web', 'nginx'), ...policies] }),
        { cache },
      );
      assert.deepEqual(rules(findings), [
        'egress-policy-missing Deployment/shop/web metadata.namespace',
      ]);
    }
  });

  it('isolation-phase: a phase that does not wait for the first one', async () => {
    const findings = await checkIsolation(cluster({ appsDependsOn: '' }), { cache });
    assert.deepEqual(rules(findings), [
      'isolation-phase Kustomization/flux-system/apps spec.dependsOn',
    ]);
  });

  it('isolation-phase: Kyverno in a later phase, and missing components', async () => {
    const later = await checkIsolation(
      cluster({
        coreObjects: [
          flux('HelmRelease', 'cilium', 'kube-system', '\n  chart: {spec: {chart: cilium}}'),
        ],
        appsObjects: [
          deployment('shop', 'web', 'nginx'),
          closeEgress('shop'),
          flux('HelmRelease', 'kyverno', 'kyverno'),
        ],
        platform: [
          flux('Kustomization', 'tools', 'flux-system', '\n  dependsOn:\n    - name: core'),
        ],
      }),
      { cache },
    );
    // Kyverno itself waits only for core (which holds Cilium: allowed), but the apps it shares a
    // phase with do not wait for it, and neither does tools.
    assert.deepEqual(rules(later), [
      'isolation-phase Kustomization/flux-system/apps spec.dependsOn',
      'isolation-phase Kustomization/flux-system/tools spec.dependsOn',
    ]);
    const afterApps = await checkIsolation(
      cluster({
        coreObjects: [
          flux('HelmRelease', 'cilium', 'kube-system', '\n  chart: {spec: {chart: cilium}}'),
        ],
        platform: [
          flux('Kustomization', 'policy', 'flux-system', '\n  dependsOn:\n    - name: apps'),
          flux(
            'HelmRelease',
            'kyverno',
            'kyverno',
            '\n  dependsOn:\n    - {name: policy, namespace: flux-system}',
          ),
        ],
      }),
      { cache },
    );
    assert.ok(
      afterApps.some(
        (f) =>
          f.rule === 'isolation-phase' &&
          f.object === 'HelmRelease/kyverno/kyverno' &&
          f.field === 'spec.dependsOn',
      ),
      JSON.stringify(afterApps),
    );
    const none = await checkIsolation(cluster({ coreObjects: [] }), { cache });
    assert.deepEqual(rules(none), [`isolation-phase ${ROOT} spec`, `isolation-phase ${ROOT} spec`]);
  });

  it('a D2 first phase: component tenants with several Flux objects each, in any order', async () => {
    const tenant = (ns: string): string =>
      docs(
        flux('Kustomization', 'infra-controllers', ns),
        flux('Kustomization', 'infra-configs', ns, '\n  dependsOn:\n    - name: infra-controllers'),
      );
    for (const order of [
      ['cilium', 'kyverno'],
      ['kyverno', 'cilium'],
    ])
      assert.deepEqual(
        await checkIsolation(
          cluster({ coreObjects: order.map(tenant), appsObjects: [closeEgress('shop')] }),
          { cache },
        ),
        [],
      );
  });

  it('a ResourceSet dependsOn without ready: true waits for nothing', async () => {
    const groups: FleetRenderGroup[] = [
      {
        appliedBy: ROOT,
        objects: readObjects(
          docs(
            'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: core, namespace: flux-system}\nspec: {}\n',
            'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  dependsOn:\n    - {apiVersion: fluxcd.controlplane.io/v1, kind: ResourceSet, name: core, namespace: flux-system}\n',
          ),
        ),
      },
      {
        appliedBy: 'ResourceSet/flux-system/core',
        objects: readObjects(
          docs(flux('HelmRelease', 'cilium', 'cilium'), flux('HelmRelease', 'kyverno', 'kyverno')),
        ),
      },
    ];
    assert.deepEqual(rules(await checkIsolation(groups, { cache })), [
      'isolation-phase ResourceSet/flux-system/apps spec.dependsOn',
    ]);
    const ready = groups.map((g) => ({
      ...g,
      objects: readObjects(
        docs(
          'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: core, namespace: flux-system}\nspec: {}\n',
          'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  dependsOn:\n    - {apiVersion: fluxcd.controlplane.io/v1, kind: ResourceSet, name: core, namespace: flux-system, ready: true}\n',
        ),
      ),
    }));
    ready[1] = groups[1] as FleetRenderGroup;
    assert.deepEqual(await checkIsolation(ready, { cache }), []);
  });

  it("helm's objects without a namespace are in the HelmRelease's target namespace", async () => {
    const groups = cluster({
      appsObjects: [
        flux('HelmRelease', 'web', 'apps', '\n  targetNamespace: shop'),
        closeEgress('shop'),
      ],
    });
    groups.push({
      appliedBy: 'HelmRelease/apps/web',
      objects: readObjects(
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: web, image: nginx}]}}}\n',
      ),
    });
    assert.deepEqual(await checkIsolation(groups, { cache }), []);
  });

  it("Cilium's and Kyverno's own images, and kube-system's, are pulled as written", async () => {
    const groups = cluster();
    groups.push(
      {
        appliedBy: 'HelmRelease/kube-system/cilium',
        objects: readObjects(
          docs(
            deployment('kube-system', 'cilium-operator', 'quay.io/cilium/operator:v1.16.5'),
            deployment('kube-system', 'private', 'registry.internal/quay/cilium/cilium:v1.16.5'),
          ),
        ),
      },
      {
        appliedBy: 'Kustomization/flux-system/apps',
        objects: readObjects(
          docs(deployment('kube-system', 'tool', 'nginx'), closeEgress('kube-system')),
        ),
      },
    );
    assert.deepEqual(rules(await checkIsolation(groups, { cache })), [
      'image-public Deployment/kube-system/cilium-operator spec.template.spec.containers[0].image',
      'image-public Deployment/kube-system/tool spec.template.spec.containers[0].image',
    ]);
  });

  it('egress: [] closes nothing; a clusterwide policy closes every namespace or one', async () => {
    const empty = closeEgress('shop').replace(/ {2}egress:\n[^]*$/, '  egress: []\n');
    const findings = await checkIsolation(
      cluster({ appsObjects: [deployment('shop', 'web', 'nginx'), empty] }),
      { cache },
    );
    assert.deepEqual(rules(findings), [
      'egress-policy-missing Deployment/shop/web metadata.namespace',
    ]);
    const clusterwide = (selector: string): string =>
      closeEgress('x')
        .replace('CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy')
        .replace('metadata: {name: egress, namespace: x}', 'metadata: {name: egress}')
        .replace('  endpointSelector: {}', `  endpointSelector: ${selector}`);
    for (const selector of ['{}', '{matchLabels: {k8s:io.kubernetes.pod.namespace: shop}}'])
      assert.deepEqual(
        await checkIsolation(
          cluster({ appsObjects: [deployment('shop', 'web', 'nginx'), clusterwide(selector)] }),
          { cache },
        ),
        [],
        selector,
      );
  });

  it('kube-system without a policy is a warning: policy cilium leaves system namespaces open', async () => {
    const groups = cluster({
      appsObjects: [
        deployment('kube-system', 'tool', 'registry.internal/dockerhub/library/busybox:1'),
        deployment('shop', 'web', 'nginx'),
      ],
    });
    const findings = await checkIsolation(groups, { cache });
    assert.deepEqual(
      findings.map((f) => `${f.severity} ${f.rule} ${f.object}`),
      [
        'warning egress-policy-missing Deployment/kube-system/tool',
        'error egress-policy-missing Deployment/shop/web',
      ],
    );
  });
});
