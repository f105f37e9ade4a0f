import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/core/index.ts';
import { addReferrers, RegistryClient } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import {
  BUNDLE_MEDIA_TYPE,
  decryptPrivateKey,
  publicKeyPEM,
  resolveVerifyPolicy,
  signArtifacts,
  verifyArtifacts,
  generateKeyPair,
  KeySigner,
  loadPublicKey,
  readSignatures,
  SIGNATURE_ANNOTATION,
  signatureTag,
  signLegacy,
  SIMPLE_SIGNING_MEDIA_TYPE,
  verifyLegacy,
} from '../../src/sign/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import {
  fixturesSkipReason,
  missingTools,
  run,
  SHARED_FIXTURES,
  tempDir,
} from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';

const skip = missingTools(['docker-registry', 'skopeo']);

/** The batch report sign and verify print with --json (docs/json.md), as these tests read it. */
interface Report {
  items: {
    reference: string;
    digest?: string;
    outcome: string;
    bundleDigest?: string;
    format?: string;
    keyName?: string;
    error?: { code: string; data?: { option?: string } };
  }[];
  summary: { done: number; present: number; failed: number; skipped: number };
}

function keyPair(password = 'pw'): {
  signer: KeySigner;
  pub: { name: string; key: ReturnType<typeof loadPublicKey> };
} {
  const pair = generateKeyPair(password);
  return {
    signer: new KeySigner(decryptPrivateKey(pair.privateKeyPEM, password, 'k')),
    pub: { name: 'generated.pub', key: loadPublicKey(pair.publicKeyPEM, 'generated.pub') },
  };
}

describe('cosign legacy signatures on a real registry', { skip }, () => {
  let registry: RegistryServer;
  let client: RegistryClient;
  let session: Session;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    session = openSession({ insecureRegistries: [registry.host] });
    work = await tempDir();
  });
  after(async () => {
    client.close();
    session.close();
    await registry.stop();
    await work.remove();
  });

  it("signs with a generated key and verifies; the manifest has exactly cosign's shape", async () => {
    const repo = client.repository(registry.host, 'signed/a');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    const { signer, pub } = keyPair();
    const signed = await signLegacy(repo, 'v1', signer, { annotations: { team: 'platform' } });
    assert.equal(signed.digest, artifact.digest);
    assert.equal(signed.signatureTag, `sha256-${artifact.digest.slice(7)}.sig`);
    const verified = await verifyLegacy(repo, 'v1', { keys: [pub] });
    assert.deepEqual(verified.annotations, { team: 'platform' });
    // Field by field, as signing.md §1.2 describes and skopeo (an independent client) reads it.
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/signed/a:${signed.signatureTag}`,
    ]).trimEnd();
    const manifest = JSON.parse(raw) as {
      schemaVersion: number;
      mediaType: string;
      config: { mediaType: string; size: number; digest: string };
      layers: {
        mediaType: string;
        size: number;
        digest: string;
        annotations: Record<string, string>;
      }[];
    };
    assert.deepEqual(Object.keys(manifest), ['schemaVersion', 'mediaType', 'config', 'layers']);
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(manifest.layers.length, 1);
    const layer = manifest.layers[0]!;
    assert.equal(layer.mediaType, SIMPLE_SIGNING_MEDIA_TYPE);
    assert.deepEqual(Object.keys(layer.annotations), [SIGNATURE_ANNOTATION]);
    const config = run('skopeo', [
      'inspect',
      '--raw',
      '--config',
      '--tls-verify=false',
      `docker://${registry.host}/signed/a:${signed.signatureTag}`,
    ]).trimEnd();
    assert.equal(
      config,
      `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${layer.digest}"]},"config":{}}`,
    );
    assert.equal(sha256(config), manifest.config.digest);
  });

  it(
    'signs with a key from the cosign fixtures and verifies with its public key',
    { skip: fixturesSkipReason('sigstore/cosign') },
    async () => {
      const dir = join(SHARED_FIXTURES, 'sigstore', 'cosign');
      const signer = new KeySigner(
        decryptPrivateKey(
          readFileSync(join(dir, 'cosign-encrypted-sigstore-type.key'), 'utf8'),
          'hello',
          'fixture',
        ),
      );
      const repo = client.repository(registry.host, 'signed/fixture');
      await pushArtifact(repo, makeArtifact(), 'v1');
      await signLegacy(repo, 'v1', signer);
      const pub = {
        name: 'fixture.pub',
        key: loadPublicKey(
          readFileSync(join(dir, 'cosign-encrypted-sigstore-type.pub'), 'utf8'),
          'fixture.pub',
        ),
      };
      assert.equal((await verifyLegacy(repo, 'v1', { keys: [pub] })).keyName, 'fixture.pub');
    },
  );

  it("keeps two signers' signatures, adds no duplicate, and either key verifies", async () => {
    const repo = client.repository(registry.host, 'signed/two');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    const a = keyPair();
    const b = keyPair();
    await signLegacy(repo, 'v1', a.signer);
    await signLegacy(repo, 'v1', b.signer);
    const again = await signLegacy(repo, 'v1', a.signer);
    assert.equal(again.added, false);
    assert.equal((await readSignatures(repo, artifact.digest)).length, 2);
    assert.equal(
      (await verifyLegacy(repo, 'v1', { keys: [{ ...a.pub, name: 'a.pub' }] })).keyName,
      'a.pub',
    );
    assert.equal(
      (await verifyLegacy(repo, 'v1', { keys: [{ ...b.pub, name: 'b.pub' }] })).keyName,
      'b.pub',
    );
    const other = keyPair();
    const error = await assertRejectsCode(
      () => verifyLegacy(repo, 'v1', { keys: [other.pub] }),
      'VERIFICATION_FAILED',
    );
    assert.equal(error.details.length, 2, 'one reason per signature');
  });

  it('refuses a signature copied from artifact A onto artifact B, and a tampered payload', async () => {
    const repo = client.repository(registry.host, 'signed/copied');
    const a = makeArtifact();
    const b = makeArtifact();
    await pushArtifact(repo, a, 'a');
    await pushArtifact(repo, b, 'b');
    const { signer, pub } = keyPair();
    await signLegacy(repo, 'a', signer);
    // Copy A's signature manifest under B's signature tag.
    const sig = await repo.fetchManifest(signatureTag(a.digest));
    await repo.pushManifest(sig.bytes, sig.descriptor.mediaType, signatureTag(b.digest));
    const error = await assertRejectsCode(
      () => verifyLegacy(repo, 'b', { keys: [pub] }),
      'VERIFICATION_FAILED',
    );
    assert.equal(error.details.length, 1, 'one reason: the signature names another digest');
    assert.equal((await verifyLegacy(repo, 'a', { keys: [pub] })).digest, a.digest);
    await assertRejectsCode(
      () => verifyLegacy(client.repository(registry.host, 'signed/unsigned'), 'a', { keys: [pub] }),
      'REGISTRY_NOT_FOUND',
    );
  });

  it('attaches a Sigstore bundle referrer with --bundle; verification then uses only bundles', async () => {
    const env = { HOME: work.path, COSIGN_PASSWORD: '' };
    const prefix = join(work.path, 'bundle-key');
    assert.equal(
      (await airlock(['key', 'generate', '--output-key-prefix', prefix], { env })).code,
      0,
    );
    const repo = client.repository(registry.host, 'bundled/a');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    const ref = `${registry.host}/bundled/a:v1`;
    const flags = ['--insecure-registry', registry.host];
    const signed = await airlock(
      ['sign', ref, '--key', `${prefix}.key`, '--bundle', '--json', ...flags],
      { env },
    );
    assert.equal(signed.code, 0, signed.stderr);
    const bundleDigest = signed.json<Report>().items[0]?.bundleDigest ?? '';
    // distribution 2.8 has no referrers API: the bundle is listed in the sha256-<hex> index.
    const index = JSON.parse(
      run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/bundled/a:sha256-${artifact.digest.slice(7)}`,
      ]),
    ) as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.artifactType]),
      [[bundleDigest, BUNDLE_MEDIA_TYPE]],
    );
    const referrer = JSON.parse(
      run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/bundled/a@${bundleDigest}`,
      ]),
    ) as {
      artifactType: string;
      subject: { digest: string };
      layers: { mediaType: string }[];
      annotations: Record<string, string>;
    };
    assert.equal(referrer.artifactType, BUNDLE_MEDIA_TYPE);
    assert.equal(referrer.subject.digest, artifact.digest);
    assert.deepEqual(
      referrer.layers.map((l) => l.mediaType),
      [BUNDLE_MEDIA_TYPE],
    );
    assert.equal(
      referrer.annotations['dev.sigstore.bundle.predicateType'],
      'https://sigstore.dev/cosign/sign/v1',
    );
    const verified = await airlock(
      ['verify', ref, '--key', `${prefix}.pub`, '--insecure-ignore-tlog', '--json', ...flags],
      { env },
    );
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.json<Report>().items[0]?.format, 'sigstore-bundle');
    // Without --insecure-ignore-tlog the key-only bundle is refused (as cosign refuses it), and the
    // legacy .sig is not consulted once a bundle exists.
    const strict = await airlock(['verify', ref, '--key', `${prefix}.pub`, '--json', ...flags], {
      env,
    });
    assert.equal(strict.code, 3);
    assert.equal(strict.json<Report>().items[0]?.error?.data?.option, 'ignoreTlog');
    // In human output the CLI names the flag that would accept it.
    const human = await airlock(['verify', ref, '--key', `${prefix}.pub`, ...flags], { env });
    assert.match(human.stderr, /--insecure-ignore-tlog/);
    // A bundle for A listed as a referrer of B is refused: its statement names A's digest.
    const b = makeArtifact();
    await pushArtifact(repo, b, 'b');
    await addReferrers(repo, b.digest, [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: bundleDigest as `sha256:${string}`,
        size: 1,
        artifactType: BUNDLE_MEDIA_TYPE,
      },
    ]);
    const copied = await airlock(
      [
        'verify',
        `${registry.host}/bundled/a:b`,
        '--key',
        `${prefix}.pub`,
        '--insecure-ignore-tlog',
        '--json',
        ...flags,
      ],
      { env },
    );
    assert.equal(copied.code, 3);
    assert.equal(copied.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
  });

  it('CLI: key generate (0600, no overwrite), sign, verify; wrong key and tampered payload exit 3; no password in output', async () => {
    const env = { HOME: work.path, COSIGN_PASSWORD: 'sentinel-key-password' };
    const cwdKey = join(work.path, 'cosign');
    const gen = await airlock(['key', 'generate', '--output-key-prefix', cwdKey], { env });
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal((await stat(`${cwdKey}.key`)).mode & 0o777, 0o600);
    assert.match(await readFile(`${cwdKey}.key`, 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);
    const again = await airlock(['key', 'generate', '--output-key-prefix', cwdKey], { env });
    assert.equal(again.code, 2, 'never overwrites without --force');
    const repo = client.repository(registry.host, 'cli/signed');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    const ref = `${registry.host}/cli/signed:v1`;
    const flags = ['--insecure-registry', registry.host];
    const signed = await airlock(['sign', ref, '--key', `${cwdKey}.key`, ...flags], { env });
    assert.equal(signed.code, 0, signed.stderr);
    const verified = await airlock(['verify', ref, '--key', `${cwdKey}.pub`, '--json', ...flags], {
      env,
    });
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.json<Report>().items[0]?.keyName, `${cwdKey}.pub`);
    const otherKey = join(work.path, 'other');
    await airlock(['key', 'generate', '--output-key-prefix', otherKey], { env });
    const wrong = await airlock(['verify', ref, '--key', `${otherKey}.pub`, '--json', ...flags], {
      env,
    });
    assert.equal(wrong.code, 3);
    assert.equal(wrong.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
    const badPassword = await airlock(['sign', ref, '--key', `${cwdKey}.key`, ...flags], {
      env: { ...env, COSIGN_PASSWORD: 'nope' },
    });
    assert.equal(badPassword.code, 2);
    // Tamper: re-push the signature manifest with a payload that claims another digest.
    const [layer] = await readSignatures(repo, artifact.digest);
    assert.ok(layer);
    const tampered = Buffer.from(
      layer.payload.toString('utf8').replace(artifact.digest.slice(7, 15), '00000000'),
    );
    const { Readable } = await import('node:stream');
    await repo.pushBlob(
      { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest: sha256(tampered), size: tampered.length },
      () => Promise.resolve(Readable.from([tampered])),
    );
    const sig = JSON.parse(
      (await repo.fetchManifest(signatureTag(artifact.digest))).bytes.toString('utf8'),
    ) as { layers: { digest: string; size: number }[] };
    sig.layers[0]!.digest = sha256(tampered);
    sig.layers[0]!.size = tampered.length;
    await repo.pushManifest(
      Buffer.from(JSON.stringify(sig)),
      'application/vnd.oci.image.manifest.v1+json',
      signatureTag(artifact.digest),
    );
    const afterTamper = await airlock(
      ['verify', ref, '--key', `${cwdKey}.pub`, '--json', ...flags],
      { env },
    );
    assert.equal(afterTamper.code, 3);
    assert.equal(afterTamper.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
    const secret = await airlock(
      ['key', 'secret', '--namespace', 'flux-system', '--key', `${cwdKey}.pub`],
      { env },
    );
    assert.match(secret.stdout, /cosign\.pub: /);
    for (const output of [gen, signed, verified, wrong, badPassword, afterTamper, secret]) {
      assert.ok(
        !`${output.stdout}${output.stderr}`.includes('sentinel-key-password'),
        'the password never appears',
      );
      assert.ok(
        !`${output.stdout}${output.stderr}`.includes('PRIVATE KEY'),
        'the private key never appears',
      );
    }
  });

  it('after a push, knownDigest and knownUnsigned spare the resolve and the .sig lookup', async () => {
    const proxy = await startProxy({ upstream: registry.url });
    const viaProxy = new RegistryClient({ insecureRegistries: [proxy.host] });
    try {
      const { signer, pub } = keyPair();
      // The requests one signLegacy sends right after the artifact was pushed.
      const requests = async (repository: string, known: boolean): Promise<string[]> => {
        const repo = viaProxy.repository(proxy.host, repository);
        const artifact = makeArtifact();
        await pushArtifact(repo, artifact, 'v1');
        proxy.log.length = 0;
        const signed = await signLegacy(
          repo,
          'v1',
          signer,
          known ? { knownDigest: artifact.digest, knownUnsigned: true } : {},
        );
        const sent = proxy.log.map((r) => `${r.method} ${r.path.replace(/\?.*$/, '')}`);
        assert.equal(signed.digest, artifact.digest);
        assert.equal((await verifyLegacy(repo, 'v1', { keys: [pub] })).digest, artifact.digest);
        return sent;
      };
      const manifestReads = (sent: string[]): string[] =>
        sent.filter((r) => /^(HEAD|GET) .*\/manifests\//.test(r));
      const plain = await requests('known/plain', false);
      const known = await requests('known/skip', true);
      assert.equal(manifestReads(plain).length, 2, 'resolves the tag, then looks up the .sig tag');
      assert.deepEqual(manifestReads(known), [], 'reads no manifest');
      assert.equal(known.length, plain.length - 2, 'and sends the same writes');
    } finally {
      viaProxy.close();
      await proxy.stop();
    }
  });

  it('signArtifacts: one report, a repeated signature is present, a missing artifact fails alone', async () => {
    const repo = client.repository(registry.host, 'batch/a');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    await pushArtifact(repo, makeArtifact(), 'unsigned');
    const { signer, pub } = keyPair();
    const refs = [`${registry.host}/batch/a:v1`, `${registry.host}/batch/a:missing`];
    const first = await signArtifacts(session, refs, signer);
    assert.deepEqual(
      first.items.map((i) => [i.outcome, i.error?.code]),
      [
        ['done', undefined],
        ['failed', 'REGISTRY_NOT_FOUND'],
      ],
    );
    assert.equal(first.items[0]?.digest, artifact.digest);
    assert.ok(first.summary.bytes > 0, 'the payload, config and manifest were uploaded');
    assert.deepEqual(
      { ...first.summary, durationMs: 0 },
      {
        total: 2,
        done: 1,
        present: 0,
        failed: 1,
        skipped: 0,
        bytes: first.summary.bytes,
        durationMs: 0,
      },
    );
    const again = await signArtifacts(session, refs.slice(0, 1), signer);
    assert.equal(again.items[0]?.outcome, 'present');
    assert.equal(again.summary.bytes, 0, 'nothing uploaded');
    assert.equal((await readSignatures(repo, artifact.digest)).length, 1);

    const verified = await verifyArtifacts(
      session,
      [`${registry.host}/batch/a:v1`, `${registry.host}/batch/a:unsigned`],
      resolveVerifyPolicy({ keys: [{ name: 'a.pub', pem: publicKeyPEM(pub.key) }] }),
    );
    assert.deepEqual(
      verified.items.map((i) => [i.outcome, i.keyName, i.error?.code]),
      [
        ['done', 'a.pub', undefined],
        ['failed', undefined, 'VERIFICATION_FAILED'],
      ],
    );
    await assertRejectsCode(() => signArtifacts(session, ['not a ref!'], signer), 'REF_INVALID');
  });

  it('signArtifacts stopped by its AbortSignal writes no signature', async () => {
    const repo = client.repository(registry.host, 'batch/aborted');
    const artifact = makeArtifact();
    await pushArtifact(repo, artifact, 'v1');
    const controller = new AbortController();
    controller.abort();
    const report = await signArtifacts(
      session,
      [`${registry.host}/batch/aborted:v1`],
      keyPair().signer,
      {
        signal: controller.signal,
      },
    );
    assert.deepEqual(
      report.items.map((i) => [i.outcome, i.reason]),
      [['skipped', 'aborted']],
    );
    assert.equal(await repo.resolve(signatureTag(artifact.digest)), undefined);
  });
});
