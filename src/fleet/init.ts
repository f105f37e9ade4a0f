// `fleet init`: a fleet repository for the isolated architecture (issue 10 §7), in the shape of
// Flux D2 (../shared/reference/resourceset.md §5) adapted to a private registry: per environment a
// cluster directory with its FluxInstance (multitenant, synced from the private registry) and
// flux-runtime-info; the platform in the four phases of the isolated seed as ResourceSets chained
// by dependsOn (core → security → network and certificates → observability); every OCIRepository
// verified with the cosign public key Secret copied into its namespace, or a keyless identity.
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';

export interface FleetInitOptions {
  /** host[:port]/path of the private registry the fleet and components are pulled from. */
  readonly registry?: string;
  readonly environments?: readonly string[];
  /**
   * How OCIRepositories are verified: a cosign public key (a Secret `cosign-pub` copied into each
   * tenant namespace), or keyless with these identity patterns.
   */
  readonly verify?:
    | { readonly kind: 'key' }
    | { readonly kind: 'keyless'; readonly issuer: string; readonly subject: string };
  readonly clusterDomain?: string;
}

/** The phases of the isolated seed ("Deployment Order and Dependencies"), each with its components. */
export const PHASES: readonly { name: string; components: readonly string[] }[] = [
  { name: 'core', components: ['cilium', 'kyverno'] },
  { name: 'security', components: ['rbac'] },
  { name: 'network', components: ['coredns', 'ingress-nginx', 'cert-manager'] },
  { name: 'observability', components: ['monitoring'] },
];

const DEFAULT_ENVIRONMENTS = ['dev', 'test', 'prod'];

/** The fields of an OCIRepository `spec.verify`, at `indent`. */
function verifyFields(options: FleetInitOptions, indent: string): string[] {
  const verify = options.verify ?? { kind: 'key' };
  if (verify.kind === 'key')
    return [`${indent}provider: cosign`, `${indent}secretRef:`, `${indent}  name: cosign-pub`];
  return [
    `${indent}provider: cosign`,
    `${indent}matchOIDCIdentity:`,
    `${indent}  - issuer: ${JSON.stringify(verify.issuer)}`,
    `${indent}    subject: ${JSON.stringify(verify.subject)}`,
  ];
}

function verifyBlock(options: FleetInitOptions, indent: string): string[] {
  return [`${indent}verify:`, ...verifyFields(options, `${indent}  `)];
}

function fluxInstance(env: string, options: FleetInitOptions, registry: string): string {
  const stable = env === 'prod';
  return [
    `# The Flux installation of ${env}: the distribution and the fleet come from the private registry.`,
    'apiVersion: fluxcd.controlplane.io/v1',
    'kind: FluxInstance',
    'metadata:',
    '  name: flux',
    '  namespace: flux-system',
    'spec:',
    '  distribution:',
    '    version: "2.x"',
    `    registry: ${registry}/fluxcd`,
    `    artifact: oci://${registry}/controlplaneio-fluxcd/flux-operator-manifests:latest`,
    '  components:',
    '    - source-controller',
    '    - kustomize-controller',
    '    - helm-controller',
    '    - notification-controller',
    '  cluster:',
    '    type: kubernetes',
    '    size: medium',
    '    multitenant: true',
    '    tenantDefaultServiceAccount: flux',
    '    networkPolicy: true',
    `    domain: ${options.clusterDomain ?? 'cluster.local'}`,
    '  sync:',
    '    kind: OCIRepository',
    `    url: oci://${registry}/fleet`,
    `    ref: ${stable ? 'latest-stable' : 'latest'}`,
    `    path: clusters/${env}`,
    '    pullSecret: registry-auth',
    '  kustomize:',
    '    patches:',
    '      - target:',
    '          kind: OCIRepository',
    '          name: flux-system',
    '        patch: |',
    '          - op: add',
    '            path: /spec/verify',
    '            value:',
    ...verifyFields(options, '              '),
    '',
  ].join('\n');
}

function runtimeInfo(env: string, options: FleetInitOptions): string {
  const stable = env === 'prod';
  return [
    `# What ${env}'s workloads may know about the cluster: substituted into the platform (postBuild).`,
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: flux-runtime-info',
    '  namespace: flux-system',
    '  labels:',
    '    toolkit.fluxcd.io/runtime: "true"',
    '    reconcile.fluxcd.io/watch: Enabled',
    '  annotations:',
    '    kustomize.toolkit.fluxcd.io/ssa: Merge',
    'data:',
    `  ARTIFACT_TAG: ${stable ? 'latest-stable' : 'latest'}`,
    `  ENVIRONMENT: ${env}`,
    `  CLUSTER_NAME: ${env}`,
    `  CLUSTER_DOMAIN: ${options.clusterDomain ?? 'cluster.local'}`,
    `  ARTIFACT_SUBJECT_WORKFLOW: ${stable ? 'release-artifact' : 'push-artifact'}`,
    `  ARTIFACT_SUBJECT_GIT_REF: ${stable ? '"refs/tags/.*"' : 'refs/heads/main'}`,
    '',
  ].join('\n');
}

function cosignSecret(): string {
  return [
    '# The cosign public key every OCIRepository verifies with (copied into each tenant namespace).',
    '# Replace the value with your cosign.pub: airlock key secret cosign.pub prints this Secret.',
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    '  name: cosign-pub',
    '  namespace: flux-system',
    '  labels:',
    '    reconcile.fluxcd.io/watch: Enabled',
    'type: Opaque',
    'stringData:',
    '  cosign.pub: |',
    '    -----BEGIN PUBLIC KEY-----',
    '    REPLACE-WITH-YOUR-COSIGN-PUBLIC-KEY',
    '    -----END PUBLIC KEY-----',
    '',
  ].join('\n');
}

function platformKustomization(): string {
  return [
    "# The platform phases, with this cluster's runtime-info substituted (${ARTIFACT_TAG}, …).",
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    '  name: platform',
    '  namespace: flux-system',
    'spec:',
    '  serviceAccountName: flux-operator',
    '  interval: 12h',
    '  retryInterval: 3m',
    '  path: ./platform',
    '  prune: true',
    '  sourceRef:',
    '    kind: OCIRepository',
    '    name: flux-system',
    '  postBuild:',
    '    substituteFrom:',
    '      - kind: ConfigMap',
    '        name: flux-runtime-info',
    '',
  ].join('\n');
}

/** One phase: a ResourceSet whose inputs are its components, chained to the phase before it. */
function phase(index: number, options: FleetInitOptions, registry: string): string {
  const current = PHASES[index];
  if (current === undefined) return '';
  const previous = PHASES[index - 1];
  const lines = [
    `# Phase ${index + 1} (${current.name}): ${current.components.join(', ')}.`,
    'apiVersion: fluxcd.controlplane.io/v1',
    'kind: ResourceSet',
    'metadata:',
    `  name: ${current.name}`,
    '  namespace: flux-system',
    '  annotations:',
    '    fluxcd.controlplane.io/reconcileEvery: "5m"',
    'spec:',
  ];
  if (previous)
    lines.push(
      '  dependsOn:',
      '    - apiVersion: fluxcd.controlplane.io/v1',
      '      kind: ResourceSet',
      `      name: ${previous.name}`,
      '      namespace: flux-system',
      '      ready: true',
      "      readyExpr: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
    );
  lines.push('  inputs:');
  for (const component of current.components)
    lines.push(
      `    - tenant: ${component}`,
      '      tag: "${ARTIFACT_TAG}"',
      '      environment: "${ENVIRONMENT}"',
    );
  lines.push(
    '  resources:',
    '    - apiVersion: v1',
    '      kind: Namespace',
    '      metadata:',
    '        name: << inputs.tenant >>',
    '        labels:',
    '          toolkit.fluxcd.io/role: tenant',
    '    - apiVersion: v1',
    '      kind: ConfigMap',
    '      metadata:',
    '        name: flux-runtime-info',
    '        namespace: << inputs.tenant >>',
    '        annotations:',
    '          fluxcd.controlplane.io/copyFrom: "flux-system/flux-runtime-info"',
    '    - apiVersion: v1',
    '      kind: Secret',
    '      metadata:',
    '        name: registry-auth',
    '        namespace: << inputs.tenant >>',
    '        annotations:',
    '          fluxcd.controlplane.io/copyFrom: "flux-system/registry-auth"',
    '      type: kubernetes.io/dockerconfigjson',
  );
  if ((options.verify ?? { kind: 'key' }).kind === 'key')
    lines.push(
      '    - apiVersion: v1',
      '      kind: Secret',
      '      metadata:',
      '        name: cosign-pub',
      '        namespace: << inputs.tenant >>',
      '        annotations:',
      '          fluxcd.controlplane.io/copyFrom: "flux-system/cosign-pub"',
      '      type: Opaque',
    );
  lines.push(
    '    - apiVersion: v1',
    '      kind: ServiceAccount',
    '      metadata:',
    '        name: flux',
    '        namespace: << inputs.tenant >>',
    '      imagePullSecrets:',
    '        - name: registry-auth',
    '    - apiVersion: rbac.authorization.k8s.io/v1',
    '      kind: RoleBinding',
    '      metadata:',
    '        name: flux',
    '        namespace: << inputs.tenant >>',
    '      roleRef:',
    '        apiGroup: rbac.authorization.k8s.io',
    '        kind: ClusterRole',
    '        name: admin',
    '      subjects:',
    '        - kind: ServiceAccount',
    '          name: flux',
    '          namespace: << inputs.tenant >>',
    '    - apiVersion: source.toolkit.fluxcd.io/v1',
    '      kind: OCIRepository',
    '      metadata:',
    '        name: platform',
    '        namespace: << inputs.tenant >>',
    '      spec:',
    '        interval: 5m',
    `        url: "oci://${registry}/platform/<< inputs.tenant >>"`,
    '        ref:',
    '          tag: << inputs.tag >>',
    '        serviceAccountName: flux',
    '        secretRef:',
    '          name: registry-auth',
    ...verifyBlock(options, '        '),
    '    - apiVersion: kustomize.toolkit.fluxcd.io/v1',
    '      kind: Kustomization',
    '      metadata:',
    '        name: platform',
    '        namespace: << inputs.tenant >>',
    '      spec:',
    '        targetNamespace: << inputs.tenant >>',
    '        serviceAccountName: flux',
    '        interval: 30m',
    '        retryInterval: 5m',
    '        timeout: 5m',
    '        wait: true',
    '        prune: true',
    '        path: "./<< inputs.environment >>"',
    '        sourceRef:',
    '          kind: OCIRepository',
    '          name: platform',
    '        postBuild:',
    '          substituteFrom:',
    '            - kind: ConfigMap',
    '              name: flux-runtime-info',
    '',
  );
  return lines.join('\n');
}

function policies(registry: string): string {
  return [
    '# Only sources in the private registry may be used by tenants (ValidatingAdmissionPolicy).',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: flux-allowlist',
    '  namespace: flux-system',
    'data:',
    `  sources: "oci://${registry}/"`,
    '---',
    'apiVersion: admissionregistration.k8s.io/v1',
    'kind: ValidatingAdmissionPolicy',
    'metadata:',
    '  name: source.policy.airlock.dev',
    'spec:',
    '  failurePolicy: Fail',
    '  paramKind:',
    '    apiVersion: v1',
    '    kind: ConfigMap',
    '  matchConstraints:',
    '    resourceRules:',
    '      - apiGroups: ["source.toolkit.fluxcd.io"]',
    '        apiVersions: ["*"]',
    '        operations: ["CREATE", "UPDATE"]',
    '        resources: ["gitrepositories", "ocirepositories", "helmrepositories"]',
    '  variables:',
    '    - name: url',
    '      expression: object.spec.url',
    '    - name: sources',
    "      expression: params.data.sources.split(' ')",
    '  validations:',
    '    - expression: variables.sources.exists_one(prefix, variables.url.startsWith(prefix))',
    '      messageExpression: \'"Source " + variables.url + " is not allowed, must be one of " + variables.sources.join(", ")\'',
    '      reason: Invalid',
    '---',
    'apiVersion: admissionregistration.k8s.io/v1',
    'kind: ValidatingAdmissionPolicyBinding',
    'metadata:',
    '  name: airlock-tenant-sources',
    'spec:',
    '  policyName: source.policy.airlock.dev',
    '  validationActions: [Deny]',
    '  paramRef:',
    '    name: flux-allowlist',
    '    namespace: flux-system',
    '    parameterNotFoundAction: Deny',
    '  matchResources:',
    '    namespaceSelector:',
    '      matchExpressions:',
    '        - key: toolkit.fluxcd.io/role',
    '          operator: In',
    '          values: [tenant]',
    '',
  ].join('\n');
}

/** The fleet's files, by repository-relative path: pure, so tests compare it and CI can diff it. */
export function scaffoldFleet(options: FleetInitOptions = {}): Map<string, string> {
  const registry = (options.registry ?? 'registry.internal')
    .replace(/^oci:\/\//, '')
    .replace(/\/+$/, '');
  if (!/^[A-Za-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/.test(registry))
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(registry)} is not a registry host[:port][/path]`,
      {
        data: { option: 'registry' },
      },
    );
  const files = new Map<string, string>();
  for (const env of options.environments ?? DEFAULT_ENVIRONMENTS) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(env))
      throw new AirlockError(
        'INPUT_INVALID',
        `${escapeControl(env)} is not an environment name (a DNS label)`,
        {
          data: { option: 'environments' },
        },
      );
    const base = `clusters/${env}`;
    files.set(`${base}/flux-system/flux-instance.yaml`, fluxInstance(env, options, registry));
    files.set(`${base}/flux-system/runtime-info.yaml`, runtimeInfo(env, options));
    if ((options.verify ?? { kind: 'key' }).kind === 'key')
      files.set(`${base}/flux-system/cosign-pub.yaml`, cosignSecret());
    files.set(
      `${base}/flux-system/kustomization.yaml`,
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'resources:',
        '  - flux-instance.yaml',
        '  - runtime-info.yaml',
        ...((options.verify ?? { kind: 'key' }).kind === 'key' ? ['  - cosign-pub.yaml'] : []),
        '',
      ].join('\n'),
    );
    files.set(`${base}/platform.yaml`, platformKustomization());
  }
  files.set('platform/policies.yaml', policies(registry));
  PHASES.forEach((p, i) =>
    files.set(`platform/${i + 1}-${p.name}.yaml`, phase(i, options, registry)),
  );
  return files;
}

/**
 * Writes the scaffold into `dir`, which must not exist or be empty. Everything is written into a
 * sibling temporary directory first and renamed into place, so a failure leaves nothing behind.
 */
export async function initFleet(dir: string, options: FleetInitOptions = {}): Promise<string[]> {
  const target = resolve(dir);
  const entries = await readdir(target).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError('IO_FAILED', `${target}: ${(error as Error).message}`, { cause: error });
  });
  if (entries !== undefined && entries.length > 0)
    throw new AirlockError(
      'INPUT_INVALID',
      `${target} is not empty: fleet init writes a new fleet only`,
      {
        data: { option: 'dir' },
      },
    );
  const files = scaffoldFleet(options);
  const staging = `${target}.airlock-init-${process.pid}`;
  try {
    for (const [path, text] of files) {
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFile(join(staging, path), text);
    }
    // rmdir, not rm -r: if anything appeared in the directory meanwhile, fail rather than delete it.
    if (entries !== undefined) await rmdir(target);
    await mkdir(dirname(target), { recursive: true });
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error instanceof AirlockError
      ? error
      : new AirlockError('IO_FAILED', `${target}: ${(error as Error).message}`, { cause: error });
  }
  return [...files.keys()];
}
