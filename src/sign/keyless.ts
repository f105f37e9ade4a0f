import { X509Certificate } from 'node:crypto';
import { bundleToJSON } from '@sigstore/bundle';
import type * as SigstoreSignModule from '@sigstore/sign';
import { AirlockError } from '../errors.ts';
import { sha256 } from '../core/index.ts';
import type { SignedPayload, Signer } from './keys.ts';

/** Public-good Sigstore; a private deployment inside the isolation boundary passes its own URLs. */
export const PUBLIC_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_REKOR_URL = 'https://rekor.sigstore.dev';

// cosign's legacy keyless annotations (signing.md §1.4): the code's keys, not the spec prose's.
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

export interface TokenSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** GitLab and others: the name of the variable holding the ID token (GitLab `id_tokens`). */
  readonly identityTokenEnv?: string;
  readonly fetch?: typeof fetch;
}

/**
 * The OIDC token for keyless signing: SIGSTORE_ID_TOKEN, a named variable (GitLab's `id_tokens`),
 * or GitHub Actions' token service (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, audience "sigstore").
 */
export async function oidcToken(sources: TokenSources): Promise<string> {
  const { env } = sources;
  if (sources.identityTokenEnv !== undefined) {
    const value = env[sources.identityTokenEnv];
    if (!value)
      throw new AirlockError(
        'SIGNER_UNAVAILABLE',
        `the OIDC token variable ${sources.identityTokenEnv} is empty or unset`,
        { data: { option: 'identityTokenEnv', variable: sources.identityTokenEnv } },
      );
    return value;
  }
  if (env.SIGSTORE_ID_TOKEN) return env.SIGSTORE_ID_TOKEN;
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && bearer) {
    const request = new URL(url);
    request.searchParams.set('audience', 'sigstore');
    const res = await (sources.fetch ?? fetch)(request, {
      headers: { authorization: `Bearer ${bearer}` },
    });
    const body = (await res.json().catch(() => ({}))) as { value?: unknown };
    if (!res.ok || typeof body.value !== 'string')
      throw new AirlockError(
        'SIGNER_UNAVAILABLE',
        `GitHub Actions did not issue an ID token (HTTP ${res.status})`,
        {
          details: ['The job needs "permissions: id-token: write".'],
          data: { source: 'github-actions', status: res.status },
        },
      );
    return body.value;
  }
  throw new AirlockError('SIGNER_UNAVAILABLE', 'keyless signing needs an OIDC token', {
    details: [
      'Set SIGSTORE_ID_TOKEN, run in GitHub Actions with id-token: write, or name the variable that holds it (GitLab id_tokens).',
    ],
    data: { option: 'identityTokenEnv' },
  });
}

/** Where keyless signing gets its certificate and log entry: Fulcio and Rekor, public or private. */
export interface KeylessSignerOptions {
  /** The OIDC ID token (see oidcToken for where CI systems put it). */
  readonly token: string;
  readonly fulcioURL?: string;
  readonly rekorURL?: string;
  /**
   * The Rekor entry kind for DSSE bundles (attestations): `dsse` (default; what @sigstore/sign,
   * sigstore-go and cosign's bundle format write, and Rekor keeps only hashes of the envelope) or
   * `intoto` v0.0.2 (the older kind; Rekor may store the statement itself). A log that records
   * proposed entries verbatim instead of canonicalising them, as @sigstore/mock's Rekor does, can
   * only be verified with `intoto`, whose body the client computes.
   */
  readonly rekorEntryType?: 'dsse' | 'intoto';
}

/** A Signer over Fulcio and Rekor: an ephemeral key and certificate per signature. */
export class KeylessSigner implements Signer {
  readonly kind = 'keyless' as const;
  readonly #options: KeylessSignerOptions;

  constructor(options: KeylessSignerOptions) {
    if (options.token === '')
      throw new AirlockError('SIGNER_UNAVAILABLE', 'keyless signing needs an OIDC token', {
        data: { option: 'token' },
      });
    this.#options = options;
  }

  sign(payload: Buffer): Promise<SignedPayload> {
    return signKeyless(payload, this.#options);
  }

  /** A Sigstore bundle v0.3 (JSON) holding a DSSE envelope over `payload`: see signKeylessDSSE. */
  signDSSE(payloadType: string, payload: Buffer): Promise<unknown> {
    return signKeylessDSSE(payloadType, payload, this.#options);
  }
}

// Loaded on first use: @sigstore/sign costs ~110 ms to import, which every command (and
// `airlock --help`) would pay otherwise (issue 8 §4, start-up budget).
type SigstoreSign = typeof SigstoreSignModule;
const loadSigstoreSign = (): Promise<SigstoreSign> => import('@sigstore/sign');

function fulcioAndRekor(
  sigstore: SigstoreSign,
  options: KeylessSignerOptions,
): {
  signer: InstanceType<SigstoreSign['FulcioSigner']>;
  witness: InstanceType<SigstoreSign['RekorWitness']>;
} {
  return {
    signer: new sigstore.FulcioSigner({
      identityProvider: { getToken: () => Promise.resolve(options.token) },
      fulcioBaseURL: options.fulcioURL ?? PUBLIC_FULCIO_URL,
    }),
    witness: new sigstore.RekorWitness({
      rekorBaseURL: options.rekorURL ?? PUBLIC_REKOR_URL,
      entryType: options.rekorEntryType ?? 'dsse',
    }),
  };
}

const signingFailed = (error: unknown): AirlockError =>
  new AirlockError('REGISTRY_UNAVAILABLE', `keyless signing failed: ${(error as Error).message}`, {
    cause: error,
  });

/**
 * Signs a DSSE envelope keylessly and returns the Sigstore bundle v0.3 as JSON: the envelope, the
 * Fulcio leaf certificate (v0.3 carries the leaf only) and the Rekor entry: `dsse` by default
 * (Rekor's replacement for `intoto`), or `intoto` with `rekorEntryType`; @sigstore/verify checks
 * either against the envelope.
 */
export async function signKeylessDSSE(
  payloadType: string,
  payload: Buffer,
  options: KeylessSignerOptions,
): Promise<unknown> {
  const sigstore = await loadSigstoreSign();
  const { signer, witness } = fulcioAndRekor(sigstore, options);
  const builder = new sigstore.DSSEBundleBuilder({ signer, witnesses: [witness] });
  let bundle;
  try {
    bundle = await builder.create({ data: payload, type: payloadType });
  } catch (error) {
    throw signingFailed(error);
  }
  if (bundle.verificationMaterial.tlogEntries.length === 0)
    throw new AirlockError('INTERNAL', 'Sigstore returned no transparency-log entry');
  return bundleToJSON(bundle);
}

/**
 * Signs payload bytes keylessly: an ephemeral key, a Fulcio certificate for the OIDC identity, and
 * a Rekor hashedrekord entry, through @sigstore/sign. Returns what cosign stores on a legacy
 * signature layer: the signature, certificate, chain and the Rekor bundle (SET).
 */
export async function signKeyless(
  payload: Buffer,
  options: KeylessSignerOptions,
): Promise<SignedPayload> {
  const sigstore = await loadSigstoreSign();
  const { signer, witness } = fulcioAndRekor(sigstore, options);
  const builder = new sigstore.MessageSignatureBundleBuilder({ signer, witnesses: [witness] });
  let bundle;
  try {
    bundle = await builder.create({ data: payload });
  } catch (error) {
    throw signingFailed(error);
  }
  const material = bundle.verificationMaterial.content;
  const certificates =
    material.$case === 'x509CertificateChain'
      ? material.x509CertificateChain.certificates.map((c) => c.rawBytes)
      : material.$case === 'certificate'
        ? [material.certificate.rawBytes]
        : [];
  const [leaf, ...chain] = certificates.map((der) => new X509Certificate(der).toString());
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (!leaf || !entry?.inclusionPromise)
    throw new AirlockError('INTERNAL', 'Sigstore returned no certificate or no signed log entry');
  const rekorBundle = {
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp.toString('base64'),
    Payload: {
      body: entry.canonicalizedBody.toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: entry.logId.keyId.toString('hex'),
    },
  };
  return {
    signature: bundle.content.messageSignature.signature,
    annotations: {
      [CERTIFICATE_ANNOTATION]: leaf,
      // @sigstore/sign hands back the leaf only; cosign reads an absent chain as "use the trusted roots".
      ...(chain.length > 0 ? { [CHAIN_ANNOTATION]: chain.join('') } : {}),
      [BUNDLE_ANNOTATION]: JSON.stringify(rekorBundle),
    },
  };
}

/**
 * A cosign legacy keyless layer as a v0.1 Sigstore bundle, so @sigstore/verify can check it
 * (sigstore-go's bundleFromOCIImage does the same): message signature over sha256(payload), the
 * leaf certificate, and the Rekor entry with its SET as the inclusion promise.
 */
export function legacyLayerAsBundle(
  payload: Buffer,
  signature: Buffer,
  annotations: Readonly<Record<string, string>>,
): unknown {
  const pem = annotations[CERTIFICATE_ANNOTATION];
  const rekor = annotations[BUNDLE_ANNOTATION];
  if (!pem) return undefined;
  const leaf = new X509Certificate(pem);
  const tlogEntries: unknown[] = [];
  if (rekor) {
    const parsed = JSON.parse(rekor) as {
      SignedEntryTimestamp: string;
      Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
    };
    const body = JSON.parse(Buffer.from(parsed.Payload.body, 'base64').toString('utf8')) as {
      kind?: string;
      apiVersion?: string;
    };
    tlogEntries.push({
      logIndex: String(parsed.Payload.logIndex),
      logId: { keyId: Buffer.from(parsed.Payload.logID, 'hex').toString('base64') },
      kindVersion: { kind: body.kind ?? 'hashedrekord', version: body.apiVersion ?? '0.0.1' },
      integratedTime: String(parsed.Payload.integratedTime),
      inclusionPromise: { signedEntryTimestamp: parsed.SignedEntryTimestamp },
      canonicalizedBody: parsed.Payload.body,
    });
  }
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: leaf.raw.toString('base64') }] },
      tlogEntries,
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: Buffer.from(sha256(payload).slice(7), 'hex').toString('base64'),
      },
      signature: signature.toString('base64'),
    },
  };
}
