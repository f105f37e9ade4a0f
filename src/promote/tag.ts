// Tag promotion in the registry (Flux D2's latest → latest-stable, issue 9 §2). D2 rebuilds the
// artifact from the git tag at release time; airlock instead promotes the exact digest staging ran:
// the source tag is resolved ONCE, every later request names that digest, and the new tags are
// written last, after the release signature and the promotion attestation, so a production cluster
// that follows `latest-stable` never sees it point at something its policy rejects.
import { AirlockError, toAirlockError } from '../errors.ts';
import {
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  type Digest,
  escapeControl,
  type ItemResult,
  runBatch,
  throwIfAborted,
} from '../core/index.ts';
import { buildLayer, type BuildOptions, diffFluxArtifact } from '../artifact/index.ts';
import {
  checkTags,
  formatReference,
  parseReference,
  type Reference,
  type Repository,
  type RepositoryOpener,
  referenceTarget,
} from '../oci/index.ts';
import {
  attestBundle,
  keyHint,
  type Signer,
  signBundle,
  signLegacy,
  type Verification,
  verifyArtifact,
  type VerifyPolicy,
} from '../sign/index.ts';
import { ciContext, provenanceAnnotations } from '../provenance/index.ts';

/** The in-toto predicate type of airlock's promotion attestations (docs/promotion.md). */
export const PROMOTION_PREDICATE = 'https://airlock.dev/promotion/v1';

/** What a promotion attestation's predicate records. */
export interface PromotionPredicate {
  readonly source: { readonly reference: string; readonly digest: Digest };
  readonly tags: readonly string[];
  /** How the source's signature verified before it was promoted. */
  readonly verification: {
    readonly format: string;
    readonly key?: string;
    readonly keyHint?: string;
    readonly subject?: string;
    readonly issuer?: string;
  };
  /** The directory the content was compared with, when one was. */
  readonly matchedDirectory?: string;
  /** Annotations the source was required to carry, with their values. */
  readonly requiredAnnotations?: Readonly<Record<string, string>>;
  /** The CI run that promoted (provenance annotations: platform, workflow, run URL, …). */
  readonly run?: Readonly<Record<string, string>>;
  readonly actor?: string;
  /** RFC 3339. */
  readonly promotedAt: string;
}

export interface PromoteTagOptions extends BatchOptions<PromotionItem> {
  /** The signature the source must carry (keys, or identities with a trusted root). */
  readonly policy: VerifyPolicy;
  /** Signs the promoted digest and the attestation: production's policy must accept it. */
  readonly signer: Signer;
  /** Require the artifact's content to equal this directory (a release tag's checkout). */
  readonly matchDir?: string;
  readonly matchDirOptions?: BuildOptions;
  /** Annotations the source manifest must carry with exactly these values. */
  readonly requireAnnotations?: Readonly<Record<string, string>>;
  /** The CI run that promotes; default: read from `ciEnv` (GitHub Actions, GitLab CI). */
  readonly run?: Readonly<Record<string, string>>;
  readonly actor?: string;
  /** Environment variables the CI run and actor are read from when not given. */
  readonly ciEnv?: Readonly<Record<string, string | undefined>>;
  /** For tests and reproducible attestations. */
  readonly now?: Date;
}

export interface PromotionItem extends BatchItem {
  /** The source reference as given (`reg/apps/web:latest`). */
  readonly source: string;
  readonly tags: readonly string[];
  readonly verification?: PromotionPredicate['verification'];
  readonly signatureTag?: string;
  /** The release signature as a Sigstore bundle, written when the source was signed with bundles. */
  readonly bundleDigest?: string;
  readonly attestationDigest?: string;
}

/**
 * Promotes the exact digest `source` names to every tag: resolve once, verify its signature
 * against `policy`, optionally compare its content and annotations, sign it with the release
 * signer, attest the promotion, then write the tags. Any refusal (VERIFICATION_FAILED,
 * POLICY_VIOLATION) fails the item before anything is written.
 */
export async function promoteTag(
  opener: RepositoryOpener,
  source: Reference | string,
  tags: readonly string[],
  options: PromoteTagOptions,
): Promise<BatchReport<PromotionItem>> {
  const ref =
    typeof source === 'string' ? parseReference(source, { requireTagOrDigest: true }) : source;
  if (tags.length === 0)
    throw new AirlockError('INPUT_INVALID', 'promotion needs at least one tag to write', {
      data: { option: 'tags' },
    });
  checkTags(tags);
  const sourceText = formatReference(ref);
  const ci = options.ciEnv === undefined ? undefined : ciContext(options.ciEnv);
  const run = options.run ?? (ci === undefined ? undefined : provenanceAnnotations(ci));
  const actor = options.actor ?? ci?.actor;
  const resolved = {
    ...options,
    ...(run === undefined ? {} : { run }),
    ...(actor === undefined ? {} : { actor }),
  };
  return runBatch<Reference, PromotionItem>(
    'promote tag',
    [ref],
    (input, signal) => promoteOne(opener.open(input), input, tags, resolved, signal),
    () => ({ reference: sourceText, source: sourceText, tags: [...tags] }),
    options,
  );
}

async function promoteOne(
  repository: Repository,
  ref: Reference,
  tags: readonly string[],
  options: PromoteTagOptions,
  signal: AbortSignal | undefined,
): Promise<ItemResult<PromotionItem>> {
  const sourceText = formatReference(ref);
  const target = referenceTarget(ref) ?? 'latest';
  // The one resolution: from here on only `digest` is used, so a concurrent push to the moving
  // tag cannot change what is promoted.
  const resolved = await repository.resolve(target);
  if (!resolved)
    throw new AirlockError('REGISTRY_NOT_FOUND', `${sourceText}: not found`, {
      data: { reference: sourceText },
    });
  const digest = resolved.digest;
  const where = `${repository.name}@${digest}`;
  throwIfAborted(signal);
  const verified = await verifyArtifact(repository, digest, options.policy, {
    knownDigest: digest,
    ...(signal ? { signal } : {}),
  });
  const fetched = await repository.fetchManifest(digest);
  if (options.requireAnnotations !== undefined)
    checkAnnotations(fetched.bytes, options.requireAnnotations, where);
  if (options.matchDir !== undefined) {
    const local = await buildLayer(options.matchDir, options.matchDirOptions ?? {});
    const diff = await diffFluxArtifact(repository, digest, local);
    if (diff.changed)
      throw new AirlockError(
        'POLICY_VIOLATION',
        `${where} does not match ${escapeControl(options.matchDir)}: the release checkout differs from what was tested`,
        {
          details: [
            ...diff.added.map((f) => `only in the directory: ${escapeControl(f)}`),
            ...diff.removed.map((f) => `only in the artifact: ${escapeControl(f)}`),
            ...diff.modified.map((f) => `differs: ${escapeControl(f)}`),
          ].slice(0, 50),
          data: {
            option: 'matchDir',
            added: diff.added.length,
            removed: diff.removed.length,
            modified: diff.modified.length,
          },
        },
      );
  }
  throwIfAborted(signal);
  const verification = describeVerification(verified, options.policy);
  const signature = await signLegacy(repository, digest, options.signer, {
    knownDigest: digest,
    ...(signal ? { signal } : {}),
  });
  // Where the source carries signature bundles, verifiers read only bundles (cosign v3, Flux 2.8):
  // the release signature must then be a bundle too, or production's policy would never see it.
  const bundle =
    verified.format === 'sigstore-bundle'
      ? await signBundle(repository, digest, options.signer, { knownSubject: resolved })
      : undefined;
  throwIfAborted(signal);
  const predicate: PromotionPredicate = {
    source: { reference: sourceText, digest },
    tags: [...tags],
    verification,
    ...(options.matchDir !== undefined ? { matchedDirectory: options.matchDir } : {}),
    ...(options.requireAnnotations !== undefined
      ? { requiredAnnotations: options.requireAnnotations }
      : {}),
    ...(options.run !== undefined ? { run: options.run } : {}),
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
    promotedAt: (options.now ?? new Date()).toISOString(),
  };
  const attestation = await attestBundle(
    repository,
    digest,
    options.signer,
    PROMOTION_PREDICATE,
    predicate,
    { knownSubject: resolved },
  );
  throwIfAborted(signal);
  // Tags last: each PUT names the bytes fetched by digest, never the moving source tag.
  let bytes = signature.bytes;
  const written: string[] = [];
  try {
    for (const tag of tags) {
      await repository.pushManifest(fetched.bytes, fetched.descriptor.mediaType, tag);
      written.push(tag);
      bytes += fetched.bytes.length;
    }
  } catch (caught) {
    // Say which tags already point at the digest: a re-run writes the rest (each tag is the same
    // bytes, so nothing already written changes).
    const error = toAirlockError(caught);
    throw new AirlockError(error.code, error.message, {
      details: error.details,
      data: { ...error.data, tagsWritten: written },
      cause: caught,
    });
  }
  return {
    reference: `${repository.name}@${digest}`,
    digest,
    outcome: 'done',
    source: sourceText,
    tags: [...tags],
    verification,
    signatureTag: signature.signatureTag,
    ...(bundle === undefined ? {} : { bundleDigest: bundle.bundleDigest }),
    attestationDigest: attestation.bundleDigest,
    bytes,
  };
}

function checkAnnotations(
  manifest: Buffer,
  required: Readonly<Record<string, string>>,
  where: string,
): void {
  let annotations: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(manifest.toString('utf8')) as { annotations?: unknown };
    if (parsed.annotations !== null && typeof parsed.annotations === 'object')
      annotations = parsed.annotations as Record<string, unknown>;
  } catch {
    throw new AirlockError('MANIFEST_INVALID', `${where}: the manifest is not JSON`);
  }
  const problems = Object.entries(required)
    .filter(([key, value]) => annotations[key] !== value)
    .map(([key, value]) =>
      annotations[key] === undefined
        ? `${escapeControl(key)}: missing (want ${escapeControl(value)})`
        : `${escapeControl(key)}: ${escapeControl(JSON.stringify(annotations[key]))} (want ${escapeControl(value)})`,
    );
  if (problems.length > 0)
    throw new AirlockError('POLICY_VIOLATION', `${where} does not carry the required annotations`, {
      details: problems,
      data: { option: 'requireAnnotations' },
    });
}

function describeVerification(
  verified: Verification,
  policy: VerifyPolicy,
): PromotionPredicate['verification'] {
  const key =
    verified.keyName === undefined
      ? undefined
      : policy.keys?.find((k) => k.name === verified.keyName);
  return {
    format: verified.format,
    ...(verified.keyName !== undefined ? { key: verified.keyName } : {}),
    ...(key ? { keyHint: keyHint(key.key) } : {}),
    ...('subject' in verified && verified.subject ? { subject: verified.subject } : {}),
    ...('issuer' in verified && verified.issuer ? { issuer: verified.issuer } : {}),
  };
}
