// `airlock bundle verify` (issue 11 §4), offline, on the isolated side, before anything touches the
// private registry: the bundle manifest's signature (the bundle policy), then that the layout is
// exactly what the manifest lists — index.json entry for entry, every blob file present with its
// size and sha256, nothing unlisted, every manifest reachable from the index present (or, in a
// delta, recorded as held by the base) — and then each artifact's own signature (the artifact
// policy). One report item for the bundle itself, one per artifact.
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { AirlockError } from '../errors.ts';
import {
  type BatchReport,
  type Digest,
  escapeControl,
  itemError,
  mapLimit,
  summarise,
  throwIfAborted,
} from '../core/index.ts';
import { REF_NAME } from '../oci/index.ts';
import { signatureTag, verifyArtifact, type VerifyPolicy } from '../sign/index.ts';
import type { BundleItem } from './create.ts';
import {
  BUNDLE_NAMESPACE,
  BUNDLE_TAG,
  type BundleManifest,
  SOURCE_ANNOTATION,
} from './manifest.ts';
import {
  BundleStore,
  type IndexEntry,
  isBundleEntry,
  readBundleManifest,
  references,
} from './store.ts';
import { readChunkList } from './chunks.ts';

export interface VerifyBundleOptions {
  readonly dir: string;
  /** Who must have signed the bundle manifest. */
  readonly bundlePolicy: VerifyPolicy;
  /** Each artifact's own signature must verify with this (optional). */
  readonly artifactPolicy?: VerifyPolicy;
  readonly signal?: AbortSignal;
}

export interface BundleVerification {
  readonly report: BatchReport<BundleItem>;
  readonly manifest?: BundleManifest;
  /** sha256 of the bundle manifest document. */
  readonly documentDigest?: Digest;
}

/** Blob files hashed at once (reads overlap hashing), and artifact signatures checked at once. */
const HASH_CONCURRENCY = 4;
const VERIFY_CONCURRENCY = 8;

/** One buffer per file hashed at once, reused: no garbage per read, memory flat. */
const hashBuffers: Buffer[] = [];

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const buffer = hashBuffers.pop() ?? Buffer.allocUnsafe(1024 * 1024);
  const handle = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
    hashBuffers.push(buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Every problem of the layout against its manifest (empty when it matches exactly). */
/** The bundle's own entries may be its manifest and that manifest's signature, nothing else. */
function ownEntryProblems(own: readonly IndexEntry[], manifestDigest: Digest): string[] {
  const allowed = new Set([
    `${BUNDLE_NAMESPACE}:${BUNDLE_TAG}@${manifestDigest}`,
    `${BUNDLE_NAMESPACE}:${signatureTag(manifestDigest)}`,
  ]);
  return own.flatMap((e) => {
    const name = e.annotations?.[REF_NAME] ?? '';
    return allowed.has(`${name}@${e.digest}`) || allowed.has(name)
      ? []
      : [`index.json: ${escapeControl(name)} is not the bundle's manifest or its signature`];
  });
}

async function checkLayout(
  store: BundleStore,
  index: readonly IndexEntry[],
  manifest: BundleManifest,
  manifestDigest: Digest,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const problems: string[] = [];
  const own = index.filter(isBundleEntry);
  problems.push(...ownEntryProblems(own, manifestDigest));
  const listed = new Map(manifest.entries.map((e) => [`${e.name ?? ''}@${e.digest}`, e]));
  const actual = index.filter((e) => !isBundleEntry(e));
  for (const entry of actual) {
    const key = `${entry.annotations?.[REF_NAME] ?? ''}@${entry.digest}`;
    const expected = listed.get(key);
    if (expected === undefined)
      problems.push(`index.json: ${escapeControl(key)} is not in the bundle manifest`);
    else if (expected.size !== entry.size || expected.mediaType !== entry.mediaType)
      problems.push(`index.json: ${escapeControl(key)} differs from the bundle manifest`);
    listed.delete(key);
  }
  for (const key of listed.keys()) problems.push(`index.json: ${escapeControl(key)} is missing`);
  const sources = new Map(
    manifest.artifacts
      .filter((a) => a.tag !== undefined)
      .map((a) => [`${a.repository}:${a.tag ?? ''}`, a]),
  );
  for (const entry of actual) {
    const name = entry.annotations?.[REF_NAME];
    const artifact = name === undefined ? undefined : sources.get(name);
    if (
      artifact !== undefined &&
      (artifact.digest !== entry.digest ||
        entry.annotations?.[SOURCE_ANNOTATION] !== artifact.source)
    )
      problems.push(
        `index.json: ${escapeControl(name ?? '')} does not name the artifact the manifest lists`,
      );
  }
  // The bundle's own manifest and signatures are the only other files.
  const ownBlobs = new Set<string>();
  for (const entry of own) {
    ownBlobs.add(entry.digest);
    const bytes = await store.readManifest(entry.digest);
    for (const b of references(bytes, entry.mediaType, store.dir).blobs) ownBlobs.add(b.digest);
  }
  const files = await store.blobFiles();
  const contents = new Map(manifest.contents.map((c) => [c.digest, c.size]));
  for (const [digest, size] of files) {
    if (ownBlobs.has(digest)) continue;
    const expected = contents.get(digest);
    if (expected === undefined) problems.push(`blobs: ${digest} is not in the bundle manifest`);
    else if (expected !== size)
      problems.push(`blobs: ${digest} is ${size} bytes, the manifest says ${expected}`);
  }
  for (const [digest] of contents)
    if (!files.has(digest)) problems.push(`blobs: ${digest} is missing`);
  // Every blob hashes to its name (one pass over the bytes, flat memory; a few files at once, so
  // reading one overlaps hashing another).
  const hashed = await mapLimit([...files.keys()], HASH_CONCURRENCY, async (digest) => {
    throwIfAborted(signal);
    if (!contents.has(digest) && !ownBlobs.has(digest)) return undefined;
    const expectedSize = contents.get(digest);
    if (expectedSize !== undefined && expectedSize !== files.get(digest)) return undefined;
    const actualDigest = await sha256File(store.blobPath(digest));
    return actualDigest === digest
      ? undefined
      : `blobs: ${digest} holds content with digest ${actualDigest}`;
  });
  problems.push(...hashed.filter((p): p is string => p !== undefined));
  // Everything reachable from the index is here, or held by the base of a delta.
  const fromBase = new Set(manifest.fromBase.map((b) => b.digest));
  const seen = new Set<string>();
  const walk = async (digest: Digest, mediaType: string): Promise<void> => {
    if (seen.has(digest)) return;
    seen.add(digest);
    if (!files.has(digest)) {
      if (!fromBase.has(digest)) problems.push(`manifest ${digest} is referenced but missing`);
      return;
    }
    let children;
    try {
      const bytes = await store.readManifest(digest);
      children = references(bytes, mediaType, `${store.dir}@${digest}`);
    } catch (error) {
      problems.push(`manifest ${digest}: ${(error as Error).message}`);
      return;
    }
    for (const child of children.manifests) await walk(child.digest, child.mediaType);
    for (const blob of children.blobs)
      if (!files.has(blob.digest) && !fromBase.has(blob.digest))
        problems.push(`blob ${blob.digest} (of ${digest}) is missing`);
  };
  for (const entry of actual) await walk(entry.digest, entry.mediaType);
  return problems;
}

/**
 * A packed bundle (what `bundle pack` wrote): the chunk list's signature with the bundle policy,
 * then every chunk's size and sha256. One item for the list, one per chunk.
 */
async function verifyPacked(
  options: VerifyBundleOptions,
  dir: string,
): Promise<BundleVerification> {
  const started = Date.now();
  const items: BundleItem[] = [];
  try {
    const read = await readChunkList(dir, {
      policy: options.bundlePolicy,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    items.push({
      reference: 'chunks',
      source: dir,
      repository: 'chunks',
      digest: read.digest,
      outcome: 'done',
      bytes: 0,
      durationMs: Date.now() - started,
      ...(read.verified === undefined
        ? {}
        : {
            verified: {
              format: read.verified.format,
              ...(read.verified.keyName === undefined ? {} : { keyName: read.verified.keyName }),
              ...(read.verified.subject === undefined ? {} : { subject: read.verified.subject }),
            },
          }),
    });
    for (const chunk of read.list.chunks) {
      throwIfAborted(options.signal);
      const t = Date.now();
      const path = join(dir, chunk.name);
      const describe = {
        reference: chunk.name,
        source: dir,
        repository: 'chunks',
        digest: chunk.digest,
      };
      const size = (await stat(path).catch(() => undefined))?.size;
      if (size === undefined) {
        items.push({
          ...describe,
          outcome: 'failed',
          error: itemError(
            new AirlockError('BUNDLE_INVALID', `${escapeControl(chunk.name)} has not arrived`),
          ),
          bytes: 0,
          durationMs: Date.now() - t,
        });
        continue;
      }
      const digest = size === chunk.size ? await sha256File(path) : undefined;
      if (digest !== chunk.digest)
        items.push({
          ...describe,
          outcome: 'failed',
          error: itemError(
            new AirlockError(
              'BUNDLE_INVALID',
              `${escapeControl(chunk.name)} is not the chunk the signed list names (${size} bytes${digest === undefined ? '' : `, ${digest}`})`,
            ),
          ),
          bytes: 0,
          durationMs: Date.now() - t,
        });
      else items.push({ ...describe, outcome: 'done', bytes: size, durationMs: Date.now() - t });
    }
  } catch (error) {
    items.push({
      reference: 'chunks',
      source: dir,
      repository: 'chunks',
      outcome: 'failed',
      error: itemError(error),
      bytes: 0,
      durationMs: Date.now() - started,
    });
  }
  return {
    report: { operation: 'bundle verify', items, summary: summarise(items, Date.now() - started) },
  };
}

/**
 * Verifies a bundle directory — or a packed one (chunks.oci beside the chunks): its chunk list and
 * every chunk; unpack it to verify its contents. The report's failed count says whether it may
 * be imported.
 */
export async function verifyBundle(options: VerifyBundleOptions): Promise<BundleVerification> {
  const started = Date.now();
  const dir = resolvePath(options.dir);
  const packed =
    (await stat(join(dir, 'chunks.oci')).catch(() => undefined))?.isDirectory() === true;
  const layout = (await stat(join(dir, 'index.json')).catch(() => undefined)) !== undefined;
  if (packed && !layout) return verifyPacked(options, dir);
  const store = new BundleStore(dir);
  const bundleItem = (outcome: BundleItem['outcome'], extra: Partial<BundleItem>): BundleItem => ({
    reference: 'bundle',
    source: dir,
    repository: BUNDLE_NAMESPACE,
    tag: BUNDLE_TAG,
    outcome,
    bytes: 0,
    durationMs: Date.now() - started,
    ...extra,
  });
  const finish = (
    items: BundleItem[],
    manifest?: BundleManifest,
    documentDigest?: Digest,
  ): BundleVerification => ({
    report: { operation: 'bundle verify', items, summary: summarise(items, Date.now() - started) },
    ...(manifest === undefined ? {} : { manifest }),
    ...(documentDigest === undefined ? {} : { documentDigest }),
  });
  let read;
  try {
    read = await readBundleManifest(store);
    const verification = await verifyArtifact(
      store.repository(BUNDLE_NAMESPACE),
      read.digest,
      options.bundlePolicy,
      {
        knownDigest: read.digest,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
    // index.json is read once: the layout is checked, and the artifacts verified, through it.
    const snapshot = await store.snapshot();
    const problems = await checkLayout(
      store,
      snapshot.entries,
      read.manifest,
      read.digest,
      options.signal,
    );
    if (problems.length > 0)
      throw new AirlockError(
        'BUNDLE_INVALID',
        `${escapeControl(dir)}: the bundle does not match its signed manifest`,
        {
          details: problems,
        },
      );
    const items: BundleItem[] = [
      bundleItem('done', {
        digest: read.digest,
        verified: {
          format: verification.format,
          ...(verification.keyName === undefined ? {} : { keyName: verification.keyName }),
          ...(verification.subject === undefined ? {} : { subject: verification.subject }),
          ...(verification.issuer === undefined ? {} : { issuer: verification.issuer }),
        },
      }),
    ];
    const verified = await mapLimit(
      read.manifest.artifacts,
      VERIFY_CONCURRENCY,
      async (artifact): Promise<BundleItem> => {
        const t = Date.now();
        const describe = {
          reference: `${artifact.repository}:${artifact.tag ?? artifact.digest}`,
          source: artifact.source,
          repository: artifact.repository,
          ...(artifact.tag === undefined ? {} : { tag: artifact.tag }),
          digest: artifact.digest,
        };
        if (options.artifactPolicy === undefined)
          return {
            ...describe,
            outcome: 'done',
            reason: 'content verified; no artifact policy given',
            bytes: 0,
            durationMs: Date.now() - t,
          };
        try {
          const v = await verifyArtifact(
            snapshot.repository(artifact.repository),
            artifact.digest,
            options.artifactPolicy,
            {
              knownDigest: artifact.digest,
            },
          );
          return {
            ...describe,
            outcome: 'done',
            bytes: 0,
            durationMs: Date.now() - t,
            verified: {
              format: v.format,
              ...(v.keyName === undefined ? {} : { keyName: v.keyName }),
              ...(v.subject === undefined ? {} : { subject: v.subject }),
              ...(v.issuer === undefined ? {} : { issuer: v.issuer }),
            },
          };
        } catch (error) {
          return {
            ...describe,
            outcome: 'failed',
            error: itemError(error),
            bytes: 0,
            durationMs: Date.now() - t,
          };
        }
      },
    );
    items.push(...verified);
    return finish(items, read.manifest, read.documentDigest);
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'ABORTED') throw error;
    // Whatever stops the check (a corrupt own blob, a broken layout) is a bundle that does not
    // verify: exit 3, as every other failure of verify.
    const refused =
      error instanceof AirlockError &&
      (error.code === 'VERIFICATION_FAILED' || error.code === 'BUNDLE_INVALID')
        ? error
        : new AirlockError(
            'BUNDLE_INVALID',
            `${escapeControl(dir)}: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
    // A bundle that cannot be trusted as a whole: nothing in it is checked further.
    const code =
      error instanceof AirlockError && error.code === 'VERIFICATION_FAILED'
        ? 'VERIFICATION_FAILED'
        : undefined;
    const items: BundleItem[] = [
      bundleItem('failed', {
        error: itemError(refused),
        ...(read === undefined ? {} : { digest: read.digest }),
      }),
      ...(read?.manifest.artifacts ?? []).map((a): BundleItem => ({
        reference: `${a.repository}:${a.tag ?? a.digest}`,
        source: a.source,
        repository: a.repository,
        ...(a.tag === undefined ? {} : { tag: a.tag }),
        digest: a.digest,
        outcome: 'skipped',
        reason:
          code === undefined
            ? 'the bundle does not verify'
            : 'the bundle signature does not verify',
        bytes: 0,
        durationMs: 0,
      })),
    ];
    return finish(items, read?.manifest, read?.documentDigest);
  }
}
