import { type KeyObject, verify as cryptoVerify } from 'node:crypto';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  digestHex,
  GoMap,
  goJSON,
  isDigest,
  readAll,
  sha256,
  throwIfAborted,
} from '../core/index.ts';
import { type Descriptor, parseManifest, type Repository } from '../oci/index.ts';
import type { Signer } from './keys.ts';
import { type VerifyPolicy, verifySigstore } from './bundle.ts';
import { legacyLayerAsBundle } from './keyless.ts';

// cosign's legacy ("tag-based") signatures, read by every cosign and Flux version
// (shared/reference/signing.md §1): an image manifest under tag `sha256-<hex>.sig`, one layer per
// signature holding the simple-signing payload, the DER signature in an annotation.
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** cosign refuses signature manifests with more layers than this (pkg/oci/remote/signatures.go). */
const MAX_LAYERS = 1000;

export function signatureTag(digest: Digest): string {
  return `sha256-${digestHex(digest)}.sig`;
}

/**
 * The simple-signing payload exactly as cosign marshals it (Go encoding/json of
 * sigstore payload.SimpleContainerImage; signing.md §1.3).
 */
export function simpleSigningPayload(
  dockerReference: string,
  digest: Digest,
  annotations?: Readonly<Record<string, string>>,
): Buffer {
  const optional =
    annotations && Object.keys(annotations).length > 0 ? new GoMap(annotations) : null;
  return Buffer.from(
    goJSON({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: 'cosign container image signature',
      },
      optional,
    }),
  );
}

/** The config ggcr builds for an empty image with N appended layers (signing.md §1.2). */
function signatureConfig(layers: readonly Descriptor[]): Buffer {
  const zero = '0001-01-01T00:00:00Z';
  return Buffer.from(
    goJSON({
      architecture: '',
      created: zero,
      history: layers.map(() => ({ created: zero })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

interface SignatureLayer {
  readonly descriptor: Descriptor;
  readonly payload: Buffer;
  readonly signature: Buffer;
}

/** Reads the signature layers stored for `digest` (an empty list when there is no .sig tag). */
export async function readSignatures(
  repository: Repository,
  digest: Digest,
): Promise<SignatureLayer[]> {
  const tag = signatureTag(digest);
  // One GET: a missing .sig tag answers 404, so a HEAD first would only add a round trip.
  let fetched;
  try {
    fetched = await repository.fetchManifest(tag);
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'REGISTRY_NOT_FOUND') return [];
    throw error;
  }
  const parsed = parseManifest(
    fetched.bytes,
    fetched.descriptor.mediaType,
    `${repository.name}:${tag}`,
  );
  if (parsed.kind !== 'manifest')
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${tag} is not a signature manifest`,
    );
  if (parsed.value.layers.length > MAX_LAYERS)
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${tag} has more than ${MAX_LAYERS} signatures`,
    );
  const layers: SignatureLayer[] = [];
  for (const descriptor of parsed.value.layers) {
    const payload = await readAll(await repository.fetchBlob(descriptor), 128 * 1024 * 1024);
    const signature = Buffer.from(descriptor.annotations?.[SIGNATURE_ANNOTATION] ?? '', 'base64');
    layers.push({ descriptor, payload, signature });
  }
  return layers;
}

export interface SignResult {
  readonly reference: string;
  readonly digest: Digest;
  readonly signatureTag: string;
  /** false when an identical signature by the same key was already there. */
  readonly added: boolean;
  /** Bytes uploaded: the payload and config blobs the store did not have, and the manifest. */
  readonly bytes: number;
}

export interface SignLegacyOptions {
  /** Signed into the payload's `optional` section. */
  readonly annotations?: Readonly<Record<string, string>>;
  /** The payload's docker-reference (default: the repository name). */
  readonly dockerReference?: string;
  /**
   * The digest `reference` names, when the caller knows it (it just pushed the manifest): the
   * resolve request is skipped. The caller vouches that the manifest exists in `repository`.
   */
  readonly knownDigest?: Digest;
  /**
   * The caller knows there is no `.sig` tag yet (it listed the tags a moment ago): the read of
   * existing signatures is skipped. Wrong here would replace signatures, so only say so when sure.
   */
  readonly knownUnsigned?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Signs the manifest a tag or digest names, in cosign's legacy format. The digest is resolved once
 * and is what gets signed; existing signatures are kept, and a signer with a public key adds no
 * duplicate of a payload it already signed (cosign's dedupe; `added` is then false).
 */
export async function signLegacy(
  repository: Repository,
  reference: string,
  signer: Signer,
  options: SignLegacyOptions = {},
): Promise<SignResult> {
  if (options.knownDigest !== undefined && isDigest(reference) && reference !== options.knownDigest)
    throw new AirlockError(
      'INPUT_INVALID',
      `${repository.name}@${reference}: the known digest ${options.knownDigest} names another manifest`,
      { data: { option: 'knownDigest' } },
    );
  const digest = await subjectDigest(repository, reference, options.knownDigest, 'nothing to sign');
  throwIfAborted(options.signal);
  const payload = simpleSigningPayload(
    options.dockerReference ?? repository.name,
    digest,
    options.annotations,
  );
  const existing = options.knownUnsigned === true ? [] : await readSignatures(repository, digest);
  const payloadDigest = sha256(payload);
  const result = {
    reference: `${repository.name}@${digest}`,
    digest,
    signatureTag: signatureTag(digest),
  };
  // cosign's dedupe: same payload, same media type, and a signature that verifies with this key.
  // A keyless signer has no long-lived key: every signature is new, so nothing is deduplicated.
  const publicKey = signer.publicKey;
  if (
    publicKey !== undefined &&
    existing.some(
      (l) =>
        l.descriptor.digest === payloadDigest &&
        l.descriptor.mediaType === SIMPLE_SIGNING_MEDIA_TYPE &&
        verifySignatureBytes(publicKey, l.payload, l.signature),
    )
  ) {
    return { ...result, added: false, bytes: 0 };
  }
  throwIfAborted(options.signal);
  const signed = await signer.sign(payload);
  // Nothing is written after an abort: a signature that never reaches its tag leaves no trace.
  throwIfAborted(options.signal);
  const layer: Descriptor = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: payloadDigest,
    size: payload.length,
    annotations: {
      [SIGNATURE_ANNOTATION]: signed.signature.toString('base64'),
      ...signed.annotations,
    },
  };
  const layers = [...existing.map((l) => l.descriptor), layer];
  const config = signatureConfig(layers);
  const configDescriptor = { mediaType: OCI_CONFIG, size: config.length, digest: sha256(config) };
  // Both blobs go up together; the signature manifest only after both are stored.
  const [layerAction, configAction] = await Promise.all([
    repository.pushBlob(layer, () => Promise.resolve(Readable.from([payload]))),
    repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config]))),
  ]);
  const bytes =
    (layerAction === 'uploaded' ? payload.length : 0) +
    (configAction === 'uploaded' ? config.length : 0);
  const manifest = Buffer.from(
    goJSON({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: configDescriptor,
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        size: l.size,
        digest: l.digest,
        annotations: new GoMap(l.annotations ?? {}),
      })),
    }),
  );
  // Signature last: after the artifact it covers exists (resolved above).
  await repository.pushManifest(manifest, OCI_MANIFEST, signatureTag(digest));
  return { ...result, added: true, bytes: bytes + manifest.length };
}

/** ECDSA over SHA-256: DER first, IEEE P1363 (r‖s) as cosign's verifier falls back to. */
export function verifySignatureBytes(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  if (signature.length === 0) return false;
  try {
    if (cryptoVerify('sha256', payload, { key, dsaEncoding: 'der' }, signature)) return true;
  } catch {
    // not DER: try r||s below
  }
  try {
    return (
      key.asymmetricKeyType === 'ec' &&
      cryptoVerify('sha256', payload, { key, dsaEncoding: 'ieee-p1363' }, signature)
    );
  } catch {
    return false;
  }
}

/** The digest a payload claims (field names matched case-insensitively, as Go's json does). */
export function claimedDigest(payload: Buffer): string | undefined {
  try {
    const lower = (o: unknown): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(
          o !== null && typeof o === 'object' ? (o as Record<string, unknown>) : {},
        ).map(([k, v]) => [k.toLowerCase(), v]),
      );
    const image = lower(lower(lower(JSON.parse(payload.toString('utf8'))).critical).image);
    const value = image['docker-manifest-digest'];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface VerifiedSignature {
  readonly subject?: string;
  readonly issuer?: string;
  readonly reference: string;
  readonly digest: Digest;
  readonly format: 'cosign-legacy';
  /** Index of the key (in the order given) that verified. */
  readonly keyIndex: number;
  readonly keyName: string;
  readonly annotations: Readonly<Record<string, unknown>> | null;
}

/**
 * Verifies legacy signatures with one or more public keys (Flux tries every `.pub` entry). Stricter
 * than Flux: the payload's digest claim must equal the artifact digest, so a signature copied from
 * another artifact is refused. Throws VERIFICATION_FAILED with the reason per signature.
 */
export async function verifyLegacy(
  repository: Repository,
  reference: string,
  policy: VerifyPolicy,
  options: { knownDigest?: Digest } = {},
): Promise<VerifiedSignature> {
  const keys = policy.keys ?? [];
  const digest = await subjectDigest(repository, reference, options.knownDigest);
  const layers = await readSignatures(repository, digest);
  if (layers.length === 0) {
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `${repository.name}@${digest}: no signatures found (no ${signatureTag(digest)} tag)`,
      {
        details: ['Sign it with "airlock sign".'],
      },
    );
  }
  const reasons: string[] = [];
  // The policy option that could change the outcome, for the caller's hint (the first one seen).
  let option: unknown;
  for (const [i, layer] of layers.entries()) {
    if (layer.descriptor.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
      reasons.push(
        `signature ${i + 1}: media type ${layer.descriptor.mediaType} is not a simple-signing payload`,
      );
      continue;
    }
    let signedBy:
      { keyIndex: number; keyName: string } | { subject: string; issuer: string } | undefined;
    const keyIndex = keys.findIndex(({ key }) =>
      verifySignatureBytes(key, layer.payload, layer.signature),
    );
    if (keyIndex >= 0) signedBy = { keyIndex, keyName: keys[keyIndex]?.name ?? '' };
    else if ((policy.identities ?? []).length > 0) {
      let asBundle: unknown;
      try {
        asBundle = legacyLayerAsBundle(
          layer.payload,
          layer.signature,
          layer.descriptor.annotations ?? {},
        );
      } catch {
        reasons.push(`signature ${i + 1}: its certificate or Rekor bundle annotation is malformed`);
        continue;
      }
      if (asBundle === undefined) {
        reasons.push(`signature ${i + 1}: has no certificate for an identity check`);
        continue;
      }
      try {
        const { verification } = verifySigstore(
          asBundle,
          { ...policy, keys: [] },
          { requireDSSE: false, artifact: layer.payload },
        );
        signedBy = { subject: verification.subject ?? '', issuer: verification.issuer ?? '' };
      } catch (error) {
        // A policy that cannot check identities (no trusted root) is the caller's problem, not the signature's.
        if (!(error instanceof AirlockError) || error.code !== 'VERIFICATION_FAILED') throw error;
        option ??= error.data.option;
        reasons.push(`signature ${i + 1}: ${error.message}`);
        continue;
      }
    } else {
      reasons.push(
        `signature ${i + 1}: does not verify with ${keys.map((k) => k.name).join(', ')}`,
      );
      continue;
    }
    const claimed = claimedDigest(layer.payload);
    if (claimed !== digest) {
      reasons.push(
        `signature ${i + 1}: valid, but for ${claimed ?? 'no digest'}, not ${digest} (copied from another artifact?)`,
      );
      continue;
    }
    let annotations: Record<string, unknown> | null = null;
    try {
      const optional = (JSON.parse(layer.payload.toString('utf8')) as { optional?: unknown })
        .optional;
      annotations =
        optional !== null && typeof optional === 'object'
          ? (optional as Record<string, unknown>)
          : null;
    } catch {
      annotations = null;
    }
    return {
      reference: `${repository.name}@${digest}`,
      digest,
      format: 'cosign-legacy',
      keyIndex: 'keyIndex' in signedBy ? signedBy.keyIndex : -1,
      keyName: 'keyName' in signedBy ? signedBy.keyName : '',
      ...('subject' in signedBy ? { subject: signedBy.subject, issuer: signedBy.issuer } : {}),
      annotations,
    };
  }
  throw new AirlockError(
    'VERIFICATION_FAILED',
    `${repository.name}@${digest}: no signature verifies`,
    { details: reasons, ...(option === undefined ? {} : { data: { option } }) },
  );
}

/**
 * The digest `reference` names: `knownDigest` when the caller already knows it (it just pushed
 * the artifact: no request), else one resolve. REGISTRY_NOT_FOUND when nothing is there.
 */
export async function subjectDigest(
  repository: Repository,
  reference: string,
  knownDigest: Digest | undefined,
  what = 'not found',
): Promise<Digest> {
  if (knownDigest !== undefined) return knownDigest;
  const resolved = await repository.resolve(reference);
  if (!resolved)
    throw new AirlockError(
      'REGISTRY_NOT_FOUND',
      `${repository.name}${isDigest(reference) ? '@' : ':'}${reference}: ${what}`,
    );
  return resolved.digest;
}
