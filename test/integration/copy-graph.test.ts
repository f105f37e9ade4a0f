import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { canonicalJSON, type Digest, MediaType, sha256 } from '../../src/core/index.ts';
import {
  copy,
  LayoutRepository,
  RegistryClient,
  type Repository,
  referrersTag,
} from '../../src/oci/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { startStaticServer } from '../harness/static-server.ts';
import { UPSTREAM_HELM } from '../harness/fixture-charts.ts';
import { fixturesSkipReason, gated, missingTools, run, tempDir } from '../harness/tools.ts';

const skip = missingTools(['docker-registry', 'skopeo']);

/** Pushes a two-platform image index whose children are small artifacts; returns its digest. */
async function pushIndex(
  repository: Repository,
  tag: string,
): Promise<{ digest: Digest; children: Digest[] }> {
  const children: Digest[] = [];
  const manifests = [];
  for (const architecture of ['amd64', 'arm64']) {
    const artifact = makeArtifact({ name: architecture });
    for (const blob of artifact.blobs)
      await repository.pushBlob(blob.descriptor, () =>
        Promise.resolve(Readable.from([blob.bytes])),
      );
    const descriptor = await repository.pushManifest(artifact.manifest, MediaType.ociManifest);
    children.push(descriptor.digest);
    manifests.push({ ...descriptor, platform: { os: 'linux', architecture } });
  }
  const index = Buffer.from(
    canonicalJSON({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }),
  );
  const pushed = await repository.pushManifest(index, MediaType.ociIndex, tag);
  return { digest: pushed.digest, children };
}

describe('copying manifest graphs', { skip }, () => {
  let registry: RegistryServer;
  let client: RegistryClient;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    work = await tempDir();
  });
  after(async () => {
    client.close();
    await registry.stop();
    await work.remove();
  });

  it('copies an image index with its children, registry to layout to registry, readable by skopeo', async () => {
    const src = client.repository(registry.host, 'graph/index');
    const { digest, children } = await pushIndex(src, 'multi');
    const layout = new LayoutRepository(join(work.path, 'index-layout'));
    const first = await copy({
      source: src,
      reference: 'multi',
      destination: layout,
      tags: ['multi'],
    });
    assert.equal(first.digest, digest);
    assert.equal(first.manifestsWritten, 3, 'two children and the index');
    for (const child of children) assert.equal(await layout.hasManifest(child), true);
    const back = client.repository(registry.host, 'graph/index-copy');
    await copy({ source: layout, reference: 'multi', destination: back, tags: ['multi'] });
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/graph/index-copy:multi`,
    ]);
    assert.equal(sha256(raw.trimEnd()), digest);
    for (const child of children) assert.equal(await back.hasManifest(child), true);
    // The layout's garbage collector keeps children reachable through the index.
    const gc = await layout.garbageCollect();
    assert.deepEqual(gc.removed, []);
  });

  it('copies cosign signature tags along with --signatures', async () => {
    const src = client.repository(registry.host, 'graph/signed');
    const artifact = makeArtifact();
    await pushArtifact(src, artifact, 'v1');
    const signature = makeArtifact({ name: 'signature' });
    const sigTag = `${referrersTag(artifact.digest)}.sig`;
    await pushArtifact(src, signature, sigTag);
    const dst = client.repository(registry.host, 'graph/signed-copy');
    const without = await copy({ source: src, reference: 'v1', destination: dst, tags: ['v1'] });
    assert.deepEqual(without.related, []);
    assert.equal(await dst.resolve(sigTag), undefined);
    const withSignatures = await copy(
      { source: src, reference: 'v1', destination: dst, tags: ['v1'] },
      { signatures: true },
    );
    assert.deepEqual(withSignatures.related, [sigTag]);
    assert.equal((await dst.resolve(sigTag))?.digest, signature.digest);
  });

  it('honours Retry-After on 429 before retrying', async () => {
    const proxy = await startProxy({ upstream: registry.url });
    const throttled = new RegistryClient({ insecureRegistries: [proxy.host] });
    try {
      const repo = throttled.repository(proxy.host, 'graph/throttled');
      await pushArtifact(repo, makeArtifact(), 'v1');
      let throttledOnce = false;
      proxy.rule = () => {
        if (throttledOnce) return undefined;
        throttledOnce = true;
        return { kind: 'status', status: 429, retryAfter: '1' };
      };
      const started = Date.now();
      assert.deepEqual(await repo.listTags(), ['v1']);
      const waited = Date.now() - started;
      assert.ok(waited >= 900, `waited ${waited} ms for Retry-After: 1`);
      assert.deepEqual(
        proxy.log.slice(-2).map((r) => r.status),
        [429, 200],
      );
    } finally {
      throttled.close();
      await proxy.stop();
    }
  });
});

const fixtures = gated(fixturesSkipReason('upstream-helm/index.yaml'));
describe('static Helm repository server', () => {
  fixtures.it('serves the fixture repository and nothing outside it', async () => {
    const server = await startStaticServer(UPSTREAM_HELM);
    try {
      const index = await fetch(`${server.url}/index.yaml`);
      assert.equal(index.status, 200);
      assert.match(await index.text(), /^apiVersion: v1/);
      const chart = await fetch(`${server.url}/alertmanager-1.42.0.tgz`);
      assert.equal(
        sha256(new Uint8Array(await chart.arrayBuffer())),
        'sha256:48ced5300c14a33047fda29c1a0ab0e5ab8111edca517b32334f0d216f93814e',
      );
      assert.equal((await fetch(`${server.url}/missing.tgz`)).status, 404);
      assert.equal((await fetch(`${server.url}/..%2f..%2fetc%2fpasswd`)).status, 403);
    } finally {
      await server.stop();
    }
  });
});
