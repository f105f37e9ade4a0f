// One CI step does Flux D2's whole push-artifact job: push the artifact, sign the digest that push
// wrote, and attach its SBOM as a signed attestation. It lives in sbom because sbom is the one
// module that may use both artifact and sign (docs/architecture.md); each step is the library's own
// function, in the order the quality bars ask: the tag is written only after its blobs and
// manifest, the signature only after the tag, the attestation after the signature.
import { AirlockError } from '../errors.ts';
import {
  type BatchOptions,
  type BatchReport,
  batchReport,
  type Digest,
  type ItemError,
  itemError,
  throwIfAborted,
} from '../core/index.ts';
import {
  parseReference,
  type Reference,
  type RepositoryOpener,
  withTagOrDigest,
} from '../oci/index.ts';
import {
  type ArtifactPushItem,
  type ArtifactPushRequest,
  pushArtifacts,
} from '../artifact/index.ts';
import { signArtifacts, type Signer } from '../sign/index.ts';
import { attachSBOM } from './cyclonedx.ts';

/** The pushed artifact, with what was signed and attached to its digest. */
export interface PublishItem extends ArtifactPushItem {
  /** The cosign `.sig` tag the signature is stored under (with a signer). */
  readonly signatureTag?: string;
  /** The CycloneDX SBOM referrer (with `sbom`). */
  readonly sbomDigest?: string;
  /** The Sigstore bundle referrer that attests the SBOM (with `sbom`). */
  readonly attestationDigest?: string;
}

export interface PublishOptions extends Omit<BatchOptions<PublishItem>, 'concurrency'> {
  /** Signs the pushed digest (key or keyless). */
  readonly signer?: Signer;
  /** Attaches the artifact's CycloneDX SBOM, attested by the signer (key or keyless). */
  readonly sbom?: boolean;
  /** Most bytes a chart read for its CRDs may have (default DEFAULT_MAX_SIZE). */
  readonly maxSize?: number;
}

/** Refuses what cannot be done before anything is pushed: an SBOM is attested by the signer. */
function checkOptions(options: PublishOptions): void {
  if (options.sbom === true && options.signer === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      'an SBOM is attached as a signed attestation: it needs a signer',
      { data: { option: 'sbom' } },
    );
}

/**
 * Pushes one Flux artifact (pushArtifacts), then signs the digest that push produced (never the
 * tag again, which another push may have moved) and attaches its SBOM attestation. The report is
 * the one batch shape with one `artifact push` item; a step that fails after the push makes the
 * item `failed` with that step's error, keeping the pushed digest and tags, so a re-run (which
 * finds the tag `present`) finishes the signing. `present` from an unchanged `diffTag` pushes
 * nothing, and so signs nothing.
 */
export async function publishArtifact(
  opener: RepositoryOpener,
  request: ArtifactPushRequest,
  options: PublishOptions = {},
): Promise<BatchReport<PublishItem>> {
  checkOptions(options);
  const started = Date.now();
  const { signal } = options;
  const pushed = await pushArtifacts(opener, [request], {
    ...(signal ? { signal } : {}),
    ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
  });
  const item = pushed.items[0];
  if (item === undefined || options.signer === undefined)
    return finish(pushed.items, started, options);
  if (item.digest === undefined || item.outcome === 'failed' || item.outcome === 'skipped')
    return finish([item], started, options);
  const destination =
    typeof request.destination === 'string'
      ? parseReference(request.destination)
      : request.destination;
  const subject = withTagOrDigest(destination, { digest: item.digest as Digest });
  if (item.outcome === 'present' && !(await underItsTag(opener, subject, item)))
    return finish([item], started, options);
  return finish([await signAndAttest(opener, subject, item, options)], started, options);
}

/** Whether the item's tag points at its digest: an artifact pushed (now or by an earlier run). */
async function underItsTag(
  opener: RepositoryOpener,
  subject: Reference,
  item: ArtifactPushItem,
): Promise<boolean> {
  const at = await opener.open(subject).resolve(item.tag);
  return at?.digest === item.digest;
}

async function signAndAttest(
  opener: RepositoryOpener,
  subject: Reference,
  item: ArtifactPushItem,
  options: PublishOptions,
): Promise<PublishItem> {
  const { signer, signal } = options;
  if (signer === undefined) return item;
  let result: PublishItem = item;
  const failed = (error: ItemError): PublishItem => {
    const { reason: _reason, ...rest } = result;
    return { ...rest, outcome: 'failed', error };
  };
  const signed = (await signArtifacts(opener, [subject], signer, signal ? { signal } : {}))
    .items[0];
  if (signed?.error !== undefined) return failed(signed.error);
  result = {
    ...result,
    ...(signed?.signatureTag === undefined ? {} : { signatureTag: signed.signatureTag }),
    bytes: result.bytes + (signed?.bytes ?? 0),
  };
  // A signature added to an artifact that was already there is work done by this run.
  if (signed?.outcome === 'done' && result.outcome === 'present') {
    const { reason: _reason, ...rest } = result;
    result = { ...rest, outcome: 'done' };
  }
  if (options.sbom !== true) return result;
  try {
    throwIfAborted(signal);
    const sbom = await attachSBOM(opener.open(subject), subject.digest ?? '', signer);
    const { reason: _reason, ...rest } = result;
    return {
      ...rest,
      outcome: 'done',
      sbomDigest: sbom.sbomDigest,
      attestationDigest: sbom.attestation.bundleDigest,
    };
  } catch (error) {
    return failed(itemError(error));
  }
}

/** The one-item report, timed over all steps; onEvent hears of the item once, when it is final. */
function finish(
  items: readonly PublishItem[],
  started: number,
  options: PublishOptions,
): BatchReport<PublishItem> {
  const timed = items.map((item) => ({ ...item, durationMs: Date.now() - started }));
  timed.forEach((item, index) =>
    options.onEvent?.({ type: 'item', item, done: index + 1, total: timed.length }),
  );
  return batchReport('artifact push', timed, started);
}
