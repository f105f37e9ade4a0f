// `promote log`: an artifact's promotions, read back from its promotion attestations and trusted
// only when they verify (issue 9 §2). A promotion record that does not verify is reported failed
// with the reason, and its content is not shown: an unverified claim is not evidence.
import { AirlockError } from '../errors.ts';
import { type BatchItem, type BatchOptions, type BatchReport, batchReport } from '../core/index.ts';
import {
  formatReference,
  parseReference,
  type Reference,
  type RepositoryOpener,
  referenceTarget,
} from '../oci/index.ts';
import { findAttestations, type VerifyPolicy } from '../sign/index.ts';
import { PROMOTION_PREDICATE, type PromotionPredicate } from './tag.ts';

export interface PromotionRecord extends BatchItem {
  readonly attestationDigest: string;
  /** Who signed the attestation: a policy key's name or a certificate identity. */
  readonly signedBy?: string;
  readonly issuer?: string;
  readonly source?: string;
  readonly tags: readonly string[];
  readonly promotedAt?: string;
  readonly actor?: string;
  readonly run?: Readonly<Record<string, string>>;
  /** How the source verified when it was promoted. */
  readonly verification?: PromotionPredicate['verification'];
  readonly matchedDirectory?: string;
}

function asPredicate(value: unknown): Partial<PromotionPredicate> {
  return value !== null && typeof value === 'object' ? value : {};
}

/** One item per promotion attestation on the artifact `reference` names, oldest first. */
export async function promoteLog(
  opener: RepositoryOpener,
  reference: Reference | string,
  policy: VerifyPolicy,
  options: Pick<BatchOptions<PromotionRecord>, 'signal'> = {},
): Promise<BatchReport<PromotionRecord>> {
  const started = Date.now();
  const ref =
    typeof reference === 'string'
      ? parseReference(reference, { requireTagOrDigest: true })
      : reference;
  const repository = opener.open(ref);
  const resolved = await repository.resolve(referenceTarget(ref) ?? 'latest');
  if (!resolved) throw new AirlockError('REGISTRY_NOT_FOUND', `${formatReference(ref)}: not found`);
  const digest = resolved.digest;
  const where = `${repository.name}@${digest}`;
  // airlock's key-signed attestations carry no transparency-log entry (like cosign's offline key
  // bundles): a keys-only policy authenticates them by the key. Identity policies keep the log check.
  const keysOnly = (policy.identities ?? []).length === 0;
  const effective = keysOnly ? { ...policy, ignoreTlog: true } : policy;
  const found = await findAttestations(repository, digest, PROMOTION_PREDICATE, effective, {
    signal: options.signal,
  });
  const items: PromotionRecord[] = found.attestations.map((a) => {
    const predicate = asPredicate(a.statement.predicate);
    const signedBy = a.verification.keyName ?? a.verification.subject;
    return {
      reference: where,
      digest,
      outcome: 'done',
      attestationDigest: a.bundleDigest,
      ...(signedBy !== undefined ? { signedBy } : {}),
      ...(a.verification.issuer !== undefined ? { issuer: a.verification.issuer } : {}),
      ...(typeof predicate.source?.reference === 'string'
        ? { source: predicate.source.reference }
        : {}),
      tags: Array.isArray(predicate.tags)
        ? predicate.tags.filter((t) => typeof t === 'string')
        : [],
      ...(typeof predicate.promotedAt === 'string' ? { promotedAt: predicate.promotedAt } : {}),
      ...(typeof predicate.actor === 'string' ? { actor: predicate.actor } : {}),
      ...(predicate.run !== undefined ? { run: predicate.run } : {}),
      ...(predicate.verification !== undefined ? { verification: predicate.verification } : {}),
      ...(typeof predicate.matchedDirectory === 'string'
        ? { matchedDirectory: predicate.matchedDirectory }
        : {}),
      bytes: 0,
      durationMs: 0,
    };
  });
  for (const rejected of found.rejected)
    items.push({
      reference: where,
      digest,
      outcome: 'failed',
      attestationDigest: rejected.bundleDigest,
      tags: [],
      error: {
        code: 'VERIFICATION_FAILED',
        message: `promotion attestation ${rejected.bundleDigest}: ${rejected.reason}`,
        details: rejected.details ?? [],
      },
      bytes: 0,
      durationMs: 0,
    });
  items.sort((a, b) => (a.promotedAt ?? '').localeCompare(b.promotedAt ?? ''));
  return batchReport('promote log', items, started);
}
