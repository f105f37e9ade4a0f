// The images of an inventory's charts as the mirror holds them (issue 12 §1, "an inventory
// row"): for each chart row, every version the mirror under REGISTRY/PREFIX holds (the
// repository `airlock mirror` writes the row into, targetRepository), listed with
// listChartImages. An image row lists no chart: it names its images itself.
import { AirlockError } from '../errors.ts';
import { escapeControl, readUserFile, tagVersion } from '../core/index.ts';
import { type ChartImages, listChartImages, type ListChartImagesOptions } from '../images/index.ts';
import type { Session } from '../session/index.ts';
import { type InventoryRow, parseInventory } from './inventory.ts';
import { targetRepository } from './plan.ts';

export interface InventoryChartImagesOptions extends Omit<
  ListChartImagesOptions,
  'chart' | 'session'
> {
  readonly session: Session;
  /** inventory.csv. */
  readonly inventory: string;
  /** The mirror prefix the inventory is mirrored under: `registry.internal/mirror`. */
  readonly from: string;
  /** Only the row on this line of the inventory (default: every chart row). */
  readonly row?: number;
}

export interface InventoryChartImages extends ChartImages {
  /** Per row listed: where it is, and the mirrored chart references read. */
  readonly rows: readonly { readonly where: string; readonly references: readonly string[] }[];
}

/**
 * Every version of a row the mirror under `from` holds, as `REPOSITORY:TAG` sorted by tag: the
 * repository `airlock mirror` writes the row into (targetRepository), its version tags (Helm
 * writes `+` as `_`; an image row: every tag), not the signature or attestation tags beside them.
 * INPUT_INVALID (option `from`) when it holds none.
 */
export async function mirroredVersions(
  session: Session,
  row: InventoryRow,
  from: string,
): Promise<string[]> {
  const opened = session.target(from).open(targetRepository(row));
  let tags: string[];
  try {
    tags = await opened.listTags();
  } catch (error) {
    if (error instanceof AirlockError && error.code === 'REGISTRY_NOT_FOUND') tags = [];
    else throw error;
  }
  // Version tags only (Helm writes `+` as `_`); an image row's tags are whatever it mirrored.
  // The .sig and .att tags (`sha256-<hex>.sig`) travel with their subject.
  const versions = tags
    .filter((t) =>
      row.type === 'image'
        ? !/^sha256-[0-9a-f]{64}(\.[a-z]+)?$/.test(t)
        : tagVersion(t) !== undefined,
    )
    .sort();
  if (versions.length === 0)
    throw new AirlockError(
      'INPUT_INVALID',
      `${row.where}: ${escapeControl(opened.name)} holds no mirrored version of ${escapeControl(row.chart)}`,
      { details: ['mirror the inventory first, or name another row'], data: { option: 'from' } },
    );
  return versions.map((tag) => `${opened.name}:${tag}`);
}

/** Lists the images of the inventory's chart rows (or one row) from what the mirror holds. */
export async function listInventoryChartImages(
  options: InventoryChartImagesOptions,
): Promise<InventoryChartImages> {
  const { session, inventory: file, from, row: line, ...chartOptions } = options;
  const text = (await readUserFile(file, { what: 'the inventory' })).toString('utf8');
  const all = parseInventory(text, file);
  const rows =
    line === undefined ? all.filter((r) => r.type !== 'image') : all.filter((r) => r.line === line);
  if (line !== undefined && rows.length === 0)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(file)}:${line} is not a row of the inventory`,
      {
        details: [`its rows are on lines ${all.map((r) => r.line).join(', ')}`],
        data: { option: 'row' },
      },
    );
  const imageRow = rows.find((r) => r.type === 'image');
  if (imageRow !== undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${imageRow.where} is an image row: it names its images itself (${escapeControl(imageRow.chart)})`,
      { details: ['name a chart row'], data: { option: 'row' } },
    );
  if (rows.length === 0)
    throw new AirlockError('INPUT_INVALID', `${escapeControl(file)} has no chart rows`, {
      data: { option: 'inventory' },
    });
  const listed: { where: string; references: string[] }[] = [];
  for (const row of rows)
    listed.push({ where: row.where, references: await mirroredVersions(session, row, from) });
  const result = await listChartImages({
    ...chartOptions,
    session,
    chart: listed.flatMap((r) => r.references),
  });
  return { ...result, rows: listed };
}
