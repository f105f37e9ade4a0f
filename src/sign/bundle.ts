import { createHash, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { AirlockError } from '../errors.ts';
import { type Digest, digestHex, readAll, sha256 } from '../core/index.ts';
import { addReferrers, type Descriptor, parseManifest, type Repository } from '../oci/index.ts';
import type { BundleSigner } from './keys.ts';

// cosign v3's default: a Sigstore bundle v0.3 holding a DSSE envelope over an in-toto statement,
// attached to the artifact as an OCI 1.1 referrer (shared/reference/signing.md §2, §7).
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const EMPTY_CONFIG = Buffer.from('{}');

/** DSSE pre-authentication encoding: "DSSEv1 <len> <type> <len> <body>" (byte lengths). */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `),
    payload,
  ]);
}

/** The key hint sigstore uses: base64(sha256(SPKI DER)). */
export function keyHint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('base64');
}

/** The in-toto v1 statement cosign signs: one subject with no name, empty predicate. */
export function cosignStatement(
  digest: Digest,
  annotations?: Readonly<Record<string, string>>,
): Buffer {
  const subject =
    annotations && Object.keys(annotations).length > 0
      ? { digest: { sha256: digestHex(digest) }, annotations }
      : { digest: { sha256: digestHex(digest) } };
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [subject],
      predicateType: COSIGN_SIGN_PREDICATE,
      predicate: {},
    }),
  );
}

export interface BundleSignResult {
  readonly reference: string;
  readonly digest: Digest;
  readonly bundleDigest: Digest;
}

/**
 * Signs the manifest a tag or digest names as a v0.3 bundle (key-based, no transparency log entry:
 * verify with the public key and the log requirement waived, as cosign requires for such bundles) and
 * attaches it as a referrer, maintaining the referrers tag index where the store lacks the API.
 */
export async function signBundle(
  repository: Repository,
  reference: string,
  signer: BundleSigner,
  options: { annotations?: Readonly<Record<string, string>> } = {},
): Promise<BundleSignResult> {
  return attachStatement(repository, reference, signer, COSIGN_SIGN_PREDICATE, (digest) =>
    cosignStatement(digest, options.annotations),
  );
}

/** An in-toto attestation (any predicate) about the artifact, signed and attached as a bundle referrer. */
export async function attestBundle(
  repository: Repository,
  reference: string,
  signer: BundleSigner,
  predicateType: string,
  predicate: unknown,
): Promise<BundleSignResult> {
  return attachStatement(repository, reference, signer, predicateType, (digest) =>
    Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: digestHex(digest) } }],
        predicateType,
        predicate,
      }),
    ),
  );
}

async function attachStatement(
  repository: Repository,
  reference: string,
  signer: BundleSigner,
  predicateType: string,
  statementFor: (digest: Digest) => Buffer,
): Promise<BundleSignResult> {
  const subject = await repository.resolve(reference);
  if (!subject)
    throw new AirlockError(
      'REGISTRY_NOT_FOUND',
      `${repository.name}:${reference}: nothing to sign`,
    );
  const statement = statementFor(subject.digest);
  const { signature } = await signer.sign(preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, statement));
  const hint = keyHint(signer.publicKey);
  const bundle = Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: {} },
      dsseEnvelope: {
        payload: statement.toString('base64'),
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        signatures: [{ sig: signature.toString('base64'), keyid: hint }],
      },
    }),
  );
  const pushed = await attachReferrer(repository, subject, BUNDLE_MEDIA_TYPE, bundle, {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': predicateType,
  });
  return {
    reference: `${repository.name}@${subject.digest}`,
    digest: subject.digest,
    bundleDigest: pushed,
  };
}

/**
 * Attaches one blob to an artifact as an OCI 1.1 referrer the way cosign and @sigstore/oci do:
 * empty config, one layer, `artifactType`, `subject`, a created annotation; pushed by digest and
 * listed in the referrers tag index where the store has no referrers API.
 */
export async function attachReferrer(
  repository: Repository,
  subject: Descriptor,
  artifactType: string,
  content: Buffer,
  annotations: Readonly<Record<string, string>>,
): Promise<Digest> {
  const layer = { mediaType: artifactType, digest: sha256(content), size: content.length };
  const config = {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: sha256(EMPTY_CONFIG),
    size: EMPTY_CONFIG.length,
  };
  await repository.pushBlob(layer, () => Promise.resolve(Readable.from([content])));
  await repository.pushBlob(config, () => Promise.resolve(Readable.from([EMPTY_CONFIG])));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        ...annotations,
        'org.opencontainers.image.created': `${new Date().toISOString().slice(0, 19)}Z`,
      },
    }),
  );
  const pushed = await repository.pushManifest(
    manifest,
    'application/vnd.oci.image.manifest.v1+json',
  );
  await addReferrers(repository, subject.digest, [{ ...pushed, artifactType }]);
  return pushed.digest;
}

/** Bundles attached to `digest`: referrer manifests with exactly one sigstore bundle layer (cosign GetBundles). */
export async function findBundles(
  repository: Repository,
  digest: Digest,
): Promise<{ descriptor: Descriptor; bundle: unknown }[]> {
  const found: { descriptor: Descriptor; bundle: unknown }[] = [];
  for (const referrer of await repository.referrers(digest)) {
    const fetched = await repository.fetchManifest(referrer.digest);
    const parsed = parseManifest(
      fetched.bytes,
      fetched.descriptor.mediaType,
      `${repository.name}@${referrer.digest}`,
    );
    if (parsed.kind !== 'manifest' || parsed.value.layers.length !== 1) continue;
    const layer = parsed.value.layers[0];
    if (!layer?.mediaType.startsWith('application/vnd.dev.sigstore.bundle')) continue;
    const bytes = await readAll(await repository.fetchBlob(layer), 16 * 1024 * 1024);
    try {
      found.push({ descriptor: referrer, bundle: JSON.parse(bytes.toString('utf8')) });
    } catch {
      continue;
    }
  }
  return found;
}

/** One accepted signer identity: each field exact or a regular expression (Flux matchOIDCIdentity). */
export interface IdentityPolicy {
  readonly subject: string | RegExp;
  readonly issuer: string | RegExp;
}

/** A public key a policy accepts, named for reports (Flux: the Secret entry, here the file). */
export interface VerifyKey {
  readonly name: string;
  readonly key: KeyObject;
}

/**
 * What verification accepts: any of the keys, or any identity pair whose certificate chains to the
 * trusted root. Build it with resolveVerifyPolicy, which checks it; verifiers re-check what they use.
 */
export interface VerifyPolicy {
  readonly keys?: readonly VerifyKey[];
  /** Several pairs are ORed, as in Flux's matchOIDCIdentity. */
  readonly identities?: readonly IdentityPolicy[];
  /** trusted_root.json, parsed: Fulcio CAs, Rekor and CT log keys (offline or private Sigstore). */
  readonly trustedRoot?: unknown;
  /** Key-only offline checks: no transparency-log entry required. */
  readonly ignoreTlog?: boolean;
}

export interface BundleVerification {
  readonly format: 'sigstore-bundle';
  readonly keyName?: string;
  readonly subject?: string;
  readonly issuer?: string;
}

const matches = (rule: string | RegExp, value: string | undefined): boolean =>
  value !== undefined && (typeof rule === 'string' ? rule === value : rule.test(value));

const EMPTY_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/** Identity checks need the CA and logs they chain to: there is no implicit (online) default. */
export function trustedRootRequired(): AirlockError {
  return new AirlockError(
    'TRUSTED_ROOT_REQUIRED',
    "keyless signatures verify against a trusted root (the public or a private Sigstore's trusted_root.json), and none was given",
    { data: { option: 'trustedRoot' } },
  );
}

/** Parses trusted_root.json contents; a broken one is bad input, not a failed verification. */
export function parseTrustedRoot(json: unknown): TrustedRoot {
  try {
    return TrustedRoot.fromJSON(json);
  } catch (error) {
    throw new AirlockError(
      'INPUT_INVALID',
      `the trusted root is invalid: ${(error as Error).message}`,
      {
        cause: error,
        data: { option: 'trustedRoot' },
      },
    );
  }
}

/**
 * Verifies one bundle JSON for `digest`: the DSSE signature (key or certificate chain to the trusted
 * root), transparency evidence unless ignored, the signer identity, and that the in-toto statement
 * names the digest. Throws VERIFICATION_FAILED with the reason.
 */
export function verifyBundleJSON(
  json: unknown,
  digest: Digest,
  policy: VerifyPolicy,
): BundleVerification {
  const { bundle, verification } = verifySigstore(json, policy, { requireDSSE: true });
  if (bundle.content.$case !== 'dsseEnvelope')
    throw new AirlockError('VERIFICATION_FAILED', 'the bundle has no DSSE envelope');
  const envelope = bundle.content.dsseEnvelope;
  let statement: { subject?: { digest?: { sha256?: string } }[] };
  try {
    statement = JSON.parse(envelope.payload.toString('utf8')) as typeof statement;
  } catch {
    throw new AirlockError('VERIFICATION_FAILED', 'the signed statement is not JSON');
  }
  if (!(statement.subject ?? []).some((s) => s.digest?.sha256 === digestHex(digest))) {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `the signed statement does not name ${digest} (copied from another artifact?)`,
    );
  }
  return verification;
}

/**
 * Verifies a Sigstore bundle's signature against keys or identities and the trusted root: the
 * shared step of bundle verification and of keyless legacy signatures (turned into v0.1 bundles).
 */
export function verifySigstore(
  json: unknown,
  policy: VerifyPolicy,
  options: { requireDSSE: boolean; artifact?: Buffer },
): { bundle: ReturnType<typeof bundleFromJSON>; verification: BundleVerification } {
  let bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (error) {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `the bundle is malformed: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (options.requireDSSE && bundle.content.$case !== 'dsseEnvelope') {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      'the bundle has no DSSE envelope (cosign v3 verifies DSSE bundles only)',
    );
  }
  const keys = policy.keys ?? [];
  const byHint = new Map(keys.map((k) => [keyHint(k.key), k]));
  const usesKey = bundle.verificationMaterial.content.$case === 'publicKey';
  if (usesKey && keys.length === 0)
    throw new AirlockError(
      'VERIFICATION_FAILED',
      'the bundle is signed with a key and the policy accepts no keys',
      { data: { option: 'keys' } },
    );
  if (!usesKey && (policy.identities ?? []).length === 0)
    throw new AirlockError(
      'VERIFICATION_FAILED',
      'the bundle is signed keylessly and the policy accepts no signer identities',
      { data: { option: 'identities' } },
    );
  if (!usesKey && policy.trustedRoot === undefined) throw trustedRootRequired();
  const root = parseTrustedRoot(policy.trustedRoot ?? EMPTY_ROOT);
  let matchedKey: { name: string; key: KeyObject } | undefined;
  const trust = toTrustMaterial(root, (hint: string) => {
    const found = byHint.get(hint) ?? (keys.length === 1 ? keys[0] : undefined);
    if (!found) throw new Error(`no key with hint ${hint}`);
    matchedKey = found;
    return { publicKey: found.key, validFor: () => true };
  });
  const ignore = policy.ignoreTlog === true;
  const verifier = new Verifier(
    trust,
    usesKey
      ? { tlogThreshold: ignore ? 0 : 1, ctlogThreshold: 0, timestampThreshold: 0 }
      : { tlogThreshold: ignore ? 0 : 1, ctlogThreshold: 1, timestampThreshold: ignore ? 0 : 1 },
  );
  let signer;
  try {
    signer = verifier.verify(toSignedEntity(bundle, options.artifact));
  } catch (error) {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `bundle signature does not verify: ${(error as Error).message}`,
      {
        cause: error,
        ...(usesKey && !ignore
          ? {
              details: [
                'A key-signed bundle without a transparency-log entry verifies only with the log requirement waived, as with cosign.',
              ],
              data: { option: 'ignoreTlog' },
            }
          : {}),
      },
    );
  }
  let verification: BundleVerification = { format: 'sigstore-bundle' };
  if (usesKey) {
    verification = { ...verification, ...(matchedKey ? { keyName: matchedKey.name } : {}) };
  } else {
    const subject = signer.identity?.subjectAlternativeName;
    const issuer = signer.identity?.extensions?.issuer;
    if (
      !(policy.identities ?? []).some(
        (p) => matches(p.subject, subject) && matches(p.issuer, issuer),
      )
    ) {
      throw new AirlockError(
        'VERIFICATION_FAILED',
        `signer identity ${subject ?? '?'} (issuer ${issuer ?? '?'}) matches no accepted identity`,
        { data: { option: 'identities', subject, issuer } },
      );
    }
    verification = {
      ...verification,
      ...(subject ? { subject } : {}),
      ...(issuer ? { issuer } : {}),
    };
  }
  return { bundle, verification };
}
