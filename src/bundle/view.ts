// A repository of the bundle layout whose index.json entries are held in memory: the copy engine
// reads and writes a bundle through it without reading or rewriting index.json per manifest.
//
// A bundle's index grows to thousands of entries (each artifact's tag, signature tags, referrer
// indexes); a LayoutRepository reads and parses all of them on every resolve and rewrites them
// under a lock on every manifest write, which made create and import quadratic and serial. Blobs
// are still files written as LayoutRepository writes them (temp file, verified, renamed); only the
// index is kept in memory: per artifact while a bundle is created (merged into index.json once,
// in the artifacts' order, by BundleStore.commit), or read once for verify and import.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  verifyBytes,
} from '../core/index.ts';
import {
  type BlobSource,
  type Descriptor,
  type FetchedManifest,
  type LayoutRepository,
  manifestMediaType,
  parseManifest,
  REF_NAME,
  referrersTag,
  type Repository,
} from '../oci/index.ts';

export interface IndexEntry extends Descriptor {
  readonly annotations?: Record<string, string>;
}

/** What views of one bundle share: its directory, its blob writer, and blob writes in flight. */
export interface ViewStore {
  readonly dir: string;
  readonly root: LayoutRepository;
  /** Blob writes in flight, by digest: two artifacts sharing a layer write it once. */
  readonly writing: Map<string, Promise<unknown>>;
  /** Creates the layout (oci-layout, index.json, blobs/sha256) when it does not exist yet. */
  ensure(): Promise<void>;
}

const isMissing = (error: unknown): boolean =>
  (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';

/** A descriptor as a layout resolves it: without the ref.name annotation. */
function stripRefName(entry: IndexEntry): Descriptor {
  if (entry.annotations === undefined || !(REF_NAME in entry.annotations)) return entry;
  const { [REF_NAME]: _name, ...rest } = entry.annotations;
  const { annotations: _annotations, ...descriptor } = entry;
  return Object.keys(rest).length > 0 ? { ...descriptor, annotations: rest } : descriptor;
}

/**
 * One namespace (repository) of a bundle layout over an in-memory list of index entries, with
 * LayoutRepository's semantics: tags are the ref.names `NAMESPACE:TAG`, digests resolve through
 * any entry or the blob file, manifests are verified against their digest when read, an untagged
 * manifest is listed unless something lists its digest already, and a tag names one manifest.
 */
export class IndexView implements Repository {
  readonly kind = 'layout';
  readonly mountName = undefined;
  readonly name: string;
  readonly storeId: string;
  readonly namespace: string;
  readonly #store: ViewStore;
  readonly #entries: IndexEntry[];
  readonly #readOnly: boolean;

  constructor(
    store: ViewStore,
    namespace: string,
    entries: IndexEntry[],
    options: { readOnly?: boolean } = {},
  ) {
    this.#store = store;
    this.namespace = namespace;
    this.#entries = entries;
    this.#readOnly = options.readOnly === true;
    this.name = `oci-layout:${store.dir}:${namespace}`;
    this.storeId = `layout:${store.dir}`;
  }

  /** The entries this view wrote (or reads), in order. */
  get entries(): readonly IndexEntry[] {
    return this.#entries;
  }

  #refName(tag: string): string {
    return `${this.namespace}:${tag}`;
  }

  #blobPath(digest: Digest): string {
    return join(this.#store.dir, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  #writable(): void {
    if (this.#readOnly)
      throw new AirlockError('INTERNAL', `${this.name} is read-only: the bundle is being read`);
  }

  resolve(reference: string): Promise<Descriptor | undefined> {
    if (isDigest(reference)) {
      const listed = this.#entries.find((e) => e.digest === reference);
      if (listed !== undefined) return Promise.resolve(stripRefName(listed));
      return readFile(this.#blobPath(reference)).then(
        (bytes) => ({
          mediaType: manifestMediaType(bytes, undefined),
          digest: reference,
          size: bytes.byteLength,
        }),
        (error: unknown) => {
          if (isMissing(error)) return undefined;
          throw error;
        },
      );
    }
    const name = this.#refName(reference);
    const listed = this.#entries.findLast((e) => e.annotations?.[REF_NAME] === name);
    return Promise.resolve(listed === undefined ? undefined : stripRefName(listed));
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const descriptor = await this.resolve(reference);
    if (descriptor === undefined)
      throw new AirlockError(
        'REGISTRY_NOT_FOUND',
        `${this.name}${isDigest(reference) ? '@' : ':'}${reference}: not found`,
      );
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#blobPath(descriptor.digest));
    } catch (error) {
      if (isMissing(error))
        throw new AirlockError(
          'LAYOUT_INVALID',
          `${this.name}: manifest blob ${descriptor.digest} is missing`,
        );
      throw error;
    }
    verifyBytes(bytes, descriptor, `${this.name}@${descriptor.digest}`);
    return {
      descriptor: { ...descriptor, mediaType: manifestMediaType(bytes, descriptor.mediaType) },
      bytes,
    };
  }

  async pushManifest(bytes: Buffer, mediaType: string, tagged?: string): Promise<Descriptor> {
    this.#writable();
    const digest = digestOf(bytes);
    if (!(await this.hasBlob(digest))) {
      await this.#store.ensure();
      await this.#writeBytes(digest, bytes);
    }
    const descriptor: Descriptor = { mediaType, digest, size: bytes.byteLength };
    const entries = this.#entries;
    if (tagged === undefined) {
      if (!entries.some((e) => e.digest === digest)) entries.push(descriptor);
      return descriptor;
    }
    const tag = this.#refName(tagged);
    const kept = entries.filter(
      (e) =>
        e.annotations?.[REF_NAME] !== tag &&
        !(e.digest === digest && e.annotations?.[REF_NAME] === undefined),
    );
    kept.push({ ...descriptor, annotations: { [REF_NAME]: tag } });
    entries.splice(0, entries.length, ...kept);
    return descriptor;
  }

  async #writeBytes(digest: Digest, bytes: Buffer): Promise<void> {
    const tmp = join(
      this.#store.dir,
      'blobs',
      digestAlgorithm(digest),
      `.tmp-${digestHex(digest).slice(0, 12)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    await writeFile(tmp, bytes);
    await rename(tmp, this.#blobPath(digest));
  }

  hasManifest(digest: Digest): Promise<boolean> {
    return this.hasBlob(digest);
  }

  /** A blob another artifact is writing is present once that write succeeds. */
  async hasBlob(digest: Digest): Promise<boolean> {
    const writing = this.#store.writing.get(digest);
    if (
      writing !== undefined &&
      (await writing.then(
        () => true,
        () => false,
      ))
    )
      return true;
    return this.#store.root.hasBlob(digest);
  }

  fetchBlob(descriptor: Descriptor): Promise<Readable> {
    return this.#store.root.fetchBlob(descriptor);
  }

  async pushBlob(descriptor: Descriptor, source: BlobSource): Promise<'mounted' | 'uploaded'> {
    this.#writable();
    const { writing } = this.#store;
    const inflight = writing.get(descriptor.digest);
    if (
      inflight !== undefined &&
      (await inflight.then(
        () => true,
        () => false,
      ))
    )
      return 'uploaded';
    const write = this.#store.root.pushBlob(descriptor, source);
    writing.set(descriptor.digest, write);
    try {
      return await write;
    } finally {
      if (writing.get(descriptor.digest) === write) writing.delete(descriptor.digest);
    }
  }

  listTags(): Promise<string[]> {
    const prefix = `${this.namespace}:`;
    const tags = this.#entries
      .map((e) => e.annotations?.[REF_NAME])
      .filter((t): t is string => t?.startsWith(prefix) === true)
      .map((t) => t.slice(prefix.length));
    return Promise.resolve([...new Set(tags)]);
  }

  deleteManifest(digest: Digest): Promise<void> {
    this.#writable();
    const prefix = `${this.namespace}:`;
    const kept = this.#entries.filter(
      (e) => e.digest !== digest || !(e.annotations?.[REF_NAME] ?? '').startsWith(prefix),
    );
    this.#entries.splice(0, this.#entries.length, ...kept);
    return Promise.resolve();
  }

  async referrers(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const tag = referrersTag(digest);
    if ((await this.resolve(tag)) === undefined) return [];
    const fetched = await this.fetchManifest(tag);
    const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType, 'referrers index');
    if (parsed.kind !== 'index') return [];
    const list = parsed.value.manifests;
    return artifactType === undefined
      ? [...list]
      : list.filter((d) => d.artifactType === artifactType);
  }
}

/**
 * A view's entries with each run of untagged ones sorted by digest: the children of an index are
 * written concurrently, in whatever order their copies finish.
 */
function settled(entries: readonly IndexEntry[]): IndexEntry[] {
  const out: IndexEntry[] = [];
  let run: IndexEntry[] = [];
  const flush = (): void => {
    out.push(...run.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)));
    run = [];
  };
  for (const entry of entries) {
    if (entry.annotations?.[REF_NAME] === undefined) run.push(entry);
    else {
      flush();
      out.push(entry);
    }
  }
  flush();
  return out;
}

/**
 * Merges views' entries into an index, in the order given, as the writes would have landed one
 * artifact after another: a tag already naming the same digest stays where it is, another tag
 * replaces it, and an untagged entry is added only when nothing lists its digest. Runs of
 * untagged entries are sorted by digest, so the index does not depend on timing.
 */
export function mergeEntries(
  index: readonly IndexEntry[],
  views: readonly { readonly entries: readonly IndexEntry[] }[],
): IndexEntry[] {
  let merged = [...index];
  const named = new Map<string, IndexEntry>();
  const digests = new Set<string>();
  const untagged = new Set<string>();
  for (const e of merged) {
    const name = e.annotations?.[REF_NAME];
    if (name !== undefined) named.set(name, e);
    else untagged.add(e.digest);
    digests.add(e.digest);
  }
  for (const view of views)
    for (const entry of settled(view.entries)) {
      const name = entry.annotations?.[REF_NAME];
      if (name === undefined) {
        if (!digests.has(entry.digest)) {
          merged.push(entry);
          digests.add(entry.digest);
          untagged.add(entry.digest);
        }
        continue;
      }
      const current = named.get(name);
      if (current?.digest === entry.digest && current.mediaType === entry.mediaType) continue;
      named.set(name, entry);
      if (current === undefined && !untagged.has(entry.digest)) {
        merged.push(entry);
        digests.add(entry.digest);
        continue;
      }
      merged = merged.filter(
        (e) =>
          e.annotations?.[REF_NAME] !== name &&
          !(e.digest === entry.digest && e.annotations?.[REF_NAME] === undefined),
      );
      merged.push(entry);
      digests.clear();
      untagged.clear();
      for (const e of merged) {
        digests.add(e.digest);
        if (e.annotations?.[REF_NAME] === undefined) untagged.add(e.digest);
      }
    }
  return merged;
}
