// Chunked transfer of a bundle (issue 11 §3): the bundle directory as one tar stream (USTAR, with a
// PAX size record only for files of 8 GiB and more; mtime 0, fixed modes, fixed order, so packing
// twice gives the same chunks) cut into fixed-size files for size-limited media, and a chunk list
// (sha256 and size of each) signed as an OCI artifact in a small layout beside them. Unpacking
// verifies that signature, then hashes each chunk in the same pass that extracts it: what a chunk
// completes keeps a temporary name until the chunk's digest matches, and a corrupt chunk leaves
// nothing behind. A journal in the output directory lets a re-run after a missing chunk arrives
// (or after a kill -9) continue at the first entry not completely extracted. Memory stays flat:
// every file goes through two fixed buffers (one read while the other is written), never whole.
import { createHash, type Hash } from 'node:crypto';
import {
  type FileHandle,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import {
  canonicalJSON,
  type Digest,
  escapeControl,
  isDigest,
  MediaType,
  paxRecord,
  readAll,
  sha256,
  TAR_TRAILER,
  tarHeader,
  tarPadding,
  throwIfAborted,
} from '../core/index.ts';
import { type Descriptor, LayoutRepository, parseManifest } from '../oci/index.ts';
import {
  type Signer,
  signLegacy,
  type Verification,
  verifyArtifact,
  type VerifyPolicy,
} from '../sign/index.ts';
import { unsafeName } from '../artifact/index.ts';
import { BundleStore, readBundleManifest } from './store.ts';

/** The chunk list's media type: the JSON document and the layer that carries it. */
export const CHUNKS_MEDIA_TYPE = 'application/vnd.airlock.bundle.chunks.v1+json';
/** The tag of the signed chunk list in `OUT/chunks.oci`. */
export const CHUNKS_TAG = 'chunks';
const CHUNKS_LAYOUT = 'chunks.oci';
const CHUNKS_FILE = 'chunks.json';
const JOURNAL = '.airlock-unpack.json';
/** Names under the output directory that airlock keeps for itself (journal, partial files). */
const RESERVED = '.airlock-';
const PART_PREFIX = '.airlock-part-';
const BLOCK = 512;
/** Chunks smaller than this are refused (1 MiB is the practical floor; tests use less). */
export const MIN_CHUNK_SIZE = BLOCK;
/** The largest size a USTAR size field holds (11 octal digits); larger files get a PAX record. */
const USTAR_MAX_SIZE = 0o77777777777;
/** Reads and writes go through buffers of this size (two per pack or unpack). */
const IO_BUFFER = 1024 * 1024;
/** A PAX or GNU long-name record larger than this is refused (ours are under 100 bytes). */
const MAX_META = 1024 * 1024;
const MAX_CHUNK_LIST = 256 * 1024 * 1024;
const SIGNED_REFERENCE = 'airlock-bundle-chunks';

export interface ChunkEntry {
  /** The file name in the packed directory: `bundle.000000`, `bundle.000001`, … */
  readonly name: string;
  readonly size: number;
  readonly digest: Digest;
}

/** `chunks.json`: what a packed bundle is made of. */
export interface ChunkList {
  readonly schemaVersion: 1;
  readonly mediaType: typeof CHUNKS_MEDIA_TYPE;
  readonly chunkSize: number;
  /** The size of the tar stream: the sum of the chunk sizes. */
  readonly totalSize: number;
  readonly chunks: readonly ChunkEntry[];
  /** The packed bundle: the sha256 of its bundle manifest document, when it has one. */
  readonly bundle: { readonly documentDigest?: Digest };
}

export interface ChunkEvent {
  readonly type: 'chunk';
  readonly index: number;
  readonly total?: number;
  /** The chunk's size. */
  readonly bytes: number;
  readonly name: string;
}

/** Unpack only: a file completely extracted (and renamed to its real name). */
export interface FileEvent {
  readonly type: 'file';
  readonly name: string;
  readonly bytes: number;
}

export type UnpackEvent = ChunkEvent | FileEvent;

export interface PackBundleOptions {
  /** The bundle directory (an OCI image layout). */
  readonly dir: string;
  /** Created; it must not exist or be empty. */
  readonly outDir: string;
  /** Bytes per chunk (the last one is shorter): an integer ≥ 512, in practice ≥ 1 MiB. */
  readonly chunkSize: number;
  /** Signs the chunk list. */
  readonly signer: Signer;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: ChunkEvent) => void;
}

export interface PackResult {
  readonly outDir: string;
  readonly chunkSize: number;
  readonly totalSize: number;
  readonly chunks: readonly ChunkEntry[];
  /** Regular files in the tar stream. */
  readonly files: number;
  /** The sha256 of `chunks.json`. */
  readonly chunkListDigest: Digest;
  /** The OCI manifest in `chunks.oci` that carries the chunk list: what the signature covers. */
  readonly manifestDigest: Digest;
  readonly documentDigest?: Digest;
  /** Names in the bundle directory that are not part of an OCI layout and were left out. */
  readonly skipped: readonly string[];
  readonly durationMs: number;
}

export interface UnpackBundleOptions {
  /** The packed directory: chunks, `chunks.json` and `chunks.oci`. */
  readonly packed: string;
  /** The bundle directory to reassemble; it must not exist, be empty, or hold an unpack of the same chunk list to resume. */
  readonly outDir: string;
  /** When given, the chunk list's signature must verify against it (VERIFICATION_FAILED otherwise). */
  readonly policy?: VerifyPolicy;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: UnpackEvent) => void;
}

export interface UnpackResult {
  readonly outDir: string;
  readonly chunkListDigest: Digest;
  readonly manifestDigest: Digest;
  readonly documentDigest?: Digest;
  /** The chunk list's signature, when a policy was given. */
  readonly verified?: Verification;
  /** Files extracted by this run (a resumed run leaves out those extracted before). */
  readonly files: readonly string[];
  /** File bytes written by this run. */
  readonly bytes: number;
  /** Files and bytes over every run of this unpack. */
  readonly totalFiles: number;
  readonly totalBytes: number;
  /** Chunks read (verified and extracted) by this run. */
  readonly chunks: number;
  /** Where this run started, when it continued an interrupted one. */
  readonly resumedFrom?: { readonly chunk: string; readonly offset: number };
  readonly durationMs: number;
}

export interface ChunkListRead {
  readonly list: ChunkList;
  /** The sha256 of the chunk list document. */
  readonly digest: Digest;
  readonly manifestDigest: Digest;
  readonly verified?: Verification;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/**
 * A size as people write it: `1048576`, `100MB` (powers of 1000), `512MiB`, `4GiB` (powers of
 * 1024); K, M, G and T alone are binary. Units are case-insensitive; the result is whole bytes.
 */
export function parseSize(text: string, option = 'chunkSize'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[(match[2] ?? '').toLowerCase()] : undefined;
  const bytes = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes))
    throw new AirlockError(
      'INPUT_INVALID',
      `"${escapeControl(text)}" is not a size in bytes (write e.g. 1048576, 100MB, 512MiB or 4GiB)`,
      { data: { option } },
    );
  return bytes;
}

function checkChunkSize(chunkSize: number): number {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE)
    throw new AirlockError(
      'INPUT_INVALID',
      `the chunk size must be a whole number of bytes, at least ${MIN_CHUNK_SIZE} (got ${String(chunkSize)})`,
      { data: { option: 'chunkSize' } },
    );
  return chunkSize;
}

const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

function ioError(what: string, error: unknown): AirlockError {
  if (error instanceof AirlockError) return error;
  return new AirlockError(
    'IO_FAILED',
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    {
      cause: error,
    },
  );
}

function chunkName(index: number): string {
  return `bundle.${String(index).padStart(6, '0')}`;
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** A directory the output goes to: missing or empty. */
async function checkEmptyTarget(path: string, option: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(path);
  } catch (error) {
    if (errno(error) === 'ENOENT') return false;
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(path)} is not a directory airlock can write into`,
      { cause: error, data: { option } },
    );
  }
  if (names.length > 0)
    throw new AirlockError('INPUT_INVALID', `${escapeControl(path)} exists and is not empty`, {
      details: ['Give a new directory, or remove this one first.'],
      data: { option },
    });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pack

interface PackEntry {
  readonly name: string;
  readonly path: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  readonly header: Buffer;
}

/** One header, with a PAX size record first when the size does not fit USTAR's 11 octal digits. */
function entryHeader(name: string, type: 'file' | 'dir', size: number): Buffer {
  const mode = type === 'dir' ? 0o755 : 0o644;
  if (size <= USTAR_MAX_SIZE) return tarHeader({ name, type, mode, size });
  const record = Buffer.from(paxRecord('size', String(size)));
  const x = Buffer.alloc(BLOCK);
  x.write(`PaxHeaders.0/${basename(name)}`.slice(0, 100), 0, 'ascii');
  x.write('0000000\0', 100, 'ascii');
  x.write('0000000\0', 108, 'ascii');
  x.write('0000000\0', 116, 'ascii');
  x.write(`${record.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  x.write('00000000000\0', 136, 'ascii');
  x.write('x', 156, 'ascii');
  x.write('ustar\0' + '00', 257, 'ascii');
  x.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of x) sum += byte;
  x.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return Buffer.concat([
    x,
    record,
    tarPadding(record.length),
    tarHeader({ name, type, mode, size: 0 }),
  ]);
}

/** The layout's files in stream order: oci-layout, index.json, then the blobs sorted. */
async function listBundle(dir: string): Promise<{ entries: PackEntry[]; skipped: string[] }> {
  const where = escapeControl(dir);
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new AirlockError('INPUT_INVALID', `${where} does not exist`, {
      cause: error,
      data: { option: 'dir' },
    });
  }
  if (!info.isDirectory())
    throw new AirlockError('INPUT_INVALID', `${where} is not a directory`, {
      data: { option: 'dir' },
    });
  const notLayout = (why: string): AirlockError =>
    new AirlockError('BUNDLE_INVALID', `${where} is not a bundle (an OCI image layout): ${why}`);
  const file = async (name: string): Promise<PackEntry> => {
    const path = join(dir, name);
    const found = await lstat(path).catch(() => undefined);
    if (!found?.isFile()) throw notLayout(`${escapeControl(name)} is not a regular file`);
    return {
      name,
      path,
      type: 'file',
      size: found.size,
      header: entryHeader(name, 'file', found.size),
    };
  };
  const directory = (name: string): PackEntry => ({
    name,
    path: join(dir, name),
    type: 'dir',
    size: 0,
    header: entryHeader(name, 'dir', 0),
  });
  const entries = [await file('oci-layout'), await file('index.json'), directory('blobs/')];
  const skipped = (await readdir(dir))
    .filter((n) => !['oci-layout', 'index.json', 'blobs'].includes(n))
    .sort();
  let algorithms: string[];
  try {
    if (!(await lstat(join(dir, 'blobs'))).isDirectory())
      throw notLayout('blobs is not a directory');
    algorithms = (await readdir(join(dir, 'blobs'))).sort();
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw notLayout('it has no blobs directory');
  }
  for (const algorithm of algorithms) {
    if (algorithm.startsWith('.')) {
      skipped.push(`blobs/${algorithm}`);
      continue;
    }
    if (
      !/^[a-z0-9]+$/.test(algorithm) ||
      !(await lstat(join(dir, 'blobs', algorithm))).isDirectory()
    )
      throw notLayout(`blobs/${escapeControl(algorithm)} is not a digest algorithm directory`);
    entries.push(directory(`blobs/${algorithm}/`));
    for (const name of (await readdir(join(dir, 'blobs', algorithm))).sort()) {
      // An interrupted layout write leaves a dot-file (LayoutRepository's .tmp-…): not content.
      if (name.startsWith('.')) {
        skipped.push(`blobs/${algorithm}/${name}`);
        continue;
      }
      if (!/^[a-f0-9]+$/.test(name))
        throw notLayout(`blobs/${algorithm}/${escapeControl(name)} is not a blob`);
      entries.push(await file(`blobs/${algorithm}/${name}`));
    }
  }
  return { entries, skipped };
}

/**
 * Writes the stream into fixed-size chunk files, hashing each as it is written. File contents are
 * read straight into one of two buffers (no copy); while one buffer is being written, the next is
 * filled, so reading and writing overlap. One write is in flight at a time, in stream order.
 */
class ChunkWriter {
  readonly chunks: ChunkEntry[] = [];
  readonly #dir: string;
  readonly #chunkSize: number;
  readonly #onChunk: (chunk: ChunkEntry, index: number) => void;
  readonly #buffers = [Buffer.allocUnsafe(IO_BUFFER), Buffer.allocUnsafe(IO_BUFFER)];
  #current = 0;
  #fill = 0;
  #handle: FileHandle | undefined;
  #hash: Hash | undefined;
  /** The write of the other buffer, when one is in flight. */
  #writing: Promise<void> | undefined;
  #inChunk = 0;
  size = 0;

  constructor(dir: string, chunkSize: number, onChunk: (chunk: ChunkEntry, index: number) => void) {
    this.#dir = dir;
    this.#chunkSize = chunkSize;
    this.#onChunk = onChunk;
  }

  /** Room in the current buffer and chunk, opening the next chunk file when none is open. */
  async #room(): Promise<number> {
    if (this.#handle === undefined) {
      this.#handle = await open(join(this.#dir, chunkName(this.chunks.length)), 'wx');
      this.#hash = createHash('sha256');
    }
    return Math.min(this.#chunkSize - this.#inChunk, IO_BUFFER - this.#fill);
  }

  async #advance(n: number): Promise<void> {
    this.#fill += n;
    this.#inChunk += n;
    this.size += n;
    if (this.#fill === IO_BUFFER) await this.#flush();
    if (this.#inChunk === this.#chunkSize) await this.#close();
  }

  /** Small pieces (headers, padding): copied into the buffer. */
  async write(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(await this.#room(), data.length - at);
      data.copy(this.#buffers[this.#current] as Buffer, this.#fill, at, at + n);
      at += n;
      await this.#advance(n);
    }
  }

  /** `length` bytes of a file from `position`, read straight into the buffer. */
  async writeFrom(
    file: FileHandle,
    length: number,
    changed: () => Error,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let position = 0;
    while (position < length) {
      throwIfAborted(signal);
      const room = Math.min(await this.#room(), length - position);
      const { bytesRead } = await file.read(
        this.#buffers[this.#current] as Buffer,
        this.#fill,
        room,
        position,
      );
      if (bytesRead === 0) throw changed();
      position += bytesRead;
      await this.#advance(bytesRead);
    }
  }

  /** Hashes the filled buffer and starts writing it; the other buffer is filled meanwhile. */
  async #flush(): Promise<void> {
    if (this.#fill === 0 || this.#handle === undefined) return;
    const part = (this.#buffers[this.#current] as Buffer).subarray(0, this.#fill);
    this.#hash?.update(part);
    // The other buffer is reused next: its write must be done.
    await this.#writing;
    const writing = writeAll(this.#handle, part);
    // Awaited before the buffer is reused or the chunk closed; marked handled meanwhile.
    writing.catch(() => undefined);
    this.#writing = writing;
    this.#current ^= 1;
    this.#fill = 0;
  }

  async #close(): Promise<void> {
    if (this.#handle === undefined) return;
    await this.#flush();
    const writing = this.#writing;
    this.#writing = undefined;
    await writing;
    await this.#handle.close();
    this.#handle = undefined;
    const chunk: ChunkEntry = {
      name: chunkName(this.chunks.length),
      size: this.#inChunk,
      digest: `sha256:${this.#hash?.digest('hex') ?? ''}`,
    };
    this.chunks.push(chunk);
    this.#inChunk = 0;
    this.#onChunk(chunk, this.chunks.length - 1);
  }

  async finish(): Promise<ChunkEntry[]> {
    await this.#close();
    return this.chunks;
  }

  async destroy(): Promise<void> {
    await this.#writing?.catch(() => undefined);
    this.#writing = undefined;
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let at = 0;
  while (at < data.length) {
    const { bytesWritten } = await handle.write(data, at, data.length - at);
    at += bytesWritten;
  }
}

/** Streams one file into the writer; it must still have the size it was listed with. */
async function copyInto(
  entry: PackEntry,
  writer: ChunkWriter,
  signal: AbortSignal | undefined,
): Promise<void> {
  const handle = await open(entry.path, 'r');
  try {
    const changed = (): AirlockError =>
      new AirlockError(
        'IO_FAILED',
        `${escapeControl(entry.path)} changed while it was being packed`,
        { details: ['Pack a bundle nothing is writing to.'] },
      );
    if ((await handle.stat()).size !== entry.size) throw changed();
    await writer.writeFrom(handle, entry.size, changed, signal);
  } finally {
    await handle.close();
  }
}

/** The chunk list as an OCI artifact in its own layout, signed. */
async function writeChunkLayout(
  path: string,
  document: Buffer,
  signer: Signer,
  signal: AbortSignal | undefined,
): Promise<Digest> {
  const repository = new LayoutRepository(path);
  const config = Buffer.from('{}');
  const configDescriptor: Descriptor = {
    mediaType: MediaType.ociEmpty,
    digest: sha256(config),
    size: config.length,
  };
  const layer: Descriptor = {
    mediaType: CHUNKS_MEDIA_TYPE,
    digest: sha256(document),
    size: document.length,
    annotations: { 'org.opencontainers.image.title': CHUNKS_FILE },
  };
  for (const [descriptor, bytes] of [
    [configDescriptor, config],
    [layer, document],
  ] as const)
    await repository.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: CHUNKS_MEDIA_TYPE,
      config: configDescriptor,
      layers: [layer],
    }),
  );
  const pushed = await repository.pushManifest(manifest, MediaType.ociManifest, CHUNKS_TAG);
  throwIfAborted(signal);
  await signLegacy(repository, pushed.digest, signer, {
    knownDigest: pushed.digest,
    knownUnsigned: true,
    dockerReference: SIGNED_REFERENCE,
    ...(signal === undefined ? {} : { signal }),
  });
  return pushed.digest;
}

/** The bundle manifest document's digest, when the directory is an airlock bundle. */
async function bundleDocumentDigest(dir: string): Promise<Digest | undefined> {
  try {
    return (await readBundleManifest(new BundleStore(dir))).documentDigest;
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'BUNDLE_INVALID') return undefined;
    throw error;
  }
}

/**
 * Packs a bundle directory into `outDir`: `bundle.000000`, `bundle.000001`, … (each `chunkSize`
 * bytes, the last shorter), `chunks.json`, and `chunks.oci` holding the signed chunk list. Written
 * in a staging directory beside `outDir` and renamed at the end: `outDir` is never half-written.
 */
export async function packBundle(options: PackBundleOptions): Promise<PackResult> {
  const started = Date.now();
  const chunkSize = checkChunkSize(options.chunkSize);
  const outDir = resolve(options.outDir);
  const { entries, skipped } = await listBundle(options.dir);
  await checkEmptyTarget(outDir, 'outDir');
  const documentDigest = await bundleDocumentDigest(options.dir);
  const totalSize =
    entries.reduce((sum, e) => sum + e.header.length + e.size + padding(e.size), 0) +
    TAR_TRAILER.length;
  const total = Math.ceil(totalSize / chunkSize);
  throwIfAborted(options.signal);
  await mkdir(dirname(outDir), { recursive: true });
  const staging = await mkdtemp(join(dirname(outDir), `.${basename(outDir)}.airlock-pack-`));
  const writer = new ChunkWriter(staging, chunkSize, (chunk, index) =>
    options.onEvent?.({ type: 'chunk', index, total, bytes: chunk.size, name: chunk.name }),
  );
  try {
    for (const entry of entries) {
      throwIfAborted(options.signal);
      await writer.write(entry.header);
      if (entry.type === 'file' && entry.size > 0) {
        await copyInto(entry, writer, options.signal);
        await writer.write(tarPadding(entry.size));
      }
    }
    await writer.write(TAR_TRAILER);
    const chunks = await writer.finish();
    if (writer.size !== totalSize)
      throw new AirlockError(
        'INTERNAL',
        `packed ${writer.size} bytes where ${totalSize} were expected`,
      );
    const list: ChunkList = {
      schemaVersion: 1,
      mediaType: CHUNKS_MEDIA_TYPE,
      chunkSize,
      totalSize,
      chunks,
      bundle: documentDigest === undefined ? {} : { documentDigest },
    };
    // The plain file for people and the signed layer are the same bytes (one digest for both).
    const document = Buffer.from(`${JSON.stringify(list, null, 2)}\n`);
    await writeFile(join(staging, CHUNKS_FILE), document);
    const manifestDigest = await writeChunkLayout(
      join(staging, CHUNKS_LAYOUT),
      document,
      options.signer,
      options.signal,
    );
    throwIfAborted(options.signal);
    if (await checkEmptyTarget(outDir, 'outDir')) await rmdir(outDir);
    await rename(staging, outDir);
    return {
      outDir,
      chunkSize,
      totalSize,
      chunks,
      files: entries.filter((e) => e.type === 'file').length,
      chunkListDigest: sha256(document),
      manifestDigest,
      ...(documentDigest === undefined ? {} : { documentDigest }),
      skipped,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    await writer.destroy();
    await rm(staging, { recursive: true, force: true });
    throw ioError(`packing ${escapeControl(options.dir)} into ${escapeControl(outDir)}`, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Chunk list

function parseChunkList(bytes: Buffer, where: string): ChunkList {
  const problems: string[] = [];
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    problems.push('it is not JSON');
  }
  const doc = (value ?? {}) as Record<string, unknown>;
  const isSize = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (problems.length === 0) {
    if (doc.schemaVersion !== 1) problems.push('schemaVersion is not 1');
    if (doc.mediaType !== CHUNKS_MEDIA_TYPE) problems.push(`mediaType is not ${CHUNKS_MEDIA_TYPE}`);
    if (!isSize(doc.chunkSize) || doc.chunkSize < MIN_CHUNK_SIZE)
      problems.push('chunkSize is not a size');
    if (!isSize(doc.totalSize)) problems.push('totalSize is not a size');
    if (!Array.isArray(doc.chunks) || doc.chunks.length === 0)
      problems.push('chunks is not a list of chunks');
    const bundle: unknown = doc.bundle;
    if (bundle === null || typeof bundle !== 'object') problems.push('bundle is not an object');
    else if (
      'documentDigest' in bundle &&
      !(typeof bundle.documentDigest === 'string' && isDigest(bundle.documentDigest))
    )
      problems.push('bundle.documentDigest is not a digest');
  }
  if (problems.length === 0) {
    const chunks = doc.chunks as unknown[];
    const chunkSize = doc.chunkSize as number;
    let sum = 0;
    let sized = true;
    for (const [i, c] of chunks.entries()) {
      const chunk = (c ?? {}) as Record<string, unknown>;
      const last = i === chunks.length - 1;
      if (chunk.name !== chunkName(i)) problems.push(`chunk ${i + 1} is not named ${chunkName(i)}`);
      if (typeof chunk.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(chunk.digest))
        problems.push(`chunk ${i + 1}: the digest is not a sha256 digest`);
      const size = chunk.size;
      if (isSize(size) && (last ? size > 0 && size <= chunkSize : size === chunkSize)) sum += size;
      else {
        sized = false;
        problems.push(
          `chunk ${i + 1}: the size is not ${last ? 'between 1 and ' : ''}${chunkSize}`,
        );
      }
    }
    if (sized && sum !== doc.totalSize)
      problems.push(
        `the chunks add up to ${sum} bytes, not the ${String(doc.totalSize)} of totalSize`,
      );
  }
  if (problems.length > 0)
    throw new AirlockError('BUNDLE_INVALID', `${where}: the chunk list is malformed`, {
      details: problems.slice(0, 20),
    });
  return value as ChunkList;
}

/**
 * Reads the chunk list of a packed bundle from its signed copy (`chunks.oci`, never the plain
 * `chunks.json`), verifying its signature against `policy` when one is given.
 */
export async function readChunkList(
  packed: string,
  options: { readonly policy?: VerifyPolicy; readonly signal?: AbortSignal } = {},
): Promise<ChunkListRead> {
  const where = escapeControl(packed);
  const info = await stat(packed).catch(() => undefined);
  if (!info?.isDirectory())
    throw new AirlockError('INPUT_INVALID', `${where} is not a directory`, {
      data: { option: 'packed' },
    });
  const layoutPath = join(packed, CHUNKS_LAYOUT);
  const notPacked = (why: string, cause?: unknown): AirlockError =>
    new AirlockError('BUNDLE_INVALID', `${where} is not a packed bundle: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      details: ['A packed bundle is written by airlock bundle pack.'],
    });
  if (!(await stat(layoutPath).catch(() => undefined))?.isDirectory())
    throw notPacked(`it has no ${CHUNKS_LAYOUT}`);
  const repository = new LayoutRepository(layoutPath);
  const structural = (error: unknown): AirlockError =>
    error instanceof AirlockError &&
    [
      'LAYOUT_INVALID',
      'MANIFEST_INVALID',
      'REGISTRY_NOT_FOUND',
      'DIGEST_MISMATCH',
      'SIZE_MISMATCH',
    ].includes(error.code)
      ? notPacked(`its signed chunk list cannot be read: ${error.message}`, error)
      : ioError(`${where}: reading the chunk list`, error);
  let descriptor;
  try {
    descriptor = await repository.resolve(CHUNKS_TAG);
  } catch (error) {
    throw structural(error);
  }
  if (descriptor === undefined) throw notPacked(`${CHUNKS_LAYOUT} has no ${CHUNKS_TAG} tag`);
  const manifestDigest = descriptor.digest;
  let verified: Verification | undefined;
  if (options.policy !== undefined) {
    try {
      verified = await verifyArtifact(repository, manifestDigest, options.policy, {
        knownDigest: manifestDigest,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'ABORTED') throw error;
      const inner = error instanceof AirlockError ? error : undefined;
      throw new AirlockError(
        'VERIFICATION_FAILED',
        `${where}: the chunk list's signature does not verify: ${inner?.message ?? String(error)}`,
        { cause: error, details: inner?.details ?? [], data: inner?.data ?? {} },
      );
    }
  }
  try {
    const fetched = await repository.fetchManifest(manifestDigest);
    const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType, repository.name);
    const layers = parsed.kind === 'manifest' ? parsed.value.layers : [];
    const layer = layers.length === 1 ? layers[0] : undefined;
    if (layer?.mediaType !== CHUNKS_MEDIA_TYPE)
      throw notPacked(`${CHUNKS_LAYOUT}:${CHUNKS_TAG} holds no chunk list`);
    const bytes = await readAll(await repository.fetchBlob(layer), MAX_CHUNK_LIST, {
      what: 'the chunk list',
    });
    return {
      list: parseChunkList(bytes, `${where}/${CHUNKS_LAYOUT}:${CHUNKS_TAG}`),
      digest: layer.digest,
      manifestDigest,
      ...(verified === undefined ? {} : { verified }),
    };
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'BUNDLE_INVALID') throw error;
    throw structural(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Unpack

interface Journal {
  readonly schemaVersion: 1;
  /** The sha256 of the chunk list this unpack follows. */
  readonly chunkList: Digest;
  /** The tar offset of the first entry not completely extracted… */
  readonly offset: number;
  /** …and the index of the chunk it starts in. */
  readonly chunk: number;
  readonly files: number;
  readonly bytes: number;
}

async function writeJournal(outDir: string, journal: Journal): Promise<void> {
  const tmp = join(outDir, `${JOURNAL}.tmp`);
  await writeFile(tmp, JSON.stringify(journal));
  await rename(tmp, join(outDir, JOURNAL));
}

/** The journal of an interrupted unpack of the same chunk list, if there is one. */
async function readJournal(
  outDir: string,
  digest: Digest,
  list: ChunkList,
): Promise<Journal | undefined> {
  let text: string;
  try {
    text = await readFile(join(outDir, JOURNAL), 'utf8');
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return undefined;
    throw ioError(`${escapeControl(outDir)}: reading ${JOURNAL}`, error);
  }
  const where = escapeControl(join(outDir, JOURNAL));
  let journal: Journal | undefined;
  try {
    journal = JSON.parse(text) as Journal;
  } catch {
    journal = undefined;
  }
  if (
    journal?.schemaVersion !== 1 ||
    !Number.isSafeInteger(journal.offset) ||
    journal.offset < 0 ||
    journal.offset % BLOCK !== 0 ||
    journal.offset >= list.totalSize ||
    journal.chunk !== Math.floor(journal.offset / list.chunkSize) ||
    !Number.isSafeInteger(journal.files) ||
    !Number.isSafeInteger(journal.bytes)
  )
    throw new AirlockError(
      'INPUT_INVALID',
      `${where} is not an unpack journal airlock can resume`,
      {
        details: ['Remove the output directory and unpack again.'],
        data: { option: 'outDir' },
      },
    );
  if (journal.chunkList !== digest)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(outDir)} holds an interrupted unpack of another packed bundle (chunk list ${journal.chunkList}, not ${digest})`,
      {
        details: ['Give another output directory, or remove this one.'],
        data: { option: 'outDir' },
      },
    );
  return journal;
}

interface OpenFile {
  readonly name: string;
  readonly path: string;
  readonly tmp: string;
  readonly handle: FileHandle;
  readonly size: number;
  remaining: number;
}

function readString(block: Buffer, offset: number, size: number): string {
  const slice = block.subarray(offset, offset + size);
  const end = slice.indexOf(0);
  return slice.subarray(0, end < 0 ? size : end).toString('utf8');
}

function readNumber(block: Buffer, offset: number, size: number): number | undefined {
  const field = block.subarray(offset, offset + size);
  if ((field[0] ?? 0) & 0x80) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = readString(block, offset, size).trim();
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

function parsePAX(data: Buffer): Record<string, string> | undefined {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= space - at + 1 || at + length > data.length)
      return undefined;
    if (data[at + length - 1] !== 0x0a) return undefined;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) return undefined;
    records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

const TYPE_NAMES: Record<string, string> = {
  '1': 'hard link',
  '2': 'symbolic link',
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
  g: 'PAX global header',
  K: 'GNU long link name',
};

/**
 * A streaming tar extractor: bytes in, regular files and directories out. Each file is written
 * under a temporary name (`.airlock-part-NAME`) and renamed when complete, then the journal moves
 * to the next entry; so an interruption never leaves a partial file under its real name.
 */
class Extractor {
  offset: number;
  chunk = '';
  readonly files: string[] = [];
  bytes = 0;
  totalFiles: number;
  totalBytes: number;
  readonly #root: string;
  readonly #journal: Omit<Journal, 'offset' | 'chunk' | 'files' | 'bytes'>;
  readonly #chunkSize: number;
  readonly #onEvent: ((event: UnpackEvent) => void) | undefined;
  readonly #dirs = new Set<string>();
  #state: 'header' | 'meta' | 'data' | 'skip' | 'end' = 'header';
  readonly #header = Buffer.alloc(BLOCK);
  #headerFill = 0;
  #entryStart: number;
  #meta: { kind: 'pax' | 'longname'; parts: Buffer[]; remaining: number; size: number } | undefined;
  #pax: Record<string, string> = {};
  #longName: string | undefined;
  #inEntry = false;
  #file: OpenFile | undefined;
  #skip = 0;
  #endStart = -1;
  /** Files complete but not yet verified (their chunk is still being read), in stream order. */
  #completed: { file: OpenFile; next: number }[] = [];
  /** Directories created since the last commit. */
  #created: string[] = [];

  constructor(
    root: string,
    journal: Journal,
    chunkSize: number,
    onEvent: ((event: UnpackEvent) => void) | undefined,
  ) {
    this.#root = root;
    this.#journal = { schemaVersion: 1, chunkList: journal.chunkList };
    this.#chunkSize = chunkSize;
    this.#onEvent = onEvent;
    this.offset = journal.offset;
    this.#entryStart = journal.offset;
    this.totalFiles = journal.files;
    this.totalBytes = journal.bytes;
  }

  #where(name?: string): string {
    const entry = name === undefined ? '' : `"${escapeControl(name)}" `;
    return `tar entry ${entry}at offset ${this.#entryStart} (in chunk ${this.chunk})`;
  }

  #invalid(message: string): AirlockError {
    return new AirlockError('BUNDLE_INVALID', message, {
      data: { chunk: this.chunk, offset: this.#entryStart },
    });
  }

  async feed(data: Buffer): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const available = data.length - at;
      let n: number;
      switch (this.#state) {
        case 'header': {
          // A new entry starts here unless a PAX or long-name record came first for it.
          if (this.#headerFill === 0 && !this.#inEntry) this.#entryStart = this.offset;
          n = Math.min(BLOCK - this.#headerFill, available);
          data.copy(this.#header, this.#headerFill, at, at + n);
          this.#headerFill += n;
          this.offset += n;
          at += n;
          if (this.#headerFill === BLOCK) {
            this.#headerFill = 0;
            await this.#onHeader();
          }
          continue;
        }
        case 'meta': {
          const meta = this.#meta;
          if (meta === undefined) throw new AirlockError('INTERNAL', 'tar metadata state lost');
          n = Math.min(meta.remaining, available);
          meta.parts.push(Buffer.from(data.subarray(at, at + n)));
          meta.remaining -= n;
          this.offset += n;
          at += n;
          if (meta.remaining === 0) this.#onMeta(meta);
          continue;
        }
        case 'data': {
          const file = this.#file;
          if (file === undefined) throw new AirlockError('INTERNAL', 'tar file state lost');
          n = Math.min(file.remaining, available);
          await writeAll(file.handle, data.subarray(at, at + n));
          file.remaining -= n;
          this.offset += n;
          at += n;
          if (file.remaining === 0) await this.#completeFile(file);
          continue;
        }
        case 'skip': {
          n = Math.min(this.#skip, available);
          this.#skip -= n;
          this.offset += n;
          at += n;
          if (this.#skip === 0) this.#state = 'header';
          continue;
        }
        case 'end': {
          if (data.subarray(at).some((b) => b !== 0))
            throw this.#invalid(`the tar stream has data after its end (in chunk ${this.chunk})`);
          this.offset += available;
          at += available;
          continue;
        }
      }
    }
  }

  async #onHeader(): Promise<void> {
    const block = this.#header;
    if (block.every((b) => b === 0)) {
      if (this.#inEntry)
        throw this.#invalid(`${this.#where()}: a PAX header with no entry after it`);
      this.#state = 'end';
      this.#endStart = this.offset - BLOCK;
      return;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    if (readNumber(block, 148, 8) !== sum)
      throw this.#invalid(`${this.#where()}: the tar header is corrupt (checksum mismatch)`);
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const fieldSize = readNumber(block, 124, 12);
    if (fieldSize === undefined)
      throw this.#invalid(`${this.#where()}: the tar header's size is corrupt`);
    if (typeflag === 'x' || typeflag === 'L') {
      if (fieldSize > MAX_META)
        throw this.#invalid(
          `${this.#where()}: a ${fieldSize}-byte tar metadata record is too large`,
        );
      this.#inEntry = true;
      this.#meta = {
        kind: typeflag === 'x' ? 'pax' : 'longname',
        parts: [],
        remaining: fieldSize,
        size: fieldSize,
      };
      this.#state = fieldSize === 0 ? 'header' : 'meta';
      if (fieldSize === 0) this.#onMeta(this.#meta);
      return;
    }
    const prefix = readString(block, 345, 155);
    const short = readString(block, 0, 100);
    const name = this.#pax.path ?? this.#longName ?? (prefix === '' ? short : `${prefix}/${short}`);
    let size = fieldSize;
    if (this.#pax.size !== undefined) {
      if (!/^\d+$/.test(this.#pax.size) || !Number.isSafeInteger(Number(this.#pax.size)))
        throw this.#invalid(`${this.#where(name)}: its PAX size is not a number`);
      size = Number(this.#pax.size);
    }
    this.#pax = {};
    this.#longName = undefined;
    this.#inEntry = false;
    if (typeflag === '5') {
      await this.#ensureDir(this.#target(name, true), name);
      this.#skipThen(size + padding(size));
      return;
    }
    if (typeflag !== '0' && typeflag !== '\0' && typeflag !== '7')
      throw this.#invalid(
        `${this.#where(name)}: a ${TYPE_NAMES[typeflag] ?? `type ${JSON.stringify(typeflag)}`} entry; a bundle holds only regular files and directories`,
      );
    const path = this.#target(name, false);
    await this.#ensureDir(dirname(path), name);
    const tmp = join(dirname(path), `${PART_PREFIX}${basename(path)}`);
    let handle: FileHandle;
    try {
      handle = await open(tmp, 'w', 0o644);
    } catch (error) {
      throw ioError(`${escapeControl(tmp)}: cannot create it`, error);
    }
    const file: OpenFile = { name, path, tmp, handle, size, remaining: size };
    this.#file = file;
    this.#state = 'data';
    if (size === 0) await this.#completeFile(file);
  }

  #skipThen(bytes: number): void {
    this.#skip = bytes;
    this.#state = bytes === 0 ? 'header' : 'skip';
  }

  #onMeta(meta: { kind: 'pax' | 'longname'; parts: Buffer[]; size: number }): void {
    const data = Buffer.concat(meta.parts);
    this.#meta = undefined;
    if (meta.kind === 'pax') {
      const records = parsePAX(data);
      if (records === undefined) throw this.#invalid(`${this.#where()}: a malformed PAX header`);
      this.#pax = records;
    } else this.#longName = data.toString('utf8').replace(/\0+$/, '');
    this.#skipThen(padding(meta.size));
  }

  /** The path an entry extracts to: refused when unsafe or outside the output directory. */
  #target(name: string, dir: boolean): string {
    const clean = dir ? name.replace(/\/+$/, '') : name;
    const why =
      unsafeName(clean) ??
      (clean.split('/').some((c) => c.startsWith(RESERVED))
        ? `a name that starts with ${RESERVED} (kept for airlock's own files)`
        : undefined);
    if (why !== undefined)
      throw this.#invalid(`${this.#where(name)}: refused, the name has ${why}`);
    const path = join(this.#root, clean);
    const rel = relative(this.#root, path);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw this.#invalid(`${this.#where(name)}: refused, it would leave the output directory`);
    return path;
  }

  /** Creates a directory and checks that it really is inside the output (no symlink out). */
  async #ensureDir(dir: string, name: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    let first: string | undefined;
    try {
      first = await mkdir(dir, { recursive: true });
    } catch (error) {
      throw ioError(`${escapeControl(dir)}: cannot create it`, error);
    }
    // Created from a chunk not verified yet: removed again (when empty) if the chunk is corrupt.
    if (first !== undefined)
      for (let d = dir; ; d = dirname(d)) {
        this.#created.push(d);
        if (d === first || dirname(d) === d) break;
      }
    const real = await realpath(dir);
    if (real !== this.#root && !real.startsWith(this.#root + sep))
      throw this.#invalid(
        `${this.#where(name)}: refused, its directory leads out of the output directory`,
      );
    this.#dirs.add(dir);
  }

  /**
   * A file whose bytes are all written: closed, and kept under its temporary name until the
   * chunks it came from are verified (`commit`).
   */
  async #completeFile(file: OpenFile): Promise<void> {
    await file.handle.close();
    this.#file = undefined;
    // The next entry starts after the padding.
    const next = this.offset + padding(file.size);
    this.#entryStart = next;
    this.#completed.push({ file, next });
    this.#skipThen(padding(file.size));
  }

  /**
   * The chunk read so far verified: the files completed in it go to their real names, each
   * followed by the journal moving past it, as if extracted one after another.
   */
  async commit(): Promise<void> {
    const completed = this.#completed;
    this.#completed = [];
    this.#created = [];
    for (const [i, { file, next }] of completed.entries()) {
      try {
        await rename(file.tmp, file.path);
      } catch (error) {
        this.#completed = completed.slice(i);
        throw ioError(`${escapeControl(file.path)}: cannot move it in place`, error);
      }
      this.files.push(file.name);
      this.bytes += file.size;
      this.totalFiles++;
      this.totalBytes += file.size;
      await writeJournal(this.#root, {
        ...this.#journal,
        offset: next,
        chunk: Math.floor(next / this.#chunkSize),
        files: this.totalFiles,
        bytes: this.totalBytes,
      });
      this.#onEvent?.({ type: 'file', name: file.name, bytes: file.size });
    }
  }

  /** After the last chunk: the stream must have ended with its two zero blocks. */
  finish(totalSize: number): void {
    if (
      this.#state !== 'end' ||
      this.offset !== totalSize ||
      totalSize - this.#endStart < 2 * BLOCK
    )
      throw this.#invalid(`the tar stream is truncated: it ends inside ${this.#where()}`);
  }

  /**
   * After a failure: the partial file, the files of chunks not verified, and the (empty)
   * directories they created are removed; the journal stays for a re-run.
   */
  async abandon(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (file !== undefined) {
      await file.handle.close().catch(() => undefined);
      await rm(file.tmp, { force: true });
    }
    for (const { file: done } of this.#completed) await rm(done.tmp, { force: true });
    this.#completed = [];
    // Deepest first, so a directory is empty when its turn comes.
    for (const dir of [...this.#created].sort((a, b) => b.length - a.length)) {
      this.#dirs.delete(dir);
      await rmdir(dir).catch(() => undefined);
    }
    this.#created = [];
  }
}

/** The chunks from `from` on that are not there, for the message. */
async function missingChunks(
  packed: string,
  chunks: readonly ChunkEntry[],
  from: number,
): Promise<string[]> {
  const missing: string[] = [];
  for (const chunk of chunks.slice(from)) {
    if ((await stat(join(packed, chunk.name)).catch(() => undefined)) === undefined)
      missing.push(chunk.name);
  }
  return missing;
}

/**
 * Reassembles a packed bundle into `outDir`. The chunk list comes from its signed copy (verified
 * when `policy` is given); each chunk's size is checked before it is read, and its sha256 as it is
 * extracted, nothing it completes taking its real name before the digest matches (a corrupt
 * chunk leaves nothing behind). A missing chunk is CHUNK_MISSING, a corrupt one BUNDLE_INVALID,
 * both naming the chunk; the journal `outDir/.airlock-unpack.json` lets a re-run continue at the
 * first entry not completely extracted, and is removed when everything is.
 */
export async function unpackBundle(options: UnpackBundleOptions): Promise<UnpackResult> {
  const started = Date.now();
  const outDir = resolve(options.outDir);
  const read = await readChunkList(options.packed, {
    ...(options.policy === undefined ? {} : { policy: options.policy }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const { list } = read;
  throwIfAborted(options.signal);
  let journal = await readJournal(outDir, read.digest, list);
  const resumed = journal !== undefined;
  if (journal === undefined) {
    await checkEmptyTarget(outDir, 'outDir');
    try {
      await mkdir(outDir, { recursive: true });
    } catch (error) {
      throw ioError(`${escapeControl(outDir)}: cannot create it`, error);
    }
    journal = { schemaVersion: 1, chunkList: read.digest, offset: 0, chunk: 0, files: 0, bytes: 0 };
    await writeJournal(outDir, journal);
  }
  const root = await realpath(outDir);
  const extractor = new Extractor(root, journal, list.chunkSize, options.onEvent);
  const buffers = [Buffer.allocUnsafe(IO_BUFFER), Buffer.allocUnsafe(IO_BUFFER)];
  const total = list.chunks.length;
  let chunksRead = 0;
  try {
    for (let index = journal.chunk; index < total; index++) {
      throwIfAborted(options.signal);
      const chunk = list.chunks[index];
      if (chunk === undefined) break;
      const path = join(options.packed, chunk.name);
      extractor.chunk = chunk.name;
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (error) {
        if (errno(error) !== 'ENOENT')
          throw ioError(`${escapeControl(path)}: cannot read it`, error);
        const missing = await missingChunks(options.packed, list.chunks, index);
        throw new AirlockError(
          'CHUNK_MISSING',
          `${escapeControl(path)} is missing: chunk ${index + 1} of ${total} has not arrived`,
          {
            details: [
              `Missing: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? `, and ${missing.length - 20} more` : ''}.`,
              'Copy it next to the others and run unpack again: it continues from this chunk.',
            ],
            data: { chunk: chunk.name, index, missing },
          },
        );
      }
      try {
        const corrupt = (why: string): AirlockError =>
          new AirlockError('BUNDLE_INVALID', `${escapeControl(path)} is corrupt: ${why}`, {
            details: ['Copy this chunk again from the media and run unpack again.'],
            data: { chunk: chunk.name, index },
          });
        const size = (await handle.stat()).size;
        if (size !== chunk.size)
          throw corrupt(`${size} bytes where the chunk list says ${chunk.size}`);
        // One pass: each piece is hashed and extracted as it is read (the next read overlapping
        // both), and what the chunk completes keeps its temporary name until its digest matches.
        const start = index === journal.chunk ? journal.offset - index * list.chunkSize : 0;
        const hash = createHash('sha256');
        let refused: Error | undefined;
        let position = 0;
        let turn = 0;
        const readAt = (at: number): Promise<Buffer> => {
          const buffer = buffers[(turn ^= 1)] as Buffer;
          const read = handle
            .read(buffer, 0, Math.min(buffer.length, size - at), at)
            .then(({ bytesRead }) => buffer.subarray(0, bytesRead));
          read.catch(() => undefined);
          return read;
        };
        let reading = size > 0 ? readAt(0) : undefined;
        while (reading !== undefined) {
          throwIfAborted(options.signal);
          const piece = await reading;
          if (piece.length === 0) throw corrupt('it shrank while it was being read');
          const at = position;
          position += piece.length;
          reading = position < size ? readAt(position) : undefined;
          hash.update(piece);
          // A tar the extractor refuses is reported only once the chunk is known to be intact:
          // a corrupt chunk is named as such.
          if (refused === undefined && position > start)
            await extractor
              .feed(piece.subarray(Math.max(0, start - at)))
              .catch((error: unknown) => {
                refused = error instanceof Error ? error : new Error(String(error));
              });
        }
        const digest = `sha256:${hash.digest('hex')}`;
        if (digest !== chunk.digest)
          throw corrupt(`its digest is ${digest}, the chunk list says ${chunk.digest}`);
        if (refused !== undefined) throw refused;
        await extractor.commit();
      } finally {
        await handle.close();
      }
      chunksRead++;
      options.onEvent?.({ type: 'chunk', index, total, bytes: chunk.size, name: chunk.name });
    }
    extractor.finish(list.totalSize);
  } catch (error) {
    await extractor.abandon();
    throw ioError(
      `unpacking ${escapeControl(options.packed)} into ${escapeControl(outDir)}`,
      error,
    );
  }
  await rm(join(outDir, JOURNAL), { force: true });
  await rm(join(outDir, `${JOURNAL}.tmp`), { force: true });
  const startChunk = list.chunks[journal.chunk];
  return {
    outDir,
    chunkListDigest: read.digest,
    manifestDigest: read.manifestDigest,
    ...(list.bundle.documentDigest === undefined
      ? {}
      : { documentDigest: list.bundle.documentDigest }),
    ...(read.verified === undefined ? {} : { verified: read.verified }),
    files: extractor.files,
    bytes: extractor.bytes,
    totalFiles: extractor.totalFiles,
    totalBytes: extractor.totalBytes,
    chunks: chunksRead,
    ...(resumed && startChunk !== undefined
      ? { resumedFrom: { chunk: startChunk.name, offset: journal.offset } }
      : {}),
    durationMs: Date.now() - started,
  };
}
