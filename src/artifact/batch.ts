// Pushing many charts or Flux artifacts in one call, reported in the one batch shape every command
// shares (core/batch.ts). Each push is first staged: pushChartArchive / pushFluxArtifact build the
// artifact against a repository that records writes instead of sending them. A tag that already
// points at the staged manifest is then reported `present` with nothing uploaded, and a run stopped
// by its AbortSignal never writes a tag for an item it abandoned (the tag is always written last).
import { stat } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';
import {
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  type Digest,
  readUserFile,
  runBatch,
  sha256,
  throwIfAborted,
} from '../core/index.ts';
import {
  type BlobSource,
  checkTags,
  type Descriptor,
  formatRepository,
  parseReference,
  type Reference,
  type Repository,
  type RepositoryOpener,
  withTagOrDigest,
  withWrites,
} from '../oci/index.ts';
import type { Target } from '../session/index.ts';
import {
  buildLayer,
  type BuildOptions,
  type BuiltLayer,
  packLayer,
  stdinEntries,
} from './build.ts';
import { checkFluxMetadata, type FluxMetadata, nowRFC3339, pushFluxArtifact } from './flux.ts';
import {
  chartCRDEntries,
  chartTag,
  helmCreationTime,
  pushChartArchive,
  readChartArchive,
} from './helm.ts';

interface StagedWrites {
  /** Reads go to the real repository; blob and manifest writes are only recorded. */
  readonly repository: Repository;
  readonly blobs: { descriptor: Descriptor; source: BlobSource; mountFrom: string | undefined }[];
  readonly manifests: { bytes: Buffer; mediaType: string; tag: string | undefined }[];
}

function stage(inner: Repository): StagedWrites {
  const blobs: StagedWrites['blobs'] = [];
  const manifests: StagedWrites['manifests'] = [];
  const repository = withWrites(inner, {
    pushBlob: (descriptor, source, options) => {
      blobs.push({ descriptor, source, mountFrom: options?.mountFrom });
      return Promise.resolve('uploaded');
    },
    pushManifest: (bytes, mediaType, tag) => {
      manifests.push({ bytes, mediaType, tag });
      return Promise.resolve({ mediaType, digest: sha256(bytes), size: bytes.length });
    },
    deleteManifest: () =>
      Promise.reject(new AirlockError('INTERNAL', 'a staged push does not delete manifests')),
  });
  return { repository, blobs, manifests };
}

/**
 * Sends what was staged: nothing when every tag already points at its manifest; otherwise the
 * blobs (present ones cost a mount or a stat), then the manifests whose tag is not there yet.
 */
async function commit(
  repository: Repository,
  staged: StagedWrites,
  signal: AbortSignal | undefined,
): Promise<{ tags: string[]; bytes: number }> {
  const pending: StagedWrites['manifests'] = [];
  for (const manifest of staged.manifests) {
    const at = manifest.tag === undefined ? undefined : await repository.resolve(manifest.tag);
    if (at?.digest !== sha256(manifest.bytes)) pending.push(manifest);
  }
  if (pending.length === 0) return { tags: [], bytes: 0 };
  let bytes = 0;
  for (const blob of staged.blobs) {
    throwIfAborted(signal);
    // A layout reports "uploaded" for a blob it already holds: ask first, so bytes stay honest.
    if (repository.kind === 'layout' && (await repository.hasBlob(blob.descriptor.digest)))
      continue;
    const done = await repository.pushBlob(
      blob.descriptor,
      blob.source,
      blob.mountFrom === undefined ? {} : { mountFrom: blob.mountFrom },
    );
    if (done === 'uploaded') bytes += blob.descriptor.size;
  }
  throwIfAborted(signal);
  const tags: string[] = [];
  for (const manifest of pending) {
    await repository.pushManifest(manifest.bytes, manifest.mediaType, manifest.tag);
    bytes += manifest.bytes.length;
    if (manifest.tag !== undefined) tags.push(manifest.tag);
  }
  return { tags, bytes };
}

// ---------------------------------------------------------------------------------------------
// Charts

/** A packaged chart: a path to its .tgz, or the bytes with a name for messages. */
export type ChartSource =
  | string
  | {
      readonly tgz: Buffer;
      /** The file or URL the bytes came from, for messages and the report. */
      readonly where: string;
      readonly provenance?: Buffer;
      /** The created annotation (default: now). */
      readonly created?: string;
    };

export interface ChartPushItem extends BatchItem {
  /** The chart file (or `where`) this item pushed. */
  readonly chart: string;
  readonly name?: string;
  readonly version?: string;
  readonly repository?: string;
  readonly tag?: string;
  readonly provenance?: boolean;
}

export interface PushChartsOptions extends BatchOptions<ChartPushItem> {
  /** The created annotation for every chart (default: as Helm, each file's modification time). */
  readonly created?: string;
  /** Most bytes a chart file may have (default DEFAULT_MAX_SIZE). */
  readonly maxSize?: number;
}

/**
 * Reads a chart file as `helm push` does: the .tgz, a `.prov` beside it, and the created time from
 * the file's mtime (helmCreationTime; flux-oci.md §3.1). Only ENOENT means "no .prov".
 */
async function readChartFile(
  path: string,
  options: PushChartsOptions,
): Promise<Exclude<ChartSource, string>> {
  const limit = options.maxSize === undefined ? {} : { maxSize: options.maxSize };
  const tgz = await readUserFile(path, { what: 'the chart', ...limit });
  let provenance: Buffer | undefined;
  try {
    provenance = await readUserFile(`${path}.prov`, { what: 'the provenance file', ...limit });
  } catch (error) {
    const cause = error instanceof AirlockError ? (error.cause as NodeJS.ErrnoException) : null;
    if (cause?.code !== 'ENOENT') throw error;
  }
  const created = options.created ?? helmCreationTime((await stat(path)).mtime);
  return { tgz, where: path, created, ...(provenance ? { provenance } : {}) };
}

const chartName = (chart: ChartSource): string => (typeof chart === 'string' ? chart : chart.where);

/**
 * `helm push` for many charts at once: each to `<target>/<chart name>:<version with + as _>`, with
 * Helm's config, layers and annotations (pushChartArchive). `present` when the tag already points
 * at the manifest this push would write. One failed chart is its own `failed` item.
 */
export async function pushCharts(
  target: Pick<Target, 'open'>,
  charts: readonly ChartSource[],
  options: PushChartsOptions = {},
): Promise<BatchReport<ChartPushItem>> {
  return runBatch<ChartSource, ChartPushItem>(
    'chart push',
    charts,
    async (chart, signal) => {
      const source = typeof chart === 'string' ? await readChartFile(chart, options) : chart;
      throwIfAborted(signal);
      const { metadata } = readChartArchive(source.tgz, source.where);
      const repository = target.open(metadata.name);
      const staged = stage(repository);
      const pushed = await pushChartArchive(staged.repository, source.tgz, {
        created: source.created ?? options.created ?? nowRFC3339(),
        where: source.where,
        ...(source.provenance ? { provenance: source.provenance } : {}),
      });
      const written = await commit(repository, staged, signal);
      return {
        reference: `${pushed.repository}:${pushed.tag}`,
        digest: pushed.digest,
        outcome: written.tags.length === 0 ? 'present' : 'done',
        ...(written.tags.length === 0 ? { reason: 'already tagged' } : {}),
        chart: source.where,
        name: pushed.name,
        version: pushed.version,
        repository: pushed.repository,
        tag: pushed.tag,
        provenance: pushed.provenance,
        bytes: written.bytes,
      };
    },
    (chart) => ({ reference: chartName(chart), chart: chartName(chart) }),
    options,
  );
}

/**
 * A chart reference as a user writes it: the tag may be the chart version with "+", which Helm
 * stores as "_" (chartTag). A tag or digest is required.
 */
export function parseChartReference(text: string): Reference {
  const at = text.lastIndexOf(':');
  const normalised =
    at > text.lastIndexOf('/') && !text.slice(0, at).endsWith('@sha256')
      ? `${text.slice(0, at)}:${chartTag(text.slice(at + 1))}`
      : text;
  return parseReference(normalised, { requireTagOrDigest: true });
}

// ---------------------------------------------------------------------------------------------
// Flux artifacts

/** What a Flux artifact is made of. */
export type ArtifactContent =
  /** A directory (walked as Flux does) or a single file. */
  | { readonly kind: 'path'; readonly path: string; readonly build?: BuildOptions }
  /** Manifests as text (standard input), stored as `stdin.yaml`. */
  | { readonly kind: 'manifests'; readonly text: string }
  /** The CRDs of a packaged chart (its crds/ folders and plain CRD manifests). */
  | { readonly kind: 'chart-crds'; readonly chart: string }
  /** A layer built already. */
  | { readonly kind: 'layer'; readonly layer: BuiltLayer };

export interface ArtifactPushRequest {
  readonly content: ArtifactContent;
  /** `registry/repo[:tag]`, `oci://…` or `oci-layout:PATH[:tag]`; the tag defaults to `latest`. */
  readonly destination: Reference | string;
  readonly meta: FluxMetadata;
  /** Push only when the content differs from what this tag holds (D2's push action). */
  readonly diffTag?: string;
  /** More tags to point at the pushed artifact. */
  readonly tags?: readonly string[];
}

/** One pushed artifact; `url`, `repository`, `tag` and `digest` are `flux push artifact -o json`'s. */
export interface ArtifactPushItem extends BatchItem {
  readonly url?: string;
  readonly repository: string;
  readonly tag: string;
  /** The tags this run wrote (none when the item is `present`). */
  readonly tags: readonly string[];
}

export interface PushArtifactsOptions extends BatchOptions<ArtifactPushItem> {
  /** Most bytes a chart read for its CRDs may have (default DEFAULT_MAX_SIZE). */
  readonly maxSize?: number;
}

interface CheckedRequest {
  readonly request: ArtifactPushRequest;
  readonly ref: Reference;
  readonly tag: string;
}

/** Validates a request before anything is read or sent: destination, metadata, tags. */
function checkRequest(request: ArtifactPushRequest): CheckedRequest {
  const parsed =
    typeof request.destination === 'string'
      ? parseReference(request.destination)
      : request.destination;
  if (parsed.digest !== undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${formatRepository(parsed)}@${parsed.digest}: push to a tag, not a digest`,
      { data: { option: 'destination' } },
    );
  const tag = parsed.tag ?? 'latest';
  checkFluxMetadata(request.meta);
  checkTags([tag, ...(request.tags ?? [])]);
  if (request.diffTag !== undefined) checkTags([request.diffTag], 'diffTag');
  return { request, ref: withTagOrDigest(parsed, { tag }), tag };
}

/** Builds the layer of an artifact's content (a directory as Flux walks it, text, a chart's CRDs). */
export async function buildContent(
  content: ArtifactContent,
  options: { readonly maxSize?: number } = {},
): Promise<BuiltLayer> {
  switch (content.kind) {
    case 'path':
      return buildLayer(content.path, content.build ?? {});
    case 'manifests':
      return packLayer(stdinEntries(content.text));
    case 'chart-crds': {
      const tgz = await readUserFile(content.chart, {
        what: 'the chart',
        ...(options.maxSize === undefined ? {} : { maxSize: options.maxSize }),
      });
      return packLayer(chartCRDEntries(readChartArchive(tgz, content.chart)));
    }
    case 'layer':
      return content.layer;
  }
}

/**
 * `flux push artifact` for one or more artifacts: builds each layer, pushes it with the Flux
 * annotations, then points the extra tags at it. `present` when `diffTag` already holds the same
 * content (nothing pushed) or every tag already points at the manifest. Invalid requests are
 * refused before anything is read or sent (INPUT_INVALID, TAG_INVALID, REF_INVALID).
 */
export async function pushArtifacts(
  opener: RepositoryOpener,
  requests: readonly ArtifactPushRequest[],
  options: PushArtifactsOptions = {},
): Promise<BatchReport<ArtifactPushItem>> {
  const checked = requests.map(checkRequest);
  const name = (c: CheckedRequest): string => `${formatRepository(c.ref)}:${c.tag}`;
  return runBatch<CheckedRequest, ArtifactPushItem>(
    'artifact push',
    checked,
    async (item, signal) => {
      const { request, ref, tag } = item;
      const layer = await buildContent(request.content, options);
      throwIfAborted(signal);
      const repository = opener.open(ref);
      const staged = stage(repository);
      const result = await pushFluxArtifact(staged.repository, layer, {
        tag,
        meta: request.meta,
        ...(request.diffTag === undefined ? {} : { diffTag: request.diffTag }),
        extraTags: request.tags ?? [],
      });
      const written = result.pushed
        ? await commit(repository, staged, signal)
        : { tags: [], bytes: 0 };
      const present = written.tags.length === 0;
      const digest: Digest = result.digest;
      return {
        reference: `${repository.name}:${tag}`,
        digest,
        outcome: present ? 'present' : 'done',
        ...(present
          ? {
              reason: result.pushed
                ? 'already tagged'
                : `no changes since ${request.diffTag ?? ''}`,
            }
          : {}),
        url: result.flux.url,
        repository: repository.name,
        tag,
        tags: written.tags,
        bytes: written.bytes,
      };
    },
    (item) => ({
      reference: name(item),
      repository: formatRepository(item.ref),
      tag: item.tag,
      tags: [],
    }),
    options,
  );
}
