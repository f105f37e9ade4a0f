// A bundle on disk: one OCI image layout holding every artifact (blobs stored once), each
// repository a namespace of ref.names (`charts/podinfo:6.5.0`, as skopeo's `oci:DIR:REF` reads
// them), and the signed bundle manifest as the artifact `dev.airlock.bundle:manifest`.
import { lstat, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import {
  canonicalJSON,
  type Digest,
  escapeControl,
  isDigest,
  MediaType,
  readAll,
  sha256,
  verifyBytes,
} from '../core/index.ts';
import {
  type Descriptor,
  LayoutRepository,
  parseManifest,
  REF_NAME,
  type Repository,
} from '../oci/index.ts';
import { type Signer, signLegacy } from '../sign/index.ts';
import { type IndexEntry, IndexView, mergeEntries, type ViewStore } from './view.ts';
import {
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_MANIFEST_MEDIA_TYPE,
  BUNDLE_NAMESPACE,
  BUNDLE_TAG,
  type BundleManifest,
  parseBundleManifest,
} from './manifest.ts';

export type { IndexEntry };

/** The bundle layout's repositories, one LayoutRepository per namespace, sharing the blobs. */
export class BundleStore implements ViewStore {
  readonly dir: string;
  readonly root: LayoutRepository;
  readonly writing = new Map<string, Promise<unknown>>();
  readonly #views = new Map<string, LayoutRepository>();
  #ensured: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
    this.root = new LayoutRepository(dir);
  }

  /** Creates the layout as LayoutRepository does on its first write (idempotent). */
  ensure(): Promise<void> {
    this.#ensured ??= (async () => {
      await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
      for (const [name, text] of [
        ['oci-layout', '{"imageLayoutVersion":"1.0.0"}'],
        [
          'index.json',
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }),
        ],
      ] as const)
        await writeFile(join(this.dir, name), text, { flag: 'wx' }).catch((error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        });
    })();
    return this.#ensured;
  }

  /**
   * A namespace whose index entries stay in memory (one per artifact being written): `commit`
   * merges them into index.json, so the layout's index is written once, not once per manifest.
   */
  staged(name: string): IndexView {
    return new IndexView(this, name, []);
  }

  /**
   * Merges staged views into index.json in the order given (as if written one after another),
   * with `annotate` applied to every entry, in one atomic write. Returns the entries written.
   */
  async commit(
    views: readonly IndexView[],
    annotate: (entry: IndexEntry) => IndexEntry = (e) => e,
  ): Promise<IndexEntry[]> {
    await this.ensure();
    const index = await this.root.readIndex();
    const manifests = mergeEntries(index.manifests, views).map(annotate);
    const tmp = join(this.dir, `.index.json.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify({ ...index, manifests }));
    await rename(tmp, join(this.dir, 'index.json'));
    return manifests;
  }

  /**
   * The layout read once, for reading only (verify, import): its entries, and a repository per
   * namespace that resolves through them without reading index.json again.
   */
  async snapshot(): Promise<{
    readonly entries: readonly IndexEntry[];
    repository: (name: string) => IndexView;
  }> {
    const entries = await this.index();
    const views = new Map<string, IndexView>();
    return {
      entries,
      repository: (name) => {
        let view = views.get(name);
        if (view === undefined)
          views.set(name, (view = new IndexView(this, name, entries, { readOnly: true })));
        return view;
      },
    };
  }

  /** A manifest's bytes, read from its blob file and checked against its digest. */
  async readManifest(digest: Digest): Promise<Buffer> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(digest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new AirlockError(
          'LAYOUT_INVALID',
          `${escapeControl(this.dir)}: manifest blob ${digest} is missing`,
        );
      throw error;
    }
    verifyBytes(bytes, { digest }, `${escapeControl(this.dir)}@${digest}`);
    return bytes;
  }

  repository(name: string): LayoutRepository {
    let view = this.#views.get(name);
    if (view === undefined) {
      view = new LayoutRepository(this.dir, { namespace: name });
      this.#views.set(name, view);
    }
    return view;
  }

  async index(): Promise<IndexEntry[]> {
    return (await this.root.readIndex()).manifests;
  }

  /** Every blob file in the layout with its size (sha256 only; others are refused). */
  async blobFiles(): Promise<Map<Digest, number>> {
    const files = new Map<Digest, number>();
    const root = join(this.dir, 'blobs');
    const algorithms = await readdir(root).catch(() => [] as string[]);
    for (const algorithm of algorithms) {
      if (algorithm !== 'sha256')
        throw new AirlockError(
          'BUNDLE_INVALID',
          `${escapeControl(this.dir)}: blobs/${escapeControl(algorithm)} is not a digest algorithm airlock writes`,
        );
      for (const name of await readdir(join(root, algorithm))) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest)) {
          if (name.startsWith('.')) continue; // an interrupted write's temporary file
          throw new AirlockError(
            'BUNDLE_INVALID',
            `${escapeControl(this.dir)}: blobs/sha256/${escapeControl(name)} is not a blob`,
          );
        }
        // lstat: a symbolic link or a device under blobs/ is never followed or read.
        const info = await lstat(join(root, algorithm, name));
        if (!info.isFile())
          throw new AirlockError(
            'BUNDLE_INVALID',
            `${escapeControl(this.dir)}: blobs/sha256/${escapeControl(name)} is not a regular file`,
          );
        files.set(digest, info.size);
      }
    }
    return files;
  }

  blobPath(digest: Digest): string {
    return join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }
}

/** Whether an index entry belongs to the bundle's own manifest (or its signatures). */
export const isBundleEntry = (entry: IndexEntry): boolean =>
  (entry.annotations?.[REF_NAME] ?? '').startsWith(`${BUNDLE_NAMESPACE}:`);

/** The bytes of the bundle manifest document, serialised once (its sha256 names the bundle). */
export function bundleManifestBytes(manifest: BundleManifest): Buffer {
  return Buffer.from(canonicalJSON(manifest));
}

/**
 * Writes the bundle manifest as an OCI artifact in the bundle and signs its digest. Returns the
 * digest of the OCI manifest (what the signature covers) and of the document itself.
 */
export async function writeBundleManifest(
  store: BundleStore,
  manifest: BundleManifest,
  signer: Signer,
): Promise<{ digest: Digest; documentDigest: Digest }> {
  const repository = store.repository(BUNDLE_NAMESPACE);
  const document = bundleManifestBytes(manifest);
  const config = Buffer.from('{}');
  const layer: Descriptor = {
    mediaType: BUNDLE_MANIFEST_MEDIA_TYPE,
    digest: sha256(document),
    size: document.byteLength,
    annotations: { 'org.opencontainers.image.title': 'airlock-bundle.json' },
  };
  const configDescriptor: Descriptor = {
    mediaType: MediaType.ociEmpty,
    digest: sha256(config),
    size: config.byteLength,
  };
  for (const [descriptor, bytes] of [
    [configDescriptor, config],
    [layer, document],
  ] as const)
    await repository.pushBlob(descriptor, () => Promise.resolve(bufferStream(bytes)));
  const oci = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: BUNDLE_ARTIFACT_TYPE,
      config: configDescriptor,
      layers: [layer],
      annotations: { 'org.opencontainers.image.created': manifest.created },
    }),
  );
  const pushed = await repository.pushManifest(oci, MediaType.ociManifest, BUNDLE_TAG);
  await signLegacy(repository, pushed.digest, signer, { knownDigest: pushed.digest });
  return { digest: pushed.digest, documentDigest: layer.digest };
}

const bufferStream = (bytes: Buffer): Readable => Readable.from([bytes]);

/** Reads the bundle manifest of a bundle directory (not verified: see verifyBundle). */
export async function readBundleManifest(
  store: BundleStore,
): Promise<{ manifest: BundleManifest; digest: Digest; documentDigest: Digest }> {
  const repository = store.repository(BUNDLE_NAMESPACE);
  const descriptor = await repository.resolve(BUNDLE_TAG).catch((error: unknown) => {
    if (error instanceof AirlockError && error.code === 'LAYOUT_INVALID')
      throw new AirlockError(
        'BUNDLE_INVALID',
        `${escapeControl(store.dir)} is not a bundle: ${error.message}`,
        {
          cause: error,
        },
      );
    throw error;
  });
  if (descriptor === undefined)
    throw new AirlockError(
      'BUNDLE_INVALID',
      `${escapeControl(store.dir)} is not an airlock bundle: it has no ${BUNDLE_NAMESPACE}:${BUNDLE_TAG}`,
      { details: ['create one with airlock bundle create, or unpack a packed bundle first'] },
    );
  const fetched = await repository.fetchManifest(descriptor.digest);
  const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType, repository.name);
  const layer = parsed.kind === 'manifest' ? parsed.value.layers[0] : undefined;
  if (layer === undefined || layer.mediaType !== BUNDLE_MANIFEST_MEDIA_TYPE)
    throw new AirlockError(
      'BUNDLE_INVALID',
      `${repository.name}:${BUNDLE_TAG} holds no bundle manifest`,
    );
  const bytes = await readAll(await repository.fetchBlob(layer));
  return {
    manifest: parseBundleManifest(bytes, `${repository.name}:${BUNDLE_TAG}`),
    digest: descriptor.digest,
    documentDigest: layer.digest,
  };
}

/**
 * A base for a delta: a bundle directory, or just its manifest document (the JSON file, as
 * `airlock bundle create` also writes it beside nothing else when asked). The base's digest is
 * the sha256 of that document.
 */
export async function readBase(
  path: string,
): Promise<{ manifest: BundleManifest; digest: Digest }> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined)
    throw new AirlockError('INPUT_INVALID', `${escapeControl(path)} does not exist`, {
      data: { option: 'since' },
    });
  if (info.isDirectory()) {
    const { manifest, documentDigest } = await readBundleManifest(new BundleStore(path));
    return { manifest, digest: documentDigest };
  }
  const bytes = await readFile(path);
  return { manifest: parseBundleManifest(bytes, path), digest: sha256(bytes) };
}

/** The children a manifest references: manifests (index entries, subject) and blobs. */
export function references(
  bytes: Buffer,
  mediaType: string,
  where: string,
): {
  manifests: Descriptor[];
  blobs: Descriptor[];
} {
  const parsed = parseManifest(bytes, mediaType, where);
  if (parsed.kind === 'index') return { manifests: [...parsed.value.manifests], blobs: [] };
  return { manifests: [], blobs: [parsed.value.config, ...parsed.value.layers] };
}

export type { Repository };
