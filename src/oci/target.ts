import type { Readable } from 'node:stream';
import type { Digest } from '../core/index.ts';
import type { Descriptor } from './manifest.ts';

/** A manifest as read: exact bytes (digests are always of these), media type and descriptor. */
export interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Buffer;
}

/** Opens a blob's content; called again when an upload has to restart. */
export type BlobSource = () => Promise<Readable>;

/**
 * One repository in a registry or one OCI image-layout directory. The copy engine, the artifact
 * commands and signing all work through this interface, so every capability works against either.
 */
export interface Repository {
  /** Human name for messages: `host/repo` or `oci-layout:PATH`. */
  readonly name: string;
  readonly kind: 'registry' | 'layout';
  /** Resolves a tag or digest to a descriptor, or undefined when absent. */
  resolve(reference: string): Promise<Descriptor | undefined>;
  /** Reads a manifest by tag or digest; verifies the bytes against the digest when one is known. */
  fetchManifest(reference: string): Promise<FetchedManifest>;
  /** Writes a manifest; with `tag`, also points the tag at it. Returns its descriptor. */
  pushManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Descriptor>;
  hasManifest(digest: Digest): Promise<boolean>;
  hasBlob(digest: Digest): Promise<boolean>;
  /** A stream of the blob's bytes that errors (DIGEST_MISMATCH/SIZE_MISMATCH) if they are wrong. */
  fetchBlob(descriptor: Descriptor): Promise<Readable>;
  /**
   * Uploads a blob, verifying it before committing. With `mountFrom` (a repository of the same
   * store), first asks the store to mount it from there, which moves no bytes.
   */
  pushBlob(
    descriptor: Descriptor,
    source: BlobSource,
    options?: { mountFrom?: string },
  ): Promise<'mounted' | 'uploaded'>;
  /** The repository path used for mounts (registry repository name); undefined for layouts. */
  readonly mountName: string | undefined;
  /** Identifies the store, so the copy engine knows when a mount is possible. */
  readonly storeId: string;
  listTags(): Promise<string[]>;
  deleteManifest(digest: Digest): Promise<void>;
  /** Manifests whose subject is `digest` (referrers API, or the tag schema where it is missing). */
  referrers(digest: Digest, artifactType?: string): Promise<Descriptor[]>;
}

/** The write operations of a repository, which wrappers replace (staging, abort checks). */
export type RepositoryWrites = Pick<Repository, 'pushBlob' | 'pushManifest' | 'deleteManifest'>;

/**
 * A repository that reads through `inner` and writes through `writes`: the one way to wrap a
 * repository (a staged push records its writes; a mirror refuses writes once aborted).
 */
export function withWrites(inner: Repository, writes: RepositoryWrites): Repository {
  return {
    name: inner.name,
    kind: inner.kind,
    mountName: inner.mountName,
    storeId: inner.storeId,
    resolve: (reference) => inner.resolve(reference),
    fetchManifest: (reference) => inner.fetchManifest(reference),
    hasManifest: (digest) => inner.hasManifest(digest),
    hasBlob: (digest) => inner.hasBlob(digest),
    fetchBlob: (descriptor) => inner.fetchBlob(descriptor),
    listTags: () => inner.listTags(),
    referrers: (digest, artifactType) => inner.referrers(digest, artifactType),
    pushBlob: (descriptor, source, options) => writes.pushBlob(descriptor, source, options),
    pushManifest: (bytes, mediaType, tag) => writes.pushManifest(bytes, mediaType, tag),
    deleteManifest: (digest) => writes.deleteManifest(digest),
  };
}
