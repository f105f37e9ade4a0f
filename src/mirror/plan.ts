import semver from 'semver';
import { createHash } from 'node:crypto';
import type { Digest } from '../core/index.ts';
import { chartTag } from '../artifact/index.ts';
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

/**
 * What the target holds for one repository: its tags, and for the tags whose digest was looked
 * up (only when signing, and only where the repository has signatures at all) that digest.
 */
export interface TargetState {
  readonly tags: ReadonlySet<string>;
  readonly digests: ReadonlyMap<string, Digest>;
}

export type MirrorAction = 'mirror' | 'sign';

export interface MirrorOp {
  readonly row: InventoryRow;
  readonly version: UpstreamVersion;
  /** Repository path below the target prefix. */
  readonly repository: string;
  readonly tag: string;
  /** `mirror`: fetch, push, tag, sign; `sign`: already pushed (an interrupted run), only sign. */
  readonly action: MirrorAction;
  /** For `sign`: the digest the tag points at, when the plan looked it up. */
  readonly digest?: Digest;
}

export interface PresentVersion {
  readonly row: InventoryRow;
  readonly version: UpstreamVersion;
  readonly repository: string;
  readonly tag: string;
  readonly digest?: Digest;
  /** true when its signature was seen (only checked when signing). */
  readonly signed?: boolean;
}

export interface MirrorPlan {
  readonly ops: readonly MirrorOp[];
  readonly present: readonly PresentVersion[];
  /** Rows whose constraint matches none of the versions the upstream offers. */
  readonly unmatched: readonly { row: InventoryRow; offered: number }[];
}

/** The versions a row asks for: empty = newest stable; `*` = all; else every version in the range. */
export function selectVersions(versions: readonly string[], constraint: string): string[] {
  return selectUpstream(
    versions.map((version) => ({ version, location: '' })),
    constraint,
  ).map((v) => v.version);
}

/**
 * selectVersions over upstream versions, newest first, one per version. Each version is parsed
 * once and the range compiled once per row: a 10,000-row inventory selects from 60,000 versions.
 */
export function selectUpstream(
  offered: readonly UpstreamVersion[],
  constraint: string,
): UpstreamVersion[] {
  const parsed: { v: UpstreamVersion; s: semver.SemVer }[] = [];
  const seen = new Set<string>();
  for (const v of offered) {
    if (seen.has(v.version)) continue;
    const s = semver.parse(v.version);
    if (s === null) continue;
    seen.add(v.version);
    parsed.push({ v, s });
  }
  parsed.sort((a, b) => b.s.compare(a.s));
  if (constraint === '') {
    const newest = parsed.find((p) => p.s.prerelease.length === 0);
    return newest ? [newest.v] : [];
  }
  if (constraint === '*') return parsed.map((p) => p.v);
  // node-semver: prereleases match only when the range names one (as Helm and Flux use it).
  const range = new semver.Range(constraint);
  return parsed.filter((p) => range.test(p.s)).map((p) => p.v);
}

/** The repository a row mirrors into, below the target prefix. */
export function targetRepository(row: InventoryRow): string {
  // An image row: `<registry>/<repository>`, the path cache rules map onto (images mirrorPath).
  if (row.imagePath !== undefined) return row.imagePath;
  return row.target ?? (row.type === 'crds' ? `crds/${row.chart}` : row.chart);
}

/** Deterministic split of the inventory over N parallel CI jobs (shard I of N, I from 1). */
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
 * The plan, a pure function of the selected versions per row and the target's state: versions
 * wanted − versions already mirrored (and signed, when signing). `signatureTag` names a digest's
 * signature tag, so a looked-up digest tells whether the version is signed.
 */
export function planMirror(
  selected: ReadonlyMap<InventoryRow, { wanted: readonly UpstreamVersion[]; offered: number }>,
  targets: ReadonlyMap<string, TargetState>,
  options: { signing: boolean; signatureTag: (digest: Digest) => string },
): MirrorPlan {
  const ops: MirrorOp[] = [];
  const present: PresentVersion[] = [];
  const unmatched: MirrorPlan['unmatched'][number][] = [];
  for (const [row, { wanted, offered }] of selected) {
    if (wanted.length === 0) unmatched.push({ row, offered });
    const repository = targetRepository(row);
    const state = targets.get(repository);
    for (const version of wanted) {
      const tag = chartTag(version.version);
      const pushed = state?.tags.has(tag) ?? false;
      const digest = state?.digests.get(tag);
      const signed =
        digest === undefined ? undefined : state?.tags.has(options.signatureTag(digest));
      // Objects built whole, without spreads: a big plan makes 60,000 of them.
      if (pushed && (!options.signing || signed === true))
        present.push(
          digest === undefined
            ? { row, version, repository, tag }
            : {
                row,
                version,
                repository,
                tag,
                digest,
                ...(signed === undefined ? {} : { signed }),
              },
        );
      else {
        const action = pushed ? 'sign' : 'mirror';
        ops.push(
          digest === undefined
            ? { row, version, repository, tag, action }
            : { row, version, repository, tag, action, digest },
        );
      }
    }
  }
  return { ops, present, unmatched };
}
