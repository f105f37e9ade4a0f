import { AirlockError, toAirlockError } from '../errors.ts';
import { type Digest, isDigest, Limiter, mapLimit } from '../core/index.ts';
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
  /** Stop at the first failed request instead of copying the rest. */
  readonly failFast?: boolean;
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
  | { readonly type: 'copy-done'; readonly result: CopyResult }
  | {
      readonly type: 'copy-failed';
      readonly source: string;
      readonly destination: string;
      readonly error: AirlockError;
    };

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

export interface CopyFailure {
  readonly source: string;
  readonly destination: string;
  readonly error: AirlockError;
}

export interface CopySummary {
  readonly results: readonly CopyResult[];
  readonly failures: readonly CopyFailure[];
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

/**
 * Copies many references in one process, sharing connections, tokens and one concurrency budget.
 * Each request either completes (every blob and child verified and written, tags written last)
 * or fails on its own; the others go on unless `failFast`.
 */
export async function copyAll(
  requests: readonly CopyRequest[],
  options: CopyOptions = {},
): Promise<CopySummary> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const engine = new CopyEngine(options, new Limiter(concurrency));
  const results: CopyResult[] = [];
  const failures: CopyFailure[] = [];
  let stop = false;
  await mapLimit(requests, concurrency, async (request) => {
    if (stop) return;
    const source = `${request.source.name}${request.reference.includes(':') ? '@' : ':'}${request.reference}`;
    const destination = `${request.destination.name}${request.tags.length > 0 ? `:${request.tags.join(',')}` : ''}`;
    options.onEvent?.({ type: 'copy-start', source, destination });
    try {
      const result = await retryTransient(() => engine.copy(request));
      results.push(result);
      options.onEvent?.({ type: 'copy-done', result });
    } catch (caught) {
      const error = toAirlockError(caught, 'COPY_FAILED');
      failures.push({ source, destination, error });
      options.onEvent?.({ type: 'copy-failed', source, destination, error });
      if (options.failFast) stop = true;
    }
  });
  return { results, failures };
}

/** Copies one reference; throws on failure. */
export async function copy(request: CopyRequest, options: CopyOptions = {}): Promise<CopyResult> {
  const summary = await copyAll([request], { ...options, failFast: true });
  const failure = summary.failures[0];
  if (failure) throw failure.error;
  const result = summary.results[0];
  if (!result) throw new AirlockError('INTERNAL', 'copy produced no result');
  return result;
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

  async copy(request: CopyRequest): Promise<CopyResult> {
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
      await this.#copyChildren(source, destination, root, counters);
      // The tag is written last, after everything behind it is verified and stored.
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
        ...(await this.#copyCosignTags(source, destination, root.descriptor.digest, counters)),
      );
    if (this.#options.referrers)
      related.push(
        ...(await this.#copyReferrers(source, destination, root.descriptor.digest, counters)),
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
  ): Promise<void> {
    await this.#walkGraph(source, destination, manifest, {
      blob: (blob) => this.#copyBlob(source, destination, blob, counters),
      manifest: async (child) => {
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
  ): Promise<void> {
    const key = `${destination.storeId}/${destination.mountName ?? ''}/${blob.digest}`;
    let action = this.#inflight.get(key);
    const owner = action === undefined;
    if (!action) {
      action = this.#blobs.run(() => this.#transferBlob(source, destination, blob));
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
  ): Promise<BlobAction> {
    if (destination.kind === 'layout') {
      if (await destination.hasBlob(blob.digest)) return 'present';
      await destination.pushBlob(blob, () => source.fetchBlob(blob));
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
      () => source.fetchBlob(blob),
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
    tag?: string,
  ): Promise<void> {
    if (tag !== undefined) {
      const existing = await destination.resolve(tag);
      if (existing?.digest === fetched.descriptor.digest) return;
    } else if (await destination.hasManifest(fetched.descriptor.digest)) return;
    await this.#copyChildren(source, destination, fetched, counters);
    await destination.pushManifest(fetched.bytes, fetched.descriptor.mediaType, tag);
    counters.manifestsWritten++;
  }

  async #copyCosignTags(
    source: Repository,
    destination: Repository,
    digest: Digest,
    counters: Counters,
  ): Promise<string[]> {
    const copied: string[] = [];
    for (const suffix of COSIGN_SUFFIXES) {
      const tag = `${referrersTag(digest)}.${suffix}`;
      if (!(await source.resolve(tag))) continue;
      await this.#copyByDigest(source, destination, await source.fetchManifest(tag), counters, tag);
      copied.push(tag);
    }
    return copied;
  }

  async #copyReferrers(
    source: Repository,
    destination: Repository,
    digest: Digest,
    counters: Counters,
  ): Promise<string[]> {
    const referrers = await source.referrers(digest);
    if (referrers.length === 0) return [];
    for (const referrer of referrers) {
      await this.#copyByDigest(
        source,
        destination,
        await source.fetchManifest(referrer.digest),
        counters,
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
async function retryTransient<T>(task: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

function uniqueByDigest(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}
