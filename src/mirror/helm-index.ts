import { parse as parseYAML } from 'yaml';

// A fast reader for Helm repository indexes. A big index (10,000 charts, 60,000 versions: 44 MB)
// takes the general YAML parser 17 s and 1.8 GB; this scanner reads the block-style subset that
// Helm's index writer (go-yaml, sigs.k8s.io/yaml) and other generators produce in a fraction of a
// second, keeping only the entry fields the mirror reads. Anything outside that subset (anchors,
// tags, flow collections or multi-line scalars in a kept field, duplicate keys, tabs, directives,
// several documents) sends the whole text to the general parser, so the result is always what
// `yaml.parse` gives for those fields.

/** The fields of an index entry the scanner keeps (others are skipped unread). */
export const INDEX_ENTRY_FIELDS: readonly string[] = [
  'name',
  'version',
  'urls',
  'digest',
  'created',
];

/** The index as the mirror reads it: `entries` → chart name → entries with the kept fields. */
export interface HelmIndex {
  readonly entries: Record<string, Record<string, unknown>[]>;
}

/**
 * Parses an index.yaml: the fast scanner when the text fits its subset, else the YAML parser.
 * Give the bytes as read: the scanner decodes only the fields it keeps, so a 44 MB index never
 * becomes a 44 MB string.
 */
export function parseHelmIndex(input: string | Uint8Array): unknown {
  const bytes =
    typeof input === 'string'
      ? Buffer.from(input, 'utf8')
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return (
    scanHelmIndex(bytes) ?? parseYAML(typeof input === 'string' ? input : bytes.toString('utf8'))
  );
}

/** Thrown inside the scanner when the text leaves the subset; caught by scanHelmIndex. */
class OutsideSubset extends Error {}

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
// Plain scalars the YAML 1.2 core schema does not read as strings (the `yaml` package's tags).
const NOT_A_STRING =
  /^(?:~|[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)$/;
// Bytes a plain key may hold (KEY above); the kept field names as bytes.
const KEY_BYTE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-')
  KEY_BYTE[c.charCodeAt(0)] = 1;
const KEPT: readonly (readonly [string, Buffer])[] = INDEX_ENTRY_FIELDS.map((name) => [
  name,
  Buffer.from(name, 'latin1'),
]);
/** What an entry is read into when its values are only checked, not kept. */
const NO_ENTRY: Record<string, unknown> = Object.freeze({});
// Characters a plain scalar cannot start with (YAML 1.2 c-indicator), bar the quotes handled here.
const INDICATOR = new Set('-?:,[]{}#&*!|>%@`'.split(''));

/**
 * The scanner: the index, or undefined when the text is outside the subset it reads exactly.
 * Exported for tests, which check it against the YAML parser.
 */
export function scanHelmIndex(input: string | Buffer): HelmIndex | undefined {
  try {
    return scanner(
      typeof input === 'string' ? Buffer.from(input, 'utf8') : input,
      0,
      false,
    ).index();
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
}

function outside(): never {
  throw new OutsideSubset();
}

// Bytes of the structure (all ASCII: UTF-8 never uses them inside a multi-byte character).
const LF = 10;
const CR = 13;
const TAB = 9;
const SPACE = 32;
const HASH = 35;
const DASH = 45;
const COLON = 58;

/**
 * One pass over `buf` from `from`. The first pass (index) checks the whole document and records
 * where each chart's versions are; `entries` reads a chart's versions on first access with a second
 * scanner over just that range (`emit`), so a big index never exists as 60,000 objects at once.
 * The current line and key are mutable state, not objects: a 44 MB index has 1.1 million lines.
 */
function scanner(
  buf: Buffer,
  from: number,
  emit: boolean,
): {
  index: () => HelmIndex | undefined;
  versions: (chartIndent: number) => Record<string, unknown>[];
} {
  // The keys of the entry being read (hashes), reused from entry to entry.
  const seen: number[] = [];
  // A UTF-8 byte order mark.
  let pos = from === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : from;
  // The line ahead (when `ahead`): its indentation and content bytes, without trailing spaces/CR.
  let ahead = false;
  let indent = 0;
  let start = 0;
  let end = 0;
  // The value range of the last keyLine().
  let valueStart = 0;
  let valueEnd = 0;

  /** Reads the next line with content (blank and comment lines carry nothing) into the state. */
  const peek = (): boolean => {
    if (ahead) return true;
    while (pos < buf.length) {
      let lineEnd = buf.indexOf(LF, pos);
      if (lineEnd < 0) lineEnd = buf.length;
      const next = lineEnd + 1;
      if (lineEnd > pos && buf[lineEnd - 1] === CR) lineEnd--;
      let first = pos;
      while (first < lineEnd && buf[first] === SPACE) first++;
      const lineStart = pos;
      pos = next;
      if (first === lineEnd || buf[first] === HASH) continue; // blank, or a comment line
      if (buf[first] === TAB) outside(); // tabs in indentation
      while (lineEnd > first && buf[lineEnd - 1] === SPACE) lineEnd--;
      indent = first - lineStart;
      start = first;
      end = lineEnd;
      ahead = true;
      return true;
    }
    return false;
  };
  /** Consumes the line ahead (its state stays readable until the next peek). */
  const take = (): void => {
    ahead = false;
  };
  const isSequenceItem = (): boolean =>
    buf[start] === DASH && (end === start + 1 || buf[start + 1] === SPACE);
  const text = (from: number, to: number): string => buf.toString('utf8', from, to);
  /** `key: value` / `key:` in [from, to): the key (plain, a string); the value range in state. */
  const keyLine = (from: number, to: number): string => {
    const colon = buf.indexOf(COLON, from);
    if (colon <= from || colon >= to) outside();
    // "a:b" is a plain scalar, not a key.
    if (colon + 1 < to && buf[colon + 1] !== SPACE) outside();
    const key = buf.toString('latin1', from, colon);
    if (!KEY.test(key) || NOT_A_STRING.test(key) || key === '__proto__') outside();
    valueStart = colon + 1;
    while (valueStart < to && buf[valueStart] === SPACE) valueStart++;
    valueEnd = to;
    return key;
  };
  /**
   * An entry's key, without making a string of it: its FNV-1a hash (for duplicates; a collision
   * only sends the text to the YAML parser) and, in `kept`, the field name when it is kept. Keys
   * the YAML core schema could read as non-strings, and `__proto__`, are decoded and checked.
   */
  let kept: string | undefined;
  const entryKey = (from: number, to: number): number => {
    const colon = buf.indexOf(COLON, from);
    if (colon <= from || colon >= to) outside();
    if (colon + 1 < to && buf[colon + 1] !== SPACE) outside();
    let hash = 0x811c9dc5;
    for (let i = from; i < colon; i++) {
      const byte = buf[i] ?? 0;
      if (KEY_BYTE[byte] !== 1 || (i === from && (byte === 0x2e || byte === 0x2f || byte === DASH)))
        outside();
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    const first = buf[from] ?? 0;
    if ((first >= 0x30 && first <= 0x39) || first === 0x5f || colon - from <= 5) {
      const key = buf.toString('latin1', from, colon);
      if (NOT_A_STRING.test(key) || key === '__proto__') outside();
    }
    kept = undefined;
    for (const [name, bytes] of KEPT)
      if (
        bytes.length === colon - from &&
        bytes[0] === first &&
        buf.compare(bytes, 0, bytes.length, from, colon) === 0
      )
        kept = name;
    valueStart = colon + 1;
    while (valueStart < to && buf[valueStart] === SPACE) valueStart++;
    valueEnd = to;
    return hash >>> 0;
  };
  /** Skips the lines of a value nested deeper than `at` (and a compact sequence at it). */
  const skipNested = (at: number, compactSequence: boolean): void => {
    while (peek()) {
      if (indent > at || (compactSequence && indent === at && isSequenceItem())) take();
      else return;
    }
  };

  return { index, versions: scanVersions };

  function index(): HelmIndex | undefined {
    let entries: Record<string, Record<string, unknown>[]> | undefined;
    const topKeys = new Set<string>();
    while (peek()) {
      take();
      if (indent !== 0) outside();
      const key = keyLine(start, end);
      const empty = valueStart >= valueEnd;
      if (topKeys.has(key)) outside();
      topKeys.add(key);
      if (key !== 'entries') {
        skipNested(0, empty);
        continue;
      }
      if (!empty) outside();
      entries = scanEntries(0);
    }
    return entries === undefined ? undefined : { entries };
  }

  function scanEntries(parent: number): Record<string, Record<string, unknown>[]> {
    const charts: Record<string, Record<string, unknown>[]> = {};
    if (!peek() || indent <= parent) outside(); // `entries:` with nothing: null
    const chartIndent = indent;
    while (peek() && indent > parent) {
      if (indent !== chartIndent) outside();
      take();
      const chart = keyLine(start, end);
      if (Object.hasOwn(charts, chart)) outside();
      if (
        valueEnd - valueStart === 2 &&
        buf[valueStart] === 0x5b && // "[]"
        buf[valueStart + 1] === 0x5d
      ) {
        charts[chart] = [];
        continue;
      }
      if (valueStart < valueEnd) outside();
      // Checked now, read again (from here) when a row asks for this chart.
      const body = pos;
      scanVersions(chartIndent);
      Object.defineProperty(charts, chart, {
        enumerable: true,
        configurable: true,
        get: () => scanner(buf, body, true).versions(chartIndent),
      });
    }
    return charts;
  }

  function scanVersions(chartIndent: number): Record<string, unknown>[] {
    const list: Record<string, unknown>[] = [];
    if (!peek() || indent < chartIndent || !isSequenceItem()) outside();
    const itemIndent = indent;
    while (peek() && indent >= chartIndent) {
      if (indent === chartIndent && itemIndent > chartIndent) return list;
      if (indent !== itemIndent) {
        if (indent === chartIndent) return list; // the next chart (compact sequence)
        outside();
      }
      if (!isSequenceItem()) {
        if (itemIndent === chartIndent) return list;
        outside();
      }
      take();
      // "- key: value": the item's mapping starts after the dash and its spaces.
      let first = start + 1;
      while (buf[first] === SPACE) first++;
      if (first >= end) outside();
      const entry = scanEntry(itemIndent + (first - start), first, end);
      if (emit) list.push(entry);
    }
    return list;
  }

  function scanEntry(keyIndent: number, from: number, to: number): Record<string, unknown> {
    const entry: Record<string, unknown> = emit ? {} : NO_ENTRY;
    seen.length = 0;
    let hash = entryKey(from, to);
    for (;;) {
      if (seen.includes(hash)) outside();
      seen.push(hash);
      const key = kept;
      const empty = valueStart >= valueEnd;
      if (key === undefined) skipNested(keyIndent, empty);
      else if (!empty) {
        const value = scalar(text(valueStart, valueEnd));
        if (emit) entry[key] = value;
        // A continuation line would make it a multi-line scalar.
        if (peek() && indent > keyIndent) outside();
      } else {
        const value = blockSequence(keyIndent);
        if (emit) entry[key] = value;
      }
      if (!peek() || indent !== keyIndent || isSequenceItem()) break;
      take();
      hash = entryKey(start, end);
    }
    if (peek() && indent > keyIndent) outside();
    return entry;
  }

  /** The value of `key:` with nothing after it: a sequence of scalars, or null. */
  function blockSequence(keyIndent: number): unknown {
    if (!peek() || indent < keyIndent || !isSequenceItem()) {
      if (ahead && indent > keyIndent) outside(); // a nested mapping
      return null;
    }
    const itemIndent = indent;
    const items: unknown[] = [];
    while (peek() && indent >= keyIndent) {
      if (indent !== itemIndent) {
        if (indent === keyIndent) break;
        outside();
      }
      if (!isSequenceItem()) {
        if (itemIndent === keyIndent) break;
        outside();
      }
      take();
      let first = start + 1;
      while (first < end && buf[first] === SPACE) first++;
      if (first >= end) outside();
      items.push(scalar(text(first, end)));
      if (peek() && indent > itemIndent) outside();
    }
    return items;
  }
}

/** One scalar that ends on its line: plain, single- or double-quoted, with a trailing comment. */
function scalar(text: string): unknown {
  const first = text[0] ?? '';
  if (first === "'") {
    let value = '';
    let i = 1;
    for (;;) {
      const quote = text.indexOf("'", i);
      if (quote < 0) outside(); // continues on the next line
      value += text.slice(i, quote);
      if (text[quote + 1] === "'") {
        value += "'";
        i = quote + 2;
        continue;
      }
      trailing(text.slice(quote + 1));
      return value;
    }
  }
  if (first === '"') {
    const close = text.indexOf('"', 1);
    if (close < 0) outside();
    const inner = text.slice(1, close);
    if (inner.includes('\\')) {
      // Escapes: the YAML parser reads this one scalar (when it ends on this line).
      return parseScalar(text);
    }
    trailing(text.slice(close + 1));
    return inner;
  }
  if (INDICATOR.has(first)) outside();
  const comment = text.indexOf(' #');
  const plain = (comment < 0 ? text : text.slice(0, comment)).trimEnd();
  if (plain.includes('\t')) outside();
  // "a: b" inside a value is a nested mapping, which YAML refuses in a compact one.
  if (plain.includes(': ') || plain.endsWith(':')) outside();
  return NOT_A_STRING.test(plain) ? parseScalar(plain) : plain;
}

function parseScalar(text: string): unknown {
  let value: unknown;
  try {
    value = parseYAML(text);
  } catch {
    outside();
  }
  if (value !== null && typeof value === 'object') outside();
  return value;
}

/** What may follow a closing quote: spaces and a comment. */
function trailing(rest: string): void {
  const trimmed = rest.trimStart();
  if (trimmed !== '' && !(trimmed.startsWith('#') && rest.length > trimmed.length)) outside();
}
