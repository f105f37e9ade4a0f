import semver from 'semver';
import { createHash } from 'node:crypto';
import type { InventoryRow } from './inventory.ts';

/** One version an upstream offers. */
export interface UpstreamVersion {
  readonly version: string;
  /** Where to fetch the .tgz (http/local) or the tag (oci). */
  readonly location: string;
  /** sha256 hex of the .tgz, when the upstream index states it. */
  readonly digest?: string;
  /** The index's `created`, used as the artifact's created annotation (reproducible re-runs). */
  readonly created?: string;
}

/** What the target already holds for one repository: tags, and which of them are signed. */
export interface TargetState {
  readonly tags: ReadonlySet<string>;
  readonly signedTags: ReadonlySet<string>;
}

export type MirrorAction = 'mirror' | 'sign';

export interface MirrorOp {
  readonly row: InventoryRow;
  readonly version: UpstreamVersion;
  /** Repository path below the --to prefix. */
  readonly repository: string;
  readonly tag: string;
  /** `mirror`: fetch, push, tag, sign; `sign`: already pushed by an interrupted run, only sign. */
  readonly action: MirrorAction;
}

export interface MirrorPlan {
  readonly ops: readonly MirrorOp[];
  readonly present: readonly {
    row: InventoryRow;
    version: string;
    repository: string;
    tag: string;
  }[];
}

/** The versions a row asks for: empty = newest stable; `*` = all; else every version in the range. */
export function selectVersions(versions: readonly string[], constraint: string): string[] {
  const valid = versions.filter((v) => semver.valid(v) !== null);
  const sorted = [...new Set(valid)].sort((a, b) => semver.rcompare(a, b));
  if (constraint === '') {
    const newest = sorted.find((v) => semver.prerelease(v) === null);
    return newest ? [newest] : [];
  }
  if (constraint === '*') return sorted;
  // node-semver: prereleases match only when the range names one (as Helm and Flux use it).
  return sorted.filter((v) => semver.satisfies(v, constraint));
}

export function chartTagFor(version: string): string {
  return version.replaceAll('+', '_');
}

/** The repository a row mirrors into, below the --to prefix. */
export function targetRepository(row: InventoryRow): string {
  return row.target ?? (row.type === 'crds' ? `crds/${row.chart}` : row.chart);
}

/** Deterministic split of the inventory over N parallel CI jobs (--shard I/N, I from 1). */
export function inShard(
  row: InventoryRow,
  shard: { index: number; count: number } | undefined,
): boolean {
  if (!shard) return true;
  const key = `${row.source}|${row.chart}|${row.type}|${row.target ?? ''}`;
  const bucket = createHash('sha256').update(key).digest().readUInt32BE(0) % shard.count;
  return bucket === shard.index - 1;
}

/**
 * The plan, a pure function of the inventory, the upstream listings and the target's state:
 * upstream versions ∩ constraint − versions already mirrored (and signed, when signing).
 */
export function planMirror(
  rows: readonly InventoryRow[],
  upstream: ReadonlyMap<InventoryRow, readonly UpstreamVersion[]>,
  targets: ReadonlyMap<string, TargetState>,
  options: { signing: boolean },
): MirrorPlan {
  const ops: MirrorOp[] = [];
  const present: MirrorPlan['present'][number][] = [];
  for (const row of rows) {
    const offered = upstream.get(row) ?? [];
    const wanted = new Set(
      selectVersions(
        offered.map((v) => v.version),
        row.versions,
      ),
    );
    const repository = targetRepository(row);
    const state = targets.get(repository);
    for (const version of offered) {
      if (!wanted.has(version.version)) continue;
      wanted.delete(version.version);
      const tag = chartTagFor(version.version);
      const pushed = state?.tags.has(tag) ?? false;
      const signed = state?.signedTags.has(tag) ?? false;
      if (pushed && (signed || !options.signing))
        present.push({ row, version: version.version, repository, tag });
      else ops.push({ row, version, repository, tag, action: pushed ? 'sign' : 'mirror' });
    }
  }
  return { ops, present };
}
