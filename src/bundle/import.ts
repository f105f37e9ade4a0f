// `airlock bundle import` (issue 11 §5): verify first and import nothing if that fails; a delta
// only into a registry that holds its base; then each artifact through the copy engine, under its
// original repository path (below the target prefix, or rewritten by a mapping), blobs before
// manifests, tags last, signatures and referrers after their subjects. The copy engine asks the
// target what it holds first, so a re-run after an interruption uploads only what is missing.
import { AirlockError } from '../errors.ts';
import { type BatchReport, escapeControl, summarise } from '../core/index.ts';
import { copyAll, type CopyEvent, type CopyItem, type CopyRequest } from '../oci/index.ts';
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
  // A delta needs its base in the target: each recorded base digest, where it was referenced.
  const baseMissing: BaseContent[] = [];
  for (const content of manifest.fromBase) {
    const repository = options.to.open(mappedRepository(content.repository, map));
    const present =
      content.kind === 'manifest'
        ? await repository.hasManifest(content.digest)
        : await repository.hasBlob(content.digest);
    if (!present) baseMissing.push(content);
  }
  // Artifacts the delta left out as unchanged must be in the target as the base had them.
  for (const a of manifest.unchanged) {
    const held = await options.to
      .open(mappedRepository(a.repository, map))
      .resolve(a.tag ?? a.digest);
    if (held?.digest !== a.digest)
      baseMissing.push({ digest: a.digest, size: 0, repository: a.repository, kind: 'manifest' });
  }
  if (baseMissing.length > 0 && options.force !== true)
    throw new AirlockError(
      'BASE_MISSING',
      `${escapeControl(options.dir)} is a delta of bundle ${manifest.base?.digest ?? '(unknown)'}, and ${options.to.name} does not hold ${baseMissing.length} of the base's contents: nothing was imported`,
      {
        details: [
          ...baseMissing.slice(0, 10).map((b) => `${b.repository}: ${b.kind} ${b.digest}`),
          'import the base bundle first (or force the import, knowing artifacts will be incomplete)',
        ],
        data: { option: 'force', base: manifest.base?.digest },
      },
    );
  const store = new BundleStore(options.dir);
  // By the digest verify checked, not by the tag: what is imported is what was verified.
  const requests: CopyRequest[] = manifest.artifacts.map((a) => ({
    source: store.repository(a.repository),
    reference: a.digest,
    destination: options.to.open(mappedRepository(a.repository, map)),
    tags: a.tag === undefined ? [] : [a.tag],
  }));
  const report = await copyAll(requests, {
    signatures: true,
    referrers: true,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
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
