import { AirlockError } from '../errors.ts';
import { type Digest, throwIfAborted } from '../core/index.ts';
import type { Repository } from '../oci/index.ts';
import {
  type BundleVerification,
  findBundles,
  verifyBundleJSON,
  type VerifyPolicy,
} from './bundle.ts';
import { subjectDigest, type VerifiedSignature, verifyLegacy } from './legacy.ts';

export type Verification = (
  BundleVerification | Omit<VerifiedSignature, 'reference' | 'digest' | 'keyIndex' | 'annotations'>
) & { reference: string; digest: string };

export interface VerifyArtifactOptions {
  /** The digest `reference` names, when the caller knows it: the resolve request is skipped. */
  readonly knownDigest?: Digest;
  readonly signal?: AbortSignal;
}

/**
 * Verifies an artifact the way cosign v3 and Flux ≥ 2.8 do (signing.md §2.3): when any Sigstore
 * signature bundle is attached only bundles count; otherwise the legacy `.sig` signatures do.
 *
 * Only signature bundles count: those whose statement has cosign sign's predicate
 * (`https://sigstore.dev/cosign/sign/v1`, cosign cmd/cosign/cli/sign/sign.go) or no in-toto
 * statement at all. Attestations (SBOM, provenance, promotion) are claims about the artifact, made
 * by whoever attached them; they neither sign it nor hide its legacy signatures. This is stricter
 * than cosign itself: at sigstore/cosign d6d86c22 `cosign verify` switches to bundles as soon as
 * GetBundles finds any bundle referrer (cmd/cosign/cli/verify/verify.go) and accepts any bundle
 * that verifies, whatever its predicate (pkg/cosign/verify.go, verifyImageAttestationsSigstoreBundle,
 * which filters by predicate nowhere). So there, an attestation by the signer's key passes as a
 * signature, and an attestation by another key makes a legacy-signed artifact fail.
 */
export async function verifyArtifact(
  repository: Repository,
  reference: string,
  policy: VerifyPolicy,
  options: VerifyArtifactOptions = {},
): Promise<Verification> {
  const digest = await subjectDigest(repository, reference, options.knownDigest);
  throwIfAborted(options.signal);
  const where = `${repository.name}@${digest}`;
  const bundles = (await findBundles(repository, digest, { signal: options.signal })).filter(
    (found) => found.role === 'signature',
  );
  throwIfAborted(options.signal);
  if (bundles.length > 0) {
    const reasons: string[] = [];
    let option: unknown;
    for (const { descriptor, bundle } of bundles) {
      try {
        return { ...verifyBundleJSON(bundle, digest, policy), reference: where, digest };
      } catch (error) {
        if (!(error instanceof AirlockError) || error.code !== 'VERIFICATION_FAILED') throw error;
        option ??= error.data.option;
        reasons.push(
          `bundle ${descriptor.digest}: ${error.message}`,
          ...error.details.map((d) => `  ${d}`),
        );
      }
    }
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `${where}: no Sigstore bundle verifies (bundles take precedence over .sig signatures, as in cosign v3 and Flux 2.8)`,
      { details: reasons, ...(option === undefined ? {} : { data: { option } }) },
    );
  }
  const legacy = await verifyLegacy(repository, digest, policy, { knownDigest: digest });
  return {
    format: legacy.format,
    keyName: legacy.keyName,
    ...(legacy.subject === undefined
      ? {}
      : { subject: legacy.subject, issuer: legacy.issuer ?? '' }),
    reference: legacy.reference,
    digest: legacy.digest,
  };
}
