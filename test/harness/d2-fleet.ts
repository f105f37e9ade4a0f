// A Flux D2-shaped fleet for the tests and the fleet benchmark (../shared/reference/resourceset.md
// §5): three clusters (dev, test, prod) with a multitenant FluxInstance, flux-runtime-info and a
// cosign key Secret each; tenants `policies` (the source allowlist as a ValidatingAdmissionPolicy),
// `infra` (cert-manager, monitoring) and `apps` (frontend, backend) as ResourceSets; and the
// tenants' artifacts pushed into a real registry by airlock and signed keyless, one identity per
// environment (dev: push-artifact on main, test: promote-artifact on main, prod: release-artifact
// on a v* tag), as D2's workflows sign them. The infra artifacts carry a HelmRelease whose chart
// is pushed by airlock too and signed with the cosign key the fleet's Secret holds.
//
// The fleet writes `oci://ghcr.io/acme/...`; the registry holds it under HOST/acme/..., so every
// render maps it with `--registry-map ghcr.io/acme=HOST/acme`, as a mirror would be mapped.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  buildLayer,
  packageChartBytes,
  pushChartArchive,
  pushFluxArtifact,
} from '../../src/artifact/index.ts';
import type { RegistryClient } from '../../src/oci/index.ts';
import {
  generateKeyPair,
  oidcToken,
  resolveSigner,
  type Signer,
  signBundle,
  signLegacy,
} from '../../src/sign/index.ts';
import type { MockSigstore } from './sigstore.ts';

export const D2_CLUSTERS = ['dev', 'test', 'prod'] as const;
export type D2Cluster = (typeof D2_CLUSTERS)[number];

export const D2_ISSUER = 'https://token.actions.githubusercontent.com';

/** What each environment's runtime-info says and which identity signs its artifacts. */
export const D2_ENVIRONMENTS: Record<
  D2Cluster,
  { tag: string; workflow: string; gitRef: string; signedRef: string; replicas: number }
> = {
  dev: {
    tag: 'latest',
    workflow: 'push-artifact',
    gitRef: 'refs/heads/main',
    signedRef: 'refs/heads/main',
    replicas: 1,
  },
  test: {
    tag: 'latest-test',
    workflow: 'promote-artifact',
    gitRef: 'refs/heads/main',
    signedRef: 'refs/heads/main',
    replicas: 2,
  },
  prod: {
    tag: 'latest-stable',
    workflow: 'release-artifact',
    gitRef: 'refs/tags/.*',
    signedRef: 'refs/tags/v1.4.0',
    replicas: 3,
  },
};

export const INFRA_TENANTS = ['cert-manager', 'monitoring'] as const;
export const APP_TENANTS = ['frontend', 'backend'] as const;

/** The certificate identity (SAN) a repository's workflow signs with in an environment. */
export function d2Subject(repository: 'd2-infra' | 'd2-apps', cluster: D2Cluster): string {
  const env = D2_ENVIRONMENTS[cluster];
  return `https://github.com/acme/${repository}/.github/workflows/${env.workflow}.yaml@${env.signedRef}`;
}

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const indent = (text: string, spaces: number): string =>
  text
    .split('\n')
    .map((line) => (line === '' ? line : ' '.repeat(spaces) + line))
    .join('\n');

function fluxInstance(cluster: D2Cluster): string {
  const env = D2_ENVIRONMENTS[cluster];
  return `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: "2.x"
    registry: ghcr.io/fluxcd
    artifact: oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:latest
  components:
    - source-controller
    - kustomize-controller
    - helm-controller
    - notification-controller
  cluster:
    type: kubernetes
    size: medium
    multitenant: true
    tenantDefaultServiceAccount: flux
    networkPolicy: true
    domain: cluster.local
  sync:
    kind: OCIRepository
    url: oci://ghcr.io/acme/d2-fleet
    ref: ${env.tag}
    path: clusters/${cluster}
    pullSecret: ghcr-auth
  kustomize:
    patches:
      - target:
          kind: OCIRepository
          name: flux-system
        patch: |
          - op: add
            path: /spec/verify
            value:
              provider: cosign
              matchOIDCIdentity:
                - issuer: ^https://token\\.actions\\.githubusercontent\\.com$
                  subject: ^https://github\\.com/acme/d2-fleet/\\.github/workflows/${env.workflow}\\.yaml@${env.gitRef}$
`;
}

function runtimeInfo(cluster: D2Cluster): string {
  const env = D2_ENVIRONMENTS[cluster];
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: flux-runtime-info
  namespace: flux-system
  labels:
    toolkit.fluxcd.io/runtime: "true"
    reconcile.fluxcd.io/watch: Enabled
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: Merge
data:
  ARTIFACT_TAG: ${env.tag}
  ENVIRONMENT: ${cluster}
  CLUSTER_NAME: ${cluster}-1
  CLUSTER_DOMAIN: ${cluster}.cluster.local
  ARTIFACT_SUBJECT_WORKFLOW: ${env.workflow}
  ARTIFACT_SUBJECT_GIT_REF: "${env.gitRef}"
`;
}

function keySecret(publicKeyPEM: string): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: cosign-pub
  namespace: flux-system
type: Opaque
stringData:
  cosign.pub: |
${indent(publicKeyPEM.trim(), 4)}
`;
}

const TENANTS_KUSTOMIZATION = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: tenants
  namespace: flux-system
spec:
  serviceAccountName: flux-operator
  interval: 12h
  retryInterval: 3m
  path: ./tenants
  prune: true
  sourceRef:
    kind: OCIRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: flux-runtime-info
`;

const POLICIES = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: policies
  namespace: flux-system
spec:
  resources:
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: flux-allowlist
        namespace: flux-system
        labels:
          fluxcd.controlplane.io/role: policy
      data:
        sources: >-
          oci://ghcr.io/acme/
          https://github.com/acme/
    - apiVersion: admissionregistration.k8s.io/v1
      kind: ValidatingAdmissionPolicy
      metadata:
        name: source.policy.fluxcd.controlplane.io
      spec:
        failurePolicy: Fail
        matchConstraints:
          resourceRules:
            - apiGroups: ["source.toolkit.fluxcd.io"]
              apiVersions: ["*"]
              operations: ["CREATE", "UPDATE"]
              resources: ["gitrepositories", "ocirepositories", "helmrepositories"]
        matchConditions:
          - name: exclude-flux-system
            expression: 'request.userInfo.username != "system:serviceaccount:flux-system:source-controller"'
        paramKind:
          apiVersion: v1
          kind: ConfigMap
        variables:
          - name: url
            expression: object.spec.url
          - name: sources
            expression: params.data.sources.split(' ')
        validations:
          - expression: variables.sources.exists_one(prefix, variables.url.startsWith(prefix))
            messageExpression: '"Source " + variables.url + " is not allowed, must be one of " + variables.sources.join(", ")'
            reason: Invalid
    - apiVersion: admissionregistration.k8s.io/v1
      kind: ValidatingAdmissionPolicyBinding
      metadata:
        name: flux-tenant-sources
      spec:
        policyName: source.policy.fluxcd.controlplane.io
        validationActions: [Deny]
        paramRef:
          name: flux-allowlist
          namespace: flux-system
          parameterNotFoundAction: Deny
        matchResources:
          namespaceSelector:
            matchExpressions:
              - key: toolkit.fluxcd.io/role
                operator: In
                values: [tenant]
`;

const inputs = (tenants: readonly string[]): string =>
  tenants
    .map(
      (tenant) => `    - tenant: ${tenant}
      tag: "\${ARTIFACT_TAG}"
      environment: "\${ENVIRONMENT}"
      artifactSubjectWorkflow: "\${ARTIFACT_SUBJECT_WORKFLOW}"
      artifactSubjectGitRef: "\${ARTIFACT_SUBJECT_GIT_REF}"`,
    )
    .join('\n');

const sourceTemplate = (
  repository: string,
  name: string,
): string => `    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: OCIRepository
      metadata:
        name: ${name}
        namespace: << inputs.tenant >>
      spec:
        interval: 10m
        serviceAccountName: flux
        url: "oci://ghcr.io/acme/${repository}/<< inputs.tenant >>"
        ref:
          tag: << inputs.tag | quote >>
        verify:
          provider: cosign
          matchOIDCIdentity:
            - issuer: "^https://token\\\\.actions\\\\.githubusercontent\\\\.com$"
              subject: "^https://github\\\\.com/acme/${repository}/\\\\.github/workflows/<< inputs.artifactSubjectWorkflow >>\\\\.yaml@<< inputs.artifactSubjectGitRef >>$"`;

const tenantBasics = (labels: string): string => `    - apiVersion: v1
      kind: Namespace
      metadata:
        name: << inputs.tenant >>${labels}
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: flux-runtime-info
        namespace: << inputs.tenant >>
        labels:
          reconcile.fluxcd.io/watch: Enabled
        annotations:
          fluxcd.controlplane.io/copyFrom: "flux-system/flux-runtime-info"
    - apiVersion: v1
      kind: Secret
      metadata:
        name: cosign-pub
        namespace: << inputs.tenant >>
        annotations:
          fluxcd.controlplane.io/copyFrom: "flux-system/cosign-pub"
      type: Opaque
    - apiVersion: v1
      kind: ServiceAccount
      metadata:
        name: flux
        namespace: << inputs.tenant >>`;

const kustomizationTemplate = (
  name: string,
  source: string,
  path: string,
  dependsOn?: string,
): string => `    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata:
        name: ${name}
        namespace: << inputs.tenant >>
      spec:${dependsOn === undefined ? '' : `\n        dependsOn:\n          - name: ${dependsOn}`}
        targetNamespace: << inputs.tenant >>
        serviceAccountName: flux
        interval: 30m
        retryInterval: 5m
        wait: true
        timeout: 5m
        prune: true
        sourceRef:
          kind: OCIRepository
          name: ${source}
        path: "${path}"
        postBuild:
          substituteFrom:
            - kind: ConfigMap
              name: flux-runtime-info`;

const INFRA = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: infra
  namespace: flux-system
  annotations:
    fluxcd.controlplane.io/reconcileEvery: "5m"
spec:
  dependsOn:
    - apiVersion: fluxcd.controlplane.io/v1
      kind: ResourceSet
      name: policies
      namespace: flux-system
      ready: true
      readyExpr: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')
  inputs:
${inputs(INFRA_TENANTS)}
  resources:
${tenantBasics('')}
    - apiVersion: rbac.authorization.k8s.io/v1
      kind: ClusterRoleBinding
      metadata:
        name: flux-infra-<< inputs.tenant >>
      roleRef:
        apiGroup: rbac.authorization.k8s.io
        kind: ClusterRole
        name: cluster-admin
      subjects:
        - kind: ServiceAccount
          name: flux
          namespace: << inputs.tenant >>
${sourceTemplate('d2-infra', 'infra')}
${kustomizationTemplate('infra-controllers', 'infra', './controllers/<< inputs.environment >>')}
${kustomizationTemplate('infra-configs', 'infra', './configs/<< inputs.environment >>', 'infra-controllers')}
`;

const APPS = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: apps
  namespace: flux-system
  annotations:
    fluxcd.controlplane.io/reconcileEvery: "5m"
spec:
  dependsOn:
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      name: infra-configs
      namespace: monitoring
      ready: true
      readyExpr: status.observedGeneration >= 0
  inputs:
${inputs(APP_TENANTS)}
  resources:
${tenantBasics('\n        labels:\n          toolkit.fluxcd.io/role: tenant')}
    - apiVersion: rbac.authorization.k8s.io/v1
      kind: RoleBinding
      metadata:
        name: flux
        namespace: << inputs.tenant >>
      roleRef:
        apiGroup: rbac.authorization.k8s.io
        kind: ClusterRole
        name: admin
      subjects:
        - kind: ServiceAccount
          name: flux
          namespace: << inputs.tenant >>
${sourceTemplate('d2-apps', 'apps')}
${kustomizationTemplate('apps', 'apps', './<< inputs.environment >>')}
`;

/** The fleet repository's files; the Secret holds `publicKeyPEM` (the chart signing key). */
export function d2FleetFiles(publicKeyPEM: string): Record<string, string> {
  const files: Record<string, string> = {
    'tenants/policies.yaml': POLICIES,
    'tenants/infra.yaml': INFRA,
    'tenants/apps.yaml': APPS,
    'README.md': '# acme fleet (D2-shaped, for airlock tests)\n',
  };
  for (const cluster of D2_CLUSTERS) {
    files[`clusters/${cluster}/flux-system/flux-instance.yaml`] = fluxInstance(cluster);
    files[`clusters/${cluster}/flux-system/runtime-info.yaml`] = runtimeInfo(cluster);
    files[`clusters/${cluster}/flux-system/cosign-pub.yaml`] = keySecret(publicKeyPEM);
    files[`clusters/${cluster}/flux-system/kustomization.yaml`] =
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - flux-instance.yaml\n  - runtime-info.yaml\n  - cosign-pub.yaml\n';
    files[`clusters/${cluster}/tenants.yaml`] = TENANTS_KUSTOMIZATION;
  }
  return files;
}

const overlay = (extra = ''): string =>
  `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\n${extra}`;

/** The files of one infra tenant's artifact as pushed for `cluster` (its RELEASE marks the env). */
function infraArtifact(tenant: string, cluster: D2Cluster): Record<string, string> {
  const files: Record<string, string> = { RELEASE: `${tenant} for ${cluster}\n` };
  if (tenant === 'cert-manager') {
    files['controllers/base/kustomization.yaml'] =
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - repository.yaml\n  - release.yaml\n';
    files['controllers/base/repository.yaml'] = `apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: cert-manager-chart
spec:
  interval: 12h
  serviceAccountName: flux
  url: oci://ghcr.io/acme/charts/cert-manager
  ref:
    semver: ">=1.0.0"
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
  verify:
    provider: cosign
    secretRef:
      name: cosign-pub
`;
    files['controllers/base/release.yaml'] = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: cert-manager
spec:
  interval: 30m
  serviceAccountName: flux
  chartRef:
    kind: OCIRepository
    name: cert-manager-chart
  install:
    strategy:
      name: RetryOnFailure
  valuesFrom:
    - kind: ConfigMap
      name: cert-manager-values
  values:
    installCRDs: true
`;
  } else {
    files['controllers/base/kustomization.yaml'] =
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - prometheus.yaml\n';
    files['controllers/base/prometheus.yaml'] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: prometheus
spec:
  replicas: 1
  selector:
    matchLabels:
      app: prometheus
  template:
    metadata:
      labels:
        app: prometheus
    spec:
      containers:
        - name: prometheus
          image: quay.io/prometheus/prometheus:v3.0.0
          args: ["--web.external-url=https://prometheus.\${CLUSTER_DOMAIN}"]
`;
  }
  files['configs/base/kustomization.yaml'] =
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - settings.yaml\n';
  files['configs/base/settings.yaml'] = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${tenant}-settings
data:
  domain: \${CLUSTER_DOMAIN}
  cluster: \${CLUSTER_NAME}
`;
  for (const env of D2_CLUSTERS) {
    files[`configs/${env}/kustomization.yaml`] = overlay();
    files[`controllers/${env}/kustomization.yaml`] =
      tenant === 'cert-manager'
        ? overlay(
            'configMapGenerator:\n  - name: cert-manager-values\n    files:\n      - values.yaml\n    options:\n      disableNameSuffixHash: true\n',
          )
        : overlay(
            `patches:\n  - target:\n      kind: Deployment\n      name: prometheus\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: ${D2_ENVIRONMENTS[env].replicas}\n`,
          );
    if (tenant === 'cert-manager')
      files[`controllers/${env}/values.yaml`] =
        `replicaCount: ${D2_ENVIRONMENTS[env].replicas}\nimage:\n  tag: v1.16.${D2_CLUSTERS.indexOf(env)}\n`;
  }
  return files;
}

function appArtifact(tenant: string, cluster: D2Cluster): Record<string, string> {
  const files: Record<string, string> = {
    RELEASE: `${tenant} for ${cluster}\n`,
    'base/kustomization.yaml':
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n',
    'base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${tenant}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${tenant}
  template:
    metadata:
      labels:
        app: ${tenant}
    spec:
      containers:
        - name: app
          image: ghcr.io/stefanprodan/podinfo:6.7.0
          env:
            - name: PUBLIC_URL
              value: https://${tenant}.\${CLUSTER_DOMAIN}
`,
    'base/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: ${tenant}
spec:
  selector:
    app: ${tenant}
  ports:
    - port: 80
      targetPort: 9898
`,
  };
  for (const env of D2_CLUSTERS)
    files[`${env}/kustomization.yaml`] = overlay(
      `patches:\n  - target:\n      kind: Deployment\n      name: ${tenant}\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: ${D2_ENVIRONMENTS[env].replicas}\n`,
    );
  return files;
}

const CHART_FILES: Record<string, string> = {
  'Chart.yaml': 'apiVersion: v2\nname: cert-manager\nversion: 1.2.0\nappVersion: v1.16.0\n',
  'values.yaml':
    'replicaCount: 1\nimage:\n  repository: quay.io/jetstack/cert-manager-controller\n  tag: v1.16.0\ninstallCRDs: false\n',
  'templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: cert-manager
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: cert-manager
  template:
    metadata:
      labels:
        app.kubernetes.io/name: cert-manager
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        - name: controller
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
  'templates/serviceaccount.yaml': `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
`,
  'templates/tests/test-connection.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - name: test
      image: busybox
  restartPolicy: Never
`,
};

/** A keyless signer for one certificate identity of the mock Sigstore. */
export async function identitySigner(sigstore: MockSigstore, subject: string): Promise<Signer> {
  const token = await oidcToken({
    env: { D2_TOKEN: sigstore.token(subject, D2_ISSUER) },
    identityTokenEnv: 'D2_TOKEN',
  });
  return resolveSigner({
    keyless: { token, fulcioURL: sigstore.fulcioURL, rekorURL: sigstore.rekorURL },
  });
}

export interface D2Published {
  /** The cosign key pair the chart is signed with; the fleet's Secret holds its public half. */
  readonly publicKeyPEM: string;
  /** `--registry-map` value: ghcr.io/acme=HOST/acme. */
  readonly registryMap: string;
  /** host/repository@digest of every artifact pushed, by `repository:tag`. */
  readonly digests: Map<string, string>;
}

/**
 * Pushes the tenants' artifacts for every environment into `host` under acme/ (infra legacy
 * `.sig` signatures, apps Sigstore bundles, each by its environment's identity) and the chart,
 * key-signed. `prefix` (default acme) lets a test push a forged copy elsewhere.
 */
export async function publishD2(
  client: RegistryClient,
  host: string,
  sigstore: MockSigstore,
  options: {
    prefix?: string;
    /** Sign every environment with this one's identity (a forged or mis-signed copy). */
    signAs?: D2Cluster;
    keyPair?: { privateKeyPEM: string; publicKeyPEM: string };
  } = {},
): Promise<D2Published> {
  const prefix = options.prefix ?? 'acme';
  const password = 'd2-test';
  const pair = options.keyPair ?? generateKeyPair(password);
  const keySigner = resolveSigner({ key: { pem: pair.privateKeyPEM, password } });
  const digests = new Map<string, string>();
  const work = await mkdtemp(join(tmpdir(), 'airlock-d2-'));
  try {
    const chartDir = join(work, 'chart');
    await write(chartDir, CHART_FILES);
    const chart = await packageChartBytes(chartDir);
    const chartRepo = client.repository(host, `${prefix}/charts/cert-manager`);
    const pushedChart = await pushChartArchive(chartRepo, chart.tgz, {
      created: '2026-01-01T00:00:00Z',
    });
    await signLegacy(chartRepo, pushedChart.digest, keySigner);
    digests.set(
      `charts/cert-manager:${pushedChart.tag}`,
      `${chartRepo.name}@${pushedChart.digest}`,
    );
    for (const cluster of D2_CLUSTERS) {
      const env = D2_ENVIRONMENTS[cluster];
      const signAs = options.signAs ?? cluster;
      const signers = {
        'd2-infra': await identitySigner(sigstore, d2Subject('d2-infra', signAs)),
        'd2-apps': await identitySigner(sigstore, d2Subject('d2-apps', signAs)),
      };
      for (const [repository, tenants, make] of [
        ['d2-infra', INFRA_TENANTS, infraArtifact],
        ['d2-apps', APP_TENANTS, appArtifact],
      ] as const) {
        for (const tenant of tenants) {
          const dir = join(work, repository, tenant, cluster);
          await write(dir, make(tenant, cluster));
          const repo = client.repository(host, `${prefix}/${repository}/${tenant}`);
          const pushed = await pushFluxArtifact(repo, await buildLayer(dir), {
            tag: env.tag,
            meta: {
              source: `https://github.com/acme/${repository}`,
              revision: `main@sha1:${'ab'.repeat(20)}`,
              created: '2026-01-01T00:00:00Z',
            },
          });
          const signer = signers[repository];
          if (repository === 'd2-infra') await signLegacy(repo, pushed.digest, signer);
          else await signBundle(repo, pushed.digest, signer);
          digests.set(`${repository}/${tenant}:${env.tag}`, `${repo.name}@${pushed.digest}`);
        }
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return {
    publicKeyPEM: pair.publicKeyPEM,
    registryMap: `ghcr.io/acme=${host}/${prefix}`,
    digests,
  };
}

/** Writes the fleet repository into `dir`. */
export async function writeD2Fleet(dir: string, publicKeyPEM: string): Promise<void> {
  await write(dir, d2FleetFiles(publicKeyPEM));
}
