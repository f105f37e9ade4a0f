import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { buildLayer, packageChart, pushChart, pushFluxArtifact } from '../../src/artifact/index.ts';
import { type Digest, readAll, sha256 } from '../../src/core/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { chartImages, CYCLONEDX_MEDIA_TYPE, CYCLONEDX_PREDICATE } from '../../src/sbom/index.ts';
import { BUNDLE_MEDIA_TYPE, findBundles, verifyBundleJSON } from '../../src/sign/index.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const skip = missingTools(['docker-registry']);

// Every SBOM airlock writes (the -o file, the attached referrer, the attested predicate) is checked
// against the official CycloneDX 1.6 JSON schema shipped by the CycloneDX library.
const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
const assertValidBOM = async (json: string, what: string): Promise<void> => {
  assert.equal((JSON.parse(json) as { specVersion: string }).specVersion, '1.6', what);
  assert.equal(await validator.validate(json), null, `${what} validates`);
};

describe('chartImages', () => {
  it('finds images in values (strings and registry/repository/tag maps) and untemplated template lines', () => {
    const values = {
      image: { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2' },
      sidecar: { image: 'busybox:1.36' },
      list: [{ image: { repository: 'quay.io/x/y', digest: 'sha256:abc' } }],
    };
    const templates = [
      'containers:\n  - name: a\n    image: "{{ .Values.image.repository }}"\n  - name: b\n    image: ghcr.io/acme/tool:v2\n',
    ];
    assert.deepEqual(chartImages(values, templates), [
      'busybox:1.36',
      'docker.io/bitnami/redis:7.2',
      'ghcr.io/acme/tool:v2',
      'quay.io/x/y@sha256:abc',
    ]);
  });
});

describe('SBOMs attached and attested on a real registry', { skip }, () => {
  let registry: RegistryServer;
  let client: RegistryClient;
  let work: { path: string; remove: () => Promise<void> };
  let env: Record<string, string>;
  before(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    work = await tempDir();
    env = { HOME: work.path, COSIGN_PASSWORD: 'pw' };
    assert.equal(
      (
        await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'cosign')], {
          env,
        })
      ).code,
      0,
    );
  });
  after(async () => {
    client.close();
    await registry.stop();
    await work.remove();
  });

  const attestationFor = async (repository: string, digest: Digest) => {
    const bundles = await findBundles(client.repository(registry.host, repository), digest);
    const pub = (await import('../../src/sign/index.ts')).loadPublicKey(
      await readFile(join(work.path, 'cosign.pub'), 'utf8'),
      'cosign.pub',
    );
    const attestation = bundles.find(({ bundle }) => {
      const payload = (bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload;
      return (
        (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType: string })
          .predicateType === CYCLONEDX_PREDICATE
      );
    });
    assert.ok(attestation, 'an attestation bundle is attached');
    assert.equal(
      verifyBundleJSON(attestation.bundle, digest, {
        keys: [{ name: 'cosign.pub', key: pub }],
        ignoreTlog: true,
      }).keyName,
      'cosign.pub',
    );
    const statement = JSON.parse(
      Buffer.from(
        (attestation.bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload,
        'base64',
      ).toString('utf8'),
    ) as { predicate: { components: { name: string; type: string }[] } };
    await assertValidBOM(JSON.stringify(statement.predicate), 'the attested predicate');
    return statement;
  };

  /** The bytes of the CycloneDX referrer attached to `digest`. */
  const attachedSBOM = async (repository: string, digest: Digest): Promise<string> => {
    const repo = client.repository(registry.host, repository);
    const referrer = (await repo.referrers(digest)).find(
      (r) => r.artifactType === CYCLONEDX_MEDIA_TYPE,
    );
    assert.ok(referrer, 'a CycloneDX referrer is attached');
    const manifest = JSON.parse(
      (await repo.fetchManifest(referrer.digest)).bytes.toString('utf8'),
    ) as {
      layers: { digest: `sha256:${string}`; size: number; mediaType: string }[];
    };
    assert.equal(manifest.layers[0]?.mediaType, CYCLONEDX_MEDIA_TYPE);
    const json = (await readAll(await repo.fetchBlob(manifest.layers[0]))).toString('utf8');
    await assertValidBOM(json, 'the attached SBOM');
    return json;
  };

  it('for a Helm chart: the chart, its dependencies and its images, attached and signed', async () => {
    const dir = join(work.path, 'chart', 'shop');
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeFile(
      join(dir, 'Chart.yaml'),
      'apiVersion: v2\nname: shop\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 18.0.0\n    repository: oci://registry-1.docker.io/bitnamicharts\n',
    );
    await writeFile(
      join(dir, 'values.yaml'),
      'image:\n  repository: registry.internal/shop/web\n  tag: "2.1"\n',
    );
    await writeFile(
      join(dir, 'templates', 'job.yaml'),
      'kind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - image: registry.internal/tools/migrate:5\n',
    );
    const packaged = await packageChart(dir, join(work.path, 'dist'));
    const pushed = await pushChart(
      (r) => client.repository(registry.host, r),
      packaged.path,
      'charts',
    );
    const out = join(work.path, 'shop.cdx.json');
    const result = await airlock(
      [
        'sbom',
        `${registry.host}/charts/shop:1.0.0`,
        '--key',
        join(work.path, 'cosign.key'),
        '-o',
        out,
        '--json',
        '--insecure-registry',
        registry.host,
      ],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const bom = JSON.parse(await readFile(out, 'utf8')) as {
      bomFormat: string;
      specVersion: string;
      metadata: { component: { name: string; purl: string } };
      components: { name: string; type: string; purl?: string }[];
    };
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.metadata.component.purl, 'pkg:helm/shop@1.0.0');
    assert.deepEqual(
      bom.components.map((c) => `${c.type} ${c.name}`),
      [
        'application redis',
        'container registry.internal/shop/web:2.1',
        'container registry.internal/tools/migrate:5',
      ],
    );
    await assertValidBOM(await readFile(out, 'utf8'), 'the SBOM written with -o');
    // The SBOM is a referrer of the chart (tag-schema index on distribution 2.8) ...
    const referrers = await client
      .repository(registry.host, 'charts/shop')
      .referrers(pushed.digest);
    assert.deepEqual(
      referrers.map((r) => r.artifactType).sort(),
      [BUNDLE_MEDIA_TYPE, CYCLONEDX_MEDIA_TYPE].sort(),
    );
    const attached = JSON.parse(await attachedSBOM('charts/shop', pushed.digest)) as unknown;
    assert.deepEqual(attached, bom, 'the file written is the SBOM attached');
    // ... and is signed as an in-toto attestation that verifies with the key.
    const statement = await attestationFor('charts/shop', pushed.digest);
    assert.equal(statement.predicate.components.length, 3);
  });

  it('for a Flux artifact: every file with its SHA-256', async () => {
    const dir = join(work.path, 'flux');
    await mkdir(join(dir, 'apps'), { recursive: true });
    await writeFile(join(dir, 'apps', 'web.yaml'), 'kind: Deployment\n');
    await writeFile(join(dir, 'kustomization.yaml'), 'resources: [apps/web.yaml]\n');
    const repo = client.repository(registry.host, 'apps/web');
    const pushed = await pushFluxArtifact(repo, await buildLayer(dir), {
      tag: 'v1',
      meta: { source: 'https://git.example/web', revision: `main@sha1:${'f'.repeat(40)}` },
    });
    const result = await airlock(
      [
        'sbom',
        `${registry.host}/apps/web:v1`,
        '--key',
        join(work.path, 'cosign.key'),
        '--insecure-registry',
        registry.host,
      ],
      { env },
    );
    assert.equal(result.code, 0, result.stderr);
    const json = await attachedSBOM('apps/web', pushed.digest);
    const attached = JSON.parse(json) as {
      components: { name: string; type: string; hashes?: { alg: string; content: string }[] }[];
    };
    assert.deepEqual(
      attached.components.map((c) => `${c.type} ${c.name}`),
      ['file apps/web.yaml', 'file kustomization.yaml'],
    );
    // The schema check can fail: the same document, broken, is refused.
    const broken = (change: (bom: Record<string, unknown> & typeof attached) => void): string => {
      const bom = JSON.parse(json) as Record<string, unknown> & typeof attached;
      change(bom);
      return JSON.stringify(bom);
    };
    for (const [what, bad] of [
      [
        'a hash that is not hex',
        broken((b) => (b.components[0]!.hashes = [{ alg: 'SHA-256', content: 'not hex' }])),
      ],
      ['an unknown component type', broken((b) => (b.components[0]!.type = 'spreadsheet'))],
      ['an unknown top-level field', broken((b) => (b.bogus = true))],
    ] as const)
      assert.notEqual(await validator.validate(bad), null, `${what} is refused`);
    const statement = (await attestationFor('apps/web', pushed.digest)) as unknown as {
      predicate: { components: { name: string; hashes: { content: string }[] }[] };
    };
    assert.deepEqual(
      statement.predicate.components.map((c) => [c.name, c.hashes[0]?.content]),
      [
        ['apps/web.yaml', sha256('kind: Deployment\n').slice(7)],
        ['kustomization.yaml', sha256('resources: [apps/web.yaml]\n').slice(7)],
      ],
    );
  });
});
