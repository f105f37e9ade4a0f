import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { escapeControl, isValidRange } from '../core/index.ts';
import { isValidTag } from '../oci/index.ts';
import {
  ImageReferenceError,
  mirrorPath,
  normalizeImage,
  parsePlatform,
  registryKey,
} from '../images/index.ts';
import { type CSVField, parseCSV } from './csv.ts';

// The inventory format is documented in docs/inventory.md, with a JSON Schema in
// docs/inventory.schema.json. Parsing is pure: text in, rows or every problem out.
export const INVENTORY_COLUMNS = [
  'source',
  'chart',
  'versions',
  'type',
  'target',
  'tests',
  'verify_key',
  'verify_identity',
  'verify_issuer',
  'tags',
  'platforms',
] as const;
export type InventoryColumn = (typeof INVENTORY_COLUMNS)[number];
/** `chart` too, unless every row is an image row (which names its image in `source`). */
const REQUIRED: readonly InventoryColumn[] = ['source'];

/** `image`: a container image repository (type=image rows); the others hold charts. */
export type SourceKind = 'http' | 'oci' | 'local' | 'image';

export interface InventoryRow {
  /** Where the row is, for messages: `inventory.csv:4`. */
  readonly where: string;
  readonly line: number;
  readonly source: string;
  readonly sourceKind: SourceKind;
  /** The chart name; for an image row, the image repository (`docker.io/library/nginx`). */
  readonly chart: string;
  /**
   * Empty: newest stable; `*`: every version; else a semver range. For an image row, over the
   * repository's tags read as versions (an image row with `tags` and no range takes those only).
   */
  readonly versions: string;
  readonly type: 'helm' | 'crds' | 'image';
  /** Image rows: where the image is mirrored below the target (`docker.io/library/nginx`). */
  readonly imagePath?: string;
  /** Image rows: tags mirrored as they are, besides the range's. */
  readonly tags?: readonly string[];
  /** Image rows: `os/arch[/variant]` children kept from an index; absent: every platform. */
  readonly platforms?: readonly string[];
  readonly target?: string;
  readonly tests?: string;
  readonly verifyKey?: string;
  readonly verifyIdentity?: string;
  readonly verifyIssuer?: string;
}

const CHART_NAME = /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i;
const TARGET =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function sourceKind(source: string): SourceKind | undefined {
  if (/^https?:\/\/[^\s/]+/.test(source)) return 'http';
  if (/^oci:\/\/[^\s/]+\/?/.test(source)) return 'oci';
  if (
    source.startsWith('file://') ||
    source.startsWith('/') ||
    source.startsWith('./') ||
    source.startsWith('../') ||
    /^[\w.-]+(\/[\w.-]+)*\/?$/.test(source)
  )
    return 'local';
  return undefined;
}

/** Parses an inventory; throws ConfigError listing every problem with file, line and column. */
export function parseInventory(text: string, file: string): InventoryRow[] {
  const { records, problems } = parseCSV(text);
  const issues: ConfigIssue[] = problems.map((p) => ({
    where: `${file}:${p.line}:${p.column}`,
    message: p.message,
  }));
  // Inventory fields are single-line text: a newline, CR, NUL, ESC or other control character in
  // one (quoted newlines are legal CSV) could forge a log line or a path, so it is refused where it is.
  const controlIssue = (field: CSVField, column: string): void => {
    if (!field.control) return;
    const code = field.control.char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    issues.push({
      where: `${file}:${field.control.line}:${field.control.column}`,
      message: `control character ${escapeControl(field.control.char)} (U+${code}) in ${column}: inventory fields are single-line text`,
    });
  };
  const [header, ...rows] = records;
  if (!header) {
    throw new ConfigError(`${file} is empty`, [
      {
        where: `${file}:1:1`,
        message: `no header row; the first line must name the columns, at least ${REQUIRED.join(',')}`,
      },
    ]);
  }
  const columns: (InventoryColumn | undefined)[] = [];
  for (const field of header.fields) {
    controlIssue(field, 'the header');
    const name = field.value.trim().toLowerCase();
    if ((INVENTORY_COLUMNS as readonly string[]).includes(name)) {
      if (columns.includes(name as InventoryColumn))
        issues.push({
          where: `${file}:${field.line}:${field.column}`,
          message: `column "${name}" appears twice`,
        });
      columns.push(name as InventoryColumn);
    } else {
      issues.push({
        where: `${file}:${field.line}:${field.column}`,
        message: `unknown column "${field.value}" (known: ${INVENTORY_COLUMNS.join(', ')})`,
      });
      columns.push(undefined);
    }
  }
  for (const required of REQUIRED) {
    if (!columns.includes(required))
      issues.push({
        where: `${file}:${header.line}:1`,
        message: `the header has no "${required}" column`,
      });
  }
  const result: InventoryRow[] = [];
  const seen = new Map<string, number>();
  let chartRowWithoutColumn: number | undefined;
  if (rows.length === 0 && issues.length === 0)
    issues.push({
      where: `${file}:${header.line + 1}:1`,
      message: 'the inventory lists no charts',
    });
  for (const record of rows) {
    const cell = (
      name: InventoryColumn,
    ): { value: string; line: number; column: number } | undefined => {
      const index = columns.indexOf(name);
      const field = index >= 0 ? record.fields[index] : undefined;
      return field ? { ...field, value: field.value.trim() } : undefined;
    };
    const at = (name: InventoryColumn): string => {
      const c = cell(name);
      return `${file}:${c?.line ?? record.line}:${c?.column ?? 1}`;
    };
    record.fields.forEach((field, i) => {
      const name = columns[i];
      controlIssue(field, name === undefined ? `field ${i + 1}` : `the ${name} field`);
    });
    if (record.fields.length !== header.fields.length) {
      issues.push({
        where: `${file}:${record.line}:1`,
        message: `${record.fields.length} fields, but the header has ${header.fields.length}`,
      });
      continue;
    }
    const source = cell('source')?.value ?? '';
    const chart = cell('chart')?.value ?? '';
    const versions = cell('versions')?.value ?? '';
    const typeText = (cell('type')?.value ?? '') || 'helm';
    const target = cell('target')?.value ?? '';
    const tags = (cell('tags')?.value ?? '').split(/\s+/).filter((t) => t !== '');
    const platforms = (cell('platforms')?.value ?? '').split(/\s+/).filter((p) => p !== '');
    if (versions !== '' && versions !== '*' && !isValidRange(versions))
      issues.push({
        where: at('versions'),
        message: `"${versions}" is not a semver range (examples: ">=1.2 <2", "^3", "*"; empty for the newest)`,
      });
    const verifyIdentity = cell('verify_identity')?.value ?? '';
    const verifyIssuer = cell('verify_issuer')?.value ?? '';
    if ((verifyIdentity === '') !== (verifyIssuer === ''))
      issues.push({
        where: at(verifyIdentity === '' ? 'verify_identity' : 'verify_issuer'),
        message: 'verify_identity and verify_issuer go together',
      });
    const tests = cell('tests')?.value ?? '';
    const verifyKey = cell('verify_key')?.value ?? '';
    const verify = {
      ...(verifyKey ? { verifyKey } : {}),
      ...(verifyIdentity ? { verifyIdentity, verifyIssuer } : {}),
    };
    if (typeText === 'image') {
      const image = imageRow({ source, chart, target, tests, tags, platforms }, at, issues);
      if (image === undefined) continue;
      const key = `image|${image.name}`;
      const first = seen.get(key);
      if (first !== undefined)
        issues.push({
          where: `${file}:${record.line}:1`,
          message: `duplicate of line ${first} (the same image repository)`,
        });
      else seen.set(key, record.line);
      result.push({
        where: `${file}:${record.line}`,
        line: record.line,
        source,
        sourceKind: 'image',
        chart: image.name,
        versions,
        type: 'image',
        imagePath: image.path,
        ...(tags.length > 0 ? { tags } : {}),
        ...(platforms.length > 0 ? { platforms } : {}),
        ...verify,
      });
      continue;
    }
    if (!columns.includes('chart')) chartRowWithoutColumn ??= record.line;
    for (const [column, list] of [
      ['tags', tags],
      ['platforms', platforms],
    ] as const)
      if (list.length > 0)
        issues.push({ where: at(column), message: `${column} is for type=image rows only` });
    const kind = sourceKind(source);
    if (source === '')
      issues.push({
        where: at('source'),
        message:
          'source is empty: give an https:// Helm repository, an oci:// registry path, or a local directory',
      });
    else if (!kind)
      issues.push({
        where: at('source'),
        message: `"${source}" is not an https:// or oci:// URL or a local path`,
      });
    else if (kind === 'http') {
      try {
        new URL(source);
      } catch {
        issues.push({ where: at('source'), message: `"${source}" is not a valid URL` });
      }
    } else if (kind === 'local' && source.startsWith('file://')) {
      try {
        fileURLToPath(source);
      } catch {
        issues.push({
          where: at('source'),
          message: `"${source}" is not a local file:// URL (file:///absolute/path, no host)`,
        });
      }
    }
    if (!CHART_NAME.test(chart) && columns.includes('chart'))
      issues.push({
        where: at('chart'),
        message: chart === '' ? 'chart is empty' : `"${chart}" is not a valid chart name`,
      });
    if (typeText !== 'helm' && typeText !== 'crds')
      issues.push({
        where: at('type'),
        message: `type "${typeText}" is not helm, crds or image`,
      });
    if (target !== '' && !TARGET.test(target))
      issues.push({
        where: at('target'),
        message: `target "${target}" is not a repository path (lowercase, "/"-separated)`,
      });
    const key = `${source}|${chart}|${typeText}|${target}`;
    const first = seen.get(key);
    if (first !== undefined)
      issues.push({
        where: `${file}:${record.line}:1`,
        message: `duplicate of line ${first} (same source, chart, type and target)`,
      });
    else seen.set(key, record.line);
    result.push({
      where: `${file}:${record.line}`,
      line: record.line,
      source,
      sourceKind: kind ?? 'local',
      chart,
      versions,
      type: typeText === 'crds' ? 'crds' : 'helm',
      ...(target ? { target } : {}),
      ...(tests ? { tests } : {}),
      ...verify,
    });
  }
  if (chartRowWithoutColumn !== undefined)
    issues.push({
      where: `${file}:${header.line}:1`,
      message: `the header has no "chart" column (line ${chartRowWithoutColumn} is a chart row)`,
    });
  if (issues.length > 0)
    throw new ConfigError(`${file}: ${issues.length} problem(s) in the inventory`, issues);
  return result;
}

/**
 * An image row's checks: `source` is an image repository as a pod names it (no tag, no digest:
 * those go in `tags` and `versions`), and the chart-only columns stay empty. The row mirrors to
 * `<target>/<registry>/<repository>` (images mirrorPath), the path cache rules map onto.
 */
function imageRow(
  fields: {
    source: string;
    chart: string;
    target: string;
    tests: string;
    tags: readonly string[];
    platforms: readonly string[];
  },
  at: (column: InventoryColumn) => string,
  issues: ConfigIssue[],
): { name: string; path: string } | undefined {
  const before = issues.length;
  for (const column of ['chart', 'target', 'tests'] as const)
    if (fields[column] !== '')
      issues.push({
        where: at(column),
        message:
          column === 'chart'
            ? 'an image row names its image in source: leave chart empty'
            : column === 'target'
              ? 'an image row is mirrored to <target>/<registry>/<repository>, the path cache rules map onto: leave target empty'
              : 'tests are injected into charts, not images',
      });
  for (const tag of fields.tags)
    if (!isValidTag(tag))
      issues.push({ where: at('tags'), message: `"${tag}" is not a valid tag` });
  for (const platform of fields.platforms) {
    try {
      parsePlatform(platform);
    } catch {
      issues.push({
        where: at('platforms'),
        message: `"${platform}" is not a platform (os/arch or os/arch/variant)`,
      });
    }
  }
  const source = fields.source;
  const name = source.slice(source.lastIndexOf('/') + 1);
  let image;
  if (source === '')
    issues.push({ where: at('source'), message: 'source is empty: name the image repository' });
  else if (source.includes('://'))
    issues.push({
      where: at('source'),
      message: `write the image repository as a pod names it (docker.io/library/nginx), not as a URL`,
    });
  else if (name.includes(':') || source.includes('@'))
    issues.push({
      where: at('source'),
      message: `"${source}" names a tag or digest: give the repository in source, and its tags in tags or versions`,
    });
  else {
    try {
      const normalized = normalizeImage(source);
      image = {
        name: `${registryKey(normalized.registry)}/${normalized.repository}`,
        path: mirrorPath(normalized),
      };
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
      issues.push({
        where: at('source'),
        message: `"${escapeControl(source)}" is not an image repository: ${error.reason}`,
      });
    }
  }
  return issues.length === before ? image : undefined;
}
