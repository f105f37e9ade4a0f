// `airlock bundle create` (issue 11 §1, §2): the artifacts a list of references names — charts,
// Flux artifacts, images and indexes — each verified against the caller's policy first, copied
// with their signatures, attestations, SBOMs and referrers into one OCI layout (every blob once),
// then the bundle manifest written and signed. With a base (`since`), only what the base does not
// hold is packed: artifacts whose tag still names the same digest are left out, blobs the base
// holds are referenced, not copied, and the base's digest is recorded.
//
// Nothing is left half-written: the bundle is built in a sibling staging directory and renamed
// into place when it is complete and signed.
import { mkdir, mkdtemp, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import {
  type BatchItem,
  type BatchOptions,
  type BatchReport,
  type Digest,
  escapeControl,
  itemError,
  readAll,
  summarise,
  throwIfAborted,
} from '../core/index.ts';
import {
  copy,
  type Descriptor,
  type FetchedManifest,
  formatReference,
  parseReference,
  type Reference,
  REF_NAME,
  type Repository,
} from '../oci/index.ts';
import type { Session } from '../session/index.ts';
import {
  findBundles,
  type Signer,
  signatureTag,
  verifyArtifact,
  type VerifyPolicy,
} from '../sign/index.ts';
import {
  type BaseContent,
  BUNDLE_MANIFEST_MEDIA_TYPE,
  type BundleArtifact,
  BUNDLE_NAMESPACE,
  type BundleManifest,
  isRepository,
  SOURCE_ANNOTATION,
} from './manifest.ts';
import {
  BundleStore,
  type IndexEntry,
  isBundleEntry,
  readBase,
  references,
  writeBundleManifest,
} from './store.ts';
import type { IndexView } from './view.ts';

export interface CreateBundleOptions extends Omit<BatchOptions<BundleItem>, 'concurrency'> {
  /** What to bundle: `registry/repository:tag`, `…@digest`, or `oci-layout:PATH:TAG`. */
  readonly references: readonly string[];
  /** The bundle directory: it must not exist, or be empty. */
  readonly outDir: string;
  /** Signs the bundle manifest (key or keyless). */
  readonly signer: Signer;
  /** Each artifact's own signature must verify with this before it is packed. */
  readonly policy?: VerifyPolicy;
  /** Refuse artifacts without any signature (with a policy, unsigned ones fail anyway). */
  readonly requireSigned?: boolean;
  /** A previous bundle (directory or manifest file): pack only what it does not hold. */
  readonly since?: string;
  /** Recorded in the manifest: the tool that created the bundle. */
  readonly tool?: { readonly name: string; readonly version: string };
  readonly concurrency?: number;
}

/** One artifact of a bundle report (create, verify, import). */
export interface BundleItem extends BatchItem {
  /** The source reference (create) or the artifact's `repository:tag` in the bundle. */
  readonly source: string;
  readonly repository: string;
  readonly tag?: string;
  /** How its own signature verified, when a policy was given. */
  readonly verified?: {
    readonly format: string;
    readonly keyName?: string;
    readonly subject?: string;
    readonly issuer?: string;
  };
}

export interface CreateBundleResult {
  readonly report: BatchReport<BundleItem>;
  readonly manifest: BundleManifest;
  /** The digest of the OCI manifest carrying the bundle manifest (what the signature covers). */
  readonly digest: Digest;
  /** The sha256 of the bundle manifest document (what a delta records as its base). */
  readonly documentDigest: Digest;
  readonly dir: string;
}

interface Planned {
  readonly input: string;
  readonly reference: Reference;
  readonly repository: string;
  readonly tag?: string;
}

/** The repository path an artifact is restored under: the registry path, or a layout's name. */
function repositoryOf(reference: Reference): string {
  if (reference.kind === 'registry') return reference.repository;
  return basename(reference.path.replace(/\/+$/, '')) || 'layout';
}

function plan(inputs: readonly string[]): Planned[] {
  const planned: Planned[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const reference = parseReference(input);
    const tag = reference.tag ?? (reference.digest === undefined ? 'latest' : undefined);
    const repository = repositoryOf(reference);
    if (!isRepository(repository) || repository === BUNDLE_NAMESPACE)
      throw new AirlockError(
        'INPUT_INVALID',
        `${escapeControl(input)}: ${JSON.stringify(escapeControl(repository))} is not a repository name to restore it under`,
        {
          details: ['name the layout directory in lowercase letters, digits, ".", "_" and "-"'],
          data: { option: 'references' },
        },
      );
    const key = `${repository}:${tag ?? reference.digest ?? ''}`;
    if (seen.has(key))
      throw new AirlockError(
        'INPUT_INVALID',
        `${escapeControl(input)}: ${escapeControl(key)} is named twice: a bundle restores each repository and tag once`,
        { data: { option: 'references' } },
      );
    seen.add(key);
    planned.push({ input, reference, repository, ...(tag === undefined ? {} : { tag }) });
  }
  if (planned.length === 0)
    throw new AirlockError('INPUT_INVALID', 'nothing to bundle: give at least one reference', {
      data: { option: 'references' },
    });
  return planned;
}

/**
 * What a delta's base holds, and where. A registry links blobs per repository, so a blob counts
 * as the base's in a repository where the base brought it, or where an import can mount it from
 * another repository the base brought it to (the delta records which); manifests only where the
 * base brought them.
 */
class BaseHoldings {
  readonly #byRepository = new Map<string, Set<string>>();
  readonly #repositories = new Map<string, Set<string>>();

  constructor(manifest: BundleManifest) {
    for (const c of manifest.contents)
      for (const r of c.repositories ?? []) this.#hold(r, c.digest);
    for (const c of manifest.fromBase) this.#hold(c.repository, c.digest);
  }

  #hold(repository: string, digest: string): void {
    let set = this.#byRepository.get(repository);
    if (set === undefined) this.#byRepository.set(repository, (set = new Set()));
    set.add(digest);
    let where = this.#repositories.get(digest);
    if (where === undefined) this.#repositories.set(digest, (where = new Set()));
    where.add(repository);
  }

  /** Whether the base brought `digest` to `repository` itself. */
  inRepository(repository: string, digest: string): boolean {
    return this.#byRepository.get(repository)?.has(digest) === true;
  }

  /** The base repository a blob of `repository` comes from: itself, or the first that holds it. */
  blobHolder(repository: string, digest: string): string | undefined {
    if (this.inRepository(repository, digest)) return repository;
    const where = this.#repositories.get(digest);
    return where === undefined ? undefined : [...where].sort()[0];
  }
}

/** A destination that treats blobs the base holds as present, so a delta does not copy them. */
function withBase(repository: Repository, held: (digest: Digest) => boolean): Repository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      if (property === 'hasBlob')
        return (digest: Digest) => (held(digest) ? Promise.resolve(true) : target.hasBlob(digest));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** Blobs up to this size that verification reads (signature payloads) are kept for the copy. */
const REMEMBERED_BLOB = 64 * 1024;

/**
 * The source of one artifact, remembering what it read: the signature verification and the copy
 * read the same signature manifest, payload and referrers, and the copy then takes exactly what
 * was verified, with a third fewer requests per artifact. A failed read is not remembered.
 */
function remembering(source: Repository): Repository {
  const manifests = new Map<string, Promise<FetchedManifest>>();
  const resolved = new Map<string, Promise<Descriptor | undefined>>();
  const referrers = new Map<string, Promise<Descriptor[]>>();
  const blobs = new Map<string, Promise<Buffer>>();
  const once = <T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>) => {
    let found = cache.get(key);
    if (found === undefined) {
      found = read();
      cache.set(key, found);
      found.catch(() => cache.delete(key));
    }
    return found;
  };
  const fetchManifest = (reference: string): Promise<FetchedManifest> =>
    once(manifests, reference, () => source.fetchManifest(reference));
  const members: Partial<Repository> = {
    fetchManifest,
    resolve: (reference) =>
      manifests.has(reference)
        ? fetchManifest(reference).then((m) => m.descriptor)
        : once(resolved, reference, () => source.resolve(reference)),
    referrers: (digest, artifactType) =>
      once(referrers, `${digest} ${artifactType ?? ''}`, () =>
        source.referrers(digest, artifactType),
      ),
    fetchBlob: async (descriptor) => {
      if (descriptor.size > REMEMBERED_BLOB) return source.fetchBlob(descriptor);
      // The source's stream verifies the bytes: what is remembered was verified.
      const bytes = await once(blobs, descriptor.digest, async () =>
        readAll(await source.fetchBlob(descriptor), REMEMBERED_BLOB),
      );
      return Readable.from([bytes]);
    },
  };
  return new Proxy(source, {
    get(target, property, receiver) {
      const member = members[property as keyof Repository];
      if (member !== undefined) return member;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

async function isSigned(repository: Repository, digest: Digest): Promise<boolean> {
  if ((await repository.resolve(signatureTag(digest))) !== undefined) return true;
  return (await findBundles(repository, digest)).some((b) => b.role === 'signature');
}

async function emptyOrMissing(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (entries !== undefined && entries.length > 0) return false;
  return true;
}

/** What bundling one artifact gave: its report item and, when copied, its entries. */
interface Bundled {
  readonly item: BundleItem;
  /** Copied: the manifest entry, and the view holding its index entries. */
  readonly artifact?: BundleArtifact;
  readonly view?: IndexView;
  /** Left out: the base holds it under the same tag and digest. */
  readonly unchanged?: BundleArtifact;
}

interface BundleContext {
  readonly session: Session;
  readonly store: BundleStore;
  readonly options: CreateBundleOptions;
  readonly concurrency: number;
  readonly baseArtifacts: ReadonlyMap<string, BundleArtifact>;
  /** What the delta's base holds (undefined: not a delta). */
  readonly base: BaseHoldings | undefined;
}

/**
 * Resolves one artifact, verifies its signature against the policy, and copies it (with its
 * signatures and referrers) into a staged view of the bundle. Never throws: a failure is the
 * item's.
 */
async function bundleOne(p: Planned, context: BundleContext): Promise<Bundled> {
  const { options } = context;
  const t = Date.now();
  const describe = {
    reference: `${p.repository}:${p.tag ?? p.reference.digest ?? ''}`,
    source: formatReference(p.reference),
    repository: p.repository,
    ...(p.tag === undefined ? {} : { tag: p.tag }),
  };
  try {
    const source = remembering(context.session.open(p.reference));
    const wanted = p.reference.digest ?? p.tag ?? 'latest';
    const descriptor = await source.resolve(wanted);
    if (descriptor === undefined)
      throw new AirlockError('REGISTRY_NOT_FOUND', `${escapeControl(p.input)} does not exist`);
    const known = context.baseArtifacts.get(`${p.repository}:${p.tag ?? descriptor.digest}`);
    if (known?.digest === descriptor.digest)
      return {
        unchanged: known,
        item: {
          ...describe,
          digest: descriptor.digest,
          outcome: 'present',
          reason: 'unchanged since the base bundle',
          bytes: 0,
          durationMs: Date.now() - t,
        },
      };
    let verified: BundleItem['verified'];
    if (options.policy !== undefined) {
      const v = await verifyArtifact(source, descriptor.digest, options.policy, {
        knownDigest: descriptor.digest,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      verified = {
        format: v.format,
        ...(v.keyName === undefined ? {} : { keyName: v.keyName }),
        ...(v.subject === undefined ? {} : { subject: v.subject }),
        ...(v.issuer === undefined ? {} : { issuer: v.issuer }),
      };
    } else if (options.requireSigned === true && !(await isSigned(source, descriptor.digest)))
      throw new AirlockError('POLICY_VIOLATION', `${escapeControl(p.input)} is not signed`, {
        details: ['unsigned content is refused (require signed); sign it, or leave it out'],
        data: { option: 'requireSigned' },
      });
    const view = context.store.staged(p.repository);
    const { base } = context;
    const result = await copy(
      {
        source,
        reference: descriptor.digest,
        destination:
          base === undefined
            ? view
            : withBase(view, (digest) => base.blobHolder(p.repository, digest) !== undefined),
        tags: p.tag === undefined ? [] : [p.tag],
        // The view is new: it holds no tag, so none needs looking up.
        destinationTags: new Set(),
      },
      {
        signatures: true,
        referrers: true,
        concurrency: context.concurrency,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    return {
      artifact: {
        repository: p.repository,
        ...(p.tag === undefined ? {} : { tag: p.tag }),
        source: formatReference(p.reference),
        digest: descriptor.digest,
        mediaType: result.mediaType,
      },
      view,
      item: {
        ...describe,
        digest: descriptor.digest,
        outcome: 'done',
        bytes: result.bytesUploaded,
        durationMs: Date.now() - t,
        ...(verified === undefined ? {} : { verified }),
      },
    };
  } catch (error) {
    return {
      item: {
        ...describe,
        outcome: 'failed',
        error: itemError(error),
        bytes: 0,
        durationMs: Date.now() - t,
      },
    };
  }
}

/**
 * Runs `task` over `items`, at most `limit` at once, starting no new one once `stop()` holds, and
 * returns when every started task has finished (nothing is left writing into the staging
 * directory when it is removed).
 */
async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  stop: () => boolean,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Builds a bundle; a failed artifact fails the whole bundle (nothing is written then). */
export async function createBundle(
  session: Session,
  options: CreateBundleOptions,
): Promise<CreateBundleResult> {
  const started = Date.now();
  const target = resolvePath(options.outDir);
  if (!(await emptyOrMissing(target)))
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(target)} is not empty: a bundle is written into a new directory`,
      { data: { option: 'outDir' } },
    );
  const planned = plan(options.references);
  const base = options.since === undefined ? undefined : await readBase(options.since);
  const holdings = base === undefined ? undefined : new BaseHoldings(base.manifest);
  const baseArtifacts = new Map(
    (base?.manifest.artifacts ?? []).map((a) => [`${a.repository}:${a.tag ?? a.digest}`, a]),
  );
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.airlock-bundle-`));
  try {
    const store = new BundleStore(staging);
    const concurrency = options.concurrency ?? session.concurrency;
    // Artifacts concurrently (charts are small: per-artifact round trips and signature checks
    // dominate), each writing its index entries into a view of its own; the views are merged
    // into index.json once, in the order the artifacts were named, so the bundle is the same
    // whatever order they finished in.
    const results: (Bundled | undefined)[] = new Array<Bundled | undefined>(planned.length);
    let finished = 0;
    let anyFailed = false;
    await eachLimit(
      planned,
      concurrency,
      () => options.signal?.aborted === true || (anyFailed && options.failFast === true),
      async (p, index) => {
        const result = await bundleOne(p, {
          session,
          store,
          options,
          concurrency,
          baseArtifacts,
          base: holdings,
        });
        results[index] = result;
        finished++;
        if (result.item.outcome === 'failed') anyFailed = true;
        if (result.unchanged === undefined)
          options.onEvent?.({
            type: 'item',
            item: result.item,
            done: finished,
            total: planned.length,
          });
      },
    );
    throwIfAborted(options.signal);
    const bundled = results.filter((r): r is Bundled => r !== undefined);
    const items = bundled.map((r) => r.item);
    const artifacts = bundled.flatMap((r) => (r.artifact === undefined ? [] : [r.artifact]));
    const unchanged = bundled.flatMap((r) => (r.unchanged === undefined ? [] : [r.unchanged]));
    const report: BatchReport<BundleItem> = {
      operation: 'bundle create',
      items,
      summary: summarise(items, Date.now() - started),
    };
    const failed = items.filter((i) => i.outcome === 'failed');
    if (failed.length > 0)
      throw new AirlockError(
        failed.some(
          (f) => f.error?.code === 'VERIFICATION_FAILED' || f.error?.code === 'POLICY_VIOLATION',
        )
          ? 'VERIFICATION_FAILED'
          : (failed[0]?.error?.code ?? 'COPY_FAILED'),
        `${failed.length} of ${items.length} artifacts could not be bundled: nothing was written`,
        {
          details: failed.map((f) => `${f.source}: ${f.error?.message ?? ''}`),
          data: { report },
        },
      );
    // Record where each artifact came from, beside its ref.name, for an import to restore paths.
    const sources = new Map(
      artifacts
        .filter((a) => a.tag !== undefined)
        .map((a) => [`${a.repository}:${a.tag ?? ''}`, a.source]),
    );
    const entries = await store.commit(
      bundled.flatMap((r) => (r.view === undefined ? [] : [r.view])),
      (e) => {
        const name = e.annotations?.[REF_NAME];
        const source = name === undefined ? undefined : sources.get(name);
        return source === undefined
          ? e
          : { ...e, annotations: { ...e.annotations, [SOURCE_ANNOTATION]: source } };
      },
    );
    const manifest = {
      ...(await describeBundle(store, entries, artifacts, holdings, base, options.tool)),
      unchanged,
    };
    const written = await writeBundleManifest(store, manifest, options.signer);
    // rmdir, not rm -r: if anything appeared in the directory meanwhile, fail rather than delete it.
    await rmdir(target).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    });
    await rename(staging, target);
    return {
      report,
      manifest,
      digest: written.digest,
      documentDigest: written.documentDigest,
      dir: target,
    };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

/** The bundle manifest of a filled layout: its entries, its blobs, and what the base holds. */
async function describeBundle(
  store: BundleStore,
  written: readonly IndexEntry[],
  artifacts: readonly BundleArtifact[],
  holdings: BaseHoldings | undefined,
  base: { manifest: BundleManifest; digest: Digest } | undefined,
  tool: { readonly name: string; readonly version: string } | undefined,
): Promise<BundleManifest> {
  const index = written.filter((e) => !isBundleEntry(e));
  const files = await store.blobFiles();
  const fromBase = new Map<string, BaseContent>();
  const usedBy = new Map<string, Set<string>>();
  const use = (digest: string, repository: string): void => {
    if (repository === '') return;
    let set = usedBy.get(digest);
    if (set === undefined) usedBy.set(digest, (set = new Set()));
    set.add(repository);
  };
  // Walk every entry's graph: what is not in the layout must be the base's (in that repository).
  const seen = new Set<string>();
  const walk = async (entry: IndexEntry, repository: string): Promise<void> => {
    use(entry.digest, repository);
    if (seen.has(`${repository}@${entry.digest}`)) return;
    seen.add(`${repository}@${entry.digest}`);
    if (!files.has(entry.digest)) {
      if (holdings?.inRepository(repository, entry.digest) !== true)
        throw new AirlockError(
          'INTERNAL',
          `manifest ${entry.digest} was neither copied nor in the base`,
        );
      fromBase.set(`${repository}@${entry.digest}`, {
        digest: entry.digest,
        size: entry.size,
        repository,
        kind: 'manifest',
      });
      return;
    }
    const bytes = await store.readManifest(entry.digest);
    const children = references(bytes, entry.mediaType, `${store.dir}@${entry.digest}`);
    for (const child of children.manifests) await walk(child, repository);
    for (const blob of children.blobs) {
      use(blob.digest, repository);
      if (files.has(blob.digest)) continue;
      const holder = holdings?.blobHolder(repository, blob.digest);
      if (holder === undefined)
        throw new AirlockError(
          'INTERNAL',
          `blob ${blob.digest} was neither copied nor in the base`,
        );
      fromBase.set(`${repository}@${blob.digest}`, {
        digest: blob.digest,
        size: blob.size,
        repository,
        kind: 'blob',
        ...(holder === repository ? {} : { from: holder }),
      });
    }
  };
  // Named entries first: an untagged entry (an index's child) belongs to the repository of the
  // artifact that references it.
  const named = [...index].sort(
    (a, b) =>
      Number(a.annotations?.[REF_NAME] === undefined) -
      Number(b.annotations?.[REF_NAME] === undefined),
  );
  for (const entry of named) {
    if (entry.annotations?.[REF_NAME] === undefined && usedBy.has(entry.digest)) continue;
    const name = entry.annotations?.[REF_NAME] ?? '';
    await walk(entry, name.includes(':') ? name.slice(0, name.lastIndexOf(':')) : '');
  }
  return {
    schemaVersion: 1,
    mediaType: BUNDLE_MANIFEST_MEDIA_TYPE,
    tool: tool ?? { name: 'airlock', version: 'unknown' },
    created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(base === undefined
      ? {}
      : { base: { digest: base.digest, created: base.manifest.created } }),
    artifacts: [...artifacts],
    entries: index.map((e) => ({
      ...(e.annotations?.[REF_NAME] === undefined ? {} : { name: e.annotations[REF_NAME] }),
      digest: e.digest,
      mediaType: e.mediaType,
      size: e.size,
    })),
    contents: [...files]
      .map(([digest, size]) => ({
        digest,
        size,
        repositories: [...(usedBy.get(digest) ?? [])].sort(),
      }))
      .sort((a, b) => (a.digest < b.digest ? -1 : 1)),
    fromBase: [...fromBase.values()],
    unchanged: [],
  };
}
