import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { escapeControl, isValidRange } from '../core/index.ts';
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
] as const;
export type InventoryColumn = (typeof INVENTORY_COLUMNS)[number];
const REQUIRED: readonly InventoryColumn[] = ['source', 'chart'];

export type SourceKind = 'http' | 'oci' | 'local';

export interface InventoryRow {
  /** Where the row is, for messages: `inventory.csv:4`. */
  readonly where: string;
  readonly line: number;
  readonly source: string;
  readonly sourceKind: SourceKind;
  readonly chart: string;
  /** Empty: newest stable; `*`: every version; else a semver range. */
  readonly versions: string;
  readonly type: 'helm' | 'crds';
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
    if (!CHART_NAME.test(chart))
      issues.push({
        where: at('chart'),
        message: chart === '' ? 'chart is empty' : `"${chart}" is not a valid chart name`,
      });
    if (versions !== '' && versions !== '*' && !isValidRange(versions))
      issues.push({
        where: at('versions'),
        message: `"${versions}" is not a semver range (examples: ">=1.2 <2", "^3", "*"; empty for the newest)`,
      });
    if (typeText !== 'helm' && typeText !== 'crds')
      issues.push({ where: at('type'), message: `type "${typeText}" is not helm or crds` });
    if (target !== '' && !TARGET.test(target))
      issues.push({
        where: at('target'),
        message: `target "${target}" is not a repository path (lowercase, "/"-separated)`,
      });
    const verifyIdentity = cell('verify_identity')?.value ?? '';
    const verifyIssuer = cell('verify_issuer')?.value ?? '';
    if ((verifyIdentity === '') !== (verifyIssuer === ''))
      issues.push({
        where: at(verifyIdentity === '' ? 'verify_identity' : 'verify_issuer'),
        message: 'verify_identity and verify_issuer go together',
      });
    const key = `${source}|${chart}|${typeText}|${target}`;
    const first = seen.get(key);
    if (first !== undefined)
      issues.push({
        where: `${file}:${record.line}:1`,
        message: `duplicate of line ${first} (same source, chart, type and target)`,
      });
    else seen.set(key, record.line);
    const tests = cell('tests')?.value ?? '';
    const verifyKey = cell('verify_key')?.value ?? '';
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
      ...(verifyKey ? { verifyKey } : {}),
      ...(verifyIdentity ? { verifyIdentity, verifyIssuer } : {}),
    });
  }
  if (issues.length > 0)
    throw new ConfigError(`${file}: ${issues.length} problem(s) in the inventory`, issues);
  return result;
}
