import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { canonicalJSON, MediaType, sha256 } from '../../src/core/index.ts';
import {
  copy,
  LayoutRepository,
  RegistryClient,
  StaticCredentials,
  referrersTag,
} from '../../src/oci/index.ts';
import { RegistryError } from '../../src/errors.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, run, tempDir } from '../harness/tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';

const skip = missingTools(['docker-registry', 'skopeo', 'htpasswd', 'openssl']);

describe('registry client against a real registry', { skip }, () => {
  let registry: RegistryServer;
  let client: RegistryClient;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host], pageSize: 2 });
    work = await tempDir();
  });
  after(async () => {
    client.close();
    await registry.stop();
    await work.remove();
  });

  it('pushes an artifact that skopeo reads with the same digest', async () => {
    const repo = client.repository(registry.host, 'interop/pushed');
    const artifact = makeArtifact({ name: 'pushed' });
    await pushArtifact(repo, artifact, '1.0.0');
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/interop/pushed:1.0.0`,
    ]);
    assert.equal(sha256(raw.trimEnd()), artifact.digest);
    const parsed = JSON.parse(raw) as {
      config: { mediaType: string };
      layers: { digest: string }[];
    };
    assert.equal(parsed.config.mediaType, MediaType.helmConfig);
    assert.equal(parsed.layers[0]?.digest, artifact.blobs[1]?.descriptor.digest);
  });

  it('copies what skopeo pushed, byte-identical, and skopeo reads the layout airlock writes', async () => {
    // skopeo writes an OCI layout from the registry; airlock copies it into a new repository.
    const repo = client.repository(registry.host, 'interop/source');
    const artifact = makeArtifact({ name: 'source', layerSize: 50_000 });
    await pushArtifact(repo, artifact, 'v1');
    const skopeoLayout = join(work.path, 'skopeo-layout');
    await mkdir(skopeoLayout);
    run('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/interop/source:v1`,
      `oci:${skopeoLayout}:v1`,
    ]);
    const fromSkopeo = new LayoutRepository(skopeoLayout);
    const dst = client.repository(registry.host, 'interop/from-skopeo');
    const result = await copy({
      source: fromSkopeo,
      reference: 'v1',
      destination: dst,
      tags: ['v1'],
    });
    assert.equal(result.digest, artifact.digest);
    const copied = await dst.fetchManifest('v1');
    assert.deepEqual(copied.bytes, artifact.manifest);
    for (const blob of artifact.blobs) {
      const chunks: Buffer[] = [];
      for await (const chunk of await dst.fetchBlob(blob.descriptor)) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), blob.bytes);
    }
    // And the other way: airlock writes a layout, skopeo copies it back into the registry.
    const ours = join(work.path, 'airlock-layout');
    await copy({
      source: repo,
      reference: 'v1',
      destination: new LayoutRepository(ours),
      tags: ['v1'],
    });
    run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${ours}:v1`,
      `docker://${registry.host}/interop/from-airlock-layout:v1`,
    ]);
    assert.equal(
      (await client.repository(registry.host, 'interop/from-airlock-layout').resolve('v1'))?.digest,
      artifact.digest,
    );
  });

  it('lists tags across Link pages and the catalog', async () => {
    const repo = client.repository(registry.host, 'paged/repo');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'a');
    for (const tag of ['b', 'c', 'd', 'e'])
      await repo.pushManifest(artifact.manifest, MediaType.ociManifest, tag);
    assert.deepEqual((await repo.listTags()).sort(), ['a', 'b', 'c', 'd', 'e']);
    assert.ok((await client.catalog(registry.host)).includes('paged/repo'));
    assert.deepEqual(await client.repository(registry.host, 'paged/absent').listTags(), []);
  });

  it('parses registry error bodies into typed errors', async () => {
    const repo = client.repository(registry.host, 'errors/repo');
    const missing = { mediaType: MediaType.helmConfig, digest: sha256('never pushed'), size: 12 };
    const manifest = Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: missing,
        layers: [],
      }),
    );
    const error = await assertRejectsCode(
      () => repo.pushManifest(manifest, MediaType.ociManifest, 'broken'),
      'REGISTRY_PROTOCOL',
    );
    assert.ok(error instanceof RegistryError);
    assert.equal(error.status, 400);
    assert.ok(error.registryErrors.some((e) => e.code === 'MANIFEST_BLOB_UNKNOWN'));
    await assertRejectsCode(() => repo.fetchManifest('nope'), 'REGISTRY_NOT_FOUND');
    assert.equal(await repo.resolve('nope'), undefined);
  });

  it('deletes manifests', async () => {
    const repo = client.repository(registry.host, 'delete/repo');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'gone');
    await repo.deleteManifest(artifact.digest);
    assert.equal(await repo.resolve(artifact.digest), undefined);
  });

  it('streams large blobs through a chunked upload and verifies them', async () => {
    const small = new RegistryClient({
      insecureRegistries: [registry.host],
      monolithicUploadLimit: 1024,
    });
    try {
      const repo = small.repository(registry.host, 'stream/repo');
      const artifact = makeArtifact({ layerSize: 300_000 });
      await pushArtifact(repo, artifact, 'big');
      assert.equal((await repo.resolve('big'))?.digest, artifact.digest);
      const layer = artifact.blobs[1]!;
      // A source that lies about its bytes never gets committed.
      const wrong = { ...layer.descriptor, digest: sha256('something else') };
      await assertRejectsCode(
        () => repo.pushBlob(wrong, () => Promise.resolve(Readable.from([layer.bytes]))),
        'DIGEST_MISMATCH',
      );
      assert.equal(await repo.hasBlob(wrong.digest), false);
    } finally {
      small.close();
    }
  });

  it('finds referrers through the tag schema where the referrers API is missing', async () => {
    const src = client.repository(registry.host, 'refs/src');
    const subject = makeArtifact({ name: 'subject' });
    await pushArtifact(src, subject, 'v1');
    const empty = Buffer.from('{}');
    await src.pushBlob({ mediaType: MediaType.ociEmpty, digest: sha256(empty), size: 2 }, () =>
      Promise.resolve(Readable.from([empty])),
    );
    const referrer = Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.example.sbom',
        config: { mediaType: MediaType.ociEmpty, digest: sha256(empty), size: 2 },
        layers: [{ mediaType: MediaType.ociEmpty, digest: sha256(empty), size: 2 }],
        subject: {
          mediaType: MediaType.ociManifest,
          digest: subject.digest,
          size: subject.manifest.length,
        },
      }),
    );
    const referrerDescriptor = await src.pushManifest(referrer, MediaType.ociManifest);
    const index = Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ ...referrerDescriptor, artifactType: 'application/vnd.example.sbom' }],
      }),
    );
    await src.pushManifest(index, MediaType.ociIndex, referrersTag(subject.digest));
    assert.deepEqual(
      (await src.referrers(subject.digest)).map((d) => d.digest),
      [referrerDescriptor.digest],
    );
    assert.deepEqual(await src.referrers(subject.digest, 'application/vnd.other'), []);
    // Copying with referrers brings the referrer and the tag-schema index along.
    const layout = new LayoutRepository(join(work.path, 'refs-layout'));
    const result = await copy(
      { source: src, reference: 'v1', destination: layout, tags: ['v1'] },
      { referrers: true },
    );
    assert.deepEqual(result.related, [referrerDescriptor.digest]);
    assert.deepEqual(
      (await layout.referrers(subject.digest)).map((d) => d.digest),
      [referrerDescriptor.digest],
    );
  });
});

describe('registry authentication', { skip }, () => {
  let basic: RegistryServer;
  let token: RegistryServer;
  before(async () => {
    [basic, token] = await Promise.all([
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ auth: 'token' }),
    ]);
  });
  after(async () => {
    await Promise.all([basic.stop(), token.stop()]);
  });

  it('basic auth: refuses anonymous and wrong credentials, accepts the right ones', async () => {
    const anonymous = new RegistryClient({ insecureRegistries: [basic.host] });
    const wrong = new RegistryClient({
      insecureRegistries: [basic.host],
      credentials: new StaticCredentials({ username: 'airlock', password: 'wrong' }),
    });
    const right = new RegistryClient({
      insecureRegistries: [basic.host],
      credentials: new StaticCredentials({ username: basic.username!, password: basic.password! }),
    });
    try {
      const e1 = await assertRejectsCode(
        () => anonymous.repository(basic.host, 'a/b').listTags(),
        'REGISTRY_AUTH',
      );
      const e2 = await assertRejectsCode(
        () => wrong.repository(basic.host, 'a/b').listTags(),
        'REGISTRY_AUTH',
      );
      for (const e of [e1, e2])
        assert.ok(!`${e.message} ${e.details.join(' ')}`.includes(basic.password!));
      const repo = right.repository(basic.host, 'a/b');
      await pushArtifact(repo, makeArtifact(), 'v1');
      assert.deepEqual(await repo.listTags(), ['v1']);
    } finally {
      for (const c of [anonymous, wrong, right]) c.close();
    }
  });

  it('bearer tokens: one token request per scope, reused across requests', async () => {
    const tokenHost = new URL(token.tokenServer!.url).host;
    const client = new RegistryClient({
      insecureRegistries: [token.host, tokenHost],
      credentials: new StaticCredentials({ username: token.username!, password: token.password! }),
    });
    try {
      const repo = client.repository(token.host, 'tok/repo');
      for (let i = 0; i < 5; i++) await pushArtifact(repo, makeArtifact(), `v${i}`);
      assert.equal((await repo.listTags()).length, 5);
      const log = token.tokenServer!.requests;
      const pushScopes = log.filter((r) => r.scope.join(' ') === 'repository:tok/repo:pull,push');
      assert.equal(pushScopes.length, 1, 'the push token is fetched once and cached');
      assert.ok(log.every((r) => r.service === token.tokenServer!.service && r.authenticated));
    } finally {
      client.close();
    }
    const bad = new RegistryClient({
      insecureRegistries: [token.host, tokenHost],
      credentials: new StaticCredentials({ username: 'x', password: 'y' }),
    });
    try {
      await assertRejectsCode(
        () => bad.repository(token.host, 'tok/repo').listTags(),
        'REGISTRY_AUTH',
      );
    } finally {
      bad.close();
    }
  });

  it('never sends Authorization to another origin after a redirect', async () => {
    const foreign = await startProxy({ upstream: basic.url });
    const front = await startProxy({ upstream: basic.url });
    const client = new RegistryClient({
      insecureRegistries: [front.host, foreign.host],
      credentials: new StaticCredentials({ username: basic.username!, password: basic.password! }),
    });
    try {
      const repo = client.repository(front.host, 'redirect/repo');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      front.rule = ({ method, path }) =>
        method === 'GET' && path.includes('/blobs/')
          ? { kind: 'redirect', to: foreign.url }
          : undefined;
      // The foreign origin answers 401 without credentials: the blob fetch fails rather than leak.
      await assertRejectsCode(async () => {
        const stream = await repo.fetchBlob(artifact.blobs[1]!.descriptor);
        stream.resume();
      }, 'REGISTRY_AUTH');
      assert.ok(foreign.log.length > 0, 'the redirect was followed');
      assert.ok(
        foreign.log.every((r) => r.authorization === undefined),
        'no Authorization header reached the other origin',
      );
      assert.ok(
        front.log.some((r) => r.authorization?.startsWith('Basic ')),
        'the registry itself did get credentials',
      );
    } finally {
      client.close();
      await front.stop();
      await foreign.stop();
    }
  });
});

describe('TLS', { skip }, () => {
  let tls: RegistryServer;
  let plain: RegistryServer;
  before(async () => {
    [tls, plain] = await Promise.all([startRegistry({ tls: true }), startRegistry()]);
  });
  after(async () => {
    await Promise.all([tls.stop(), plain.stop()]);
  });

  it('refuses an unknown CA, accepts it with --ca-file', async () => {
    const untrusting = new RegistryClient();
    const trusting = new RegistryClient({ caCertificates: [tls.ca!.caPEM] });
    try {
      await assertRejectsCode(() => untrusting.ping(tls.host), 'TLS_FAILED');
      await trusting.ping(tls.host);
      const repo = trusting.repository(tls.host, 'tls/repo');
      await pushArtifact(repo, makeArtifact(), 'v1');
      assert.deepEqual(await repo.listTags(), ['v1']);
    } finally {
      untrusting.close();
      trusting.close();
    }
  });

  it('reads a large blob over TLS in reused buffers, verifying the certificate', async () => {
    const options = { monolithicUploadLimit: 64 * 1024 };
    const trusting = new RegistryClient({ ...options, caCertificates: [tls.ca!.caPEM] });
    const untrusting = new RegistryClient(options);
    try {
      const repo = trusting.repository(tls.host, 'tls/big');
      const artifact = makeArtifact({ layerSize: 2 * 1024 * 1024 });
      await pushArtifact(repo, artifact, 'v1');
      const layer = artifact.blobs[1]!;
      const chunks: Buffer[] = [];
      for await (const chunk of await repo.fetchBlob(layer.descriptor))
        chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(layer.bytes));
      await assertRejectsCode(
        () => untrusting.repository(tls.host, 'tls/big').fetchBlob(layer.descriptor),
        'TLS_FAILED',
      );
    } finally {
      trusting.close();
      untrusting.close();
    }
  });

  it('an https request to a plain-HTTP registry says the server speaks plain HTTP', async () => {
    // It never downgrades: the registry is not named insecure, so only TLS is tried.
    const client = new RegistryClient();
    try {
      const error = await assertRejectsCode(() => client.ping(plain.host), 'PROTOCOL_MISMATCH');
      assert.deepEqual(error.data, { host: plain.host, speaksPlainHTTP: true });
    } finally {
      client.close();
    }
  });

  it('a TLS registry named insecure is refused as speaking HTTPS, not an unexplained 400', async () => {
    const client = new RegistryClient({ insecureRegistries: [tls.host] });
    try {
      const error = await assertRejectsCode(() => client.ping(tls.host), 'PROTOCOL_MISMATCH');
      assert.deepEqual(error.data, { host: tls.host, insecure: true, speaksTLS: true });
      // A HEAD (no body to read the server's text from) and a blob read in reused buffers (its
      // own connection, its own parser) say the same.
      const blob = client.repository(tls.host, 'tls/repo');
      await assertRejectsCode(() => blob.resolve('v1'), 'PROTOCOL_MISMATCH');
      await assertRejectsCode(
        () => blob.fetchBlob({ mediaType: 'x', digest: sha256('x'), size: 100 * 1024 * 1024 }),
        'PROTOCOL_MISMATCH',
      );
    } finally {
      client.close();
    }
  });

  it('a server that answers plain HTTP with a TLS record is reported as speaking HTTPS', async () => {
    // Some TLS servers answer a plain-HTTP request with a TLS alert (0x15) rather than Go's 400.
    const server = createServer((socket) => {
      socket.once('data', () =>
        socket.end(Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new RegistryClient({ insecureRegistries: [host] });
    try {
      const error = await assertRejectsCode(() => client.ping(host), 'PROTOCOL_MISMATCH');
      assert.equal(error.data.speaksTLS, true);
    } finally {
      client.close();
      server.close();
    }
  });

  it('reports unknown hosts as unreachable', async () => {
    const client = new RegistryClient();
    try {
      await assertRejectsCode(() => client.ping('registry.invalid'), 'REGISTRY_UNREACHABLE');
    } finally {
      client.close();
    }
  });
});
