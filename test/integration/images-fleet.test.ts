import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { helmBinary, kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { D2_CLUSTERS, type D2Published, publishD2, writeD2Fleet } from '../harness/d2-fleet.ts';
import { runCommand } from '../helpers/command.ts';
import { imagesListCommand } from '../../src/cli/commands/images-list.ts';
import { fleetCheckCommand } from '../../src/cli/commands/fleet-check.ts';
import type { FleetCheck } from '../../src/fleet/index.ts';
import { pushTestImage } from '../harness/images.ts';
import { listFleetImages, parseRegistryMappings } from '../../src/fleet/index.ts';
import { type ImageSource, parseImageList } from '../../src/images/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession } from '../../src/session/index.ts';

// `images list --fleet DIR --cluster NAME` (issue 12 §1) on the D2-shaped test fleet
// (test/harness/d2-fleet.ts): every cluster renders online from artifacts verified in a real
// registry, the cert-manager HelmRelease rendered by the real helm with the values its
// environment's overlay gives it (image.tag v1.16.0 in dev, v1.16.1 in test, v1.16.2 in prod), so
// the list is what each environment pulls, and it changes with those values.

const skipReason = missingTools(['docker-registry']) ?? kubeToolsSkipReason();
const { it, before, after } = gated(skipReason);

interface Listed {
  reference: string;
  sources: ImageSource[];
}

const PODINFO = 'ghcr.io/stefanprodan/podinfo:6.7.0';
const PROMETHEUS = 'quay.io/prometheus/prometheus:v3.0.0';
const CERT_MANAGER = 'quay.io/jetstack/cert-manager-controller';

describe('images list --fleet: what each environment of a D2 fleet pulls', () => {
  let registry: RegistryServer;
  let sigstore: MockSigstore;
  let client: RegistryClient;
  let published: D2Published;
  let work: { path: string; remove: () => Promise<void> };
  let fleet: string;
  let rootFile: string;
  let flags: string[];

  before(async () => {
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    published = await publishD2(client, registry.host, sigstore);
    work = await tempDir('airlock-images-fleet-');
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
    client.close();
    await Promise.all([registry.stop(), sigstore.stop(), work.remove()]);
  });

  const list = async (cluster: string, extra: string[] = []): Promise<Listed[]> => {
    const run = await runCommand(imagesListCommand, [
      '--fleet',
      fleet,
      '--cluster',
      cluster,
      ...flags,
      ...extra,
      '--json',
    ]);
    assert.equal(run.code, 0, run.error?.message ?? run.stdout);
    return JSON.parse(run.stdout) as Listed[];
  };
  const where = (s: ImageSource): string => `${s.object ?? ''} ${s.field} <- ${s.appliedBy ?? ''}`;

  for (const [index, cluster] of D2_CLUSTERS.entries())
    it(`${cluster}: every workload image with its object, field and applier; cert-manager at ${cluster}'s tag`, async () => {
      const images = await list(cluster);
      assert.deepEqual(
        images.map((i) => [i.reference, i.sources.map(where)]),
        [
          [
            PODINFO,
            [
              'Deployment/frontend/frontend spec.template.spec.containers[0].image <- Kustomization/frontend/apps',
              'Deployment/backend/backend spec.template.spec.containers[0].image <- Kustomization/backend/apps',
            ],
          ],
          [
            `${CERT_MANAGER}:v1.16.${index}`,
            [
              'Deployment/cert-manager/cert-manager spec.template.spec.containers[0].image <- HelmRelease/cert-manager/cert-manager',
            ],
          ],
          [
            PROMETHEUS,
            [
              'Deployment/monitoring/prometheus spec.template.spec.containers[0].image <- Kustomization/monitoring/infra-controllers',
            ],
          ],
        ],
      );
      // Objects built by kustomize name the file they came from inside their artifact.
      assert.equal(images[0]?.sources[0]?.file, 'base/deployment.yaml');
      assert.ok(images.every((i) => i.sources.every((s) => s.from === 'object')));
    });

  it('the list changes between environments only where the HelmRelease values change the tag', async () => {
    const [dev, prod] = await Promise.all([list('dev'), list('prod')]);
    const refs = (l: Listed[]): string[] => l.map((i) => i.reference);
    const onlyDev = refs(dev).filter((r) => !refs(prod).includes(r));
    const onlyProd = refs(prod).filter((r) => !refs(dev).includes(r));
    assert.deepEqual(
      [onlyDev, onlyProd],
      [[`${CERT_MANAGER}:v1.16.0`], [`${CERT_MANAGER}:v1.16.2`]],
    );
  });

  it("the library call: the same list, the render's sources and nothing unresolved", async () => {
    const session = openSession({ insecureRegistries: [registry.host] });
    try {
      const result = await listFleetImages({
        dir: fleet,
        cluster: 'test',
        kustomizeBin: kubectlBinary(),
        helmBin: helmBinary(),
        sources: {
          session,
          registryMap: parseRegistryMappings([published.registryMap]),
          trustedRoot: JSON.stringify(sigstore.trustedRoot),
        },
      });
      assert.deepEqual(result.invalid, []);
      assert.deepEqual(result.unresolved, []);
      assert.equal(result.sources.length, 5);
      assert.deepEqual(
        result.images.map((i) => i.reference),
        [PODINFO, `${CERT_MANAGER}:v1.16.1`, PROMETHEUS],
      );
      assert.deepEqual(result.images[1]?.image, {
        registry: 'quay.io',
        repository: 'jetstack/cert-manager-controller',
        tag: 'v1.16.1',
        normalized: `${CERT_MANAGER}:v1.16.1`,
      });
    } finally {
      session.close();
    }
  });

  it('the text output is an image list images mirror reads; offline lists what it could render', async () => {
    const run = await runCommand(imagesListCommand, [
      '--fleet',
      fleet,
      '--cluster',
      'prod',
      ...flags,
    ]);
    assert.equal(run.code, 0, run.error?.message);
    assert.deepEqual(
      parseImageList(run.stdout, 'images.txt').map((i) => i.reference),
      [PODINFO, `${CERT_MANAGER}:v1.16.2`, PROMETHEUS],
    );
    // Offline, the tenants' artifacts are not followed: nothing in the fleet directory itself
    // runs a pod, and what is unresolved is reported (stderr), not an error.
    const offline = await runCommand(imagesListCommand, [
      '--fleet',
      fleet,
      '--cluster',
      'prod',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--json',
    ]);
    assert.equal(offline.code, 0, offline.error?.message);
    assert.deepEqual(JSON.parse(offline.stdout), []);
  });

  it('chart flags with --fleet, and --fleet without --cluster, are usage errors (exit 2)', async () => {
    const values = await runCommand(imagesListCommand, [
      '--fleet',
      fleet,
      '--cluster',
      'dev',
      '--values',
      rootFile,
    ]);
    assert.equal(values.error?.code, 'USAGE');
    const noCluster = await runCommand(imagesListCommand, ['--fleet', fleet]);
    assert.equal(noCluster.error?.code, 'USAGE');
    assert.equal(noCluster.code, 2);
  });

  it('fleet check --cache online: an image a mirror rule rewrites is looked for in the registry, and found once mirrored', async () => {
    // docker.io and quay.io are pulled through; ghcr.io is a mirror, which holds only what was
    // copied into it: podinfo is not there yet.
    const cacheFile = join(work.path, 'cache.yaml');
    await writeFile(
      cacheFile,
      `rules:\n  - {upstream: docker.io, to: ${registry.host}/dockerhub}\n  - {upstream: quay.io, to: ${registry.host}/quay}\n  - {upstream: ghcr.io, to: ${registry.host}/mirror/ghcr.io, mode: mirror}\n`,
    );
    const check = async () => {
      const run = await runCommand(fleetCheckCommand, [
        fleet,
        '--cluster',
        'dev',
        '--cache',
        cacheFile,
        ...flags,
        '--json',
      ]);
      assert.ok(run.stdout !== '', run.error?.message);
      const result = JSON.parse(run.stdout) as FleetCheck;
      return {
        code: run.code,
        images: result.clusters
          .flatMap((c) => c.findings)
          .filter((f) => f.rule.startsWith('image-'))
          .map((f) => `${f.rule} ${f.object} ${f.field}`)
          .sort(),
      };
    };
    const before = await check();
    assert.equal(before.code, 3);
    // Both apps run podinfo; the other images are under pull-through rules.
    assert.deepEqual(before.images, [
      'image-not-mirrored Deployment/backend/backend spec.template.spec.containers[0].image',
      'image-not-mirrored Deployment/frontend/frontend spec.template.spec.containers[0].image',
    ]);
    await pushTestImage(
      client.repository(registry.host, 'mirror/ghcr.io/stefanprodan/podinfo'),
      [Buffer.from('podinfo layer')],
      '6.7.0',
    );
    assert.deepEqual((await check()).images, []);
  });
});
