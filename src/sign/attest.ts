// Reading attestations back: the bundles of one predicate type attached to an artifact, each
// verified against a policy (signature, identity or key, transparency evidence, subject digest) and
// returned with its statement decoded from the signed payload. What does not verify is reported
// with its reason instead of being dropped silently, so `promote log` can say why an entry is
// missing. cosign's counterpart is verify-attestation --type (pkg/cosign/verify.go,
// verifyImageAttestationsSigstoreBundle, and FetchAttestations' predicate check in fetch.go).
import { AirlockError } from '../errors.ts';
import { type Digest, throwIfAborted } from '../core/index.ts';
import type { Repository } from '../oci/index.ts';
import {
  type BundleVerification,
  findBundles,
  IN_TOTO_PAYLOAD_TYPE,
  type InTotoStatement,
  verifyStatement,
  type VerifyPolicy,
} from './bundle.ts';

export interface VerifiedAttestation {
  /** The referrer manifest holding the bundle (what attestBundle returned as `bundleDigest`). */
  readonly bundleDigest: Digest;
  readonly statement: InTotoStatement;
  /** Who signed it: the policy key's name, or the certificate identity and issuer. */
  readonly verification: BundleVerification;
  /** The referrer's creation time (`org.opencontainers.image.created`, unsigned). */
  readonly created?: string;
}

export interface RejectedAttestation {
  readonly bundleDigest: Digest;
  /** Why it did not verify (VERIFICATION_FAILED's message). */
  readonly reason: string;
  readonly details?: readonly string[];
}

export interface FindAttestationsResult {
  /** Oldest first (by `created`, then bundle digest, so the order is stable). */
  readonly attestations: VerifiedAttestation[];
  readonly rejected: RejectedAttestation[];
}

/**
 * The attestations of `predicateType` attached to `digest` that verify against `policy`, and those
 * that do not, with reasons. A bundle counts only when its signed statement names `digest` and has
 * `predicateType` (the referrer's annotation only narrows what is fetched). Errors that are not
 * about one bundle (a policy that cannot check identities without a trusted root, a registry
 * failure) are thrown.
 */
export async function findAttestations(
  repository: Repository,
  digest: Digest,
  predicateType: string,
  policy: VerifyPolicy,
  options: { readonly signal?: AbortSignal | undefined } = {},
): Promise<FindAttestationsResult> {
  const found = await findBundles(repository, digest, { predicateType, signal: options.signal });
  throwIfAborted(options.signal);
  const attestations: VerifiedAttestation[] = [];
  const rejected: RejectedAttestation[] = [];
  for (const { descriptor, bundle, created } of found) {
    try {
      const verified = verifyStatement(bundle, digest, policy);
      if (verified.payloadType !== IN_TOTO_PAYLOAD_TYPE)
        throw new AirlockError(
          'VERIFICATION_FAILED',
          `the signed payload is ${verified.payloadType}, not an in-toto statement`,
        );
      if (verified.statement.predicateType !== predicateType)
        throw new AirlockError(
          'VERIFICATION_FAILED',
          `the signed statement's predicate is ${verified.statement.predicateType || '(none)'}, not ${predicateType} as its referrer claims`,
        );
      attestations.push({
        bundleDigest: descriptor.digest,
        statement: verified.statement,
        verification: verified.verification,
        ...(created === undefined ? {} : { created }),
      });
    } catch (error) {
      if (!(error instanceof AirlockError) || error.code !== 'VERIFICATION_FAILED') throw error;
      rejected.push({
        bundleDigest: descriptor.digest,
        reason: error.message,
        ...(error.details.length > 0 ? { details: error.details } : {}),
      });
    }
  }
  const order = (a: { created?: string; bundleDigest: string }, b: typeof a): number =>
    (a.created ?? '').localeCompare(b.created ?? '') ||
    a.bundleDigest.localeCompare(b.bundleDigest);
  attestations.sort(order);
  return { attestations, rejected };
}
