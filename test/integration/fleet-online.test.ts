import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { helmBinary, kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type RegistryServer, freePort, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import {
  APP_TENANTS,
  D2_CLUSTERS,
  D2_ENVIRONMENTS,
  type D2Published,
  d2Subject,
  INFRA_TENANTS,
  publishD2,
  writeD2Fleet,
} from '../harness/d2-fleet.ts';
import { runCommand } from '../helpers/command.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';
import { fleetCheckCommand } from '../../src/cli/commands/fleet-check.ts';
import { fleetGraphCommand } from '../../src/cli/commands/fleet-graph.ts';
import { fleetRenderCommand } from '../../src/cli/commands/fleet-render.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import { type GoMap, GoInt, type GoValue, isGoMap } from '../../src/goyaml/index.ts';
import {
  type FleetCheck,
  type FleetFinding,
  type FleetRender,
  parseRegistryMappings,
  renderFleet,
} from '../../src/fleet/index.ts';

// Online `fleet render` and `fleet check` on a D2-shaped fleet (test/harness/d2-fleet.ts): three
// clusters, tenants policies/infra/apps, artifacts pushed into a real registry by airlock and
// signed keyless with one identity per environment, a HelmRelease chart signed with the key the
// fleet's Secret holds. Each cluster renders its expected objects from the pulled, verified
// artifacts, built with the real kustomize and helm; each planted fault is found.

const skipReason = missingTools(['docker-registry']) ?? kubeToolsSkipReason();
const { it, before, after } = gated(skipReason);

const get = (value: GoValue | undefined, ...path: string[]): GoValue | undefined => {
  let current = value;
  for (const key of path) current = isGoMap(current) ? current.get(key) : undefined;
  return current;
};
const text = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');
const id = (o: GoMap): string => {
  const ns = text(get(o, 'metadata', 'namespace'));
  return `${text(o.get('kind'))}/${ns === '' ? '' : `${ns}/`}${text(get(o, 'metadata', 'name'))}`;
};
const group = (render: FleetRender, appliedBy: string): GoMap[] => {
  const found = render.groups.find((g) => g.appliedBy === appliedBy);
  assert.ok(found, `no ${appliedBy}: ${render.groups.map((g) => g.appliedBy).join(', ')}`);
  return found.objects;
};
const errors = (check: FleetCheck): FleetFinding[] =>
  check.clusters.flatMap((c) => c.findings.filter((f) => f.severity === 'error'));

describe('fleet render and check online: a D2 fleet with signed artifacts in a real registry', () => {
  let registry: RegistryServer;
  let sigstore: MockSigstore;
  let client: RegistryClient;
  let session: Session;
  let published: D2Published;
  let work: { path: string; remove: () => Promise<void> };
  let fleet: string;
  let rootFile: string;
  let flags: string[];

  before(async () => {
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    session = openSession({ insecureRegistries: [registry.host] });
    published = await publishD2(client, registry.host, sigstore);
    // A forged copy: prod's tag signed by the dev identity, as a compromised dev pipeline could.
    await publishD2(client, registry.host, sigstore, { prefix: 'forged', signAs: 'dev' });
    work = await tempDir('airlock-fleet-online-');
    fleet = join(work.path, 'fleet');
    await writeD2Fleet(fleet, published.publicKeyPEM);
    rootFile = join(work.path, 'trusted_root.json');
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    flags = [
      '--registry-map',
      published.registryMap,
      '--trusted-root',
      rootFile,
      '--insecure-registry',
      registry.host,
      '--kustomize-bin',
      kubectlBinary(),
      '--helm-bin',
      helmBinary(),
    ];
  });
  after(async () => {
    session.close();
    client.close();
    await Promise.all([registry.stop(), sigstore.stop(), work.remove()]);
  });

  const render = (
    cluster: string,
    extra: { helm?: boolean; dir?: string; report?: boolean } = {},
  ): Promise<FleetRender> =>
    renderFleet({
      dir: extra.dir ?? fleet,
      cluster,
      kustomizeBin: kubectlBinary(),
      ...(extra.helm === false ? { env: { PATH: '' } } : { helmBin: helmBinary() }),
      ...(extra.report === true ? { sourceFailures: 'report' as const } : {}),
      sources: {
        session,
        registryMap: parseRegistryMappings([published.registryMap]),
        trustedRoot: JSON.stringify(sigstore.trustedRoot),
      },
    });

  for (const cluster of D2_CLUSTERS)
    it(`${cluster}: every applier's objects, from artifacts verified with ${cluster}'s identity`, async () => {
      const env = D2_ENVIRONMENTS[cluster];
      const result = await render(cluster);
      assert.deepEqual(result.unresolved, []);
      assert.deepEqual(
        result.groups.map((g) => [g.appliedBy, g.objects.length]),
        [
          ['Kustomization/flux-system/flux-system', 4],
          ['Kustomization/flux-system/tenants', 3],
          ['ResourceSet/flux-system/apps', 14],
          ['ResourceSet/flux-system/infra', 16],
          ['ResourceSet/flux-system/policies', 3],
          ['Kustomization/frontend/apps', 2],
          ['Kustomization/backend/apps', 2],
          ['Kustomization/cert-manager/infra-controllers', 3],
          ['Kustomization/monitoring/infra-controllers', 1],
          ['Kustomization/cert-manager/infra-configs', 1],
          ['Kustomization/monitoring/infra-configs', 1],
          ['HelmRelease/cert-manager/cert-manager', 2],
        ],
      );
      assert.equal(result.objects, 52);
      // Every source resolved to the digest airlock pushed for this environment's tag, and
      // verified with the identity (or key) the fleet declares for it.
      const sources = new Map(result.sources.map((s) => [s.object, s]));
      assert.equal(sources.size, 5);
      for (const [repository, tenants, name] of [
        ['d2-infra', INFRA_TENANTS, 'infra'],
        ['d2-apps', APP_TENANTS, 'apps'],
      ] as const)
        for (const tenant of tenants) {
          const source = sources.get(`OCIRepository/${tenant}/${name}`);
          assert.ok(source, `no source for ${tenant}`);
          assert.equal(source.failure, undefined);
          assert.equal(source.tag, env.tag);
          assert.equal(
            source.pulledFrom,
            published.digests.get(`${repository}/${tenant}:${env.tag}`),
          );
          assert.equal(source.verified?.subject, d2Subject(repository, cluster));
          assert.equal(
            source.verified.format,
            repository === 'd2-apps' ? 'sigstore-bundle' : 'cosign-legacy',
          );
        }
      const chart = sources.get('OCIRepository/cert-manager/cert-manager-chart');
      assert.equal(chart?.tag, '1.2.0');
      assert.equal(chart.verified?.keyName, 'cosign-pub/cosign.pub');
      // Built from the artifact with the cluster's runtime-info substituted after kustomize.
      const frontend = group(result, 'Kustomization/frontend/apps');
      assert.deepEqual(frontend.map(id).sort(), [
        'Deployment/frontend/frontend',
        'Service/frontend/frontend',
      ]);
      const deployment = frontend.find((o) => text(o.get('kind')) === 'Deployment');
      assert.deepEqual(get(deployment, 'spec', 'replicas'), new GoInt(env.replicas));
      const containers = get(deployment, 'spec', 'template', 'spec', 'containers');
      const vars = Array.isArray(containers) ? get(containers[0], 'env') : undefined;
      assert.equal(
        Array.isArray(vars) ? get(vars[0], 'value') : undefined,
        `https://frontend.${cluster}.cluster.local`,
      );
      assert.equal(
        get(group(result, 'Kustomization/cert-manager/infra-configs')[0], 'data', 'domain'),
        `${cluster}.cluster.local`,
      );
      // The HelmRelease rendered by helm with valuesFrom (the overlay's ConfigMap) and values;
      // the chart's test hook is not installed, as helm-controller does not install it.
      const release = group(result, 'HelmRelease/cert-manager/cert-manager');
      assert.deepEqual(release.map(id).sort(), [
        'Deployment/cert-manager/cert-manager',
        'ServiceAccount/cert-manager/cert-manager',
      ]);
      const controller = release.find((o) => text(o.get('kind')) === 'Deployment');
      assert.deepEqual(get(controller, 'spec', 'replicas'), new GoInt(env.replicas));
    });

  it('check --all online passes the clean fleet: every artifact exists and verifies (exit 0)', async () => {
    const run = await runCommand(fleetCheckCommand, [fleet, '--all', ...flags, '--json']);
    assert.equal(run.code, 0, run.stdout || run.error?.message);
    const check = JSON.parse(run.stdout) as FleetCheck;
    assert.deepEqual(errors(check), []);
    assert.deepEqual(
      check.clusters.map((c) => [c.cluster, c.objects, c.sources]),
      [
        ['dev', 52, 5],
        ['prod', 52, 5],
        ['test', 52, 5],
      ],
    );
  });

  it("an artifact signed by another environment's identity: artifact-unverified, exit 3", async () => {
    // The frontend artifacts are read from the forged copy, whose prod tag dev signed.
    const forged = `ghcr.io/acme/d2-apps/frontend=${registry.host}/forged/d2-apps/frontend`;
    const run = await runCommand(fleetCheckCommand, [
      fleet,
      '--cluster',
      'prod',
      ...flags,
      '--registry-map',
      forged,
      '--json',
    ]);
    assert.equal(run.code, 3, run.stdout || run.error?.message);
    const found = errors(JSON.parse(run.stdout) as FleetCheck);
    assert.deepEqual(
      found.map((f) => [f.file, f.source]),
      [['tenants/apps.yaml', undefined]],
    );
    assert.deepEqual(
      found.map((f) => [f.rule, f.object, f.field, f.appliedBy]),
      [
        [
          'artifact-unverified',
          'OCIRepository/frontend/apps',
          'spec.verify',
          'ResourceSet/flux-system/apps',
        ],
      ],
    );
    // dev's own tag in the forged copy is signed by dev: dev passes against it.
    const dev = await runCommand(fleetCheckCommand, [
      fleet,
      '--cluster',
      'dev',
      ...flags,
      '--registry-map',
      forged,
    ]);
    assert.equal(dev.code, 0, dev.stdout);
  });

  it('render refuses an artifact that fails verification: VERIFICATION_FAILED, nothing written', async () => {
    const out = join(work.path, 'rendered-forged');
    const run = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'prod',
      ...flags,
      '--registry-map',
      `ghcr.io/acme/d2-apps/frontend=${registry.host}/forged/d2-apps/frontend`,
      '-o',
      out,
    ]);
    assert.equal(run.code, 3);
    assert.equal(run.error?.code, 'VERIFICATION_FAILED');
    assert.equal(run.error.data.object, 'OCIRepository/frontend/apps');
    assert.equal(run.error.data.field, 'spec.verify');
    assert.deepEqual(
      (await readdir(work.path)).filter((e) => e.includes('rendered-forged')),
      [],
    );
  });

  it('an artifact that does not exist: artifact-missing on spec.ref.tag', async () => {
    const run = await runCommand(fleetCheckCommand, [
      fleet,
      '--cluster',
      'test',
      ...flags,
      '--registry-map',
      `ghcr.io/acme/d2-apps/backend=${registry.host}/nowhere/backend`,
      '--json',
    ]);
    assert.equal(run.code, 3);
    const found = errors(JSON.parse(run.stdout) as FleetCheck);
    assert.deepEqual(
      found.map((f) => [f.rule, f.object, f.field]),
      [['artifact-missing', 'OCIRepository/backend/apps', 'spec.ref.tag']],
    );
  });

  it('no flag widens a policy: a key given for the Secret replaces it, and the wrong key fails', async () => {
    const other = join(work.path, 'other.pub');
    const { publicKeyPEM } = (await import('../../src/sign/index.ts')).generateKeyPair('x');
    await writeFile(other, publicKeyPEM);
    const run = await runCommand(fleetCheckCommand, [
      fleet,
      '--cluster',
      'dev',
      ...flags,
      '--key-secret',
      `cert-manager/cosign-pub=${other}`,
      '--json',
    ]);
    assert.equal(run.code, 3);
    const wrongKey = errors(JSON.parse(run.stdout) as FleetCheck);
    assert.deepEqual(
      wrongKey.map((f) => [f.rule, f.object, f.field]),
      [['artifact-unverified', 'OCIRepository/cert-manager/cert-manager-chart', 'spec.verify']],
    );
    // The OCIRepository came from the infra artifact: its file there, and the artifact's digest.
    assert.deepEqual(
      wrongKey.map((f) => [f.file, f.source]),
      [['controllers/base/repository.yaml', published.digests.get('d2-infra/cert-manager:latest')]],
    );
    // Another Sigstore's trusted root does not vouch for the fleet's keyless signatures.
    const foreign = await startMockSigstore();
    try {
      const foreignRoot = join(work.path, 'foreign-root.json');
      await writeFile(foreignRoot, JSON.stringify(foreign.trustedRoot));
      const keyless = await runCommand(fleetCheckCommand, [
        fleet,
        '--cluster',
        'dev',
        ...flags,
        '--trusted-root',
        foreignRoot,
        '--json',
      ]);
      assert.equal(keyless.code, 3);
      const rules = errors(JSON.parse(keyless.stdout) as FleetCheck).map(
        (f) => `${f.rule} ${f.object}`,
      );
      assert.deepEqual(rules.sort(), [
        'artifact-unverified OCIRepository/backend/apps',
        'artifact-unverified OCIRepository/cert-manager/infra',
        'artifact-unverified OCIRepository/frontend/apps',
        'artifact-unverified OCIRepository/monitoring/infra',
      ]);
    } finally {
      await foreign.stop();
    }
  });

  it('keyless policies without a trusted root: TRUSTED_ROOT_REQUIRED, exit 2, not a finding', async () => {
    const withoutRoot = flags.filter(
      (f, i) => f !== '--trusted-root' && flags[i - 1] !== '--trusted-root',
    );
    const run = await runCommand(fleetCheckCommand, [fleet, '--cluster', 'dev', ...withoutRoot]);
    assert.equal(run.code, 2);
    assert.equal(run.error?.code, 'TRUSTED_ROOT_REQUIRED');
    assert.equal(run.error.data.option, 'trustedRoot');
  });

  it('a registry that is down: REGISTRY_UNREACHABLE naming the host, no output directory', async () => {
    const port = await freePort();
    const out = join(work.path, 'rendered-down');
    const unmapped = flags.slice(2);
    const run = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'dev',
      ...unmapped,
      '--registry-map',
      `ghcr.io/acme=127.0.0.1:${port}/acme`,
      '--insecure-registry',
      `127.0.0.1:${port}`,
      '-o',
      out,
    ]);
    assert.equal(run.code, 1);
    assert.equal(run.error?.code, 'REGISTRY_UNREACHABLE');
    assert.match(run.error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.deepEqual(
      (await readdir(work.path)).filter((e) => e.includes('rendered-down')),
      [],
    );
  });

  it('without a helm binary the HelmRelease is resolved and verified, then listed as unresolved', async () => {
    const result = await render('dev', { helm: false });
    assert.equal(
      result.groups.some((g) => g.appliedBy.startsWith('HelmRelease/')),
      false,
    );
    assert.deepEqual(
      result.unresolved.map((u) => u.object),
      ['HelmRelease/cert-manager/cert-manager'],
    );
    assert.equal(
      result.sources.find((s) => s.object === 'OCIRepository/cert-manager/cert-manager-chart')
        ?.verified?.keyName,
      'cosign-pub/cosign.pub',
    );
  });

  it('render -o writes one file per applier, and --json names each source and its digest', async () => {
    const out = join(work.path, 'rendered-prod');
    const run = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'prod',
      ...flags,
      '-o',
      out,
      '--json',
    ]);
    assert.equal(run.code, 0, run.error?.message);
    const json = JSON.parse(run.stdout) as {
      files: string[];
      sources: { object: string; pulledFrom: string }[];
    };
    assert.ok(
      json.files.includes('HelmRelease/cert-manager/cert-manager.yaml'),
      json.files.join(' '),
    );
    assert.ok(json.files.includes('Kustomization/frontend/apps.yaml'));
    assert.equal(
      json.sources.find((s) => s.object === 'OCIRepository/frontend/apps')?.pulledFrom,
      published.digests.get('d2-apps/frontend:latest-stable'),
    );
    const file = await readFile(join(out, 'Kustomization/frontend/apps.yaml'), 'utf8');
    assert.match(file, /^# applied by Kustomization\/frontend\/apps\n/);
    assert.match(file, /value: https:\/\/frontend\.prod\.cluster\.local/);
  });

  it('graph online: the phases include what the pulled artifacts declare', async () => {
    const run = await runCommand(fleetGraphCommand, [
      fleet,
      '--cluster',
      'dev',
      ...flags,
      '--json',
    ]);
    assert.equal(run.code, 0, run.error?.message);
    const graph = JSON.parse(run.stdout) as { edges: { from: string; to: string }[] };
    assert.ok(
      graph.edges.some(
        (e) =>
          JSON.stringify(e).includes('infra-configs') &&
          JSON.stringify(e).includes('infra-controllers'),
      ),
      run.stdout,
    );
    assert.ok(run.stdout.includes('HelmRelease/cert-manager/cert-manager'));
  });

  it('a fleet copy with a planted allowlist violation in a pulled source is found', async () => {
    // A tenant OCIRepository outside the allowlist: admission-denied from the fleet's own VAP.
    const copy = join(work.path, 'fleet-denied');
    await cp(fleet, copy, { recursive: true });
    const apps = join(copy, 'tenants/apps.yaml');
    await writeFile(
      apps,
      (await readFile(apps, 'utf8')).replace(
        'url: "oci://ghcr.io/acme/d2-apps/<< inputs.tenant >>"',
        'url: "oci://docker.io/acme/d2-apps/<< inputs.tenant >>"',
      ),
    );
    const run = await runCommand(fleetCheckCommand, [
      copy,
      '--cluster',
      'dev',
      ...flags,
      '--registry-map',
      `docker.io/acme=${registry.host}/acme`,
      '--json',
    ]);
    assert.equal(run.code, 3);
    const denied = errors(JSON.parse(run.stdout) as FleetCheck).filter(
      (f) => f.rule === 'admission-denied',
    );
    assert.deepEqual(denied.map((f) => f.object).sort(), [
      'OCIRepository/backend/apps',
      'OCIRepository/frontend/apps',
    ]);
  });

  it('more sources at once than resolve concurrently (24 from one ResourceSet) all resolve', async () => {
    const copy = join(work.path, 'fleet-many');
    await cp(fleet, copy, { recursive: true });
    const inputs = Array.from({ length: 24 }, (_, i) => `    - n: "${i}"`).join('\n');
    await writeFile(
      join(copy, 'tenants/many.yaml'),
      `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: many
  namespace: flux-system
spec:
  inputs:
${inputs}
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: OCIRepository
      metadata:
        name: copy-<< inputs.n >>
        namespace: flux-system
      spec:
        interval: 10m
        url: oci://ghcr.io/acme/d2-apps/frontend
        ref:
          tag: latest
        verify:
          provider: cosign
          secretRef:
            name: cosign-pub
`,
    );
    const result = await render('dev', { dir: copy, report: true });
    const copies = result.sources.filter((s) =>
      s.object.startsWith('OCIRepository/flux-system/copy-'),
    );
    assert.equal(copies.length, 24);
    // In discovery order, whatever finished first; each fails the key policy (apps are keyless).
    assert.deepEqual(
      copies.map((s) => s.object),
      Array.from({ length: 24 }, (_, i) => `OCIRepository/flux-system/copy-${i}`),
    );
    assert.ok(copies.every((s) => s.failure?.code === 'VERIFICATION_FAILED'));
  });

  it('a HelmRelease on an OCI HelmRepository: the chart version resolved, verified in the repository namespace, rendered', async () => {
    const copy = join(work.path, 'fleet-helmrepo');
    await cp(fleet, copy, { recursive: true });
    await writeFile(
      join(copy, 'tenants/charts.yaml'),
      `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  type: oci
  interval: 1h
  url: oci://ghcr.io/acme/charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: issuer
  namespace: flux-system
spec:
  interval: 1h
  serviceAccountName: flux-operator
  chart:
    spec:
      chart: cert-manager
      version: ">=1.0.0, <2.0.0"
      sourceRef:
        kind: HelmRepository
        name: charts
      verify:
        provider: cosign
        secretRef:
          name: cosign-pub
  values:
    replicaCount: 4
`,
    );
    const result = await render('dev', { dir: copy });
    const release = group(result, 'HelmRelease/flux-system/issuer');
    const deployment = release.find((o) => text(o.get('kind')) === 'Deployment');
    assert.deepEqual(get(deployment, 'spec', 'replicas'), new GoInt(4));
    const chart = result.sources.find((s) => s.object === 'HelmRelease/flux-system/issuer');
    assert.equal(chart?.tag, '1.2.0');
    assert.equal(chart.verified?.keyName, 'cosign-pub/cosign.pub');
  });

  it('a fleet URL naming a local OCI layout is refused (source-invalid), never opened', async () => {
    const copy = join(work.path, 'fleet-layout');
    await cp(fleet, copy, { recursive: true });
    const apps = join(copy, 'tenants/apps.yaml');
    await writeFile(
      apps,
      (await readFile(apps, 'utf8')).replace(
        'url: "oci://ghcr.io/acme/d2-apps/<< inputs.tenant >>"',
        `url: "oci://oci-layout:${join(work.path, 'layout')}"`,
      ),
    );
    const run = await runCommand(fleetCheckCommand, [copy, '--cluster', 'dev', ...flags, '--json']);
    assert.equal(run.code, 3);
    const invalid = errors(JSON.parse(run.stdout) as FleetCheck).filter(
      (f) => f.rule === 'source-invalid',
    );
    assert.deepEqual(invalid.map((f) => [f.object, f.field]).sort(), [
      ['OCIRepository/backend/apps', 'spec.url'],
      ['OCIRepository/frontend/apps', 'spec.url'],
    ]);
    assert.deepEqual(
      (await readdir(work.path)).filter((e) => e === 'layout'),
      [],
    );
    // Nor through a mapping to a layout: ".." in the URL cannot climb out of the mapped path.
    await writeFile(
      apps,
      (await readFile(apps, 'utf8')).replace(
        `url: "oci://oci-layout:${join(work.path, 'layout')}"`,
        'url: "oci://ghcr.io/acme/../../elsewhere/<< inputs.tenant >>"',
      ),
    );
    const climbing = await runCommand(fleetCheckCommand, [
      copy,
      '--cluster',
      'dev',
      ...flags,
      '--registry-map',
      `ghcr.io/acme/..=oci-layout:${join(work.path, 'mirror')}`,
      '--json',
    ]);
    assert.equal(climbing.code, 3);
    assert.deepEqual(
      errors(JSON.parse(climbing.stdout) as FleetCheck)
        .filter((f) => f.rule === 'source-invalid')
        .map((f) => f.object)
        .sort(),
      ['OCIRepository/backend/apps', 'OCIRepository/frontend/apps'],
    );
  });

  it('bad flags: a --registry-map that is not FROM=TO, a --key-secret without a file', async () => {
    const map = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'dev',
      '--registry-map',
      'ghcr.io',
    ]);
    assert.equal(map.code, 2);
    assert.equal(map.error?.data.option, 'registryMap');
    const twice = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'dev',
      '--registry-map',
      'ghcr.io/acme=a.internal/acme',
      '--registry-map',
      'ghcr.io/acme/=b.internal/acme',
    ]);
    assert.equal(twice.error?.data.option, 'registryMap');
    const key = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'dev',
      '--key-secret',
      'cosign-pub',
    ]);
    assert.equal(key.code, 2);
    assert.equal(key.error?.code, 'USAGE');
    const offline = await runCommand(fleetRenderCommand, [
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--key-secret',
      `cosign-pub=${rootFile}`,
    ]);
    assert.equal(offline.error?.code, 'USAGE');
    await assertRejectsCode(
      () => renderFleet({ dir: fleet, cluster: 'dev', kustomizeBin: kubectlBinary() }),
      'INPUT_INVALID',
    );
  });
});
