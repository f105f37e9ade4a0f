// A fast path for parseGoYAML: the objects the ResourceSet template renderer produces are
// go-yaml-emitted block YAML (mappings, sequences, one-line scalars), and reading each of them
// through the `yaml` package's Parser and Composer is about half of a 1,000-input-set build
// (docs/performance.md, issue 10). This reader takes only a strict subset of block YAML — the
// shapes go-yaml v2 Marshal writes — and declines (undefined) at the first thing outside it, so
// parseGoYAML then reads the text with the full parser. What it accepts it reads as the full
// path does: plain scalars go through the same resolution and JSON conversion (parse.ts
// decodeScalar, toGoValue, jsonKey).
//
// Accepted, per YAML 1.1 §9 (block collections) and §4.6 (scalar styles):
// - an optional `---` first line, then block mappings and block sequences at any consistent
//   indentation; `- ` items at the owning key's indentation (go-yaml's compact form) or deeper;
//   an item may start a mapping or a sequence on its own line (`- key: value`, `- - x`);
// - keys: plain or quoted scalars on one line, at most MAX_KEY characters, no duplicates;
// - values: one-line plain scalars, one-line single-quoted scalars, one-line double-quoted
//   scalars without escapes, and the empty flow collections `{}` and `[]`;
// - empty lines, and comment lines (only `#` after the indentation): outside block and
//   multi-line scalars, which are declined, such a line means nothing (§4.2.2 l-comment).
// Declined: comments after content, anchors, aliases, `<<` merge keys, tags, block scalars,
// flow collections with content, multi-line scalars, `?` keys, tabs, CR, control and line-break
// characters (NEL, LS, PS), a BOM, document markers after the first line, trailing spaces, lines
// of only spaces, indentation that does not line up with an open collection.

import { decodeScalar, jsonKey, toGoValue } from './parse.ts';
import type { GoMap, GoValue } from './value.ts';

/** Thrown inside the reader when the text leaves the subset; never escapes fastParseGoYAML. */
const DECLINE = Symbol('decline');

// go-yaml's scanner gives up on a simple key longer than 1024 characters (scannerc.go
// yaml_parser_save_simple_key, "could not find expected ':'"): the full path reports that.
const MAX_KEY = 1024;

// Printable text without tab, CR, NEL (U+0085), LS/PS (U+2028/9), BOM (U+FEFF), U+FFFE/U+FFFF
// or a lone surrogate: what is left needs no YAML character-set rule beyond "space ends a word".
const OUTSIDE =
  /[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]/u;

// c-indicator (YAML 1.1 §5.3): a plain scalar starting with one is something else or needs the
// full grammar. `-` is let through for text like -1 and --port (checked below).
const INDICATORS = '-?:,[]{}#&*!|>\'"%@`';

function decline(): never {
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- a private sentinel, caught below
  throw DECLINE;
}

/** A plain scalar that stays on its line and means only itself (ns-plain-one-line). */
function checkPlain(s: string): void {
  const first = s[0];
  if (first === undefined) decline();
  // `-1`, `--port=80`: a `-` followed by a non-space is not a sequence entry (ns-plain-first);
  // the `---` document marker is only one at the start of a line, which never gets here.
  if (INDICATORS.includes(first) && (first !== '-' || s.length === 1 || s[1] === ' ')) decline();
  if (s.includes(' #') || s.includes(': ') || s.endsWith(':') || s.endsWith(' ')) decline();
}

/** The text of a one-line single-quoted scalar starting at `from`, and where it ends. */
function singleQuoted(t: string, from: number): [string, number] {
  let out = '';
  let i = from + 1;
  for (;;) {
    const j = t.indexOf("'", i);
    if (j < 0) decline();
    out += t.slice(i, j);
    if (t[j + 1] !== "'") return [out, j + 1];
    out += "'";
    i = j + 2;
  }
}

/** The text of a one-line double-quoted scalar without escapes starting at `from`, and its end. */
function doubleQuoted(t: string, from: number): [string, number] {
  const j = t.indexOf('"', from + 1);
  if (j < 0) decline();
  const out = t.slice(from + 1, j);
  if (out.includes('\\')) decline();
  return [out, j + 1];
}

/** A value written on the same line as its key or `- `. */
function inlineValue(v: string): GoValue {
  const first = v[0];
  if (first === "'" || first === '"') {
    const [text, end] = first === "'" ? singleQuoted(v, 0) : doubleQuoted(v, 0);
    if (end !== v.length) decline();
    return text;
  }
  if (v === '{}') return new Map();
  if (v === '[]') return [];
  checkPlain(v);
  return toGoValue(decodeScalar(v, true, ''));
}

interface KeyLine {
  readonly key: string;
  /** What follows `key:` and its spaces; '' when the value is on the next lines (or null). */
  readonly rest: string;
}

/**
 * `key: value` or `key:` as a mapping entry; undefined when the line is not a mapping entry
 * (a scalar); declines when it is neither in the subset.
 */
function keyLine(t: string): KeyLine | undefined {
  let key: string;
  let colon: number;
  const first = t[0];
  if (first === "'" || first === '"') {
    const [text, end] = first === "'" ? singleQuoted(t, 0) : doubleQuoted(t, 0);
    if (end === t.length) return undefined;
    if (t[end] !== ':') decline();
    key = text;
    colon = end;
  } else {
    colon = t.indexOf(': ');
    if (colon < 0) {
      if (!t.endsWith(':')) return undefined;
      colon = t.length - 1;
    }
    const plain = t.slice(0, colon);
    key = plainKey(plain);
  }
  if (colon > MAX_KEY) decline();
  let i = colon + 1;
  if (i < t.length && t[i] !== ' ') decline();
  while (t[i] === ' ') i++;
  return { key, rest: t.slice(i) };
}

// The same few keys (apiVersion, kind, metadata, name…) recur in every object: their
// resolution is remembered, within a bound.
const KEYS = new Map<string, string>();
const MAX_KEYS = 4096;

function plainKey(plain: string): string {
  let key = KEYS.get(plain);
  if (key === undefined) {
    checkPlain(plain);
    if (plain === '<<') decline();
    key = jsonKey(decodeScalar(plain, true, ''), null);
    if (KEYS.size >= MAX_KEYS) KEYS.clear();
    KEYS.set(plain, key);
  }
  return key;
}

const isEntry = (t: string): boolean => t === '-' || t.startsWith('- ');

class Reader {
  private pos = 0;
  // Per content line: its indentation and its text after it. A `- ` item's content is written
  // back into its line as a line of its own at the item content's column.
  private readonly indents: number[];
  private readonly texts: string[];

  constructor(indents: number[], texts: string[]) {
    this.indents = indents;
    this.texts = texts;
  }

  document(): GoValue {
    const n = this.indents[0];
    const t = this.texts[0];
    if (n === undefined || t === undefined) return null;
    let value: GoValue;
    const line = isEntry(t) ? undefined : keyLine(t);
    if (isEntry(t)) {
      value = this.sequence(n);
    } else if (line !== undefined) {
      value = this.mapping(n, line);
    } else {
      // A lone scalar document ("{}" is what Marshal writes for an empty map).
      value = inlineValue(t);
      this.pos++;
    }
    if (this.pos !== this.texts.length) decline();
    return value;
  }

  /** The collection whose first line is the current one, at indentation n. */
  private node(n: number): GoValue {
    const t = this.texts[this.pos] ?? '';
    if (isEntry(t)) return this.sequence(n);
    const line = keyLine(t);
    if (line === undefined) decline();
    return this.mapping(n, line);
  }

  /** The value of a `key:` or `-` with nothing after it: what is more indented, else null. */
  private nested(n: number, inMapping: boolean): GoValue {
    const m = this.indents[this.pos];
    if (m === undefined || m < n) return null;
    if (m > n) return this.node(m);
    // go-yaml writes a mapping's sequence values at the key's own indentation.
    if (inMapping && isEntry(this.texts[this.pos] ?? '')) return this.sequence(n);
    return null;
  }

  /** A block mapping at indentation n whose first line, already read, is `first`. */
  private mapping(n: number, first: KeyLine): GoMap {
    const out: GoMap = new Map();
    let line: KeyLine | undefined = first;
    for (;;) {
      const m = this.indents[this.pos];
      if (m === undefined || m < n) return out;
      if (m > n) decline();
      line ??= keyLine(this.texts[this.pos] ?? '');
      if (line === undefined || out.has(line.key)) decline();
      this.pos++;
      out.set(line.key, line.rest === '' ? this.nested(n, true) : inlineValue(line.rest));
      line = undefined;
    }
  }

  private sequence(n: number): GoValue[] {
    const out: GoValue[] = [];
    for (;;) {
      const m = this.indents[this.pos];
      if (m === undefined || m < n) return out;
      if (m > n) decline();
      const t = this.texts[this.pos] ?? '';
      if (!isEntry(t)) return out;
      if (t === '-') {
        this.pos++;
        out.push(this.nested(n, false));
        continue;
      }
      let k = 2;
      while (t[k] === ' ') k++;
      const rest = t.slice(k);
      const line = isEntry(rest) ? undefined : keyLine(rest);
      if (isEntry(rest) || line !== undefined) {
        this.indents[this.pos] = n + k;
        this.texts[this.pos] = rest;
        out.push(line === undefined ? this.sequence(n + k) : this.mapping(n + k, line));
      } else {
        this.pos++;
        out.push(inlineValue(rest));
      }
    }
  }
}

/**
 * parseGoYAML's result for a text in the simple block subset described above, or undefined
 * when the text is outside it (or would fail to decode): the caller then uses the full parser,
 * which also gives the error.
 */
export function fastParseGoYAML(text: string): GoValue | undefined {
  if (OUTSIDE.test(text)) return undefined;
  const lines = text.split('\n');
  const indents: number[] = [];
  const texts: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    if (line.startsWith('---') || line.startsWith('...')) {
      if (i === 0 && line === '---') continue;
      return undefined;
    }
    if (line.endsWith(' ')) return undefined;
    let n = 0;
    while (line.charCodeAt(n) === 32) n++;
    if (line.charCodeAt(n) === 35) continue; // '#': a comment line
    indents.push(n);
    texts.push(n === 0 ? line : line.slice(n));
  }
  try {
    return new Reader(indents, texts).document();
  } catch {
    // Any failure (DECLINE, or a conversion error such as a null key or a NaN) is the full
    // parser's to report.
    return undefined;
  }
}
