import { AirlockError } from '../errors.ts';
import type { Repository } from '../oci/index.ts';
import {
  type BundlePolicy,
  type BundleVerification,
  findBundles,
  verifyBundleJSON,
} from './bundle.ts';
import { type VerifiedSignature, verifyLegacy } from './legacy.ts';

export type Verification = (
  BundleVerification | Omit<VerifiedSignature, 'reference' | 'digest' | 'keyIndex' | 'annotations'>
) & { reference: string; digest: string };

/**
 * Verifies an artifact the way cosign v3 and Flux ≥ 2.8 do (signing.md §2.3): when any Sigstore
 * bundle is attached only bundles count; otherwise the legacy `.sig` signatures do.
 */
export async function verifyArtifact(
  repository: Repository,
  reference: string,
  policy: BundlePolicy,
): Promise<Verification> {
  const resolved = await repository.resolve(reference);
  if (!resolved)
    throw new AirlockError('REGISTRY_NOT_FOUND', `${repository.name}:${reference}: not found`);
  const where = `${repository.name}@${resolved.digest}`;
  const bundles = await findBundles(repository, resolved.digest);
  if (bundles.length > 0) {
    const reasons: string[] = [];
    for (const { descriptor, bundle } of bundles) {
      try {
        return {
          ...verifyBundleJSON(bundle, resolved.digest, policy),
          reference: where,
          digest: resolved.digest,
        };
      } catch (error) {
        if (!(error instanceof AirlockError) || error.code !== 'VERIFICATION_FAILED') throw error;
        reasons.push(
          `bundle ${descriptor.digest}: ${error.message}`,
          ...error.details.map((d) => `  ${d}`),
        );
      }
    }
    throw new AirlockError(
      'VERIFICATION_FAILED',
      `${where}: no Sigstore bundle verifies (bundles take precedence over .sig signatures, as in cosign v3 and Flux 2.8)`,
      { details: reasons },
    );
  }
  const legacy = await verifyLegacy(repository, resolved.digest, policy);
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
