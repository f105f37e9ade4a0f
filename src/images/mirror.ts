// Image mirroring (issue 12 §2): container images copied into the private registry through the
// copy engine, with their digests and tags, every shared blob uploaded once.
//
// - Destination: `<to>/<registry host>/<repository>` (mirror-path.ts), tags and digests kept.
// - Shared layers: the engine already uploads a blob once per destination repository; across
//   repositories the destinations here are wrapped so that the first upload of a blob to the
//   registry is the only one: the others wait for it and then mount it from that repository
//   (distribution's cross-repository mount, `POST ?mount=&from=`), moving no bytes.
// - Platform filter on an index: the distribution registry refuses an index whose children are
//   not all stored (checked with the Debian docker-registry 2.8.2: MANIFEST_BLOB_UNKNOWN), so the
//   index is rewritten with only the chosen children (containers/image calls this
//   StripSparseManifestList; crane copy --platform writes the one child image instead). Every
//   child keeps its digest, so a pod that resolves the tag pulls the very image it would have
//   pulled upstream; the index itself gets a new digest, reported beside the upstream one. A
//   reference pinned by digest is copied whole, filter or not: its digest is what pods pull.
// - Upstream signatures are verified (the same VerifyPolicy as mirror rows and promote) before
//   anything is written; the mirrored digest is signed (cosign legacy format) after its tag.
// - One writer per tag: every destination repository's tag is written by one copy of the run.
//   A list can name a tag both unpinned and pinned (`nginx:1.27` and `nginx:1.27@sha256:…`, as
//   `images list` prints when one source pins a digest and another does not): the unpinned entry
//   writes the tag (what the tag resolves to upstream, filtered by platform), the pinned digest is
//   copied by digest only, which is all a pod pulling `tag@digest` resolves. Entries pinning
//   different digests under one tag, with no unpinned entry, leave the tag unwritten. Either way
//   the entry that did not write its tag says so in `tagsLeft`, so which digest the tag names is
//   the same whatever the order of the list or of the copies.
import { AirlockError, ConfigError, type ConfigIssue } from '../errors.ts';
import {
  type BatchEvent,
  type BatchItem,
  type BatchReport,
  batchReport,
  type Digest,
  escapeControl,
  isDigest,
  isIndexMediaType,
  itemError,
  Limiter,
  type Outcome,
  readUserFile,
  sha256,
  throwIfAborted,
} from '../core/index.ts';
import {
  type BlobAction,
  copyAll,
  type CopyItem,
  type CopyRequest,
  type Descriptor,
  type FetchedManifest,
  parseManifest,
  type Repository,
  withWrites,
} from '../oci/index.ts';
import type { Session, Target } from '../session/index.ts';
import {
  type Signer,
  signatureTag,
  signLegacy,
  type Verification,
  verifyArtifact,
  type VerifyPolicy,
} from '../sign/index.ts';
import {
  formatImage,
  type ImageReference,
  ImageReferenceError,
  normalizeImage,
  registryKey,
} from './reference.ts';
import {
  formatPlatform,
  mirrorPath,
  mirrorRepositoryProblem,
  parsePlatform,
  type Platform,
  platformMatches,
} from './mirror-path.ts';

/** One image to mirror, with where it was read and settings of its own. */
export interface ImageToMirror {
  /** An image reference as a pod names it (`nginx:1.27`, `quay.io/x/y@sha256:…`). */
  readonly reference: string;
  /** Where it was read (`images.txt:4`, `inventory.csv:7`), for messages. */
  readonly where?: string;
  /** This image's platform filter, instead of the call's `platforms`. */
  readonly platforms?: readonly string[];
  /** This image's upstream signature policy, instead of the call's `verify`. */
  readonly verify?: VerifyPolicy;
}

export interface MirrorImagesOptions {
  readonly session: Session;
  /** The images to mirror (after those of `fromFile`, when both are given). */
  readonly images?: readonly (string | ImageToMirror)[];
  /**
   * An image list to read (what `images list` prints: one reference per line, `#` comments),
   * parsed by parseImageList: FILE_UNREADABLE, or CONFIG_INVALID naming each bad `file:line`.
   */
  readonly fromFile?: string;
  /** `REGISTRY/PREFIX` (or a bare registry host, or `oci-layout:PATH`) the images go below. */
  readonly to: string;
  /** `os/arch[/variant]` of the children to keep from an index; default every platform. */
  readonly platforms?: readonly string[];
  /** Upstream signatures each image must carry (key or identity), checked before any write. */
  readonly verify?: VerifyPolicy;
  /** Signs each mirrored digest (cosign legacy `.sig` tag), after its tag is written. */
  readonly sign?: Signer;
  /** Images and blob transfers in flight at once (default: the session's). */
  readonly concurrency?: number;
  /** Read both sides and report what would be copied; write nothing. */
  readonly dryRun?: boolean;
  /** After the first failure start nothing new (`skipped`, reason "fail-fast"). */
  readonly failFast?: boolean;
  /**
   * Stops the batch: images not started are `skipped` ("aborted"); one in flight stops before its
   * tag. An image already tagged is still signed, so no mirrored tag is left unsigned by a stop.
   */
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: MirrorImagesEvent) => void;
}

/**
 * How a platform filter applied to an image: `filtered` (an index rewritten with the chosen
 * children: its digest differs from `sourceDigest`), `complete` (every child matched: copied
 * unchanged), `pinned` (named by digest: copied whole so that digest stays valid),
 * `not-an-index` (a single image, or an index without platforms: copied unchanged).
 */
export type PlatformFilter = 'filtered' | 'complete' | 'pinned' | 'not-an-index';

/**
 * A tag an image's reference names that its copy did not write, because other entries of the
 * call name the same tag in the same destination repository: `unpinned` (an entry without a
 * digest writes it, `writtenBy`), or `pinned-digests-differ` (entries pin different digests under
 * it and none names it unpinned: no entry writes it).
 */
export interface TagLeft {
  readonly tag: string;
  readonly reason: 'unpinned' | 'pinned-digests-differ';
  /** The `source` of the item that writes the tag. */
  readonly writtenBy?: string;
  /**
   * The upstream digest the tag resolved to for that item, when it read it: a digest other than
   * this item's `sourceDigest` means the pin is not what the tag names upstream now.
   */
  readonly tagDigest?: string;
}

/** One image in the report (docs/json.md's batch item plus the mirror's fields). */
export interface ImageMirrorItem extends BatchItem {
  /** The upstream image, normalised (`docker.io/library/nginx:1.27`). */
  readonly source: string;
  /** Where the image was read, when the caller said. */
  readonly where?: string;
  /** The upstream manifest digest (the index, for a multi-platform image). */
  readonly sourceDigest?: string;
  /** The destination repository (`registry.internal/mirror/docker.io/library/nginx`). */
  readonly destination: string;
  /** The tags this item wrote (or found up to date). */
  readonly tags: readonly string[];
  /** Tags its reference named that another entry writes, or that no entry writes (TagLeft). */
  readonly tagsLeft?: readonly TagLeft[];
  readonly mediaType?: string;
  /** For an index: the platforms of the children mirrored. */
  readonly platforms?: readonly string[];
  /** With a platform filter: how it applied. */
  readonly platformFilter?: PlatformFilter;
  readonly blobs?: {
    readonly uploaded: number;
    readonly mounted: number;
    readonly present: number;
  };
  readonly manifestsWritten?: number;
  /** The upstream signature that verified. */
  readonly verification?: {
    readonly format: string;
    readonly keyName?: string;
    readonly subject?: string;
    readonly issuer?: string;
  };
  /** The signature tag written, or found for an image mirrored before. */
  readonly signature?: string;
  /** true: signed by this run or before; false: mirrored unsigned; absent: not signing. */
  readonly signed?: boolean;
}

export type MirrorImagesReport = BatchReport<ImageMirrorItem>;

export type MirrorImagesEvent =
  | {
      readonly type: 'blob';
      readonly destination: string;
      readonly digest: Digest;
      readonly size: number;
      readonly action: BlobAction;
    }
  /** An image's copy finished (signing may follow), with how many have so far. */
  | {
      readonly type: 'copied';
      readonly source: string;
      readonly outcome: Outcome;
      readonly done: number;
      readonly total: number;
    }
  | BatchEvent<ImageMirrorItem>;

/** Reasons of `present` and `skipped` items. */
export const IMAGE_REASON = {
  present: 'already mirrored',
  presentSigned: 'already mirrored and signed',
  dryRun: 'dry run',
} as const;

/** Docker's attestation manifests in an index (buildx): they follow the child they describe. */
const REFERENCE_TYPE = 'vnd.docker.reference.type';
const REFERENCE_DIGEST = 'vnd.docker.reference.digest';

/**
 * Parses an image list: one reference per line, `#` comments and blank lines allowed (what
 * `airlock images list` prints). Every invalid reference is reported with `file:line`
 * (CONFIG_INVALID) before anything is copied.
 */
export function parseImageList(text: string, file: string): ImageToMirror[] {
  const images: ImageToMirror[] = [];
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    if (/\s/.test(line)) {
      issues.push({ where, message: 'one image reference per line' });
      return;
    }
    try {
      normalizeImage(line);
      images.push({ reference: line, where });
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
      issues.push({ where, message: referenceProblem(error) });
    }
  });
  if (issues.length > 0)
    throw new ConfigError(`${file}: ${issues.length} problem(s) in the image list`, issues);
  return images;
}

function referenceProblem(error: ImageReferenceError): string {
  return `invalid image reference "${escapeControl(error.input)}": ${error.reason}`;
}

/** One copy: every input naming the same upstream manifest the same way, with all their tags. */
interface Group {
  readonly image: ImageReference;
  readonly where: string | undefined;
  readonly path: string;
  /** The tags this copy writes. */
  readonly tags: string[];
  /** The tags named that another group writes (`owner`), or that no group writes. */
  readonly left: { readonly tag: string; readonly owner: Group | undefined }[];
  readonly platforms: readonly Platform[] | undefined;
  readonly policies: VerifyPolicy[];
}

/**
 * Mirrors images below `to` through the copy engine (one engine, one concurrency budget): each
 * image with its index children, every blob verified, blobs shared between images uploaded once,
 * tags written last, then signed. The images are `fromFile`'s (read with parseImageList) and
 * `images`; each tag of a destination repository is written by one of them (assignTags). Bad
 * input fails the call before any request (FILE_UNREADABLE, CONFIG_INVALID naming each image's
 * `where`, INPUT_INVALID for a platform); each image then succeeds or fails on its own in the
 * batch report.
 */
export async function mirrorImages(options: MirrorImagesOptions): Promise<MirrorImagesReport> {
  const started = Date.now();
  const { session } = options;
  const listed = options.fromFile === undefined ? [] : await readImageList(options.fromFile);
  const target = openTarget(session, options.to);
  const groups = groupImages([...(options.images ?? []), ...listed], options, prefixPath(target));
  const concurrency = options.concurrency ?? session.concurrency;
  const blobs = new BlobCoordinator();
  const plans: Plan[] = groups.map((group) => {
    const root = group.image.digest ?? group.image.tag ?? '';
    const upstream = new UpstreamImage(
      session.client.repository(registryKey(group.image.registry), group.image.repository),
      root,
      group.platforms,
      group.policies,
      options.signal,
    );
    const destination = target.open(group.path);
    const counted = blobs.wrap(destination);
    const request: CopyRequest = {
      source: upstream.repository,
      reference: root,
      destination: counted.repository,
      tags: group.tags,
    };
    let copiedNow = (): void => undefined;
    const copied = new Promise<void>((resolve) => (copiedNow = resolve));
    return { group, upstream, destination, counted, request, copied, copiedNow, left: [] };
  });
  const planOf = new Map(plans.map((plan) => [plan.group, plan]));
  for (const plan of plans)
    for (const { tag, owner } of plan.group.left)
      plan.left.push({ tag, owner: owner === undefined ? undefined : planOf.get(owner) });
  const bySource = new Map(plans.map((plan, i) => [copySource(plan.request), i]));
  const items = new Array<ImageMirrorItem>(plans.length);
  const signing = new Limiter(concurrency);
  const finishing: Promise<void>[] = [];
  let copied = 0;
  let finished = 0;
  const relayed = new Set<string>();

  const copyOptions: Parameters<typeof copyAll>[1] = {
    concurrency,
    ...(options.dryRun === true ? { dryRun: true } : {}),
    ...(options.failFast === true ? { failFast: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onEvent: (event) => {
      if (event.type === 'blob') {
        // A blob this run mounted from another mirrored repository reaches the engine as present.
        const key = `${event.destination}@${event.digest}`;
        const mounted = event.action === 'present' && blobs.mounted.has(key) && !relayed.has(key);
        if (mounted) relayed.add(key);
        options.onEvent?.({ ...event, action: mounted ? 'mounted' : event.action });
        return;
      }
      if (event.type !== 'item') return;
      const index = bySource.get(event.item.source);
      const plan = index === undefined ? undefined : plans[index];
      if (index === undefined || plan === undefined) return;
      plan.copiedNow();
      copied++;
      options.onEvent?.({
        type: 'copied',
        source: plan.group.image.normalized,
        outcome: event.item.outcome,
        done: copied,
        total: plans.length,
      });
      // A tag left to another copy is reported with what that copy read upstream: wait for it
      // (outside the signing slots, which that copy may need).
      const owners = plan.left.flatMap((l) => (l.owner === undefined ? [] : [l.owner.copied]));
      const copiedItem = event.item;
      finishing.push(
        Promise.all(owners)
          .then(() => signing.run(() => finish(plan, copiedItem, options)))
          .then((item) => {
            items[index] = item;
            finished++;
            options.onEvent?.({ type: 'item', item, done: finished, total: plans.length });
          }),
      );
    },
  };
  // Copies that leave their tag to another line go first: a pinned index and the filtered index
  // written under its tag share child manifests in one repository, and two copies writing the
  // same manifest at once can push an index before its child is stored (MANIFEST_BLOB_UNKNOWN).
  const first = plans.filter((p) => p.left.length > 0);
  const rest = plans.filter((p) => p.left.length === 0);
  for (const wave of [first, rest])
    if (wave.length > 0)
      await copyAll(
        wave.map((p) => p.request),
        copyOptions,
      );
  await Promise.all(finishing);
  return batchReport('images mirror', items, started);
}

function openTarget(session: Session, to: string): Target {
  try {
    return session.target(to);
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    throw new AirlockError(error.code, error.message, {
      cause: error,
      details: [
        ...error.details,
        'The destination is REGISTRY/PREFIX (or a registry host, or oci-layout:PATH).',
      ],
      data: { ...error.data, option: 'to' },
    });
  }
}

/** The repository path the target writes below (empty for a registry's root or a layout). */
function prefixPath(target: Target): string {
  const reference = target.reference;
  if (reference.kind !== 'registry') return '';
  return target.name.includes('/') ? reference.repository : '';
}

/** Reads and parses `fromFile` (FILE_UNREADABLE with `data.option` "fromFile"). */
async function readImageList(file: string): Promise<ImageToMirror[]> {
  let bytes: Buffer;
  try {
    bytes = await readUserFile(file, { what: 'the image list' });
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    throw new AirlockError(error.code, error.message, {
      cause: error,
      details: error.details,
      data: { ...error.data, option: 'fromFile' },
    });
  }
  return parseImageList(bytes.toString('utf8'), file);
}

/**
 * Normalises, checks and groups the inputs: everything wrong is reported at once. Inputs naming
 * one manifest by digest in one repository become one copy with all their tags; repeated
 * references are mirrored once. Then each tag of each destination repository gets one writer
 * (assignTags).
 */
function groupImages(
  inputs: readonly (string | ImageToMirror)[],
  options: MirrorImagesOptions,
  prefix: string,
): Group[] {
  const issues: ConfigIssue[] = [];
  const platformsOf = (texts: readonly string[] | undefined, where: string | undefined) =>
    texts === undefined || texts.length === 0
      ? undefined
      : texts.map((text) => parsePlatform(text, where));
  const common = platformsOf(options.platforms, undefined);
  const groups = new Map<string, Group>();
  inputs.forEach((input, i) => {
    const spec = typeof input === 'string' ? { reference: input } : input;
    const where = spec.where ?? `image ${i + 1}`;
    let image: ImageReference;
    let path: string;
    try {
      image = normalizeImage(spec.reference, where);
      path = mirrorPath(image, where);
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
      issues.push({ where, message: referenceProblem(error) });
      return;
    }
    const tooLong = mirrorRepositoryProblem(prefix, path);
    if (tooLong !== undefined) {
      issues.push({ where, message: tooLong });
      return;
    }
    let platforms: readonly Platform[] | undefined;
    try {
      platforms = platformsOf(spec.platforms, undefined) ?? common;
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      issues.push({ where, message: error.message });
      return;
    }
    const policy = spec.verify ?? options.verify;
    // One copy per upstream manifest and repository: by digest when pinned (with every tag
    // asked for), else by tag. Docker Hub's aliases and a host's case name one registry.
    const registry = registryKey(image.registry);
    const key =
      image.digest === undefined
        ? formatImage(registry, image.repository, image.tag, undefined)
        : formatImage(registry, image.repository, undefined, image.digest);
    const existing = groups.get(key);
    if (existing) {
      if (image.tag !== undefined && !existing.tags.includes(image.tag))
        existing.tags.push(image.tag);
      if (policy !== undefined && !existing.policies.includes(policy))
        existing.policies.push(policy);
      return;
    }
    groups.set(key, {
      image,
      where: spec.where,
      path,
      tags: image.tag === undefined ? [] : [image.tag],
      left: [],
      platforms,
      policies: policy === undefined ? [] : [policy],
    });
  });
  if (issues.length > 0)
    throw new ConfigError(`${issues.length} problem(s) in the images to mirror`, issues);
  const all = [...groups.values()];
  assignTags(all);
  return all;
}

/**
 * One writer per tag and destination repository, decided before any copy starts, so the digest a
 * tag names does not depend on which copy finishes last. The unpinned entry (at most one per tag:
 * unpinned inputs are grouped by tag) writes the tag: a pod pulling `repo:tag` gets what the tag
 * names upstream, platform-filtered, while a pod pulling `repo:tag@digest` resolves the digest,
 * which the pinned copy writes without the tag. Without an unpinned entry, one pinned digest
 * writes its tag; several different ones leave it unwritten (none is more right than another).
 */
function assignTags(groups: readonly Group[]): void {
  const claims = new Map<string, { tag: string; groups: Group[] }>();
  for (const group of groups)
    for (const tag of group.tags) {
      const key = `${group.path}:${tag}`;
      const claim = claims.get(key);
      if (claim === undefined) claims.set(key, { tag, groups: [group] });
      else claim.groups.push(group);
    }
  for (const { tag, groups: claimants } of claims.values()) {
    if (claimants.length < 2) continue;
    const owner = claimants.find((group) => group.image.digest === undefined);
    for (const group of claimants) {
      if (group === owner) continue;
      group.tags.splice(group.tags.indexOf(tag), 1);
      group.left.push({ tag, owner });
    }
  }
}

/** How the copy engine names a request's source in its items (copy.ts sourceName). */
function copySource(request: CopyRequest): string {
  return `${request.source.name}${isDigest(request.reference) ? '@' : ':'}${request.reference}`;
}

interface Prepared {
  /** What the copy writes: the upstream manifest, or the filtered index. */
  readonly descriptor: Descriptor;
  readonly fetched?: FetchedManifest;
  readonly sourceDigest: Digest;
  readonly platforms?: readonly string[];
  readonly filter?: PlatformFilter;
  readonly verification?: ImageMirrorItem['verification'];
}

/**
 * The upstream repository as the copy engine sees it: the first read of the image resolves it,
 * verifies its signatures and applies the platform filter, and the engine then reads the
 * manifest to write (the filtered index, when there is one) under the same reference.
 */
class UpstreamImage {
  readonly repository: Repository;
  result: Prepared | undefined;
  readonly #inner: Repository;
  readonly #root: string;
  readonly #platforms: readonly Platform[] | undefined;
  readonly #policies: readonly VerifyPolicy[];
  readonly #signal: AbortSignal | undefined;
  #pending: Promise<Prepared | undefined> | undefined;

  constructor(
    inner: Repository,
    root: string,
    platforms: readonly Platform[] | undefined,
    policies: readonly VerifyPolicy[],
    signal: AbortSignal | undefined,
  ) {
    this.#inner = inner;
    this.#root = root;
    this.#platforms = platforms;
    this.#policies = policies;
    this.#signal = signal;
    const own = (reference: string): Prepared | undefined =>
      this.result !== undefined && reference === this.result.descriptor.digest
        ? this.result
        : undefined;
    this.repository = {
      ...withWrites(inner, inner),
      resolve: async (reference) => {
        if (reference === root) return (await this.#prepare())?.descriptor;
        return own(reference)?.descriptor ?? inner.resolve(reference);
      },
      fetchManifest: async (reference) => {
        const prepared = reference === root ? await this.#prepare() : own(reference);
        return prepared?.fetched ?? inner.fetchManifest(reference);
      },
    };
  }

  /** Once per image (again after a failure: the engine retries transient ones). */
  #prepare(): Promise<Prepared | undefined> {
    this.#pending ??= this.#resolve().then(
      (prepared) => {
        this.result = prepared;
        return prepared;
      },
      (error: unknown) => {
        this.#pending = undefined;
        throw error;
      },
    );
    return this.#pending;
  }

  async #resolve(): Promise<Prepared | undefined> {
    const inner = this.#inner;
    const found = await inner.resolve(this.#root);
    if (found === undefined) return undefined;
    let verification: ImageMirrorItem['verification'];
    for (const policy of this.#policies) {
      throwIfAborted(this.#signal);
      verification = verificationSummary(
        await verifyArtifact(inner, found.digest, policy, {
          knownDigest: found.digest,
          ...(this.#signal ? { signal: this.#signal } : {}),
        }),
      );
    }
    const base = {
      descriptor: found,
      sourceDigest: found.digest,
      ...(verification === undefined ? {} : { verification }),
    };
    const filters = this.#platforms;
    if (filters === undefined) return base;
    if (!isIndexMediaType(found.mediaType)) return { ...base, filter: 'not-an-index' };
    throwIfAborted(this.#signal);
    const fetched = await inner.fetchManifest(found.digest);
    const parsed = parseManifest(
      fetched.bytes,
      fetched.descriptor.mediaType,
      `${inner.name}@${found.digest}`,
    );
    if (parsed.kind !== 'index') return { ...base, fetched, filter: 'not-an-index' };
    const entries = parsed.value.manifests;
    const images = entries.flatMap((entry, i) => {
      const platform = entryPlatform(entry);
      return platform === undefined || entry.annotations?.[REFERENCE_TYPE] !== undefined
        ? []
        : [{ i, entry, platform }];
    });
    const offered = images.map((e) => formatPlatform(e.platform));
    if (images.length === 0) return { ...base, fetched, filter: 'not-an-index' };
    if (this.#root === found.digest)
      return { ...base, fetched, filter: 'pinned', platforms: offered };
    const chosen = images.filter((e) => filters.some((f) => platformMatches(e.platform, f)));
    if (chosen.length === 0)
      throw new AirlockError(
        'UPSTREAM_NOT_FOUND',
        `${inner.name}:${this.#root}: no image for ${filters.map(formatPlatform).join(', ')} (the index offers ${offered.join(', ')})`,
        {
          details: ['Mirror another platform, or leave the filter out to mirror every platform.'],
          data: { option: 'platforms' },
        },
      );
    const keep = new Set(chosen.map((e) => e.i));
    const kept = new Set(chosen.map((e) => e.entry.digest as string));
    entries.forEach((entry, i) => {
      const describes = entry.annotations?.[REFERENCE_DIGEST];
      if (describes !== undefined && kept.has(describes)) keep.add(i);
    });
    const platforms = chosen.map((e) => formatPlatform(e.platform));
    if (keep.size === entries.length) return { ...base, fetched, filter: 'complete', platforms };
    // The same JSON without the other children: every other field, and each kept descriptor, as
    // the upstream wrote it. Deterministic, so a re-run finds the tag up to date.
    const json = JSON.parse(fetched.bytes.toString('utf8')) as { manifests: unknown[] };
    json.manifests = json.manifests.filter((_, i) => keep.has(i));
    const bytes = Buffer.from(JSON.stringify(json));
    const descriptor = {
      mediaType: fetched.descriptor.mediaType,
      digest: sha256(bytes),
      size: bytes.length,
    };
    return { ...base, descriptor, fetched: { descriptor, bytes }, filter: 'filtered', platforms };
  }
}

function entryPlatform(entry: Descriptor): Platform | undefined {
  const p = entry.platform;
  if (p === undefined || typeof p.os !== 'string' || typeof p.architecture !== 'string')
    return undefined;
  return typeof p.variant === 'string' && p.variant !== ''
    ? { os: p.os, architecture: p.architecture, variant: p.variant }
    : { os: p.os, architecture: p.architecture };
}

function verificationSummary(v: Verification): NonNullable<ImageMirrorItem['verification']> {
  return {
    format: v.format,
    ...(v.keyName === undefined ? {} : { keyName: v.keyName }),
    ...(v.subject === undefined ? {} : { subject: v.subject, issuer: v.issuer ?? '' }),
  };
}

/**
 * One upload per blob per registry. The first destination to need a blob uploads it (the engine's
 * own POST checks whether that repository already holds it); the others wait for that upload and
 * mount the blob from that repository. When the mount is refused (the registry answers with an
 * upload session instead), the client uploads as usual. Layouts are left as they are.
 */
class BlobCoordinator {
  /** `destination name@digest` of every blob mounted from another mirrored repository. */
  readonly mounted = new Set<string>();
  readonly #holders = new Map<string, { repository: string; done: Promise<boolean> }>();

  wrap(inner: Repository): { repository: Repository; mounted: Set<Digest> } {
    const mounted = new Set<Digest>();
    const mountName = inner.mountName;
    if (inner.kind !== 'registry' || mountName === undefined) return { repository: inner, mounted };
    const repository = withWrites(inner, {
      pushManifest: (bytes, mediaType, tag) => inner.pushManifest(bytes, mediaType, tag),
      deleteManifest: (digest) => inner.deleteManifest(digest),
      pushBlob: async (descriptor, source, pushOptions) => {
        const key = `${inner.storeId}@${descriptor.digest}`;
        for (;;) {
          const holder = this.#holders.get(key);
          if (holder === undefined) {
            const attempt = inner.pushBlob(descriptor, source, pushOptions);
            const done = attempt.then(
              () => true,
              () => false,
            );
            const entry = { repository: mountName, done };
            this.#holders.set(key, entry);
            try {
              return await attempt;
            } catch (error) {
              if (this.#holders.get(key) === entry) this.#holders.delete(key);
              throw error;
            }
          }
          if (!(await holder.done)) {
            // Its upload failed: the next one to ask uploads it.
            if (this.#holders.get(key) === holder) this.#holders.delete(key);
            continue;
          }
          // Stored in this very repository by an earlier copy: the engine's own request finds it.
          if (holder.repository === mountName)
            return inner.pushBlob(descriptor, source, pushOptions);
          const outcome = await inner.pushBlob(descriptor, source, {
            mountFrom: holder.repository,
          });
          // The engine counts a mount it asked for (from a source in this registry) itself; one
          // it did not ask for reaches it as "present", and is counted here.
          if (outcome === 'mounted' && (pushOptions?.mountFrom ?? mountName) === mountName) {
            mounted.add(descriptor.digest);
            this.mounted.add(`${inner.name}@${descriptor.digest}`);
          }
          return outcome;
        }
      },
    });
    return { repository, mounted };
  }
}

interface Plan {
  readonly group: Group;
  readonly upstream: UpstreamImage;
  readonly destination: Repository;
  readonly counted: { readonly mounted: ReadonlySet<Digest> };
  readonly request: CopyRequest;
  /** Settles when the copy engine reports this copy (done, failed or skipped). */
  readonly copied: Promise<void>;
  readonly copiedNow: () => void;
  /** group.left, with the plan of each tag's writer. */
  readonly left: { readonly tag: string; readonly owner: Plan | undefined }[];
}

function tagsLeft(plan: Plan): TagLeft[] {
  return plan.left.map(({ tag, owner }) => {
    if (owner === undefined) return { tag, reason: 'pinned-digests-differ' };
    const tagDigest = owner.upstream.result?.sourceDigest;
    return {
      tag,
      reason: 'unpinned',
      writtenBy: owner.group.image.normalized,
      ...(tagDigest === undefined ? {} : { tagDigest }),
    };
  });
}

/** The copy's item as an image item, signed when there is a signer. */
async function finish(
  plan: Plan,
  copied: CopyItem,
  options: MirrorImagesOptions,
): Promise<ImageMirrorItem> {
  const started = Date.now();
  const prepared = plan.upstream.result;
  const mounted = plan.counted.mounted.size;
  // Stopped in flight: dropped before its tag, so nothing of it is visible; not a failure.
  const aborted = copied.outcome === 'failed' && copied.error?.code === 'ABORTED';
  const outcome = aborted ? 'skipped' : copied.outcome;
  const reason = aborted
    ? 'aborted'
    : outcome === 'present'
      ? IMAGE_REASON.present
      : outcome === 'skipped'
        ? copied.reason
        : undefined;
  const item: ImageMirrorItem = {
    reference: copied.reference,
    ...(copied.digest === undefined ? {} : { digest: copied.digest }),
    outcome,
    ...(reason === undefined ? {} : { reason }),
    ...(copied.error === undefined || aborted ? {} : { error: copied.error }),
    bytes: copied.bytes,
    durationMs: copied.durationMs,
    source: plan.group.image.normalized,
    ...(plan.group.where === undefined ? {} : { where: plan.group.where }),
    ...(prepared === undefined ? {} : { sourceDigest: prepared.sourceDigest }),
    destination: plan.destination.name,
    tags: plan.group.tags,
    ...(plan.left.length === 0 ? {} : { tagsLeft: tagsLeft(plan) }),
    ...(copied.mediaType === undefined ? {} : { mediaType: copied.mediaType }),
    ...(prepared?.platforms === undefined ? {} : { platforms: prepared.platforms }),
    ...(prepared?.filter === undefined ? {} : { platformFilter: prepared.filter }),
    ...(copied.blobs === undefined
      ? {}
      : {
          blobs: {
            uploaded: copied.blobs.uploaded,
            mounted: copied.blobs.mounted + mounted,
            present: Math.max(0, copied.blobs.present - mounted),
          },
        }),
    ...(copied.manifestsWritten === undefined ? {} : { manifestsWritten: copied.manifestsWritten }),
    ...(prepared?.verification === undefined ? {} : { verification: prepared.verification }),
  };
  const signer = options.sign;
  const digest = copied.digest as Digest | undefined;
  if (options.dryRun === true || digest === undefined) return item;
  if (signer === undefined) return item.outcome === 'done' ? { ...item, signed: false } : item;
  if (item.outcome !== 'done' && item.outcome !== 'present') return item;
  try {
    if (item.outcome === 'present') {
      const tag = signatureTag(digest);
      if ((await plan.destination.resolve(tag)) !== undefined)
        return { ...item, reason: IMAGE_REASON.presentSigned, signature: tag, signed: true };
    }
    // After the tag, and even after a stop: a tagged image is not left unsigned.
    const signed = await signLegacy(plan.destination, digest, signer, { knownDigest: digest });
    const { reason: _reason, ...rest } = item;
    return {
      ...rest,
      outcome: 'done',
      bytes: item.bytes + signed.bytes,
      durationMs: item.durationMs + (Date.now() - started),
      signature: signed.signatureTag,
      signed: true,
    };
  } catch (error) {
    return {
      ...item,
      outcome: 'failed',
      error: itemError(error),
      signed: false,
      durationMs: item.durationMs + (Date.now() - started),
    };
  }
}
