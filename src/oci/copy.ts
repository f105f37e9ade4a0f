import type { Readable } from 'node:stream';
import { AirlockError, toAirlockError } from '../errors.ts';
import {
  abortedError,
  type BatchEvent,
  type BatchItem,
  type BatchReport,
  type Digest,
  isDigest,
  type ItemResult,
  Limiter,
  runBatch,
  throwIfAborted,
} from '../core/index.ts';
import { referrersTag } from './client.ts';
import { addReferrers } from './referrers.ts';
import { type Descriptor, parseManifest } from './manifest.ts';
import type { FetchedManifest, Repository } from './target.ts';

/** One thing to copy: a manifest (by tag or digest) from one repository to another. */
export interface CopyRequest {
  readonly source: Repository;
  /** Tag or digest in the source. */
  readonly reference: string;
  readonly destination: Repository;
  /** Tags to point at the copied manifest in the destination; empty copies by digest only. */
  readonly tags: readonly string[];
  /**
   * Every tag the destination held when it was listed, if the caller listed it: a tag not in the
   * set needs no HEAD to know it must be written (saves a round trip per artifact on cold copies).
   */
  readonly destinationTags?: ReadonlySet<string>;
}

export interface CopyOptions {
  /** Transfers in flight at once (default 8: registry work is latency-bound, not CPU-bound). */
  readonly concurrency?: number;
  /** Also copy cosign signatures, attestations and SBOMs (`sha256-<hex>.sig/.att/.sbom` tags). */
  readonly signatures?: boolean;
  /** Also copy OCI referrers (referrers API, or the `sha256-<hex>` tag schema). */
  readonly referrers?: boolean;
  /** Read both sides and report what would move, writing nothing. */
  readonly dryRun?: boolean;
  /** Stop starting new copies after the first failure (the rest are skipped, "fail-fast"). */
  readonly failFast?: boolean;
  /**
   * Stops the batch: copies not started are skipped ("aborted"); copies in flight stop at their
   * next step (a blob stream is cut) and fail with ABORTED, their tags unwritten.
   */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: CopyEvent) => void;
}

export type BlobAction = 'uploaded' | 'mounted' | 'present' | 'would-upload';

export type CopyEvent =
  | { readonly type: 'copy-start'; readonly source: string; readonly destination: string }
  | {
      readonly type: 'blob';
      readonly destination: string;
      readonly digest: Digest;
      readonly size: number;
      readonly action: BlobAction;
    }
  /** One copy finished (any outcome), with how many have so far. */
  | BatchEvent<CopyItem>;

/** What one copy did, in detail (`copy` returns it; `copyAll` reports a CopyItem). */
export interface CopyResult {
  readonly source: string;
  readonly destination: string;
  readonly digest: Digest;
  readonly mediaType: string;
  /** `copied`: something was written; `unchanged`: every tag already pointed at the digest. */
  readonly action: 'copied' | 'unchanged' | 'would-copy';
  readonly tags: readonly string[];
  readonly blobs: { uploaded: number; mounted: number; present: number };
  readonly bytesUploaded: number;
  readonly manifestsWritten: number;
  readonly related: readonly string[];
}

/**
 * One copy in the batch report (docs/json.md). `reference` is the destination (its first tag, or
 * its digest); `bytes` the bytes uploaded (`would upload` on a dry run). Outcomes: `done` (copied),
 * `present` (every tag already pointed at the digest), `skipped` ("dry run": it would be copied;
 * or "aborted", "fail-fast"), `failed` (with the error's code).
 */
export interface CopyItem extends BatchItem {
  /** The source as given: `repository:tag` or `repository@digest`. */
  readonly source: string;
  /** The destination repository. */
  readonly destination: string;
  /** The tags written (or that would be) in the destination. */
  readonly tags: readonly string[];
  readonly mediaType?: string;
  readonly blobs?: {
    readonly uploaded: number;
    readonly mounted: number;
    readonly present: number;
  };
  readonly manifestsWritten?: number;
  /** Signature tags and referrer digests copied alongside. */
  readonly related?: readonly string[];
}

export const DEFAULT_CONCURRENCY = 8;

/** Cosign's tag suffixes for objects attached to a digest (cosign `pkg/oci/remote`). */
const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

interface Counters {
  uploaded: number;
  mounted: number;
  present: number;
  bytesUploaded: number;
  manifestsWritten: number;
}

function sourceName(request: CopyRequest): string {
  return `${request.source.name}${isDigest(request.reference) ? '@' : ':'}${request.reference}`;
}

function destinationReference(request: CopyRequest, digest?: string): string {
  const [tag] = request.tags;
  if (tag !== undefined) return `${request.destination.name}:${tag}`;
  return digest === undefined ? request.destination.name : `${request.destination.name}@${digest}`;
}

/** A finished copy as a batch item. */
export function copyItem(request: CopyRequest, result: CopyResult): ItemResult<CopyItem> {
  const outcome =
    result.action === 'copied' ? 'done' : result.action === 'unchanged' ? 'present' : 'skipped';
  return {
    reference: destinationReference(request, result.digest),
    digest: result.digest,
    outcome,
    ...(outcome === 'present' ? { reason: 'up to date' } : {}),
    ...(outcome === 'skipped' ? { reason: 'dry run' } : {}),
    bytes: result.bytesUploaded,
    source: sourceName(request),
    destination: request.destination.name,
    tags: request.tags,
    mediaType: result.mediaType,
    blobs: result.blobs,
    manifestsWritten: result.manifestsWritten,
    related: result.related,
  };
}

/**
 * Copies many references in one process, sharing connections, tokens and one concurrency budget,
 * and reports each in the one batch report shape. Each request either completes (every blob and
 * child verified and written, tags written last) or fails on its own; the others go on unless
 * `failFast`, or until `signal` fires.
 */
export async function copyAll(
  requests: readonly CopyRequest[],
  options: CopyOptions = {},
): Promise<BatchReport<CopyItem>> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const engine = new CopyEngine(options, new Limiter(concurrency));
  return runBatch<CopyRequest, CopyItem>(
    'copy',
    requests,
    async (request, signal) => {
      options.onEvent?.({
        type: 'copy-start',
        source: sourceName(request),
        destination: destinationReference(request),
      });
      return copyItem(request, await copyOne(engine, request, signal));
    },
    (request) => ({
      reference: destinationReference(request),
      source: sourceName(request),
      destination: request.destination.name,
      tags: request.tags,
    }),
    {
      concurrency,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.failFast ? { failFast: true } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    },
  );
}

/** Copies one reference; throws on failure. */
export async function copy(request: CopyRequest, options: CopyOptions = {}): Promise<CopyResult> {
  const engine = new CopyEngine(options, new Limiter(options.concurrency ?? DEFAULT_CONCURRENCY));
  return copyOne(engine, request, options.signal);
}

async function copyOne(
  engine: CopyEngine,
  request: CopyRequest,
  signal: AbortSignal | undefined,
): Promise<CopyResult> {
  try {
    return await retryTransient(() => engine.copy(request, signal), signal);
  } catch (caught) {
    // What is not already a typed error (a stream's own failure, say) is reported as the copy's.
    throw toAirlockError(caught, 'COPY_FAILED');
  }
}

class CopyEngine {
  readonly #options: CopyOptions;
  readonly #blobs: Limiter;
  /** Blob uploads in flight per destination store, so two manifests sharing a blob upload it once. */
  readonly #inflight = new Map<string, Promise<BlobAction>>();

  constructor(options: CopyOptions, blobs: Limiter) {
    this.#options = options;
    this.#blobs = blobs;
  }

  async copy(request: CopyRequest, signal?: AbortSignal): Promise<CopyResult> {
    throwIfAborted(signal);
    const { source, destination } = request;
    const counters: Counters = {
      uploaded: 0,
      mounted: 0,
      present: 0,
      bytesUploaded: 0,
      manifestsWritten: 0,
    };
    const related: string[] = [];
    const { descriptor, pending, rootPresent, fetched } = await this.#compare(request);
    const needsWrite = pending.length > 0 || !rootPresent;

    if (!needsWrite && !this.#options.signatures && !this.#options.referrers) {
      // Warm path: every tag already points at the source digest; the manifest is never read.
      return this.#result(request, descriptor, 'unchanged', counters, related);
    }
    // Read by digest: the bytes are verified against what the comparison saw.
    const root = fetched ?? (await source.fetchManifest(descriptor.digest));
    throwIfAborted(signal);
    if (this.#options.dryRun) {
      if (needsWrite) await this.#planGraph(source, destination, root, counters);
      return this.#result(
        request,
        root.descriptor,
        needsWrite ? 'would-copy' : 'unchanged',
        counters,
        related,
      );
    }
    if (needsWrite) {
      await this.#copyChildren(source, destination, root, counters, signal);
      // The tag is written last, after everything behind it is verified and stored; a stop
      // asked for meanwhile leaves no tag behind.
      throwIfAborted(signal);
      const [first, ...rest] = pending;
      await destination.pushManifest(root.bytes, root.descriptor.mediaType, first);
      counters.manifestsWritten++;
      for (const tag of rest) {
        await destination.pushManifest(root.bytes, root.descriptor.mediaType, tag);
        counters.manifestsWritten++;
      }
    }
    if (this.#options.signatures)
      related.push(
        ...(await this.#copyCosignTags(
          source,
          destination,
          root.descriptor.digest,
          counters,
          signal,
        )),
      );
    if (this.#options.referrers)
      related.push(
        ...(await this.#copyReferrers(
          source,
          destination,
          root.descriptor.digest,
          counters,
          signal,
        )),
      );
    const wrote = counters.manifestsWritten > 0 || counters.uploaded > 0 || counters.mounted > 0;
    return this.#result(
      request,
      root.descriptor,
      wrote ? 'copied' : 'unchanged',
      counters,
      related,
    );
  }

  /**
   * Resolves the source and the destination tags concurrently (HEAD requests) and decides which
   * tags need writing. Tags the caller's listing shows absent need no request at all.
   */
  async #compare(request: CopyRequest): Promise<{
    descriptor: Descriptor;
    pending: string[];
    rootPresent: boolean;
    fetched?: FetchedManifest;
  }> {
    const { source, destination, reference } = request;
    const toCheck = request.tags.filter((t) => request.destinationTags?.has(t) ?? true);
    if (toCheck.length === 0 && request.tags.length > 0) {
      // Cold path: nothing to compare against, so read the manifest straight away (one GET).
      const fetched = await source.fetchManifest(reference);
      return {
        descriptor: fetched.descriptor,
        pending: [...request.tags],
        rootPresent: false,
        fetched,
      };
    }
    const [found, existing] = await Promise.all([
      source.resolve(reference),
      Promise.all(
        toCheck.map(async (tag) => [tag, (await destination.resolve(tag))?.digest] as const),
      ),
    ]);
    if (!found) {
      throw new AirlockError(
        'REGISTRY_NOT_FOUND',
        `${source.name}${isDigest(reference) ? '@' : ':'}${reference}: not found`,
        {
          details: ['Check the tag or digest (airlock ls lists the tags).'],
        },
      );
    }
    const current = new Map(existing);
    const pending = request.tags.filter((tag) => current.get(tag) !== found.digest);
    const rootPresent =
      request.tags.length === 0
        ? await destination.hasManifest(found.digest)
        : pending.length < request.tags.length;
    return { descriptor: found, pending, rootPresent };
  }

  #result(
    request: CopyRequest,
    descriptor: Descriptor,
    action: CopyResult['action'],
    counters: Counters,
    related: string[],
  ): CopyResult {
    return {
      source: `${request.source.name}@${descriptor.digest}`,
      destination: request.destination.name,
      digest: descriptor.digest,
      mediaType: descriptor.mediaType,
      action,
      tags: request.tags,
      blobs: { uploaded: counters.uploaded, mounted: counters.mounted, present: counters.present },
      bytesUploaded: counters.bytesUploaded,
      manifestsWritten: counters.manifestsWritten,
      related,
    };
  }

  /**
   * Visits what a manifest references, children before parents: each blob of an image manifest, and
   * each child manifest of an index that the destination lacks (after its own references).
   */
  async #walkGraph(
    source: Repository,
    destination: Repository,
    manifest: FetchedManifest,
    visit: {
      blob: (blob: Descriptor) => Promise<void>;
      manifest: (child: FetchedManifest) => Promise<void>;
    },
  ): Promise<void> {
    const parsed = parseManifest(
      manifest.bytes,
      manifest.descriptor.mediaType,
      `${source.name}@${manifest.descriptor.digest}`,
    );
    if (parsed.kind === 'index') {
      await Promise.all(
        parsed.value.manifests.map(async (child) => {
          if (await destination.hasManifest(child.digest)) return;
          const fetched = await source.fetchManifest(child.digest);
          await this.#walkGraph(source, destination, fetched, visit);
          await visit.manifest(fetched);
        }),
      );
      return;
    }
    await Promise.all(
      uniqueByDigest([parsed.value.config, ...parsed.value.layers]).map(visit.blob),
    );
  }

  /** Copies what a manifest references: blobs of an image manifest, child manifests of an index. */
  async #copyChildren(
    source: Repository,
    destination: Repository,
    manifest: FetchedManifest,
    counters: Counters,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    await this.#walkGraph(source, destination, manifest, {
      blob: (blob) => this.#copyBlob(source, destination, blob, counters, signal),
      manifest: async (child) => {
        throwIfAborted(signal);
        await destination.pushManifest(child.bytes, child.descriptor.mediaType);
        counters.manifestsWritten++;
      },
    });
  }

  async #copyBlob(
    source: Repository,
    destination: Repository,
    blob: Descriptor,
    counters: Counters,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const key = `${destination.storeId}/${destination.mountName ?? ''}/${blob.digest}`;
    let action = this.#inflight.get(key);
    const owner = action === undefined;
    if (!action) {
      action = this.#blobs.run(() => {
        throwIfAborted(signal);
        return this.#transferBlob(source, destination, blob, signal);
      });
      this.#inflight.set(key, action);
    }
    try {
      const done = await action;
      if (!owner) {
        counters.present++;
        return;
      }
      if (done === 'uploaded') {
        counters.uploaded++;
        counters.bytesUploaded += blob.size;
      } else if (done === 'mounted') counters.mounted++;
      else counters.present++;
      this.#options.onEvent?.({
        type: 'blob',
        destination: destination.name,
        digest: blob.digest,
        size: blob.size,
        action: done,
      });
    } finally {
      if (owner) this.#inflight.delete(key);
    }
  }

  async #transferBlob(
    source: Repository,
    destination: Repository,
    blob: Descriptor,
    signal: AbortSignal | undefined,
  ): Promise<BlobAction> {
    // A stop cuts the blob's stream: the upload fails and nothing is committed for it.
    const read = async (): Promise<Readable> => abortable(await source.fetchBlob(blob), signal);
    if (destination.kind === 'layout') {
      if (await destination.hasBlob(blob.digest)) return 'present';
      await destination.pushBlob(blob, read);
      return 'uploaded';
    }
    // One POST both checks and opens the upload: a mount from the source repository when both are
    // in one registry, else a mount "from" the destination itself, which a registry answers with
    // 201 when the blob is already there and with an upload session (202) when it is not. That
    // saves the HEAD round trip per blob that a check-then-upload client pays.
    const sameStore = source.storeId === destination.storeId && source.mountName !== undefined;
    const mountFrom = sameStore ? source.mountName : destination.mountName;
    const outcome = await destination.pushBlob(
      blob,
      read,
      mountFrom === undefined ? {} : { mountFrom },
    );
    if (outcome === 'mounted')
      return sameStore && mountFrom !== destination.mountName ? 'mounted' : 'present';
    return 'uploaded';
  }

  /** What a copy would write, found with reads only (dry run). */
  async #planGraph(
    source: Repository,
    destination: Repository,
    manifest: FetchedManifest,
    counters: Counters,
  ): Promise<void> {
    await this.#walkGraph(source, destination, manifest, {
      blob: async (blob) => {
        const present = await destination.hasBlob(blob.digest);
        if (present) counters.present++;
        else {
          counters.uploaded++;
          counters.bytesUploaded += blob.size;
        }
        this.#options.onEvent?.({
          type: 'blob',
          destination: destination.name,
          digest: blob.digest,
          size: blob.size,
          action: present ? 'present' : 'would-upload',
        });
      },
      manifest: () => {
        counters.manifestsWritten++;
        return Promise.resolve();
      },
    });
  }

  /** Copies an artifact (manifest graph) by digest; used for signatures and referrers. */
  async #copyByDigest(
    source: Repository,
    destination: Repository,
    fetched: FetchedManifest,
    counters: Counters,
    signal: AbortSignal | undefined,
    tag?: string,
  ): Promise<void> {
    if (tag !== undefined) {
      const existing = await destination.resolve(tag);
      if (existing?.digest === fetched.descriptor.digest) return;
    } else if (await destination.hasManifest(fetched.descriptor.digest)) return;
    await this.#copyChildren(source, destination, fetched, counters, signal);
    throwIfAborted(signal);
    await destination.pushManifest(fetched.bytes, fetched.descriptor.mediaType, tag);
    counters.manifestsWritten++;
  }

  async #copyCosignTags(
    source: Repository,
    destination: Repository,
    digest: Digest,
    counters: Counters,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    const copied: string[] = [];
    for (const suffix of COSIGN_SUFFIXES) {
      const tag = `${referrersTag(digest)}.${suffix}`;
      if (!(await source.resolve(tag))) continue;
      await this.#copyByDigest(
        source,
        destination,
        await source.fetchManifest(tag),
        counters,
        signal,
        tag,
      );
      copied.push(tag);
    }
    return copied;
  }

  async #copyReferrers(
    source: Repository,
    destination: Repository,
    digest: Digest,
    counters: Counters,
    signal: AbortSignal | undefined,
  ): Promise<string[]> {
    const referrers = await source.referrers(digest);
    if (referrers.length === 0) return [];
    for (const referrer of referrers) {
      await this.#copyByDigest(
        source,
        destination,
        await source.fetchManifest(referrer.digest),
        counters,
        signal,
      );
    }
    // A destination without the referrers API learns them through the tag schema index.
    if (await addReferrers(destination, digest, referrers)) counters.manifestsWritten++;
    return referrers.map((r) => r.digest);
  }
}

/** Failures worth another try: the registry or network, never content or auth. */
function isTransient(error: unknown): boolean {
  return (
    error instanceof AirlockError &&
    (error.code === 'REGISTRY_UNAVAILABLE' || error.code === 'REGISTRY_UNREACHABLE')
  );
}

/**
 * Retries a whole copy after a transient failure the lower layers could not absorb (a body cut
 * short mid-stream, say). Safe because a copy skips whatever it already wrote.
 */
async function retryTransient<T>(
  task: () => Promise<T>,
  signal: AbortSignal | undefined,
  attempts = 3,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error) || signal?.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

/** Destroys `stream` with ABORTED when `signal` fires before the stream is done. */
function abortable(stream: Readable, signal: AbortSignal | undefined): Readable {
  if (!signal) return stream;
  if (signal.aborted) {
    stream.destroy(abortedError(signal));
    return stream;
  }
  const stop = (): void => {
    stream.destroy(abortedError(signal));
  };
  signal.addEventListener('abort', stop, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', stop));
  return stream;
}

function uniqueByDigest(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}
