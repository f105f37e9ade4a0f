import { AirlockError } from '../errors.ts';
import { Readable } from 'node:stream';
import {
  checkSemverRange,
  type Digest,
  gunzipLimited,
  GoMap,
  goJSON,
  mapLimit,
  MediaType,
  readAll,
  sha256,
  tagsInRange,
} from '../core/index.ts';
import {
  type Descriptor,
  fetchImageManifest,
  type ImageManifest,
  parseManifest,
  type Repository,
} from '../oci/index.ts';
import type { BuiltLayer } from './build.ts';
import { extractLayer, type ExtractResult, readLayer } from './extract.ts';

/**
 * The config Flux 2.9 uploads: go-containerregistry's empty image config, preserved as-is for
 * non-image artifacts (flux-oci.md §1.3 variant B). 115 bytes, sha256:5b943e2b…77d9fe. No Flux
 * consumer reads it.
 */
export const FLUX_CONFIG = Buffer.from(
  '{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}',
);

export const ANNOTATION = {
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  description: 'org.opencontainers.image.description',
  url: 'org.opencontainers.image.url',
  authors: 'org.opencontainers.image.authors',
} as const;

export interface FluxMetadata {
  /** Where the content came from (Flux --source), e.g. the Git repository URL. */
  readonly source: string;
  /** `<branch|tag>@sha1:<commit>` (Flux --revision); notification-controller parses the hash. */
  readonly revision: string;
  /** RFC 3339 at seconds; defaults to now (UTC). */
  readonly created?: string;
  /** Extra annotations, merged last (they may override the three above, as in Flux). */
  readonly annotations?: Readonly<Record<string, string>>;
}

const REVISION = /^.+@(sha1:[0-9a-f]{40}|sha256:[0-9a-f]{64})$/;

/**
 * Checks the metadata like Flux documents it, every problem at once; INPUT_INVALID with
 * `data.option` naming the first bad field (`source`, `revision`, `created`).
 */
export function checkFluxMetadata(meta: FluxMetadata): void {
  const problems: { option: string; message: string }[] = [];
  if (meta.source.trim() === '')
    problems.push({
      option: 'source',
      message: 'the source is empty: give the URL of the repository the content comes from',
    });
  if (!REVISION.test(meta.revision))
    problems.push({
      option: 'revision',
      message: `the revision "${meta.revision}" is not <branch|tag>@sha1:<40 hex>, e.g. main@sha1:${'0'.repeat(40)}`,
    });
  if (
    meta.created !== undefined &&
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/.test(meta.created)
  ) {
    problems.push({
      option: 'created',
      message: `created "${meta.created}" is not RFC 3339 at seconds`,
    });
  }
  const first = problems[0];
  if (first !== undefined)
    throw new AirlockError('INPUT_INVALID', 'invalid artifact metadata', {
      details: problems.map((p) => p.message),
      data: { option: first.option },
    });
}

export function nowRFC3339(date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** Flux's reproducible `created`: the Unix epoch (in UTC on CI machines). */
export const REPRODUCIBLE_CREATED = '1970-01-01T00:00:00Z';

/**
 * The manifest bytes Flux's push produces (flux-oci.md §1.1, §7.3): Go encoding/json field order
 * schemaVersion, mediaType, config, layers, annotations; descriptors mediaType, size, digest.
 */
export function fluxManifest(layer: { digest: Digest; size: number }, meta: FluxMetadata): Buffer {
  const annotations: Record<string, string> = {
    [ANNOTATION.created]: meta.created ?? nowRFC3339(),
    [ANNOTATION.source]: meta.source,
    [ANNOTATION.revision]: meta.revision,
    ...meta.annotations,
  };
  return Buffer.from(
    goJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: {
        mediaType: MediaType.fluxConfig,
        size: FLUX_CONFIG.length,
        digest: sha256(FLUX_CONFIG),
      },
      layers: [{ mediaType: MediaType.fluxContent, size: layer.size, digest: layer.digest }],
      annotations: new GoMap(annotations),
    }),
  );
}

export interface FluxPushOptions {
  readonly tag: string;
  readonly meta: FluxMetadata;
  /** Push only when the content differs from what this tag holds (D2 push action). */
  readonly diffTag?: string;
  /** More tags to point at the pushed artifact. */
  readonly extraTags?: readonly string[];
}

export interface FluxPushResult {
  readonly repository: string;
  readonly tag: string;
  readonly digest: Digest;
  /** false when `diffTag` held identical content and nothing was written. */
  readonly pushed: boolean;
  readonly tags: readonly string[];
  /** The Flux CLI's `-o json` shape. */
  readonly flux: { url: string; repository: string; tag: string; digest: string };
}

async function blobBytes(repository: Repository, descriptor: Descriptor): Promise<Buffer> {
  return readAll(await repository.fetchBlob(descriptor));
}

/** Reads the Flux content layer of an artifact (the first layer with Flux's type, else layers[0]). */
export async function fetchFluxLayer(
  repository: Repository,
  reference: string,
): Promise<{ manifest: ImageManifest; digest: Digest; layer: Buffer; descriptor: Descriptor }> {
  const fetched = await fetchImageManifest(repository, reference);
  const layers = fetched.manifest.layers;
  const descriptor = layers.find((l) => l.mediaType === MediaType.fluxContent) ?? layers[0];
  if (!descriptor)
    throw new AirlockError('MANIFEST_INVALID', `${repository.name}:${reference} has no layers`);
  return {
    manifest: fetched.manifest,
    digest: fetched.descriptor.digest,
    layer: await blobBytes(repository, descriptor),
    descriptor,
  };
}

/** Whether the content at `reference` equals `layer` (diffID, so it works across gzip encoders). */
async function sameContent(
  repository: Repository,
  reference: string,
  layer: BuiltLayer,
): Promise<boolean> {
  const existing = await repository.resolve(reference);
  if (!existing) return false;
  const fetched = await repository.fetchManifest(existing.digest);
  const parsed = parseManifest(
    fetched.bytes,
    fetched.descriptor.mediaType,
    `${repository.name}:${reference}`,
  );
  if (parsed.kind !== 'manifest') return false;
  const remote =
    parsed.value.layers.find((l) => l.mediaType === MediaType.fluxContent) ??
    parsed.value.layers[0];
  if (!remote) return false;
  if (remote.digest === layer.digest) return true;
  // Another producer (Flux's Go gzip) compresses differently: compare the tars (diffIDs).
  const bytes = await blobBytes(repository, remote);
  return (
    sha256(gunzipLimited(bytes, 1024 * 1024 * 1024, `${repository.name}:${reference}`)) ===
    layer.diffID
  );
}

/** Pushes a built layer as a Flux artifact: blobs first, then the manifest under the tag. */
export async function pushFluxArtifact(
  repository: Repository,
  layer: BuiltLayer,
  options: FluxPushOptions,
): Promise<FluxPushResult> {
  checkFluxMetadata(options.meta);
  const extra = options.extraTags ?? [];
  const result = (digest: Digest, pushed: boolean): FluxPushResult => ({
    repository: repository.name,
    tag: options.tag,
    digest,
    pushed,
    tags: [options.tag, ...extra],
    flux: {
      url: `oci://${repository.name}@${digest}`,
      repository: repository.name,
      tag: options.tag,
      digest,
    },
  });
  if (options.diffTag !== undefined && (await sameContent(repository, options.diffTag, layer))) {
    const existing = await repository.resolve(options.diffTag);
    if (existing) return result(existing.digest, false);
  }
  const config = {
    mediaType: MediaType.fluxConfig,
    digest: sha256(FLUX_CONFIG),
    size: FLUX_CONFIG.length,
  };
  const content = {
    mediaType: MediaType.fluxContent,
    digest: layer.digest,
    size: layer.tgz.length,
  };
  const mount = repository.mountName ? { mountFrom: repository.mountName } : {};
  // Both blobs go up together; the manifest, and with it the tag, only after both are stored.
  await Promise.all([
    repository.pushBlob(config, () => Promise.resolve(Readable.from([FLUX_CONFIG])), mount),
    repository.pushBlob(content, () => Promise.resolve(Readable.from([layer.tgz])), mount),
  ]);
  const manifest = fluxManifest({ digest: layer.digest, size: layer.tgz.length }, options.meta);
  const pushed = await repository.pushManifest(manifest, MediaType.ociManifest, options.tag);
  for (const tag of extra) await repository.pushManifest(manifest, MediaType.ociManifest, tag);
  return result(pushed.digest, true);
}

export interface FluxPullResult extends ExtractResult {
  readonly digest: Digest;
  readonly source: string | undefined;
  readonly revision: string | undefined;
}

export async function pullFluxArtifact(
  repository: Repository,
  reference: string,
  outputDir: string,
  options: { maxSize?: number } = {},
): Promise<FluxPullResult> {
  const { manifest, digest, layer } = await fetchFluxLayer(repository, reference);
  const extracted = await extractLayer(layer, outputDir, `${repository.name}@${digest}`, options);
  return {
    ...extracted,
    digest,
    source: manifest.annotations?.[ANNOTATION.source],
    revision: manifest.annotations?.[ANNOTATION.revision],
  };
}

export interface FluxDiff {
  readonly changed: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly modified: readonly string[];
}

/** Compares a local tree (as built) with an artifact: which files were added, removed, modified. */
export async function diffFluxArtifact(
  repository: Repository,
  reference: string,
  layer: BuiltLayer,
): Promise<FluxDiff> {
  const { layer: remote, digest } = await fetchFluxLayer(repository, reference);
  const index = (entries: ReturnType<typeof readLayer>): Map<string, string> =>
    new Map(
      entries.map((e) => [
        e.name,
        `${e.type}:${(e.mode & 0o777).toString(8)}:${e.type === 'file' ? sha256(e.data) : ''}`,
      ]),
    );
  const theirs = index(readLayer(remote, `${repository.name}@${digest}`));
  const ours = index(readLayer(layer.tgz, 'local build'));
  const added = [...ours.keys()].filter((k) => !theirs.has(k));
  const removed = [...theirs.keys()].filter((k) => !ours.has(k));
  const modified = [...ours.keys()].filter((k) => theirs.has(k) && theirs.get(k) !== ours.get(k));
  return { changed: added.length + removed.length + modified.length > 0, added, removed, modified };
}

export interface FluxListing {
  readonly tag: string;
  readonly digest: Digest;
  readonly source: string | undefined;
  readonly revision: string | undefined;
  readonly created: string | undefined;
}

/** Lists artifact tags like `flux list artifacts`: cosign's .sig/.att/.sbom tags hidden. */
export async function listFluxArtifacts(
  repository: Repository,
  options: { semverRange?: string; pattern?: RegExp; concurrency?: number } = {},
): Promise<FluxListing[]> {
  if (options.semverRange !== undefined) checkSemverRange(options.semverRange);
  let tags = (await repository.listTags()).filter((t) => !/\.(sig|att|sbom)$/.test(t));
  if (options.pattern) {
    const pattern = options.pattern;
    tags = tags.filter((t) => pattern.test(t));
  }
  tags =
    options.semverRange === undefined
      ? tags.sort().reverse()
      : tagsInRange(tags, options.semverRange);
  return mapLimit(tags, options.concurrency ?? 8, async (tag) => {
    const fetched = await repository.fetchManifest(tag);
    const parsed = parseManifest(
      fetched.bytes,
      fetched.descriptor.mediaType,
      `${repository.name}:${tag}`,
    );
    const annotations = parsed.value.annotations ?? {};
    return {
      tag,
      digest: fetched.descriptor.digest,
      source: annotations[ANNOTATION.source],
      revision: annotations[ANNOTATION.revision],
      created: annotations[ANNOTATION.created],
    };
  });
}
