import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { makeArtifact, pushArtifact, type TestArtifact } from '../../test/harness/artifacts.ts';
import { tempDir } from '../../test/harness/tools.ts';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { type Digest, readAll } from '../core/index.ts';
import { LayoutRepository, type Repository } from '../oci/index.ts';
import {
  attachReferrer,
  attestationStatement,
  attestBundle,
  BUNDLE_MEDIA_TYPE,
  COSIGN_SIGN_PREDICATE,
  findAttestations,
  findBundles,
  KeySigner,
  type Signer,
  signBundle,
  signLegacy,
  verifyArtifact,
  type VerifyPolicy,
} from './index.ts';

// Attestations on an OCI image layout: the same Repository interface as a registry, on disk, so
// these run without the registry harness (test/integration/attestation.test.ts covers a registry
// and keyless signing).
const PREDICATE = 'https://airlock.dev/promotion/v1';
const newSigner = (): KeySigner =>
  new KeySigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const keyPolicy = (name: string, signer: KeySigner): VerifyPolicy => ({
  keys: [{ name, key: signer.publicKey }],
  ignoreTlog: true,
});

const notReferrersTag = (reference: string): boolean => !reference.startsWith('sha256-');

/** Counts resolve calls, so a test can assert the subject was not looked up again. */
function countingResolves(repository: Repository): { repository: Repository; resolves: string[] } {
  const resolves: string[] = [];
  const counted = new Proxy(repository, {
    get(target, property, receiver) {
      if (property === 'resolve')
        return (reference: string) => {
          resolves.push(reference);
          return target.resolve(reference);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { repository: counted, resolves };
}

describe('attestations: any signer, by known digest, read back verified', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let repository: LayoutRepository;
  let artifact: TestArtifact;
  const a = newSigner();
  const b = newSigner();
  before(async () => {
    dir = await tempDir();
    repository = new LayoutRepository(dir.path);
    artifact = makeArtifact();
    await pushArtifact(repository, artifact, 'latest');
  });
  after(() => dir.remove());

  it('attests a known digest without resolving again, and reads the statement back verified', async () => {
    const subject = await repository.resolve(artifact.digest);
    assert.ok(subject);
    const counted = countingResolves(repository);
    const predicate = { source: { digest: artifact.digest }, tags: ['1.0.0'] };
    const attested = await attestBundle(counted.repository, 'latest', b, PREDICATE, predicate, {
      knownSubject: subject,
    });
    // Only the referrers tag index (this store has no referrers API) is looked up.
    assert.deepEqual(counted.resolves.filter(notReferrersTag), []);
    assert.equal(attested.digest, artifact.digest);

    const { attestations, rejected } = await findAttestations(
      repository,
      artifact.digest,
      PREDICATE,
      keyPolicy('b.pub', b),
    );
    assert.deepEqual(rejected, []);
    assert.equal(attestations.length, 1);
    const [found] = attestations;
    assert.ok(found);
    assert.equal(found.bundleDigest, attested.bundleDigest);
    assert.equal(found.statement.predicateType, PREDICATE);
    assert.deepEqual(found.statement.predicate, predicate);
    assert.deepEqual(found.statement.subject, [
      { digest: { sha256: artifact.digest.slice('sha256:'.length) } },
    ]);
    assert.deepEqual(found.verification, { format: 'sigstore-bundle', keyName: 'b.pub' });
    assert.match(found.created ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('knownDigest resolves by digest only: a tag that moved is not followed', async () => {
    const moved = makeArtifact();
    await pushArtifact(repository, moved, 'moving');
    const counted = countingResolves(repository);
    const before = await repository.resolve('moving');
    await pushArtifact(repository, makeArtifact(), 'moving');
    const attested = await attestBundle(
      counted.repository,
      'moving',
      b,
      PREDICATE,
      {},
      {
        knownDigest: before?.digest ?? moved.digest,
      },
    );
    assert.deepEqual(counted.resolves.filter(notReferrersTag), [moved.digest]);
    assert.equal(attested.digest, moved.digest);
    // A digest reference that contradicts the known subject is a caller bug, not a guess to make.
    await assertRejectsCode(
      () =>
        attestBundle(repository, artifact.digest, b, PREDICATE, {}, { knownDigest: moved.digest }),
      'INPUT_INVALID',
    );
  });

  it("rejects, with reasons, another key's attestation and a tampered one; a referrer's claim does not override the signed predicate", async () => {
    const subject = await repository.resolve(artifact.digest);
    assert.ok(subject);
    const byA = await attestBundle(repository, artifact.digest, a, PREDICATE, { by: 'a' });
    const bundleOf = async (digest: string): Promise<Record<string, unknown>> => {
      const manifest = JSON.parse(
        (await repository.fetchManifest(digest)).bytes.toString('utf8'),
      ) as { layers: [{ digest: `sha256:${string}`; size: number; mediaType: string }] };
      const bytes = await readAll(await repository.fetchBlob(manifest.layers[0]), 1 << 20);
      return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    };
    const attach = (bundle: unknown, predicateType: string): Promise<Digest> =>
      attachReferrer(repository, subject, BUNDLE_MEDIA_TYPE, Buffer.from(JSON.stringify(bundle)), {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': predicateType,
      });
    // b's signature over another predicate, re-attached under a referrer claiming the promotion one.
    const other = await attestBundle(
      repository,
      artifact.digest,
      b,
      'https://example.com/other/v1',
      {},
    );
    const relabelled = await attach(await bundleOf(other.bundleDigest), PREDICATE);
    // b's promotion statement with its predicate edited after signing.
    const signed = (
      await findAttestations(repository, artifact.digest, PREDICATE, keyPolicy('b.pub', b))
    ).attestations[0];
    assert.ok(signed);
    const original = await bundleOf(signed.bundleDigest);
    const envelope = original.dsseEnvelope as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: { tags: string[] };
    };
    statement.predicate.tags = ['9.9.9'];
    const tampered = await attach(
      {
        ...original,
        dsseEnvelope: {
          ...envelope,
          payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
        },
      },
      PREDICATE,
    );

    const underB = await findAttestations(
      repository,
      artifact.digest,
      PREDICATE,
      keyPolicy('b.pub', b),
    );
    assert.deepEqual(
      underB.attestations.map((x) => x.bundleDigest),
      [signed.bundleDigest],
    );
    assert.deepEqual(
      underB.rejected.map((r) => r.bundleDigest).sort(),
      [byA.bundleDigest, tampered].sort(),
    );
    assert.ok(underB.rejected.every((r) => r.reason.length > 0));
    const all = [
      ...underB.attestations.map((x) => x.bundleDigest),
      ...underB.rejected.map((r) => r.bundleDigest),
    ];
    assert.equal(all.includes(relabelled), false, 'the signed predicate wins over the annotation');

    const underBoth = await findAttestations(repository, artifact.digest, PREDICATE, {
      keys: [
        { name: 'a.pub', key: a.publicKey },
        { name: 'b.pub', key: b.publicKey },
      ],
      ignoreTlog: true,
    });
    assert.deepEqual(underBoth.attestations.map((x) => x.verification.keyName).sort(), [
      'a.pub',
      'b.pub',
    ]);
    assert.deepEqual(
      underBoth.rejected.map((r) => r.bundleDigest),
      [tampered],
    );
  });

  it('a signer that is neither a key nor builds DSSE bundles cannot attest', async () => {
    const bare: Signer = {
      kind: 'keyless',
      sign: () => Promise.resolve({ signature: Buffer.alloc(0), annotations: {} }),
    };
    await assertRejectsCode(
      () => attestBundle(repository, artifact.digest, bare, PREDICATE, {}),
      'SIGNER_UNAVAILABLE',
    );
  });
});

describe('verify: attestations are not signatures', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let repository: LayoutRepository;
  before(async () => {
    dir = await tempDir();
    repository = new LayoutRepository(dir.path);
  });
  after(() => dir.remove());

  it('findBundles tells signature bundles from attestations by the signed predicate', async () => {
    const artifact = makeArtifact();
    await pushArtifact(repository, artifact, 'roles');
    const signer = newSigner();
    await signBundle(repository, artifact.digest, signer);
    await attestBundle(repository, artifact.digest, signer, PREDICATE, {});
    const found = await findBundles(repository, artifact.digest);
    assert.deepEqual(found.map((f) => [f.role, f.predicateType]).sort(), [
      ['attestation', PREDICATE],
      ['signature', COSIGN_SIGN_PREDICATE],
    ]);
    const onlyPromotion = await findBundles(repository, artifact.digest, {
      predicateType: PREDICATE,
    });
    assert.deepEqual(
      onlyPromotion.map((f) => f.role),
      ['attestation'],
    );
  });

  it('a legacy signature by A still verifies with A after B attaches an attestation', async () => {
    const artifact = makeArtifact();
    await pushArtifact(repository, artifact, 'legacy');
    const a = newSigner();
    const b = newSigner();
    await signLegacy(repository, 'legacy', a);
    await attestBundle(repository, 'legacy', b, PREDICATE, { promoted: true });
    const verified = await verifyArtifact(repository, 'legacy', keyPolicy('a.pub', a));
    assert.equal(verified.format, 'cosign-legacy');
    assert.equal(verified.digest, artifact.digest);
    // B's attestation does not make B a signer of the artifact.
    await assertRejectsCode(
      () => verifyArtifact(repository, 'legacy', keyPolicy('b.pub', b)),
      'VERIFICATION_FAILED',
    );
  });

  it('an attestation alone signs nothing, and a signature bundle still takes precedence over .sig', async () => {
    const artifact = makeArtifact();
    await pushArtifact(repository, artifact, 'only-attested');
    const a = newSigner();
    await attestBundle(repository, 'only-attested', a, PREDICATE, {});
    await assertRejectsCode(
      () => verifyArtifact(repository, 'only-attested', keyPolicy('a.pub', a)),
      'VERIFICATION_FAILED',
    );
    const c = newSigner();
    await signLegacy(repository, 'only-attested', a);
    await signBundle(repository, 'only-attested', c);
    await assertRejectsCode(
      () => verifyArtifact(repository, 'only-attested', keyPolicy('a.pub', a)),
      'VERIFICATION_FAILED',
    );
    const byC = await verifyArtifact(repository, 'only-attested', keyPolicy('c.pub', c));
    assert.equal(byC.format, 'sigstore-bundle');
  });

  it('attestationStatement is an in-toto v1 statement with one subject by digest', () => {
    const digest = makeArtifact().digest;
    assert.deepEqual(JSON.parse(attestationStatement(digest, PREDICATE, { x: 1 }).toString()), {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: digest.slice(7) } }],
      predicateType: PREDICATE,
      predicate: { x: 1 },
    });
  });
});
