import { createHash, type KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  digestHex,
  isDigest,
  readAll,
  sha256,
  throwIfAborted,
} from '../core/index.ts';
import { addReferrers, type Descriptor, parseManifest, type Repository } from '../oci/index.ts';
import type { SignedPayload } from './keys.ts';

// cosign v3's default: a Sigstore bundle v0.3 holding a DSSE envelope over an in-toto statement,
// attached to the artifact as an OCI 1.1 referrer (shared/reference/signing.md §2, §7).
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
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
      _type: IN_TOTO_STATEMENT_TYPE,
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
 * What signs a bundle: a key signer (its `publicKey` names the key by hint in the bundle) or a
 * signer that builds whole DSSE bundles itself (`signDSSE`, as KeylessSigner does: Fulcio
 * certificate and Rekor entry). Every Signer that resolveSigner returns is one of the two.
 */
export interface AttestationSigner {
  readonly publicKey?: KeyObject;
  sign(payload: Buffer): Promise<SignedPayload>;
  /** Signs a DSSE envelope over `payload` and returns the whole Sigstore bundle v0.3 as JSON. */
  signDSSE?(payloadType: string, payload: Buffer): Promise<unknown>;
}

export interface AttestOptions {
  /**
   * The subject's descriptor, when the caller already resolved it: no request is made for it.
   * Promotion resolves a moving tag once and attests exactly that digest.
   */
  readonly knownSubject?: Descriptor;
  /** The subject's digest: resolved by digest (one HEAD), never through the tag `reference` names. */
  readonly knownDigest?: Digest;
  readonly signal?: AbortSignal;
}

/**
 * Signs the manifest a tag or digest names as a v0.3 bundle and attaches it as a referrer,
 * maintaining the referrers tag index where the store lacks the API. A key signer's bundle has no
 * transparency log entry (verify with the public key and the log requirement waived, as cosign
 * requires for such bundles); a keyless one carries its Fulcio certificate and Rekor entry.
 */
export async function signBundle(
  repository: Repository,
  reference: string,
  signer: AttestationSigner,
  options: AttestOptions & { annotations?: Readonly<Record<string, string>> } = {},
): Promise<BundleSignResult> {
  return attachStatement(repository, reference, signer, COSIGN_SIGN_PREDICATE, options, (digest) =>
    cosignStatement(digest, options.annotations),
  );
}

/** The in-toto v1 statement of an attestation: one subject by digest, any predicate. */
export function attestationStatement(
  digest: Digest,
  predicateType: string,
  predicate: unknown,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: IN_TOTO_STATEMENT_TYPE,
      subject: [{ digest: { sha256: digestHex(digest) } }],
      predicateType,
      predicate,
    }),
  );
}

/**
 * An in-toto attestation (any predicate) about the artifact, signed by a key or keylessly and
 * attached as a bundle referrer. `reference` is a tag or a digest; with `knownSubject` or
 * `knownDigest` the tag is never resolved (the digest a caller checked is the one attested).
 */
export async function attestBundle(
  repository: Repository,
  reference: string,
  signer: AttestationSigner,
  predicateType: string,
  predicate: unknown,
  options: AttestOptions = {},
): Promise<BundleSignResult> {
  return attachStatement(repository, reference, signer, predicateType, options, (digest) =>
    attestationStatement(digest, predicateType, predicate),
  );
}

/** The subject descriptor an attestation points at, with as few requests as the caller allows. */
async function attestedSubject(
  repository: Repository,
  reference: string,
  options: AttestOptions,
): Promise<Descriptor> {
  const known = options.knownSubject?.digest ?? options.knownDigest;
  if (known !== undefined && isDigest(reference) && reference !== known)
    throw new AirlockError(
      'INPUT_INVALID',
      `${repository.name}@${reference}: the reference names another digest than the known subject ${known}`,
      { data: { option: options.knownSubject ? 'knownSubject' : 'knownDigest' } },
    );
  if (options.knownSubject) return options.knownSubject;
  const lookup = known ?? reference;
  const subject = await repository.resolve(lookup);
  if (!subject)
    throw new AirlockError(
      'REGISTRY_NOT_FOUND',
      `${repository.name}${isDigest(lookup) ? '@' : ':'}${lookup}: nothing to sign`,
    );
  return subject;
}

/** A key-signed v0.3 bundle: the DSSE signature and the key's hint, no transparency evidence. */
async function keyBundle(
  publicKey: KeyObject,
  signer: AttestationSigner,
  statement: Buffer,
): Promise<Buffer> {
  const { signature } = await signer.sign(preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, statement));
  const hint = keyHint(publicKey);
  return Buffer.from(
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
}

async function attachStatement(
  repository: Repository,
  reference: string,
  signer: AttestationSigner,
  predicateType: string,
  options: AttestOptions,
  statementFor: (digest: Digest) => Buffer,
): Promise<BundleSignResult> {
  const subject = await attestedSubject(repository, reference, options);
  throwIfAborted(options.signal);
  const statement = statementFor(subject.digest);
  let bundle: Buffer;
  if (signer.signDSSE) {
    bundle = Buffer.from(JSON.stringify(await signer.signDSSE(IN_TOTO_PAYLOAD_TYPE, statement)));
  } else if (signer.publicKey) {
    bundle = await keyBundle(signer.publicKey, signer, statement);
  } else {
    throw new AirlockError(
      'SIGNER_UNAVAILABLE',
      'this signer cannot sign a Sigstore bundle: it has neither a public key nor DSSE bundle signing',
    );
  }
  // Nothing is attached once the caller gave up: a signature is written only after its subject.
  throwIfAborted(options.signal);
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

/** A Sigstore bundle found among an artifact's referrers, not yet verified. */
export interface FoundBundle {
  /** The referrer manifest (its digest is the bundle's `bundleDigest`). */
  readonly descriptor: Descriptor;
  /** The bundle JSON, parsed. */
  readonly bundle: unknown;
  /**
   * The in-toto statement's predicate type when the bundle holds a DSSE in-toto statement (signed,
   * so authoritative once the bundle verifies), else the referrer's unsigned
   * `dev.sigstore.bundle.predicateType` annotation.
   */
  readonly predicateType?: string;
  /**
   * `signature`: a signature of the artifact (cosign sign's predicate, or a bundle without an
   * in-toto statement); `attestation`: a claim about it (SBOM, provenance, promotion).
   */
  readonly role: 'signature' | 'attestation';
  /** The referrer's `org.opencontainers.image.created` annotation. */
  readonly created?: string;
}

const BUNDLE_LAYER_PREFIX = 'application/vnd.dev.sigstore.bundle';
const PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

/** The predicate type a bundle's DSSE payload claims, when it is an in-toto statement. */
function statementPredicate(bundle: unknown): string | undefined {
  const envelope = (
    bundle as { dsseEnvelope?: { payload?: unknown; payloadType?: unknown } } | null
  )?.dsseEnvelope;
  if (envelope?.payloadType !== IN_TOTO_PAYLOAD_TYPE || typeof envelope.payload !== 'string')
    return undefined;
  try {
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicateType?: unknown;
    } | null;
    return typeof statement?.predicateType === 'string' ? statement.predicateType : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Bundles attached to `digest`: referrer manifests with exactly one sigstore bundle layer (cosign
 * GetBundles). Referrers whose descriptor already says they are something else (another
 * `artifactType`, or with `predicateType` another predicate annotation) are not fetched.
 */
export async function findBundles(
  repository: Repository,
  digest: Digest,
  options: { readonly predicateType?: string; readonly signal?: AbortSignal | undefined } = {},
): Promise<FoundBundle[]> {
  const found: FoundBundle[] = [];
  for (const referrer of await repository.referrers(digest)) {
    throwIfAborted(options.signal);
    if (
      referrer.artifactType !== undefined &&
      !referrer.artifactType.startsWith(BUNDLE_LAYER_PREFIX)
    )
      continue;
    const annotated = referrer.annotations?.[PREDICATE_ANNOTATION];
    if (
      options.predicateType !== undefined &&
      annotated !== undefined &&
      annotated !== options.predicateType
    )
      continue;
    const fetched = await repository.fetchManifest(referrer.digest);
    const parsed = parseManifest(
      fetched.bytes,
      fetched.descriptor.mediaType,
      `${repository.name}@${referrer.digest}`,
    );
    if (parsed.kind !== 'manifest' || parsed.value.layers.length !== 1) continue;
    const layer = parsed.value.layers[0];
    if (!layer?.mediaType.startsWith(BUNDLE_LAYER_PREFIX)) continue;
    const bytes = await readAll(await repository.fetchBlob(layer), 16 * 1024 * 1024);
    let bundle: unknown;
    try {
      bundle = JSON.parse(bytes.toString('utf8'));
    } catch {
      continue;
    }
    const annotations = parsed.value.annotations ?? {};
    const claimed = statementPredicate(bundle);
    const predicateType = claimed ?? annotations[PREDICATE_ANNOTATION] ?? annotated;
    if (options.predicateType !== undefined && predicateType !== options.predicateType) continue;
    const created = annotations['org.opencontainers.image.created'];
    found.push({
      descriptor: referrer,
      bundle,
      ...(predicateType === undefined ? {} : { predicateType }),
      // What cosign sign writes is the signature; a DSSE statement of any other predicate is an
      // attestation. A bundle without a readable statement (message signature, or broken) counts
      // as a signature attempt, so it is reported when nothing verifies instead of being ignored.
      role:
        claimed === undefined || claimed === COSIGN_SIGN_PREDICATE ? 'signature' : 'attestation',
      ...(created === undefined ? {} : { created }),
    });
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

/** A verified in-toto statement (v1): its subjects, predicate type and predicate. */
export interface InTotoStatement {
  readonly _type?: string;
  readonly subject: readonly {
    readonly name?: string;
    readonly digest: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, unknown>>;
  }[];
  readonly predicateType: string;
  readonly predicate?: unknown;
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
  return verifyStatement(json, digest, policy).verification;
}

/** verifyBundleJSON, also returning the statement it verified (decoded from the signed payload). */
export function verifyStatement(
  json: unknown,
  digest: Digest,
  policy: VerifyPolicy,
): { verification: BundleVerification; statement: InTotoStatement; payloadType: string } {
  const { bundle, verification } = verifySigstore(json, policy, { requireDSSE: true });
  if (bundle.content.$case !== 'dsseEnvelope')
    throw new AirlockError('VERIFICATION_FAILED', 'the bundle has no DSSE envelope');
  const envelope = bundle.content.dsseEnvelope;
  let statement: Partial<InTotoStatement> | null;
  try {
    statement = JSON.parse(envelope.payload.toString('utf8')) as typeof statement;
  } catch {
    throw new AirlockError('VERIFICATION_FAILED', 'the signed statement is not JSON');
  }
  const subjects = Array.isArray(statement?.subject) ? statement.subject : [];
  if (
    !subjects.some(
      (s) => (s as { digest?: { sha256?: unknown } } | null)?.digest?.sha256 === digestHex(digest),
    )
  ) {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `the signed statement does not name ${digest} (copied from another artifact?)`,
    );
  }
  return {
    verification,
    statement: {
      ...statement,
      subject: subjects,
      predicateType: typeof statement?.predicateType === 'string' ? statement.predicateType : '',
    },
    payloadType: envelope.payloadType,
  };
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
