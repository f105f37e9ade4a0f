// `airlock bundle import` (issue 11 §5): verify first and import nothing if that fails; a delta
// only into a registry that holds its base; then each artifact through the copy engine, under its
// original repository path (below the target prefix, or rewritten by a mapping), blobs before
// manifests, tags last, signatures and referrers after their subjects. The copy engine asks the
// target what it holds first, so a re-run after an interruption uploads only what is missing.
import { AirlockError } from '../errors.ts';
import { type BatchReport, escapeControl, mapLimit, summarise } from '../core/index.ts';
import {
  copyAll,
  type CopyEvent,
  type CopyItem,
  type CopyRequest,
  DEFAULT_CONCURRENCY,
  type Repository,
} from '../oci/index.ts';
import type { Target } from '../session/index.ts';
import type { VerifyPolicy } from '../sign/index.ts';
import type { BundleItem } from './create.ts';
import type { BaseContent } from './manifest.ts';
import { BundleStore } from './store.ts';
import { verifyBundle } from './verify.ts';

/** `--map FROM=TO`: a repository path prefix rewritten on import. */
export interface RepositoryMapping {
  readonly from: string;
  readonly to: string;
}

export interface ImportBundleOptions {
  readonly dir: string;
  /** The registry (and prefix) or layout the artifacts are restored under. */
  readonly to: Target;
  readonly bundlePolicy: VerifyPolicy;
  readonly artifactPolicy?: VerifyPolicy;
  readonly map?: readonly RepositoryMapping[];
  /** Import a delta although the target does not hold its base (loudly: see the report). */
  readonly force?: boolean;
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: CopyEvent) => void;
}

export interface BundleImport {
  readonly verification: BatchReport<BundleItem>;
  readonly report: BatchReport<CopyItem>;
  /** Base contents the target lacked, imported anyway with force. */
  readonly baseMissing: readonly BaseContent[];
}

/** Parses `FROM=TO` values (INPUT_INVALID, option map). */
export function parseRepositoryMappings(values: readonly string[]): RepositoryMapping[] {
  return values.map((value) => {
    const eq = value.indexOf('=');
    const from = eq < 0 ? '' : value.slice(0, eq).replace(/^\/+|\/+$/g, '');
    const to = eq < 0 ? '' : value.slice(eq + 1).replace(/^\/+|\/+$/g, '');
    if (from === '' || eq < 0)
      throw new AirlockError(
        'INPUT_INVALID',
        `${JSON.stringify(escapeControl(value))} is not FROM=TO (repository path prefixes)`,
        {
          data: { option: 'map' },
        },
      );
    return { from, to };
  });
}

/** The repository an artifact is restored under: the longest mapping that matches wins. */
export function mappedRepository(repository: string, map: readonly RepositoryMapping[]): string {
  let best: RepositoryMapping | undefined;
  for (const m of map)
    if (
      (repository === m.from || repository.startsWith(`${m.from}/`)) &&
      m.from.length > (best?.from.length ?? -1)
    )
      best = m;
  if (best === undefined) return repository;
  const rest = repository.slice(best.from.length).replace(/^\//, '');
  return [best.to, rest].filter((p) => p !== '').join('/');
}

/**
 * Blobs several repositories need, uploaded once: a registry links blobs per repository, and the
 * bundle (a layout) cannot be mounted from, so the copy engine would upload a shared layer again
 * for every repository. The first repository to push a blob uploads it (or finds it present);
 * the others mount it from there (`POST ?mount=&from=`, distribution spec), waiting for that
 * upload when it is under way. A registry that refuses the mount opens an upload instead.
 */
class Mounts {
  /** Per digest: the repository (mount name) that holds it in the target, once it does. */
  readonly #holders = new Map<string, Promise<string | undefined>>();

  /** `repository` holds the blob already (a delta's base): the others mount it from there. */
  hold(digest: string, repository: Repository): void {
    const name = repository.mountName;
    if (name !== undefined && !this.#holders.has(digest))
      this.#holders.set(digest, Promise.resolve(name));
  }

  through(repository: Repository): Repository {
    const self = repository.mountName;
    // A layout shares its blobs between repositories already: nothing to mount.
    if (self === undefined) return repository;
    const holders = this.#holders;
    const pushBlob: Repository['pushBlob'] = async (descriptor, source, options) => {
      const upload = (): Promise<'mounted' | 'uploaded'> => {
        const pushed = repository.pushBlob(descriptor, source, options);
        holders.set(
          descriptor.digest,
          pushed.then(
            () => self,
            () => undefined,
          ),
        );
        return pushed;
      };
      // Checked and claimed in one step (no await in between): one upload per blob.
      const pending = holders.get(descriptor.digest);
      if (pending === undefined) return upload();
      const holder = await pending;
      if (holder !== undefined && holder !== self)
        return repository.pushBlob(descriptor, source, { mountFrom: holder });
      // The holder's upload failed: this repository tries (and holds it if that works).
      if (holder === undefined && holders.get(descriptor.digest) === pending) return upload();
      return repository.pushBlob(descriptor, source, options);
    };
    return new Proxy(repository, {
      get(target, property, receiver) {
        if (property === 'pushBlob') return pushBlob;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
  }
}

export async function importBundle(options: ImportBundleOptions): Promise<BundleImport> {
  const started = Date.now();
  const verification = await verifyBundle({
    dir: options.dir,
    bundlePolicy: options.bundlePolicy,
    ...(options.artifactPolicy === undefined ? {} : { artifactPolicy: options.artifactPolicy }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const failed = verification.report.items.filter((i) => i.outcome === 'failed');
  const manifest = verification.manifest;
  if (failed.length > 0 || manifest === undefined)
    throw new AirlockError(
      failed[0]?.error?.code === 'VERIFICATION_FAILED' ? 'VERIFICATION_FAILED' : 'BUNDLE_INVALID',
      `${escapeControl(options.dir)} does not verify: nothing was imported`,
      {
        details: failed.flatMap((f) => [
          `${f.reference}: ${f.error?.message ?? ''}`,
          ...(f.error?.details ?? []).map((d) => `  ${d}`),
        ]),
        data: { report: verification.report },
      },
    );
  const map = options.map ?? [];
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const mounts = new Mounts();
  // A delta needs its base in the target: each recorded base digest, where it was referenced, or
  // for a blob the base brought to another repository, there (it is mounted from there).
  const missingBase = await mapLimit(manifest.fromBase, concurrency, async (content) => {
    const repository = options.to.open(mappedRepository(content.repository, map));
    if (content.kind === 'manifest')
      return (await repository.hasManifest(content.digest)) ? undefined : content;
    if (content.from !== undefined) {
      const holder = options.to.open(mappedRepository(content.from, map));
      if (await holder.hasBlob(content.digest)) {
        mounts.hold(content.digest, holder);
        return undefined;
      }
    }
    return (await repository.hasBlob(content.digest)) ? undefined : content;
  });
  // Artifacts the delta left out as unchanged must be in the target as the base had them.
  const missingUnchanged = await mapLimit(manifest.unchanged, concurrency, async (a) => {
    const held = await options.to
      .open(mappedRepository(a.repository, map))
      .resolve(a.tag ?? a.digest);
    return held?.digest === a.digest
      ? undefined
      : { digest: a.digest, size: 0, repository: a.repository, kind: 'manifest' as const };
  });
  const baseMissing: BaseContent[] = [...missingBase, ...missingUnchanged].filter(
    (b): b is BaseContent => b !== undefined,
  );
  if (baseMissing.length > 0 && options.force !== true)
    throw new AirlockError(
      'BASE_MISSING',
      `${escapeControl(options.dir)} is a delta of bundle ${manifest.base?.digest ?? '(unknown)'}, and ${options.to.name} does not hold ${baseMissing.length} of the base's contents: nothing was imported`,
      {
        details: [
          ...baseMissing
            .slice(0, 10)
            .map(
              (b) =>
                `${b.repository}: ${b.kind} ${b.digest}${b.from === undefined ? '' : ` (in ${b.from})`}`,
            ),
          'import the base bundle first (or force the import, knowing artifacts will be incomplete)',
        ],
        data: { option: 'force', base: manifest.base?.digest },
      },
    );
  // index.json read once (a layout repository reads it at every resolve).
  const bundle = await new BundleStore(options.dir).snapshot();
  // By the digest verify checked, not by the tag: what is imported is what was verified.
  // Each target repository's tags listed once (one request per repository, not one per tag): a
  // tag not listed needs no lookup before it is written. A listing that fails leaves the lookups.
  const repositories = [
    ...new Set(manifest.artifacts.map((a) => mappedRepository(a.repository, map))),
  ];
  const listed = new Map(
    await mapLimit(repositories, concurrency, async (repository) => {
      const tags = await options.to
        .open(repository)
        .listTags()
        .then(
          (list) => new Set(list),
          () => undefined,
        );
      return [repository, tags] as const;
    }),
  );
  const requests: CopyRequest[] = manifest.artifacts.map((a) => {
    const repository = mappedRepository(a.repository, map);
    const destinationTags = listed.get(repository);
    return {
      source: bundle.repository(a.repository),
      reference: a.digest,
      destination: mounts.through(options.to.open(repository)),
      tags: a.tag === undefined ? [] : [a.tag],
      ...(destinationTags === undefined ? {} : { destinationTags }),
    };
  });
  const report = await copyAll(requests, {
    signatures: true,
    referrers: true,
    concurrency,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  return {
    verification: verification.report,
    report: {
      ...report,
      operation: 'bundle import',
      summary: summarise(report.items, Date.now() - started),
    },
    baseMissing,
  };
}
