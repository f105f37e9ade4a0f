// Signing and verifying many artifacts in one call, reported in the one batch shape every command
// shares (core/batch.ts, docs/json.md). Items run concurrently; each failure is its own record.
import { AirlockError } from '../errors.ts';
import {
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  runBatch,
  throwIfAborted,
} from '../core/index.ts';
import {
  formatReference,
  parseReference,
  type Reference,
  type RepositoryOpener,
  referenceTarget,
} from '../oci/index.ts';
import type { Signer } from './keys.ts';
import { signLegacy } from './legacy.ts';
import { signBundle, type VerifyPolicy } from './bundle.ts';
import { verifyArtifact } from './verify.ts';

export interface SignItem extends BatchItem {
  /** The cosign `.sig` tag the signature is stored under. */
  readonly signatureTag?: string;
  /** The Sigstore bundle referrer written with `bundle: true`. */
  readonly bundleDigest?: string;
}

export interface SignArtifactsOptions extends BatchOptions<SignItem> {
  /** Signed into the payload's `optional` section (and the bundle statement's subject). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Also attach a Sigstore bundle v0.3 referrer (key signers only). */
  readonly bundle?: boolean;
}

export interface VerifyItem extends BatchItem {
  readonly format?: 'cosign-legacy' | 'sigstore-bundle';
  /** The policy key that verified. */
  readonly keyName?: string;
  /** The certificate identity and issuer that verified (keyless). */
  readonly subject?: string;
  readonly issuer?: string;
}

export type VerifyArtifactsOptions = BatchOptions<VerifyItem>;

/** Parses every reference first, so one typo fails the call before any request, with all problems. */
function parseAll(references: readonly (Reference | string)[]): Reference[] {
  const problems: string[] = [];
  const parsed: Reference[] = [];
  for (const reference of references) {
    if (typeof reference !== 'string') {
      parsed.push(reference);
      continue;
    }
    try {
      parsed.push(parseReference(reference, { requireTagOrDigest: true }));
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length === 1) throw new AirlockError('REF_INVALID', problems[0] ?? '');
  if (problems.length > 1)
    throw new AirlockError('REF_INVALID', `${problems.length} references are invalid`, {
      details: problems,
    });
  return parsed;
}

const failed = (ref: Reference): { reference: string } => ({ reference: formatReference(ref) });

/**
 * Signs each artifact in cosign's legacy format (signLegacy), and with `bundle` also as a Sigstore
 * bundle referrer. An identical signature already there (cosign's dedupe) is `present`.
 */
export async function signArtifacts(
  opener: RepositoryOpener,
  references: readonly (Reference | string)[],
  signer: Signer,
  options: SignArtifactsOptions = {},
): Promise<BatchReport<SignItem>> {
  const refs = parseAll(references);
  const publicKey = signer.publicKey;
  if (options.bundle === true && publicKey === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      'bundles are signed with a key here; keyless signatures carry their certificate and Rekor entry on the .sig layer',
      { data: { option: 'bundle' } },
    );
  const annotations = options.annotations ?? {};
  return runBatch<Reference, SignItem>(
    'sign',
    refs,
    async (ref, signal) => {
      const repository = opener.open(ref);
      const legacy = await signLegacy(repository, referenceTarget(ref) ?? '', signer, {
        annotations,
        ...(signal ? { signal } : {}),
      });
      throwIfAborted(signal);
      // The bundle signs the digest the legacy signature resolved: one resolution per reference.
      const bundle =
        options.bundle === true && publicKey !== undefined
          ? await signBundle(
              repository,
              legacy.digest,
              { publicKey, sign: (payload) => signer.sign(payload) },
              { annotations },
            )
          : undefined;
      const added = legacy.added || bundle !== undefined;
      return {
        reference: formatReference(ref),
        digest: legacy.digest,
        outcome: added ? 'done' : 'present',
        ...(added ? {} : { reason: 'already signed by this key' }),
        signatureTag: legacy.signatureTag,
        ...(bundle ? { bundleDigest: bundle.bundleDigest } : {}),
        bytes: legacy.bytes,
      };
    },
    failed,
    options,
  );
}

/**
 * Verifies each artifact as cosign v3 and Flux ≥ 2.8 do (verifyArtifact: bundles first, else the
 * legacy `.sig` signatures). An artifact nothing verifies is `failed` with VERIFICATION_FAILED.
 */
export async function verifyArtifacts(
  opener: RepositoryOpener,
  references: readonly (Reference | string)[],
  policy: VerifyPolicy,
  options: VerifyArtifactsOptions = {},
): Promise<BatchReport<VerifyItem>> {
  const refs = parseAll(references);
  return runBatch<Reference, VerifyItem>(
    'verify',
    refs,
    async (ref, signal) => {
      const verified = await verifyArtifact(
        opener.open(ref),
        referenceTarget(ref) ?? '',
        policy,
        signal ? { signal } : {},
      );
      return {
        reference: formatReference(ref),
        digest: verified.digest,
        outcome: 'done',
        format: verified.format,
        ...(verified.keyName ? { keyName: verified.keyName } : {}),
        ...('subject' in verified && verified.subject ? { subject: verified.subject } : {}),
        ...('issuer' in verified && verified.issuer ? { issuer: verified.issuer } : {}),
        bytes: 0,
      };
    },
    failed,
    options,
  );
}
