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

/** Parses an index.yaml: the fast scanner when the text fits its subset, else the YAML parser. */
export function parseHelmIndex(text: string): unknown {
  return scanHelmIndex(text) ?? parseYAML(text);
}

/** Thrown inside the scanner when the text leaves the subset; caught by scanHelmIndex. */
class OutsideSubset extends Error {}

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
// Plain scalars the YAML 1.2 core schema does not read as strings (the `yaml` package's tags).
const NOT_A_STRING =
  /^(?:~|[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+)$/;
// Characters a plain scalar cannot start with (YAML 1.2 c-indicator), bar the quotes handled here.
const INDICATOR = new Set('-?:,[]{}#&*!|>%@`'.split(''));

interface Line {
  /** Spaces before the content. */
  readonly indent: number;
  /** The line without indentation and without a trailing CR. */
  readonly content: string;
}

/**
 * The scanner: the index, or undefined when the text is outside the subset it reads exactly.
 * Exported for tests, which check it against the YAML parser.
 */
export function scanHelmIndex(text: string): HelmIndex | undefined {
  try {
    return scan(text);
  } catch (error) {
    if (error instanceof OutsideSubset) return undefined;
    throw error;
  }
}

function outside(): never {
  throw new OutsideSubset();
}

function scan(source: string): HelmIndex | undefined {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const keep = new Set(INDEX_ENTRY_FIELDS);
  let pos = 0;
  let peeked: Line | undefined;
  // Only lines with content: blank lines and comment lines carry nothing here.
  const next = (): Line | undefined => {
    if (peeked) {
      const line = peeked;
      peeked = undefined;
      return line;
    }
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const lineEnd = end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      let indent = 0;
      while (pos + indent < lineEnd && text.charCodeAt(pos + indent) === 32) indent++;
      const start = pos + indent;
      pos = end + 1;
      if (start === lineEnd) continue;
      const first = text.charCodeAt(start);
      if (first === 35) continue; // "#": a comment line
      if (first === 9) outside(); // tabs in indentation
      let contentEnd = lineEnd;
      while (contentEnd > start && text.charCodeAt(contentEnd - 1) === 32) contentEnd--;
      return { indent, content: text.slice(start, contentEnd) };
    }
    return undefined;
  };
  const peek = (): Line | undefined => (peeked ??= next());
  /** Skips the lines of a value nested deeper than `indent` (and a compact sequence at it). */
  const skipNested = (indent: number, compactSequence: boolean): void => {
    for (let line = peek(); line; line = peek()) {
      if (line.indent > indent) next();
      else if (compactSequence && line.indent === indent && isSequenceItem(line.content)) next();
      else return;
    }
  };

  let entries: Record<string, Record<string, unknown>[]> | undefined;
  const topKeys = new Set<string>();
  for (let line = next(); line; line = next()) {
    if (line.indent !== 0) outside();
    const [key, value] = splitKey(line.content);
    if (topKeys.has(key)) outside();
    topKeys.add(key);
    if (key !== 'entries') {
      skipNested(0, value === '');
      continue;
    }
    if (value !== '') outside();
    entries = scanEntries(0);
  }
  return entries === undefined ? undefined : { entries };

  function scanEntries(parent: number): Record<string, Record<string, unknown>[]> {
    const charts: Record<string, Record<string, unknown>[]> = {};
    const first = peek();
    if (!first || first.indent <= parent) outside(); // `entries:` with nothing: null
    const chartIndent = first.indent;
    for (let line = peek(); line && line.indent > parent; line = peek()) {
      if (line.indent !== chartIndent) outside();
      next();
      const [chart, value] = splitKey(line.content);
      if (Object.hasOwn(charts, chart)) outside();
      if (value === '[]') {
        charts[chart] = [];
        continue;
      }
      if (value !== '') outside();
      charts[chart] = scanVersions(chartIndent);
    }
    return charts;
  }

  function scanVersions(chartIndent: number): Record<string, unknown>[] {
    const list: Record<string, unknown>[] = [];
    const first = peek();
    if (!first || first.indent < chartIndent || !isSequenceItem(first.content)) outside();
    const itemIndent = first.indent;
    for (let line = peek(); line && line.indent >= chartIndent; line = peek()) {
      if (line.indent === chartIndent && itemIndent > chartIndent) return list;
      if (line.indent !== itemIndent) {
        if (line.indent === chartIndent) return list; // the next chart (compact sequence)
        outside();
      }
      if (!isSequenceItem(line.content)) {
        if (itemIndent === chartIndent) return list;
        outside();
      }
      next();
      // "- key: value": the item's mapping starts after the dash and its spaces.
      let offset = 1;
      while (line.content.charCodeAt(offset) === 32) offset++;
      if (offset >= line.content.length) outside();
      list.push(scanEntry(itemIndent + offset, line.content.slice(offset)));
    }
    return list;
  }

  function scanEntry(keyIndent: number, firstContent: string): Record<string, unknown> {
    const entry: Record<string, unknown> = {};
    const seen = new Set<string>();
    let content: string | undefined = firstContent;
    for (;;) {
      const [key, value] = splitKey(content);
      if (seen.has(key)) outside();
      seen.add(key);
      if (!keep.has(key)) skipNested(keyIndent, value === '');
      else if (value !== '') {
        entry[key] = scalar(value);
        // A continuation line would make it a multi-line scalar.
        const after = peek();
        if (after && after.indent > keyIndent) outside();
      } else entry[key] = blockSequence(keyIndent);
      const line = peek();
      if (!line || line.indent !== keyIndent || isSequenceItem(line.content)) break;
      next();
      content = line.content;
    }
    const line = peek();
    if (line && line.indent > keyIndent) outside();
    return entry;
  }

  /** The value of `key:` with nothing after it: a sequence of scalars, or null. */
  function blockSequence(keyIndent: number): unknown {
    const first = peek();
    if (!first || first.indent < keyIndent || !isSequenceItem(first.content)) {
      if (first && first.indent > keyIndent) outside(); // a nested mapping
      return null;
    }
    const itemIndent = first.indent;
    const items: unknown[] = [];
    for (let line = peek(); line && line.indent >= keyIndent; line = peek()) {
      if (line.indent !== itemIndent) {
        if (line.indent === keyIndent) break;
        outside();
      }
      if (!isSequenceItem(line.content)) {
        if (itemIndent === keyIndent) break;
        outside();
      }
      next();
      const value = line.content.slice(1).trimStart();
      if (value === '') outside();
      items.push(scalar(value));
      const after = peek();
      if (after && after.indent > itemIndent) outside();
    }
    return items;
  }
}

function isSequenceItem(content: string): boolean {
  return content === '-' || content.startsWith('- ');
}

/** Splits `key: value` / `key:`; the key must be a plain string key. */
function splitKey(content: string): [string, string] {
  const colon = content.indexOf(':');
  if (colon <= 0) outside();
  const key = content.slice(0, colon);
  const rest = content.slice(colon + 1);
  if (rest !== '' && rest.charCodeAt(0) !== 32) outside(); // "a:b" is a plain scalar, not a key
  if (!KEY.test(key) || NOT_A_STRING.test(key) || key === '__proto__') outside();
  return [key, rest.trim()];
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
