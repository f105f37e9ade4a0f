import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalJSON, MediaType, sha256 } from '../../src/core/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import {
  generateKeyPair,
  oidcToken,
  resolveSigner,
  resolveVerifyPolicy,
  signLegacy,
  verifyArtifact,
  type VerifyPolicy,
} from '../../src/sign/index.ts';
import {
  createBundle,
  importBundle,
  readBundleManifest,
  BundleStore,
  verifyBundle,
} from '../../src/bundle/index.ts';
import { pushTestImage } from '../harness/images.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { startMockSigstore } from '../harness/sigstore.ts';
import { missingTools, run, tempDir } from '../harness/tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';
import { runCommand } from '../helpers/command.ts';
import {
  bundleCreateCommand,
  bundleImportCommand,
  bundlePackCommand,
  bundleUnpackCommand,
  bundleVerifyCommand,
} from '../../src/cli/commands/bundle.ts';

// Air-gap bundles against real registries: artifacts signed with an "artifact" key are bundled
// (verified first), the bundle is signed with a "bundle" key, verified offline, and imported into
// another registry; skopeo checks the digests; each tampering is refused with its code.

const skip = missingTools(['docker-registry', 'skopeo']);
const PASSWORD = 'bundle-test';

describe('air-gap bundles: create, verify, import', { skip }, () => {
  let source: RegistryServer;
  let target: RegistryServer;
  let client: RegistryClient;
  let session: Session;
  let work: { path: string; remove: () => Promise<void> };
  let artifactPolicy: VerifyPolicy;
  let bundlePolicy: VerifyPolicy;
  let bundleSigner: ReturnType<typeof resolveSigner>;
  const refs: string[] = [];
  let baseLayers: Buffer[] = [];
  let artifactKey: ReturnType<typeof generateKeyPair>;
  let bundleKey: ReturnType<typeof generateKeyPair>;
  let bundle: string;

  before(async () => {
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    client = new RegistryClient({ insecureRegistries: [source.host, target.host] });
    session = openSession({ insecureRegistries: [source.host, target.host] });
    work = await tempDir('airlock-bundle-');
    artifactKey = generateKeyPair(PASSWORD);
    bundleKey = generateKeyPair(PASSWORD);
    const artifactSigner = resolveSigner({
      key: { pem: artifactKey.privateKeyPEM, password: PASSWORD },
    });
    bundleSigner = resolveSigner({ key: { pem: bundleKey.privateKeyPEM, password: PASSWORD } });
    artifactPolicy = resolveVerifyPolicy({
      keys: [{ name: 'a.pub', pem: artifactKey.publicKeyPEM }],
      ignoreTlog: true,
    });
    bundlePolicy = resolveVerifyPolicy({
      keys: [{ name: 'b.pub', pem: bundleKey.publicKeyPEM }],
      ignoreTlog: true,
    });
    // Images sharing two base layers, one of them a two-platform index.
    baseLayers = [randomBytes(64 * 1024), randomBytes(32 * 1024)];
    for (const name of ['web', 'api', 'worker']) {
      const repository = client.repository(source.host, `images/${name}`);
      const image = await pushTestImage(
        repository,
        [...baseLayers, randomBytes(8 * 1024)],
        '1.0.0',
      );
      await signLegacy(repository, image.digest, artifactSigner);
      refs.push(`${source.host}/images/${name}:1.0.0`);
    }
    const multi = client.repository(source.host, 'images/multi');
    const children = [];
    for (const architecture of ['amd64', 'arm64']) {
      const child = await pushTestImage(multi, [...baseLayers, randomBytes(4096)], undefined, {
        architecture,
      });
      children.push({
        mediaType: MediaType.ociManifest,
        ...child,
        platform: { os: 'linux', architecture },
      });
    }
    const index = await multi.pushManifest(
      Buffer.from(
        canonicalJSON({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: children }),
      ),
      MediaType.ociIndex,
      '2.0.0',
    );
    await signLegacy(multi, index.digest, artifactSigner);
    refs.push(`${source.host}/images/multi:2.0.0`);
    bundle = join(work.path, 'bundle');
  });
  after(async () => {
    session.close();
    client.close();
    await Promise.all([source.stop(), target.stop(), work.remove()]);
  });

  it('create: every artifact verified, every blob stored once, the manifest signed', async () => {
    const created = await createBundle(session, {
      references: refs,
      outDir: bundle,
      signer: bundleSigner,
      policy: artifactPolicy,
      tool: { name: 'airlock', version: 'test' },
    });
    assert.equal(created.report.summary.done, 4);
    assert.deepEqual(
      created.manifest.artifacts.map((a) => `${a.repository}:${a.tag ?? ''}`),
      ['images/web:1.0.0', 'images/api:1.0.0', 'images/worker:1.0.0', 'images/multi:2.0.0'],
    );
    // Shared layers once: the two base layers appear as one file each.
    const files = await readdir(join(bundle, 'blobs', 'sha256'));
    assert.equal(new Set(files).size, files.length);
    const index = JSON.parse(await readFile(join(bundle, 'index.json'), 'utf8')) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    const names = index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name']);
    assert.ok(names.includes('images/web:1.0.0'));
    assert.ok(
      names.some((n) => n?.startsWith('images/web:sha256-') && n.endsWith('.sig')),
      'signatures are bundled',
    );
    const web = index.manifests.find(
      (m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'images/web:1.0.0',
    );
    assert.equal(
      web?.annotations?.['dev.airlock.bundle.source'],
      `${source.host}/images/web:1.0.0`,
    );
  });

  it('create writes the same index whatever order the artifacts finish in', async () => {
    // Artifacts are bundled concurrently; the index lists them in the order they were named.
    const again = join(work.path, 'bundle-again');
    const created = await createBundle(session, {
      references: refs,
      outDir: again,
      signer: bundleSigner,
      concurrency: 3,
    });
    const entries = async (dir: string): Promise<unknown[]> =>
      (
        JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
          manifests: { annotations?: Record<string, string> }[];
        }
      ).manifests.filter(
        (m) =>
          !(m.annotations?.['org.opencontainers.image.ref.name'] ?? '').startsWith(
            'dev.airlock.bundle:',
          ),
      );
    assert.deepEqual(await entries(again), await entries(bundle));
    assert.deepEqual(
      created.manifest.entries,
      (await readBundleManifest(new BundleStore(bundle))).manifest.entries,
    );
    await rm(again, { recursive: true, force: true });
  });

  it('verify: the bundle signature, the content, and each artifact signature', async () => {
    const result = await verifyBundle({ dir: bundle, bundlePolicy, artifactPolicy });
    assert.equal(
      result.report.summary.failed,
      0,
      JSON.stringify(
        result.report.items.filter((i) => i.error),
        null,
        1,
      ),
    );
    assert.equal(result.report.summary.done, 5);
    assert.equal(result.report.items[0]?.verified?.keyName, 'b.pub');
  });

  it('skopeo reads every artifact of the bundle (oci:DIR:repository:tag)', () => {
    for (const name of ['images/web:1.0.0', 'images/multi:2.0.0']) {
      const inspected = JSON.parse(
        run('skopeo', ['inspect', '--raw', `oci:${bundle}:${name}`]),
      ) as { mediaType: string };
      assert.ok(inspected.mediaType.startsWith('application/vnd.oci.image.'), name);
    }
  });

  it('import: verified first, then restored under the prefix with equal digests; signatures verify', async () => {
    const imported = await importBundle({
      dir: bundle,
      to: session.target(`${target.host}/mirror`),
      bundlePolicy,
      artifactPolicy,
    });
    assert.equal(
      imported.report.summary.failed,
      0,
      JSON.stringify(
        imported.report.items.filter((i) => i.error),
        null,
        1,
      ),
    );
    // The base layers four repositories share are uploaded once; the others mount them.
    const { manifest } = await readBundleManifest(new BundleStore(bundle));
    assert.ok(
      imported.report.summary.bytes <= manifest.contents.reduce((n, c) => n + c.size, 0),
      `${imported.report.summary.bytes} bytes uploaded: more than the bundle holds`,
    );
    for (const [repository, tag] of [
      ['images/web', '1.0.0'],
      ['images/multi', '2.0.0'],
    ] as const) {
      const sourceDigest = run('skopeo', [
        'inspect',
        '--tls-verify=false',
        '--format',
        '{{.Digest}}',
        `docker://${source.host}/${repository}:${tag}`,
      ]).trim();
      const raw = run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${target.host}/mirror/${repository}:${tag}`,
      ]);
      assert.equal(sha256(Buffer.from(raw)), sourceDigest);
      await verifyArtifact(
        client.repository(target.host, `mirror/${repository}`),
        tag,
        artifactPolicy,
      );
    }
    // Idempotent: a second import writes nothing.
    const again = await importBundle({
      dir: bundle,
      to: session.target(`${target.host}/mirror`),
      bundlePolicy,
    });
    assert.equal(again.report.summary.present, 4);
  });

  const tampered = async (
    name: string,
    change: (dir: string) => Promise<void>,
  ): Promise<string> => {
    const dir = join(work.path, name);
    await cp(bundle, dir, { recursive: true });
    await change(dir);
    return dir;
  };
  const largestLayer = async (dir: string): Promise<string> => {
    const { manifest } = await readBundleManifest(new BundleStore(dir));
    const blob = [...manifest.contents].sort((a, b) => b.size - a.size)[0];
    assert.ok(blob);
    return join(dir, 'blobs', 'sha256', blob.digest.slice(7));
  };

  for (const [name, change, code] of [
    [
      'a flipped byte in a blob',
      async (dir: string) => {
        const path = await largestLayer(dir);
        const bytes = await readFile(path);
        bytes[100] = (bytes[100] ?? 0) ^ 0xff;
        await writeFile(path, bytes);
      },
      'BUNDLE_INVALID',
    ],
    ['a missing blob', async (dir: string) => rm(await largestLayer(dir)), 'BUNDLE_INVALID'],
    [
      'an edited index',
      async (dir: string) => {
        const path = join(dir, 'index.json');
        const index = JSON.parse(await readFile(path, 'utf8')) as {
          manifests: { annotations?: Record<string, string> }[];
        };
        const web = index.manifests.find(
          (m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'images/web:1.0.0',
        );
        if (web?.annotations)
          web.annotations['org.opencontainers.image.ref.name'] = 'images/web:9.9.9';
        await writeFile(path, JSON.stringify(index));
      },
      'BUNDLE_INVALID',
    ],
    [
      'an entry slipped into the bundle namespace',
      async (dir: string) => {
        const path = join(dir, 'index.json');
        const index = JSON.parse(await readFile(path, 'utf8')) as {
          manifests: {
            digest: string;
            mediaType: string;
            size: number;
            annotations?: Record<string, string>;
          }[];
        };
        const web = index.manifests.find(
          (m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'images/web:1.0.0',
        );
        assert.ok(web);
        index.manifests.push({
          ...web,
          annotations: { 'org.opencontainers.image.ref.name': 'dev.airlock.bundle:extra' },
        });
        await writeFile(path, JSON.stringify(index));
      },
      'BUNDLE_INVALID',
    ],
  ] as const)
    it(`${name}: verify fails (${code}) and import imports nothing`, async () => {
      const dir = await tampered(name.replaceAll(' ', '-'), change);
      const result = await verifyBundle({ dir, bundlePolicy });
      assert.equal(result.report.items[0]?.outcome, 'failed');
      assert.equal(result.report.items[0].error?.code, code);
      const fresh = `${target.host}/tamper-${name.replaceAll(' ', '-')}`;
      await assertRejectsCode(
        () => importBundle({ dir, to: session.target(fresh), bundlePolicy }),
        code,
      );
      assert.deepEqual(
        await client
          .repository(target.host, `tamper-${name.replaceAll(' ', '-')}/images/web`)
          .listTags()
          .catch(() => []),
        [],
      );
    });

  it('a bundle re-signed with another key fails the bundle policy: VERIFICATION_FAILED', async () => {
    const dir = join(work.path, 're-signed');
    const other = generateKeyPair(PASSWORD);
    await createBundle(session, {
      references: refs.slice(0, 1),
      outDir: dir,
      signer: resolveSigner({ key: { pem: other.privateKeyPEM, password: PASSWORD } }),
    });
    const result = await verifyBundle({ dir, bundlePolicy });
    assert.equal(result.report.items[0]?.error?.code, 'VERIFICATION_FAILED');
    await assertRejectsCode(
      () => importBundle({ dir, to: session.target(`${target.host}/resigned`), bundlePolicy }),
      'VERIFICATION_FAILED',
    );
  });

  it('refuses unverified content at create: nothing is written', async () => {
    const unsigned = client.repository(source.host, 'images/unsigned');
    await pushTestImage(unsigned, [randomBytes(1024)], '1.0.0');
    const dir = join(work.path, 'unsigned');
    await assertRejectsCode(
      () =>
        createBundle(session, {
          references: [...refs, `${source.host}/images/unsigned:1.0.0`],
          outDir: dir,
          signer: bundleSigner,
          policy: artifactPolicy,
        }),
      'VERIFICATION_FAILED',
    );
    assert.deepEqual(
      (await readdir(work.path)).filter((e) => e.includes('unsigned')),
      [],
    );
  });

  it('delta: only the new blobs and moved tags; refused where the base is missing, imported where it is', async () => {
    const repository = client.repository(source.host, 'images/web');
    // The moved tag reuses the base layers: the delta leaves them to the base.
    const moved = await pushTestImage(repository, [...baseLayers, randomBytes(16 * 1024)], '1.0.0');
    await signLegacy(
      repository,
      moved.digest,
      resolveSigner({ key: { pem: generateKeyPair(PASSWORD).privateKeyPEM, password: PASSWORD } }),
    );
    const extra = client.repository(source.host, 'images/new');
    await pushTestImage(extra, [randomBytes(2048)], '0.1.0');
    // A new repository whose image shares the base layers the base brought to other repositories.
    const fresh = await pushTestImage(
      client.repository(source.host, 'images/fresh'),
      [...baseLayers, randomBytes(1024)],
      '0.1.0',
    );
    const delta = join(work.path, 'delta');
    const created = await createBundle(session, {
      references: [...refs, `${source.host}/images/new:0.1.0`, `${source.host}/images/fresh:0.1.0`],
      outDir: delta,
      signer: bundleSigner,
      since: bundle,
    });
    const base = await readBundleManifest(new BundleStore(bundle));
    assert.equal(created.manifest.base?.digest, base.documentDigest);
    assert.deepEqual(
      created.report.items.map((i) => `${i.reference} ${i.outcome}`),
      [
        'images/web:1.0.0 done',
        'images/api:1.0.0 present',
        'images/worker:1.0.0 present',
        'images/multi:2.0.0 present',
        'images/new:0.1.0 done',
        'images/fresh:0.1.0 done',
      ],
    );
    // Only new blobs: nothing the base holds, in any repository, is in the delta. A blob the base
    // brought to another repository is recorded with that repository, for import to mount it.
    // The images share one config blob too (same platform, no diff_ids).
    const config = (
      JSON.parse(
        (
          await client.repository(source.host, 'images/fresh').fetchManifest(fresh.digest)
        ).bytes.toString(),
      ) as { config: { digest: string } }
    ).config.digest;
    const baseBlobs = new Set(base.manifest.contents.map((c) => c.digest));
    for (const c of created.manifest.contents)
      assert.ok(!baseBlobs.has(c.digest), `${c.digest} is in the base already`);
    assert.deepEqual(
      created.manifest.fromBase
        .filter((b) => b.kind === 'blob')
        .map((b) => `${b.repository} ${b.digest} ${b.from ?? '-'}`)
        .sort(),
      [
        ...[...baseLayers.map((l) => sha256(l)), config].map((d) => `images/web ${d} -`),
        ...[...baseLayers.map((l) => sha256(l)), config].map((d) => `images/fresh ${d} images/api`),
        `images/new ${config} images/api`,
      ].sort(),
    );
    const result = await verifyBundle({ dir: delta, bundlePolicy });
    assert.equal(result.report.summary.failed, 0, JSON.stringify(result.report.items[0]?.error));
    await assertRejectsCode(
      () => importBundle({ dir: delta, to: session.target(`${target.host}/empty`), bundlePolicy }),
      'BASE_MISSING',
    );
    assert.deepEqual(
      await client
        .repository(target.host, 'empty/images/new')
        .listTags()
        .catch(() => []),
      [],
    );
    const imported = await importBundle({
      dir: delta,
      to: session.target(`${target.host}/mirror`),
      bundlePolicy,
    });
    assert.equal(
      imported.report.summary.failed,
      0,
      JSON.stringify(imported.report.items.filter((i) => i.error)),
    );
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${target.host}/mirror/images/web:1.0.0`,
    ]);
    assert.equal(sha256(Buffer.from(raw)), moved.digest);
    // The base layers were mounted into the new repository from the one the base brought them to.
    const freshRaw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${target.host}/mirror/images/fresh:0.1.0`,
    ]);
    assert.equal(sha256(Buffer.from(freshRaw)), fresh.digest);
    for (const layer of baseLayers)
      assert.ok(await client.repository(target.host, 'mirror/images/fresh').hasBlob(sha256(layer)));
    assert.ok(
      imported.report.summary.bytes < baseLayers.reduce((n, l) => n + l.length, 0),
      'the base layers were not uploaded again',
    );
  });

  it('the commands work as written: bundle create, verify, import (--json)', async () => {
    const files = join(work.path, 'cli');
    await mkdir(files);
    await writeFile(join(files, 'refs.txt'), `# the release\n${refs.slice(1, 3).join('\n')}\n`);
    await writeFile(join(files, 'a.pub'), artifactKey.publicKeyPEM);
    await writeFile(join(files, 'b.pub'), bundleKey.publicKeyPEM);
    await writeFile(join(files, 'b.key'), bundleKey.privateKeyPEM);
    const env = { ...process.env, COSIGN_PASSWORD: PASSWORD };
    const registry = ['--insecure-registry', source.host, '--insecure-registry', target.host];
    const dir = join(files, 'bundle');
    const created = await runCommand(
      bundleCreateCommand,
      [
        '--from-file',
        join(files, 'refs.txt'),
        '-o',
        dir,
        '--verify-key',
        join(files, 'a.pub'),
        '--key',
        join(files, 'b.key'),
        ...registry,
        '--json',
      ],
      { env },
    );
    assert.equal(created.code, 0, created.error?.message);
    assert.equal((JSON.parse(created.stdout) as { summary: { done: number } }).summary.done, 2);
    const verified = await runCommand(bundleVerifyCommand, [
      dir,
      '--key',
      join(files, 'b.pub'),
      '--verify-key',
      join(files, 'a.pub'),
      '--junit',
      join(files, 'verify.xml'),
    ]);
    assert.equal(verified.code, 0, verified.stdout);
    assert.match(
      await readFile(join(files, 'verify.xml'), 'utf8'),
      /<testsuite name="airlock bundle verify" tests="3" failures="0"/,
    );
    const imported = await runCommand(
      bundleImportCommand,
      [dir, '--to', `${target.host}/cli`, '--key', join(files, 'b.pub'), ...registry, '--json'],
      { env },
    );
    assert.equal(imported.code, 0, imported.error?.message);
    assert.equal((JSON.parse(imported.stdout) as { summary: { done: number } }).summary.done, 2);
    // Across the boundary in chunks: pack, unpack, verify again.
    const media = join(files, 'media');
    const packed = await runCommand(
      bundlePackCommand,
      [dir, '-o', media, '--chunk-size', '64KiB', '--key', join(files, 'b.key'), '--json'],
      { env },
    );
    assert.equal(packed.code, 0, packed.error?.message);
    assert.ok((JSON.parse(packed.stdout) as { chunks: unknown[] }).chunks.length > 1);
    // The packed form verifies on its own: the signed chunk list and every chunk.
    const media0 = await runCommand(bundleVerifyCommand, [
      media,
      '--key',
      join(files, 'b.pub'),
      '--json',
    ]);
    assert.equal(media0.code, 0, media0.stdout);
    const damaged = join(files, 'media-damaged');
    await cp(media, damaged, { recursive: true });
    await writeFile(join(damaged, 'bundle.000001'), randomBytes(64 * 1024));
    const replaced = await runCommand(bundleVerifyCommand, [
      damaged,
      '--key',
      join(files, 'b.pub'),
      '--json',
    ]);
    assert.equal(replaced.code, 3);
    assert.deepEqual(
      (
        JSON.parse(replaced.stdout) as { items: { reference: string; error?: { code: string } }[] }
      ).items
        .filter((i) => i.error)
        .map((i) => [i.reference, i.error?.code]),
      [['bundle.000001', 'BUNDLE_INVALID']],
    );
    const copy = join(files, 'unpacked');
    const unpacked = await runCommand(bundleUnpackCommand, [
      media,
      '-o',
      copy,
      '--key',
      join(files, 'b.pub'),
    ]);
    assert.equal(unpacked.code, 0, unpacked.error?.message);
    const again = await runCommand(bundleVerifyCommand, [
      copy,
      '--key',
      join(files, 'b.pub'),
      '--verify-key',
      join(files, 'a.pub'),
    ]);
    assert.equal(again.code, 0, again.stdout);
    // The artifact key is not the bundle key: verify refuses it, exit 3.
    const wrong = await runCommand(bundleVerifyCommand, [dir, '--key', join(files, 'a.pub')]);
    assert.equal(wrong.code, 3);
  });

  it('a keyless-signed bundle verifies by identity against the trusted root, and not by another identity', async () => {
    const sigstore = await startMockSigstore();
    try {
      const token = await oidcToken({
        env: {
          T: sigstore.token(
            'https://gitlab.internal/platform/export//.gitlab-ci.yml@refs/heads/main',
            'https://gitlab.internal',
          ),
        },
        identityTokenEnv: 'T',
      });
      const dir = join(work.path, 'keyless');
      await createBundle(session, {
        references: refs.slice(1, 2),
        outDir: dir,
        signer: resolveSigner({
          keyless: { token, fulcioURL: sigstore.fulcioURL, rekorURL: sigstore.rekorURL },
        }),
      });
      const policy = (subjectRegExp: string) =>
        resolveVerifyPolicy({
          identities: [{ subjectRegExp, issuerRegExp: '^https://gitlab\\.internal$' }],
          trustedRoot: JSON.stringify(sigstore.trustedRoot),
        });
      const ok = await verifyBundle({
        dir,
        bundlePolicy: policy('^https://gitlab\\.internal/platform/export/'),
      });
      assert.equal(ok.report.summary.failed, 0, JSON.stringify(ok.report.items[0]?.error));
      assert.match(ok.report.items[0]?.verified?.subject ?? '', /platform\/export/);
      const other = await verifyBundle({
        dir,
        bundlePolicy: policy('^https://gitlab\\.internal/someone-else/'),
      });
      assert.equal(other.report.items[0]?.error?.code, 'VERIFICATION_FAILED');
    } finally {
      await sigstore.stop();
    }
  });

  it('create refuses a directory that is not empty', async () => {
    const dir = join(work.path, 'occupied');
    await mkdir(dir);
    await writeFile(join(dir, 'keep.txt'), 'x');
    await assertRejectsCode(
      () => createBundle(session, { references: refs, outDir: dir, signer: bundleSigner }),
      'INPUT_INVALID',
    );
    assert.deepEqual(await readdir(dir), ['keep.txt']);
  });
});
