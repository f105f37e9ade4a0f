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
 * bundle is attached only bundles count; otherwise the legacy `.sig` signatures do.
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
  const bundles = await findBundles(repository, digest);
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
