import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  digestHex,
  digestOf,
  digestAlgorithm,
  isDigest,
  MediaType,
  verifyBytes,
  VerifyingStream,
} from '../core/index.ts';
import { type Descriptor, manifestMediaType, parseManifest } from './manifest.ts';
import type { BlobSource, FetchedManifest, Repository } from './target.ts';
import { filterReferrers, referrersTag } from './client.ts';

/** image-spec image-layout.md: annotation that names a manifest in index.json (skopeo: the tag). */
export const REF_NAME = 'org.opencontainers.image.ref.name';
const LOCK_TIMEOUT_MS = 30_000;

interface LayoutIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * An OCI image-layout directory (image-spec image-layout.md): `oci-layout`, `index.json` and
 * content-addressed `blobs/<alg>/<hex>`. Writes are atomic (temp file + rename) and index.json
 * updates are serialised by a lock file, so several processes can write one layout at once.
 * skopeo's `oci:PATH:TAG` transport reads what this writes and the other way round.
 */
export class LayoutRepository implements Repository {
  readonly kind = 'layout';
  readonly path: string;
  readonly name: string;
  readonly mountName = undefined;
  readonly storeId: string;
  /**
   * Several repositories in one layout (an air-gap bundle): this one's tags are the ref.names
   * `NAMESPACE:TAG` (skopeo reads them as `oci:PATH:NAMESPACE:TAG`); blobs are shared.
   */
  readonly namespace: string | undefined;
  #initialised: Promise<void> | undefined;

  constructor(path: string, options: { namespace?: string } = {}) {
    this.path = path;
    this.namespace = options.namespace;
    this.name =
      options.namespace === undefined
        ? `oci-layout:${path}`
        : `oci-layout:${path}:${options.namespace}`;
    this.storeId = `layout:${path}`;
  }

  /** The ref.name a tag of this repository is listed under. */
  #refName(tag: string): string {
    return this.namespace === undefined ? tag : `${this.namespace}:${tag}`;
  }

  #blobPath(digest: Digest): string {
    return join(this.path, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  /** Checks the layout marker; throws LAYOUT_INVALID when the directory is not a layout. */
  async #check(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.path, 'oci-layout'), 'utf8');
    } catch (error) {
      if (isMissing(error)) {
        throw new AirlockError(
          'LAYOUT_INVALID',
          `${this.name}: no OCI image layout here (oci-layout file missing)`,
          {
            details: ['Check the path; a layout is created by the first write to it.'],
          },
        );
      }
      throw new AirlockError('IO_FAILED', `${this.name}: cannot read oci-layout`, { cause: error });
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (error) {
      throw new AirlockError('LAYOUT_INVALID', `${this.name}: oci-layout is not valid JSON`, {
        cause: error,
      });
    }
    if (version !== '1.0.0') {
      throw new AirlockError(
        'LAYOUT_INVALID',
        `${this.name}: unsupported imageLayoutVersion ${JSON.stringify(version)}`,
        {
          details: ['airlock reads image-layout version 1.0.0.'],
        },
      );
    }
  }

  /** Creates the layout on first write; an existing directory must already be a layout or empty. */
  async #ensure(): Promise<void> {
    this.#initialised ??= (async () => {
      await mkdir(join(this.path, 'blobs', 'sha256'), { recursive: true });
      try {
        await writeFile(join(this.path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}', {
          flag: 'wx',
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      await this.#check();
      try {
        await writeFile(
          join(this.path, 'index.json'),
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }),
          { flag: 'wx' },
        );
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    })();
    return this.#initialised;
  }

  async readIndex(): Promise<LayoutIndex> {
    // A layout that does not exist yet (no directory, or an empty one) reads as empty, so it can
    // be a copy destination; anything else without the oci-layout marker is refused.
    try {
      const entries = await readdir(this.path);
      if (entries.length === 0) return { schemaVersion: 2, manifests: [] };
    } catch (error) {
      if (isMissing(error)) return { schemaVersion: 2, manifests: [] };
      throw new AirlockError('IO_FAILED', `${this.name}: cannot read the directory`, {
        cause: error,
      });
    }
    await this.#check();
    let text: string;
    try {
      text = await readFile(join(this.path, 'index.json'), 'utf8');
    } catch (error) {
      if (isMissing(error))
        throw new AirlockError('LAYOUT_INVALID', `${this.name}: index.json is missing`);
      throw new AirlockError('IO_FAILED', `${this.name}: cannot read index.json`, { cause: error });
    }
    try {
      const parsed = parseManifest(
        Buffer.from(text),
        MediaType.ociIndex,
        `${this.name}/index.json`,
      );
      if (parsed.kind !== 'index')
        throw new AirlockError('LAYOUT_INVALID', `${this.name}: index.json is not an image index`);
      const index = parsed.value;
      return { ...index, manifests: [...index.manifests] };
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'MANIFEST_INVALID') {
        throw new AirlockError(
          'LAYOUT_INVALID',
          `${this.name}: index.json is corrupt: ${error.message}`,
          { details: error.details, cause: error },
        );
      }
      throw error;
    }
  }

  /** Runs `task` holding the layout's exclusive lock (a lock file created with O_EXCL). */
  async #withLock<T>(task: () => Promise<T>): Promise<T> {
    await this.#ensure();
    const lockPath = join(this.path, 'index.json.lock');
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    for (let wait = 2; ; wait = Math.min(wait * 2, 100)) {
      try {
        const handle = await open(lockPath, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (await staleLock(lockPath)) continue;
        if (Date.now() > deadline) {
          throw new AirlockError(
            'LOCK_TIMEOUT',
            `${this.name}: index.json is locked by another writer`,
            {
              details: [`If no airlock process is writing this layout, remove ${lockPath}.`],
            },
          );
        }
        await sleep(wait);
      }
    }
    try {
      return await task();
    } finally {
      await rm(lockPath, { force: true });
    }
  }

  /** Runs `update` on index.json under the lock, writing the result atomically (temp + rename). */
  async #updateIndex(update: (index: LayoutIndex) => LayoutIndex | undefined): Promise<void> {
    await this.#withLock(async () => {
      const next = update(await this.readIndex());
      if (next) {
        const tmp = join(this.path, `.index.json.${process.pid}.${randomBytes(4).toString('hex')}`);
        await writeFile(tmp, JSON.stringify(next));
        await rename(tmp, join(this.path, 'index.json'));
      }
    });
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    const index = await this.readIndex();
    if (isDigest(reference)) {
      const listed = index.manifests.find((d) => d.digest === reference);
      if (listed) return stripRefName(listed);
      let bytes: Buffer;
      try {
        bytes = await readFile(this.#blobPath(reference));
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      return {
        mediaType: manifestMediaType(bytes, undefined),
        digest: reference,
        size: bytes.byteLength,
      };
    }
    const name = this.#refName(reference);
    const listed = index.manifests.findLast((d) => d.annotations?.[REF_NAME] === name);
    return listed ? stripRefName(listed) : undefined;
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const descriptor = await this.resolve(reference);
    if (!descriptor) {
      throw new AirlockError(
        'REGISTRY_NOT_FOUND',
        `${this.name}${isDigest(reference) ? '@' : ':'}${reference}: not found`,
      );
    }
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
    await this.#ensure();
    const tag = tagged === undefined ? undefined : this.#refName(tagged);
    const digest = digestOf(bytes);
    await this.#writeBlobBytes(digest, bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.byteLength };
    await this.#updateIndex((index) => {
      if (tag === undefined) {
        // Untagged manifests stay listed (image-layout allows entries without ref.name) so that
        // garbage collection keeps them, unless something already lists this digest.
        if (index.manifests.some((d) => d.digest === digest)) return undefined;
        index.manifests.push(descriptor);
        return index;
      }
      const manifests = index.manifests.filter(
        (d) =>
          d.annotations?.[REF_NAME] !== tag &&
          !(d.digest === digest && d.annotations?.[REF_NAME] === undefined),
      );
      manifests.push({ ...descriptor, annotations: { [REF_NAME]: tag } });
      return { ...index, manifests };
    });
    return descriptor;
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return this.hasBlob(digest);
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      await stat(this.#blobPath(digest));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async fetchBlob(descriptor: Descriptor): Promise<Readable> {
    const path = this.#blobPath(descriptor.digest);
    try {
      await stat(path);
    } catch (error) {
      if (isMissing(error))
        throw new AirlockError(
          'REGISTRY_NOT_FOUND',
          `${this.name}: blob ${descriptor.digest} not found`,
        );
      throw error;
    }
    const verifier = new VerifyingStream(
      { digest: descriptor.digest, size: descriptor.size },
      `${this.name} blob ${descriptor.digest}`,
    );
    const file = createReadStream(path);
    file.on('error', (error) => verifier.destroy(error));
    return file.pipe(verifier);
  }

  async #writeBlobBytes(digest: Digest, bytes: Buffer): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const tmp = this.#tempPath(digest);
    await writeFile(tmp, bytes);
    await rename(tmp, this.#blobPath(digest));
  }

  #tempPath(digest: Digest): string {
    return join(
      this.path,
      'blobs',
      digestAlgorithm(digest),
      `.tmp-${digestHex(digest).slice(0, 12)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
  }

  async pushBlob(descriptor: Descriptor, source: BlobSource): Promise<'mounted' | 'uploaded'> {
    await this.#ensure();
    await mkdir(join(this.path, 'blobs', digestAlgorithm(descriptor.digest)), { recursive: true });
    if (await this.hasBlob(descriptor.digest)) return 'uploaded';
    const tmp = this.#tempPath(descriptor.digest);
    try {
      const verifier = new VerifyingStream(
        { digest: descriptor.digest, size: descriptor.size },
        `blob ${descriptor.digest} for ${this.name}`,
      );
      await pipeline(await source(), verifier, createWriteStream(tmp));
      await rename(tmp, this.#blobPath(descriptor.digest));
    } catch (error) {
      await rm(tmp, { force: true });
      throw error instanceof AirlockError
        ? error
        : new AirlockError('IO_FAILED', `${this.name}: writing blob ${descriptor.digest} failed`, {
            cause: error,
          });
    }
    return 'uploaded';
  }

  async listTags(): Promise<string[]> {
    const index = await this.readIndex();
    const prefix = this.namespace === undefined ? undefined : `${this.namespace}:`;
    const tags = index.manifests
      .map((d) => d.annotations?.[REF_NAME])
      .filter((t): t is string => t !== undefined)
      .flatMap((t) =>
        prefix === undefined ? [t] : t.startsWith(prefix) ? [t.slice(prefix.length)] : [],
      );
    return [...new Set(tags)];
  }

  async deleteManifest(digest: Digest): Promise<void> {
    const prefix = this.namespace === undefined ? undefined : `${this.namespace}:`;
    // A namespace deletes only its own entries: other repositories may list the same digest.
    await this.#updateIndex((index) => ({
      ...index,
      manifests: index.manifests.filter(
        (d) =>
          d.digest !== digest ||
          (prefix !== undefined && !(d.annotations?.[REF_NAME] ?? '').startsWith(prefix)),
      ),
    }));
  }

  async referrers(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const tag = referrersTag(digest);
    if (!(await this.resolve(tag))) return [];
    return filterReferrers((await this.fetchManifest(tag)).bytes, artifactType);
  }

  /**
   * Deletes blobs no manifest listed in index.json reaches (and leftover temp files). Runs under
   * the index lock so no writer can list a blob while it is being removed.
   */
  async garbageCollect(): Promise<{ removed: Digest[]; bytes: number }> {
    return this.#withLock(async () => {
      const removed: Digest[] = [];
      let freed = 0;
      const index = await this.readIndex();
      const reachable = new Set<string>();
      const visit = async (descriptor: Descriptor): Promise<void> => {
        if (reachable.has(descriptor.digest)) return;
        reachable.add(descriptor.digest);
        if (!isManifestLike(descriptor.mediaType)) return;
        let bytes: Buffer;
        try {
          bytes = await readFile(this.#blobPath(descriptor.digest));
        } catch (error) {
          if (isMissing(error)) return;
          throw error;
        }
        const parsed = parseManifest(
          bytes,
          descriptor.mediaType,
          `${this.name}@${descriptor.digest}`,
        );
        if (parsed.kind === 'index') for (const child of parsed.value.manifests) await visit(child);
        else
          for (const blob of [parsed.value.config, ...parsed.value.layers])
            reachable.add(blob.digest);
      };
      for (const descriptor of index.manifests) await visit(descriptor);
      for (const algorithm of await readdir(join(this.path, 'blobs'))) {
        for (const file of await readdir(join(this.path, 'blobs', algorithm))) {
          const path = join(this.path, 'blobs', algorithm, file);
          if (file.startsWith('.tmp-') || !reachable.has(`${algorithm}:${file}`)) {
            freed += (await stat(path)).size;
            await rm(path, { force: true });
            if (!file.startsWith('.tmp-')) removed.push(`${algorithm}:${file}` as Digest);
          }
        }
      }
      return { removed, bytes: freed };
    });
  }
}

function isManifestLike(mediaType: string): boolean {
  return (
    mediaType === MediaType.ociManifest ||
    mediaType === MediaType.ociIndex ||
    mediaType === MediaType.dockerManifest ||
    mediaType === MediaType.dockerManifestList
  );
}

function stripRefName(descriptor: Descriptor): Descriptor {
  if (!descriptor.annotations || !(REF_NAME in descriptor.annotations)) return descriptor;
  const { [REF_NAME]: _ignored, ...rest } = descriptor.annotations;
  const { annotations: _a, ...base } = descriptor;
  return Object.keys(rest).length > 0 ? { ...base, annotations: rest } : base;
}

/** A lock whose owner process is gone is stale (a writer killed with SIGKILL). */
async function staleLock(lockPath: string): Promise<boolean> {
  try {
    const pid = Number(await readFile(lockPath, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) {
      const age = Date.now() - (await stat(lockPath)).mtimeMs;
      if (age > 5_000) {
        await rm(lockPath, { force: true });
        return true;
      }
      return false;
    }
    try {
      process.kill(pid, 0);
      return false;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EPERM') return false;
      await rm(lockPath, { force: true });
      return true;
    }
  } catch (error) {
    if (isMissing(error)) return true;
    return false;
  }
}
