// Inventory rows of type=image (issue 12 §2): a container image repository, a tag range and/or
// a list of tags, an optional platform filter, mirrored through images' mirrorImages into
// `<target>/<registry>/<repository>` and reported as mirror items beside the chart versions.
import semver from 'semver';
import { AirlockError } from '../errors.ts';
import { itemError, mapLimit, tagVersion } from '../core/index.ts';
import { type ImageMirrorItem, type ImageToMirror, mirrorImages } from '../images/index.ts';
import type { Session } from '../session/index.ts';
import type { Signer, VerifyPolicy } from '../sign/index.ts';
import type { InventoryRow } from './inventory.ts';
import type { MirrorItem } from './run.ts';

/**
 * The tags an image row asks for, from the upstream's tag list: the row's range over the tags
 * that read as semver versions (`1.27.3`, `v2.1.0`; empty: the newest stable one, unless the row
 * lists tags; `*`: every one, prereleases included), newest first, then the listed tags as given.
 */
export function selectImageTags(row: InventoryRow, offered: readonly string[]): string[] {
  const listed = row.tags ?? [];
  const ranged: string[] = [];
  if (row.versions !== '' || listed.length === 0) {
    const versions = offered.flatMap((tag) => {
      const version = tagVersion(tag);
      const parsed = version === undefined ? null : semver.parse(version);
      return parsed === null ? [] : [{ tag, version: parsed }];
    });
    versions.sort((a, b) => b.version.compare(a.version) || a.tag.localeCompare(b.tag));
    if (row.versions === '') {
      const newest = versions.find((v) => v.version.prerelease.length === 0);
      if (newest) ranged.push(newest.tag);
    } else if (row.versions === '*') ranged.push(...versions.map((v) => v.tag));
    else {
      const range = new semver.Range(row.versions);
      ranged.push(...versions.filter((v) => range.test(v.version)).map((v) => v.tag));
    }
  }
  return [...new Set([...ranged, ...listed])];
}

/** Whether a row needs the upstream's tag list: any row but one that only lists tags. */
function needsListing(row: InventoryRow): boolean {
  return row.versions !== '' || (row.tags ?? []).length === 0;
}

type ImageRowItem = MirrorItem & { readonly type: 'image' };

export interface ImageRowsOptions {
  /** The mirror's target prefix (`registry.internal/mirror`, or `oci-layout:PATH`). */
  readonly target: string;
  /** Its display name, for row items (`Target.name`). */
  readonly targetName: string;
  readonly policies: ReadonlyMap<InventoryRow, VerifyPolicy>;
  readonly signer: Signer | undefined;
  readonly plan: boolean;
  readonly strict: boolean;
  readonly failFast: boolean;
  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  /** Set when nothing may start (an abort, or fail-fast after a chart failed): every tag is `skipped`. */
  readonly stopped?: string;
  readonly onItem?: (item: ImageRowItem, done: number, total: number) => void;
}

/** The outcome of the image rows: one item per tag (newest first per row), or per row. */
export async function mirrorImageRows(
  session: Session,
  rows: readonly InventoryRow[],
  options: ImageRowsOptions,
): Promise<{ row: InventoryRow; rank: number; item: ImageRowItem }[]> {
  const results: { row: InventoryRow; rank: number; item: ImageRowItem }[] = [];
  const rowItem = (row: InventoryRow, fields: Partial<ImageRowItem>): void => {
    results.push({
      row,
      rank: -1,
      item: {
        reference: `${options.targetName}/${row.imagePath ?? row.chart}`,
        row: row.where,
        chart: row.chart,
        type: 'image',
        source: row.chart,
        outcome: 'failed',
        bytes: 0,
        durationMs: 0,
        ...fields,
      },
    });
  };

  // 1. The tags each row asks for (a tags/list per row with a range).
  const wanted: { row: InventoryRow; tags: string[] }[] = [];
  await mapLimit(rows, options.concurrency, async (row) => {
    if (options.signal?.aborted) {
      rowItem(row, { outcome: 'skipped', reason: 'aborted' });
      return;
    }
    const started = Date.now();
    try {
      const offered = needsListing(row)
        ? await session.client
            .repository(
              row.chart.slice(0, row.chart.indexOf('/')),
              row.chart.slice(row.chart.indexOf('/') + 1),
            )
            .listTags()
        : [];
      const tags = selectImageTags(row, offered);
      if (tags.length > 0) {
        wanted.push({ row, tags });
        return;
      }
      const message = `${row.where}: no tag of ${row.chart} matches "${row.versions}" (the upstream offers ${offered.length} tags)`;
      rowItem(
        row,
        options.strict
          ? {
              outcome: 'failed',
              error: itemError(
                new AirlockError('UPSTREAM_NOT_FOUND', message, { data: { option: 'strict' } }),
              ),
            }
          : { outcome: 'skipped', reason: 'no version matches' },
      );
    } catch (error) {
      rowItem(row, { error: itemError(error), durationMs: Date.now() - started });
    }
  });
  wanted.sort((a, b) => a.row.line - b.row.line);

  // 2. One mirrorImages call for every tag of every row: shared blobs go up once across rows.
  const images: ImageToMirror[] = [];
  const origin: { row: InventoryRow; tag: string; rank: number }[] = [];
  for (const { row, tags } of wanted)
    tags.forEach((tag, rank) => {
      const policy = options.policies.get(row);
      images.push({
        reference: `${row.chart}:${tag}`,
        where: row.where,
        ...(row.platforms === undefined ? {} : { platforms: row.platforms }),
        ...(policy === undefined ? {} : { verify: policy }),
      });
      origin.push({ row, tag, rank });
    });
  if (images.length === 0) return results;
  const tagItem = (index: number, fields: Partial<ImageRowItem>): ImageRowItem => {
    const { row, tag } = origin[index] ?? { row: rows[0] as InventoryRow, tag: '' };
    return {
      reference: `${options.targetName}/${row.imagePath ?? row.chart}:${tag}`,
      row: row.where,
      chart: row.chart,
      type: 'image',
      version: tag,
      source: `${row.chart}:${tag}`,
      action: 'mirror',
      outcome: 'skipped',
      bytes: 0,
      durationMs: 0,
      ...fields,
    };
  };
  const push = (index: number, item: ImageRowItem): void => {
    const { row, rank } = origin[index] ?? { row: rows[0] as InventoryRow, rank: 0 };
    results.push({ row, rank, item });
  };
  if (options.stopped !== undefined) {
    images.forEach((_, i) => push(i, tagItem(i, { reason: options.stopped ?? '' })));
    return results;
  }
  const bySource = new Map(origin.map((o, i) => [`${o.row.chart}:${o.tag}`, i]));
  let report;
  try {
    report = await mirrorImages({
      session,
      images,
      to: options.target,
      ...(options.signer === undefined || options.plan ? {} : { sign: options.signer }),
      concurrency: options.concurrency,
      dryRun: options.plan,
      failFast: options.failFast,
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (event) => {
        if (event.type !== 'item') return;
        const index = bySource.get(event.item.source);
        if (index !== undefined)
          options.onItem?.(fromImage(event.item, index), event.done, event.total);
      },
    });
  } catch (error) {
    // The whole call was refused (a destination path too long, say): every tag carries why.
    const failure = itemError(error);
    images.forEach((_, i) => push(i, tagItem(i, { outcome: 'failed', error: failure })));
    return results;
  }
  function fromImage(item: ImageMirrorItem, index: number): ImageRowItem {
    const planned = options.plan && item.outcome === 'skipped' && item.reason === 'dry run';
    return tagItem(index, {
      reference: item.reference,
      ...(item.digest === undefined ? {} : { digest: item.digest }),
      outcome: item.outcome,
      ...(item.reason === undefined ? {} : { reason: planned ? 'planned' : item.reason }),
      ...(item.error === undefined ? {} : { error: item.error }),
      bytes: item.bytes,
      durationMs: item.durationMs,
      ...(item.sourceDigest === undefined ? {} : { sourceDigest: item.sourceDigest }),
      ...(item.signature === undefined ? {} : { signature: item.signature }),
      ...(item.signed === undefined ? {} : { signed: item.signed }),
      ...(item.platforms === undefined ? {} : { platforms: item.platforms }),
      ...(item.platformFilter === undefined ? {} : { platformFilter: item.platformFilter }),
      ...(item.blobs === undefined ? {} : { blobs: item.blobs }),
    });
  }
  for (const item of report.items) {
    const index = bySource.get(item.source);
    if (index !== undefined) push(index, fromImage(item, index));
  }
  return results;
}
