import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildLayer, pushFluxArtifact } from '../../src/artifact/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { attachSBOM, CYCLONEDX_PREDICATE } from '../../src/sbom/index.ts';
import {
  attestBundle,
  BUNDLE_MEDIA_TYPE,
  findAttestations,
  findBundles,
  KeySigner,
  resolveSigner,
  resolveVerifyPolicy,
  type Signer,
  signBundle,
  signLegacy,
  verifyArtifact,
  verifyBundleJSON,
} from '../../src/sign/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert-code.ts';

const skip = missingTools(['docker-registry']);
const PREDICATE = 'https://airlock.dev/promotion/v1';
const RELEASE =
  'https://github.com/acme/fleet/.github/workflows/release-artifact.yaml@refs/tags/web/1.0.0';
const PUSH = 'https://github.com/acme/fleet/.github/workflows/push-artifact.yaml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const newKey = (): KeySigner =>
  new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

describe(
  'attestations on a registry, signed by a key or keylessly (mock Fulcio and Rekor)',
  { skip },
  () => {
    let registry: RegistryServer;
    let sigstore: MockSigstore;
    let client: RegistryClient;
    before(async () => {
      [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
      client = new RegistryClient({ insecureRegistries: [registry.host] });
    });
    after(async () => {
      client.close();
      await Promise.all([registry.stop(), sigstore.stop()]);
    });
    // The mock Rekor logs proposed entries verbatim; a `dsse` proposal only becomes a verifiable
    // body (signatures, payload hash) when a real Rekor canonicalises it, so round trips here log
    // `intoto` entries, whose body the client computes. The default kind is checked on its own.
    const keyless = (subject: string): Signer =>
      resolveSigner({
        keyless: {
          token: sigstore.token(subject, ISSUER),
          fulcioURL: sigstore.fulcioURL,
          rekorURL: sigstore.rekorURL,
          rekorEntryType: 'intoto',
        },
      });
    const identityPolicy = (subject: string | RegExp) => ({
      identities: [{ subject, issuer: ISSUER }],
      trustedRoot: sigstore.trustedRoot,
    });

    it('key attestation round trip: attested by the digest a tag had, read back with the key', async () => {
      const repo = client.repository(registry.host, 'attest/key');
      const first = makeArtifact();
      await pushArtifact(repo, first, 'latest');
      const resolved = await repo.resolve('latest');
      assert.ok(resolved);
      // The tag moves between the resolve and the attestation: the attestation names what was resolved.
      await pushArtifact(repo, makeArtifact(), 'latest');
      const signer = newKey();
      const predicate = { source: { reference: `${repo.name}:latest`, digest: resolved.digest } };
      const attested = await attestBundle(repo, 'latest', signer, PREDICATE, predicate, {
        knownDigest: resolved.digest,
      });
      assert.equal(attested.digest, first.digest);
      const policy = resolveVerifyPolicy({
        keys: [{ name: 'release.pub', pem: signer.publicKeyPEM }],
        ignoreTlog: true,
      });
      const { attestations, rejected } = await findAttestations(
        repo,
        first.digest,
        PREDICATE,
        policy,
      );
      assert.deepEqual(rejected, []);
      assert.equal(attestations.length, 1);
      assert.equal(attestations[0]?.bundleDigest, attested.bundleDigest);
      assert.deepEqual(attestations[0].statement.predicate, predicate);
      assert.equal(attestations[0].verification.keyName, 'release.pub');
      // Nothing was attested about what the tag points at now.
      const now = await repo.resolve('latest');
      assert.ok(now && now.digest !== first.digest);
      assert.deepEqual(await findBundles(repo, now.digest), []);
    });

    it('keyless attestation round trip: a DSSE bundle with the Fulcio certificate and a Rekor entry, verified by identity', async () => {
      const repo = client.repository(registry.host, 'attest/keyless');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const before = sigstore.requests.length;
      const attested = await attestBundle(repo, 'v1', keyless(RELEASE), PREDICATE, {
        tags: ['1.0.0'],
      });
      assert.deepEqual(sigstore.requests.slice(before), [
        'POST /api/v2/signingCert',
        'POST /api/v1/log/entries',
      ]);

      // The stored bundle, as cosign and Flux read it: v0.3, a leaf certificate, one log entry with
      // its inclusion promise.
      const [found] = await findBundles(repo, artifact.digest);
      assert.ok(found);
      assert.equal(found.descriptor.digest, attested.bundleDigest);
      assert.equal(found.role, 'attestation');
      assert.equal(found.predicateType, PREDICATE);
      const bundle = found.bundle as {
        mediaType: string;
        verificationMaterial: {
          certificate?: { rawBytes: string };
          tlogEntries: {
            kindVersion: { kind: string; version: string };
            inclusionPromise?: unknown;
            inclusionProof?: unknown;
          }[];
        };
        dsseEnvelope: { payloadType: string };
      };
      assert.equal(bundle.mediaType, BUNDLE_MEDIA_TYPE);
      assert.ok(bundle.verificationMaterial.certificate?.rawBytes);
      assert.equal(bundle.verificationMaterial.tlogEntries.length, 1);
      assert.deepEqual(bundle.verificationMaterial.tlogEntries[0]?.kindVersion, {
        kind: 'intoto',
        version: '0.0.2',
      });
      assert.ok(bundle.verificationMaterial.tlogEntries[0].inclusionPromise);
      assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');

      // @sigstore/verify checks it with the transparency log required (no ignoreTlog).
      assert.deepEqual(verifyBundleJSON(found.bundle, artifact.digest, identityPolicy(RELEASE)), {
        format: 'sigstore-bundle',
        subject: RELEASE,
        issuer: ISSUER,
      });
      const { attestations, rejected } = await findAttestations(
        repo,
        artifact.digest,
        PREDICATE,
        identityPolicy(/\/release-artifact\.yaml@refs\/tags\//),
      );
      assert.deepEqual(rejected, []);
      assert.deepEqual(attestations[0]?.verification, {
        format: 'sigstore-bundle',
        subject: RELEASE,
        issuer: ISSUER,
      });
      assert.deepEqual(attestations[0].statement.predicate, { tags: ['1.0.0'] });
    });

    it('by default the Rekor entry of a keyless attestation is a dsse entry', async () => {
      const repo = client.repository(registry.host, 'attest/dsse-kind');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const signer = resolveSigner({
        keyless: {
          token: sigstore.token(RELEASE, ISSUER),
          fulcioURL: sigstore.fulcioURL,
          rekorURL: sigstore.rekorURL,
        },
      });
      await attestBundle(repo, 'v1', signer, PREDICATE, {});
      const [found] = await findBundles(repo, artifact.digest);
      const entry = (
        found?.bundle as {
          verificationMaterial: {
            tlogEntries: { kindVersion: unknown; canonicalizedBody: string }[];
          };
        }
      ).verificationMaterial.tlogEntries[0];
      assert.deepEqual(entry?.kindVersion, { kind: 'dsse', version: '0.0.1' });
      const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString()) as {
        spec: { payloadHash?: { value: string }; signatures?: { verifier: string }[] };
      };
      // What Rekor logs for a dsse entry (the harness stores it as a real Rekor does): the
      // payload's hash and the signature with the certificate that verifies it.
      assert.match(body.spec.payloadHash?.value ?? '', /^[0-9a-f]{64}$/);
      assert.equal(body.spec.signatures?.length, 1);
    });

    it('a wrong identity is rejected (VERIFICATION_FAILED), a missing trusted root is a policy error', async () => {
      const repo = client.repository(registry.host, 'attest/identity');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const attested = await attestBundle(repo, 'v1', keyless(PUSH), PREDICATE, {});
      const [found] = await findBundles(repo, artifact.digest);
      assert.ok(found);
      const failure = assertThrowsCode(
        () => verifyBundleJSON(found.bundle, artifact.digest, identityPolicy(RELEASE)),
        'VERIFICATION_FAILED',
      );
      assert.equal(failure.data.subject, PUSH);
      const result = await findAttestations(
        repo,
        artifact.digest,
        PREDICATE,
        identityPolicy(RELEASE),
      );
      assert.deepEqual(result.attestations, []);
      assert.deepEqual(
        result.rejected.map((r) => r.bundleDigest),
        [attested.bundleDigest],
      );
      // Another Sigstore's root does not vouch for this CA.
      const other = await startMockSigstore();
      try {
        const foreign = await findAttestations(repo, artifact.digest, PREDICATE, {
          identities: [{ subject: PUSH, issuer: ISSUER }],
          trustedRoot: other.trustedRoot,
        });
        assert.equal(foreign.rejected.length, 1);
      } finally {
        await other.stop();
      }
      await assertRejectsCode(
        () =>
          findAttestations(repo, artifact.digest, PREDICATE, {
            identities: [{ subject: PUSH, issuer: ISSUER }],
          }),
        'TRUSTED_ROOT_REQUIRED',
      );
    });

    it('verify precedence: a legacy key signature still verifies after SBOM and promotion attestations by others', async () => {
      const repo = client.repository(registry.host, 'attest/precedence');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const original = newKey();
      await signLegacy(repo, 'v1', original);
      // Another key's promotion attestation and a keyless one's: neither is a signature of the artifact.
      await attestBundle(repo, 'v1', newKey(), PREDICATE, {});
      await attestBundle(repo, 'v1', keyless(RELEASE), PREDICATE, {});
      const verified = await verifyArtifact(
        repo,
        'v1',
        resolveVerifyPolicy({ keys: [{ name: 'a.pub', pem: original.publicKeyPEM }] }),
      );
      assert.equal(verified.format, 'cosign-legacy');
      assert.equal(verified.digest, artifact.digest);
      // The release identity attested, it did not sign: verify by identity finds no signature.
      await assertRejectsCode(
        () => verifyArtifact(repo, 'v1', identityPolicy(RELEASE)),
        'VERIFICATION_FAILED',
      );
    });

    it('keyless signature bundles count as signatures; keyless SBOM attestations do not', async () => {
      const repo = client.repository(registry.host, 'attest/keyless-sign');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const signed = await signBundle(repo, 'v1', keyless(RELEASE));
      const verified = await verifyArtifact(repo, 'v1', identityPolicy(RELEASE));
      assert.equal(verified.format, 'sigstore-bundle');
      assert.ok('subject' in verified && verified.subject === RELEASE);
      const [bundle] = (await findBundles(repo, artifact.digest)).filter(
        (f) => f.descriptor.digest === signed.bundleDigest,
      );
      assert.equal(bundle?.role, 'signature');
      // Keyless SBOM: generated, attached, attested with a certificate, read back by its predicate.
      const sbomRepo = client.repository(registry.host, 'attest/sbom');
      const work = await tempDir();
      try {
        await writeFile(join(work.path, 'kustomization.yaml'), 'resources: []\n');
        await pushFluxArtifact(sbomRepo, await buildLayer(work.path), {
          tag: 'v1',
          meta: { source: 'https://git.example/web', revision: `main@sha1:${'f'.repeat(40)}` },
        });
      } finally {
        await work.remove();
      }
      const sbom = await attachSBOM(sbomRepo, 'v1', keyless(PUSH));
      const read = await findAttestations(
        sbomRepo,
        sbom.attestation.digest,
        CYCLONEDX_PREDICATE,
        identityPolicy(PUSH),
      );
      assert.deepEqual(read.rejected, []);
      assert.deepEqual(read.attestations[0]?.statement.predicate, sbom.bom);
      assert.equal(read.attestations[0].verification.subject, PUSH);
      // The SBOM's attestation does not sign the artifact.
      await assertRejectsCode(
        () => verifyArtifact(sbomRepo, 'v1', identityPolicy(PUSH)),
        'VERIFICATION_FAILED',
      );
    });
  },
);
