// slim-sprig v3.0.0 HermeticTxtFuncMap (go-task/slim-sprig@v3.0.0 functions.go genericMap minus
// nonhermeticFunctions), function by function after strings.go, numeric.go, defaults.go,
// dict.go, list.go, regex.go, crypto.go, reflect.go, url.go, with the Go parameter types that
// text/template checks. Names outside this map (now, env, uuidv4, semverCompare, required…) are
// parse errors, `function "now" not defined`, as they are for the Flux Operator.
//
// Offline limits (documented, TEMPLATE_FAILED when called): the time functions that remain in the
// hermetic map (ago, toDate, mustToDate, unixEpoch, mustDateModify, must_date_modify,
// durationRound) need time.Time values this value model does not have; osAbs needs the working
// directory. randInt is random, as in Go.

import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.ts';
import { GoInt, type GoValue, marshalGoYAML } from '../goyaml/index.ts';
import { formatFloat, formatValue, goQuote, sprintf } from './format.ts';
import { allMatches, compileGoRegexp, expandTemplate, type GoRegexp } from './regexp.ts';
import { slugify } from './slug.ts';
import {
  type FuncMap,
  type GoFunc,
  GoFuncError,
  goFunc,
  goKindOf,
  type GoType,
  goTypeOf,
  int,
  int64,
  typedMap,
  typedSlice,
} from './types.ts';

const S: GoType = 'string';
const I: GoType = 'int';
const A: GoType = 'interface {}';
const M: GoType = 'map[string]interface {}';

const str = (v: GoValue | undefined): string => v as string;
const num = (v: GoValue | undefined): number => Number((v as GoInt).value);

/** sprig strval: strings as they are, anything else as fmt %v. */
export function strval(v: GoValue): string {
  return typeof v === 'string' ? v : formatValue(v);
}

const MIN_INT64 = -(2n ** 63n);

/** sprig toInt64 (cast rules): strings by ParseInt base 10 (0 on failure), floats truncate. */
export function toInt64(v: GoValue): bigint {
  if (typeof v === 'string') {
    if (!/^[+-]?\d+$/.test(v)) return 0n;
    const n = BigInt(v);
    return n > 2n ** 63n - 1n || n < MIN_INT64 ? 0n : n;
  }
  if (v instanceof GoInt) return v.value;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 63) return MIN_INT64; // amd64 conversion result
    return BigInt(Math.trunc(v));
  }
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

/** strconv.ParseFloat syntax (decimal, hex, inf, nan); undefined when Go would fail. */
function parseFloatGo(s: string): number | undefined {
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  if (/^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/.test(s)) {
    if (s.includes('_')) return undefined;
    return Number(s);
  }
  return undefined;
}

export function toFloat64(v: GoValue): number {
  if (typeof v === 'string') return parseFloatGo(v) ?? 0;
  if (v instanceof GoInt) return Number(v.value);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return 0;
}

/** sprig empty: Go zero values (nil, "", 0, false, empty slice/map) are empty. */
export function empty(v: GoValue): boolean {
  if (v === null) return true;
  if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
  if (v instanceof Map) return v.size === 0;
  if (typeof v === 'boolean') return !v;
  if (v instanceof GoInt) return v.value === 0n;
  return v === 0;
}

const wrap64 = (n: bigint): GoInt => int64(BigInt.asIntN(64, n));

function nilDeref(): never {
  throw new GoFuncError('runtime error: invalid memory address or nil pointer dereference');
}

function asList(list: GoValue, what: string): GoValue[] {
  if (list === null) return nilDeref();
  if (!Array.isArray(list)) throw new GoFuncError(`Cannot ${what} on type ${goKindOf(list)}`);
  return list;
}

/** reflect.DeepEqual on the value model: types must match (int is not int64). */
export function deepEqual(a: GoValue, b: GoValue): boolean {
  if (goTypeOf(a) !== goTypeOf(b)) return false;
  if (a === null || b === null) return a === b;
  if (a instanceof GoInt && b instanceof GoInt) return a.value === b.value;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i] ?? null));
  }
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k) ?? null)) return false;
    return true;
  }
  return a === b;
}

const inList = (list: readonly GoValue[], needle: GoValue): boolean =>
  list.some((x) => deepEqual(x, needle));

function strslice(v: GoValue): string[] {
  if (Array.isArray(v)) return typedSlice(v.filter((x) => x !== null).map(strval), '[]string');
  if (v === null) return typedSlice([], '[]string');
  return typedSlice([strval(v)], '[]string');
}

const byteCompare = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a), Buffer.from(b));
const sortedKeys = (m: Map<string, GoValue>): string[] => [...m.keys()].sort(byteCompare);

// --- Go strings package on UTF-8 bytes where Go indexes bytes.

function byteSlice(s: string, start: number, end?: number): string {
  const bytes = Buffer.from(s);
  const e = end ?? bytes.length;
  if (start < 0 || e > bytes.length || start > e) {
    throw new GoFuncError(
      `runtime error: slice bounds out of range [${start}:${e}] with length ${bytes.length}`,
    );
  }
  return bytes.subarray(start, e).toString();
}

const isGoSpace = (ch: string): boolean =>
  /^[\t\n\v\f\r \u0085\u00a0\p{Zs}\u2028\u2029]$/u.test(ch);

function trimFunc(s: string, drop: (ch: string) => boolean): string {
  const chars = Array.from(s);
  let start = 0;
  let end = chars.length;
  while (start < end && drop(chars[start] ?? '')) start++;
  while (end > start && drop(chars[end - 1] ?? '')) end--;
  return chars.slice(start, end).join('');
}

const trimSpace = (s: string): string => trimFunc(s, isGoSpace);
const trimCutset = (s: string, cutset: string): string => {
  const set = new Set(cutset);
  return trimFunc(s, (ch) => set.has(ch));
};

/** unicode.ToUpper/ToLower per rune (JS full case mapping would turn ß into SS). */
function mapRunes(s: string, f: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    const mapped = f(ch);
    out += Array.from(mapped).length === 1 ? mapped : ch;
  }
  return out;
}
const toUpper = (s: string): string => mapRunes(s, (c) => c.toUpperCase());
const toLower = (s: string): string => mapRunes(s, (c) => c.toLowerCase());

/** strings.Title: upper-case the first letter of each word (words end at separators). */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    const isSeparator = (c: string): boolean => {
      if (/^[A-Za-z0-9_]$/.test(c)) return false;
      if (/^[\p{L}\p{Nd}]$/u.test(c)) return false;
      return true;
    };
    out += isSeparator(prev) ? mapRunes(ch, (c) => c.toUpperCase()) : ch;
    prev = ch;
  }
  return out;
}

function goSplit(s: string, sep: string, n = -1): string[] {
  if (n === 0) return [];
  let parts: string[];
  if (sep === '') parts = Array.from(s);
  else parts = s.split(sep);
  if (n > 0 && parts.length > n) {
    parts = [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
  }
  return parts;
}

// --- encoding/json for the value model.

function jsonString(s: string, escapeHTML: boolean): string {
  let out = JSON.stringify(s).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
  if (escapeHTML) out = out.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  // JSON.stringify writes \u007f as is and lone surrogates as \udXXX; Go writes \ufffd for those.
  return out.replace(/\\ud[89a-f][0-9a-f]{2}/g, '\\ufffd');
}

function jsonFloat(f: number): string {
  if (!Number.isFinite(f)) throw new GoFuncError(`json: unsupported value: ${formatFloat(f, 'g')}`);
  // encoding/json: 'f' format, 'e' below 1e-6 and from 1e21, exponent without leading zero.
  return Object.is(f, -0) ? '-0' : String(f);
}

/** Go json.Marshal / MarshalIndent(v, "", indent) of a value. */
export function goJSONMarshal(
  v: GoValue,
  options: { escapeHTML?: boolean; indent?: string } = {},
): string {
  const escapeHTML = options.escapeHTML ?? true;
  const indent = options.indent;
  const encode = (value: GoValue, depth: number): string => {
    if (value === null) return 'null';
    if (typeof value === 'boolean') return value ? 'true' : 'false';
    if (typeof value === 'string') return jsonString(value, escapeHTML);
    if (value instanceof GoInt) return value.value.toString();
    if (typeof value === 'number') return jsonFloat(value);
    const nl = indent === undefined ? '' : `\n${indent.repeat(depth + 1)}`;
    const close = indent === undefined ? '' : `\n${indent.repeat(depth)}`;
    const colon = indent === undefined ? ':' : ': ';
    if (Array.isArray(value)) {
      if (value.length === 0) return '[]';
      return `[${value.map((x) => nl + encode(x, depth + 1)).join(',')}${close}]`;
    }
    if (value.size === 0) return '{}';
    const parts = sortedKeys(value).map(
      (k) => `${nl}${jsonString(k, escapeHTML)}${colon}${encode(value.get(k) ?? null, depth + 1)}`,
    );
    return `{${parts.join(',')}${close}}`;
  };
  return encode(v, 0);
}

/** json.Unmarshal into interface{}: numbers become float64. */
function goJSONUnmarshal(text: string): GoValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GoFuncError((error as Error).message);
  }
  const convert = (x: unknown): GoValue => {
    if (x === null || typeof x === 'boolean' || typeof x === 'string' || typeof x === 'number')
      return x;
    if (Array.isArray(x)) return x.map(convert);
    return new Map(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, convert(v)]));
  };
  return convert(parsed);
}

// --- hashes and encodings.

function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function base64Decode(s: string): string {
  // encoding/base64 StdEncoding is strict: padding required, no stray characters.
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) return `illegal base64 data at input byte ${Buffer.byteLength(s.slice(0, bad.index))}`;
  if (s.length % 4 !== 0 || /=[^=]/.test(s) || /={3,}$/.test(s)) {
    const at =
      s.indexOf('=') >= 0 && /=[^=]/.test(s) ? s.indexOf('=') : s.length - (s.length % 4 || 4);
    return `illegal base64 data at input byte ${Math.max(at, 0)}`;
  }
  return Buffer.from(s, 'base64').toString();
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32Encode(s: string): string {
  const bytes = Buffer.from(s);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += B32.charAt((value << (5 - bits)) & 31);
  while (out.length % 8 !== 0) out += '=';
  return out;
}
function base32Decode(s: string): string {
  if (s.length % 8 !== 0) return `illegal base32 data at input byte ${s.length - (s.length % 8)}`;
  const body = s.replace(/=+$/, '');
  const bad = Array.from(body).findIndex((c) => !B32.includes(c));
  if (bad >= 0) return `illegal base32 data at input byte ${bad}`;
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of body) {
    value = (value << 5) | B32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out).toString();
}

// --- path (Go path package: slash-separated, lexical).

function pathClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!rooted) parts.push('..');
    } else parts.push(part);
  }
  const joined = parts.join('/');
  return rooted ? `/${joined}` : joined || '.';
}
function pathBase(p: string): string {
  if (p === '') return '.';
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
function pathDir(p: string): string {
  const i = p.lastIndexOf('/');
  return pathClean(p.slice(0, i + 1));
}
function pathExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

// --- regex helpers (MustCompile panics: "regexp: Compile(`x`): error parsing regexp: …").

function mustCompile(pattern: string): GoRegexp {
  try {
    return compileGoRegexp(pattern);
  } catch (error) {
    throw new GoFuncError(
      `regexp: Compile(${goQuote(pattern, '`').replace(/^`|`$/g, '`')}): ${(error as Error).message}`,
    );
  }
}
function compile(pattern: string): GoRegexp {
  try {
    return compileGoRegexp(pattern);
  } catch (error) {
    throw new GoFuncError((error as Error).message);
  }
}
function replaceAll(re: GoRegexp, s: string, repl: string, literal: boolean): string {
  let out = '';
  let last = 0;
  for (const m of allMatches(re, s)) {
    out += s.slice(last, m.index) + (literal ? repl : expandTemplate(repl, m));
    last = m.end;
  }
  return out + s.slice(last);
}
function regexSplit(re: GoRegexp, s: string, n: number): string[] {
  if (n === 0) return [];
  if (re.source.length > 0 && s === '') return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of allMatches(re, s, n)) {
    if (n > 0 && out.length === n - 1) break;
    end = m.index;
    if (m.end !== 0) out.push(s.slice(beg, end));
    beg = m.end;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}
const findAll = (re: GoRegexp, s: string, n: number): string[] =>
  typedSlice(
    allMatches(re, s, n).map((m) => m.groups[0] ?? ''),
    '[]string',
  );

// --- numbers.

/** The longest list until, untilStep and seq build (airlock's limit; Go's is memory). */
export const MAX_LIST_LENGTH = 1_000_000;

function untilStep(start: number, stop: number, step: number): GoValue[] {
  const v: GoValue[] = [];
  const length = step === 0 ? 0 : Math.ceil((stop - start) / step);
  if (length > MAX_LIST_LENGTH)
    throw new GoFuncError(
      `a list of ${length} items exceeds the ${MAX_LIST_LENGTH} airlock allows`,
    );
  if (stop < start) {
    if (step >= 0) return typedSlice(v, '[]int');
    for (let i = start; i > stop; i += step) v.push(int(i));
    return typedSlice(v, '[]int');
  }
  if (step <= 0) return typedSlice(v, '[]int');
  for (let i = start; i < stop; i += step) v.push(int(i));
  return typedSlice(v, '[]int');
}

function seq(params: number[]): string {
  const join = (list: GoValue[]): string => list.map((x) => formatValue(x)).join(' ');
  if (params.length === 1) {
    const end = params[0] ?? 0;
    const increment = end < 1 ? -1 : 1;
    return join(untilStep(1, end + increment, increment));
  }
  if (params.length === 2) {
    const [start = 0, end = 0] = params;
    const step = end < start ? -1 : 1;
    return join(untilStep(start, end + step, step));
  }
  if (params.length === 3) {
    const [start = 0, step = 0, end = 0] = params;
    let increment = 1;
    if (end < start) {
      increment = -1;
      if (step > 0) return '';
    }
    return join(untilStep(start, end + increment, step));
  }
  return '';
}

/** time.Duration.String for a number of seconds (sprig duration). */
function durationString(seconds: bigint): string {
  let ns = BigInt.asIntN(64, seconds * 1_000_000_000n);
  if (ns === 0n) return '0s';
  const negative = ns < 0n;
  if (negative) ns = -ns;
  const h = ns / 3_600_000_000_000n;
  const m = (ns / 60_000_000_000n) % 60n;
  const s = (ns % 60_000_000_000n) / 1_000_000_000n;
  let out = h > 0n ? `${h}h${m}m${s}s` : m > 0n ? `${m}m${s}s` : `${s}s`;
  if (negative) out = `-${out}`;
  return out;
}

function offline(name: string): GoFunc {
  return goFunc(
    () => {
      throw new AirlockError(
        'TEMPLATE_FAILED',
        `function ${name} needs the clock or the machine it runs on, which airlock does not use offline`,
      );
    },
    [],
    A,
  );
}

// --- url.

function urlParse(v: string): GoValue {
  const m =
    /^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?:\/\/(?:([^@/?#]*)@)?([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/.exec(
      v,
    );
  if (!m) throw new GoFuncError(`unable to parse url: ${v}`);
  const host = m[3] ?? '';
  const hostname = host.startsWith('[')
    ? host.slice(1, host.indexOf(']'))
    : host.replace(/:\d*$/, '');
  return new Map<string, GoValue>([
    ['scheme', m[1] ?? ''],
    ['host', host],
    ['hostname', hostname],
    ['path', decodeURIComponent(m[4] ?? '')],
    ['query', m[5] ?? ''],
    ['opaque', ''],
    ['fragment', m[6] ?? ''],
    ['userinfo', m[2] ?? ''],
  ]);
}
function urlJoin(d: Map<string, GoValue>): string {
  const get = (k: string): string => (typeof d.get(k) === 'string' ? (d.get(k) as string) : '');
  let out = '';
  if (get('scheme')) out += `${get('scheme')}:`;
  if (get('host') || get('userinfo'))
    out += `//${get('userinfo') ? `${get('userinfo')}@` : ''}${get('host')}`;
  out += get('opaque') || get('path');
  if (get('query')) out += `?${get('query')}`;
  if (get('fragment')) out += `#${get('fragment')}`;
  return out;
}

function mapArg(v: GoValue | undefined): Map<string, GoValue> {
  if (v === null || v === undefined) return new Map();
  return v as Map<string, GoValue>;
}

function digFrom(dict: Map<string, GoValue>, d: GoValue, keys: string[]): GoValue {
  const [k = '', ...rest] = keys;
  if (!dict.has(k)) return d;
  const step = dict.get(k) ?? null;
  if (rest.length === 0) return step;
  if (!(step instanceof Map)) {
    throw new GoFuncError(
      `interface conversion: interface {} is ${goTypeOf(step) ?? 'nil'}, not map[string]interface {}`,
    );
  }
  return digFrom(step, d, rest);
}

/** slim-sprig v3.0.0 HermeticTxtFuncMap. */
export function sprigHermeticFuncs(): FuncMap {
  const listFn = (what: string, f: (list: GoValue[]) => GoValue): GoFunc =>
    goFunc((list) => f(asList(list ?? null, what)), [A]);
  const regexMatch = (pattern: string, s: string): boolean => compile(pattern).test(s);
  const maxOf = goFunc(
    (a, ...rest) =>
      int64(
        rest.reduce<bigint>((acc, b) => (toInt64(b) > acc ? toInt64(b) : acc), toInt64(a ?? null)),
      ),
    [A],
    A,
  );

  return {
    hello: goFunc(() => 'Hello!', []),

    // Dates: only the deterministic one is implemented.
    ago: offline('ago'),
    duration: goFunc((sec) => durationString(toInt64(sec ?? null)), [A]),
    durationRound: offline('durationRound'),
    must_date_modify: offline('must_date_modify'),
    mustDateModify: offline('mustDateModify'),
    mustToDate: offline('mustToDate'),
    toDate: offline('toDate'),
    unixEpoch: offline('unixEpoch'),

    // Strings
    trunc: goFunc(
      (c, s) => {
        const n = num(c);
        const text = str(s);
        const length = Buffer.byteLength(text);
        if (n < 0 && length + n > 0) return byteSlice(text, length + n);
        if (n >= 0 && length > n) return byteSlice(text, 0, n);
        return text;
      },
      [I, S],
    ),
    trim: goFunc((s) => trimSpace(str(s)), [S]),
    upper: goFunc((s) => toUpper(str(s)), [S]),
    lower: goFunc((s) => toLower(str(s)), [S]),
    title: goFunc((s) => title(str(s)), [S]),
    substr: goFunc(
      (start, end, s) => {
        const a = num(start);
        const b = num(end);
        const text = str(s);
        if (a < 0) return byteSlice(text, 0, b);
        if (b < 0 || b > Buffer.byteLength(text)) return byteSlice(text, a);
        return byteSlice(text, a, b);
      },
      [I, I, S],
    ),
    repeat: goFunc(
      (count, s) => {
        if (num(count) < 0) throw new GoFuncError('strings: negative Repeat count');
        return str(s).repeat(num(count));
      },
      [I, S],
    ),
    trimall: goFunc((a, b) => trimCutset(str(b), str(a)), [S, S]),
    trimAll: goFunc((a, b) => trimCutset(str(b), str(a)), [S, S]),
    trimSuffix: goFunc(
      (a, b) => (str(b).endsWith(str(a)) ? str(b).slice(0, str(b).length - str(a).length) : str(b)),
      [S, S],
    ),
    trimPrefix: goFunc(
      (a, b) => (str(b).startsWith(str(a)) ? str(b).slice(str(a).length) : str(b)),
      [S, S],
    ),
    contains: goFunc((sub, s) => str(s).includes(str(sub)), [S, S]),
    hasPrefix: goFunc((sub, s) => str(s).startsWith(str(sub)), [S, S]),
    hasSuffix: goFunc((sub, s) => str(s).endsWith(str(sub)), [S, S]),
    quote: goFunc(
      (...args) =>
        args
          .filter((a) => a !== null)
          .map((a) => goQuote(strval(a)))
          .join(' '),
      [],
      A,
    ),
    squote: goFunc(
      (...args) =>
        args
          .filter((a) => a !== null)
          .map((a) => `'${formatValue(a)}'`)
          .join(' '),
      [],
      A,
    ),
    cat: goFunc(
      (...args) =>
        sprintf(
          args
            .filter((a) => a !== null)
            .map(() => '%v')
            .join(' '),
          args.filter((a) => a !== null),
        ),
      [],
      A,
    ),
    indent: goFunc(
      (spaces, v) => {
        const pad = ' '.repeat(Math.max(num(spaces), 0));
        return pad + str(v).replaceAll('\n', `\n${pad}`);
      },
      [I, S],
    ),
    nindent: goFunc(
      (spaces, v) => {
        const pad = ' '.repeat(Math.max(num(spaces), 0));
        return `\n${pad}${str(v).replaceAll('\n', `\n${pad}`)}`;
      },
      [I, S],
    ),
    replace: goFunc(
      (old, nu, src) => {
        if (str(old) === '')
          return goSplit(str(src), '').reduce((acc, ch) => acc + ch + str(nu), str(nu));
        return str(src).replaceAll(str(old), str(nu));
      },
      [S, S, S],
    ),
    plural: goFunc((one, many, count) => (num(count) === 1 ? str(one) : str(many)), [S, S, I]),
    sha1sum: goFunc((s) => createHash('sha1').update(str(s)).digest('hex'), [S]),
    sha256sum: goFunc((s) => createHash('sha256').update(str(s)).digest('hex'), [S]),
    adler32sum: goFunc((s) => String(adler32(Buffer.from(str(s)))), [S]),
    toString: goFunc((v) => strval(v ?? null), [A]),

    atoi: goFunc(
      (a) => {
        const text = str(a);
        if (!/^[+-]?\d+$/.test(text)) return int(0);
        const n = BigInt(text);
        return int(n > 2n ** 63n - 1n || n < MIN_INT64 ? 0n : n);
      },
      [S],
    ),
    int64: goFunc((v) => int64(toInt64(v ?? null)), [A]),
    int: goFunc((v) => int(toInt64(v ?? null)), [A]),
    float64: goFunc((v) => toFloat64(v ?? null), [A]),
    seq: goFunc((...params) => seq(params.map((p) => num(p))), [], I),
    toDecimal: goFunc(
      (v) => {
        const text = formatValue(v ?? null);
        return int64(
          /^[+-]?[0-7]+$/.test(text)
            ? BigInt.asIntN(
                64,
                BigInt(`${text.startsWith('-') ? '-' : ''}0o${text.replace(/^[+-]/, '')}`),
              )
            : 0n,
        );
      },
      [A],
    ),

    split: goFunc(
      (sep, orig) => {
        const parts = goSplit(str(orig), str(sep));
        return typedMap(new Map(parts.map((p, i) => [`_${i}`, p])), 'map[string]string');
      },
      [S, S],
    ),
    splitList: goFunc((sep, orig) => typedSlice(goSplit(str(orig), str(sep)), '[]string'), [S, S]),
    splitn: goFunc(
      (sep, n, orig) => {
        const parts = goSplit(str(orig), str(sep), num(n));
        return typedMap(new Map(parts.map((p, i) => [`_${i}`, p])), 'map[string]string');
      },
      [S, I, S],
    ),
    toStrings: goFunc((v) => strslice(v ?? null), [A]),

    until: goFunc((count) => untilStep(0, num(count), num(count) < 0 ? -1 : 1), [I]),
    untilStep: goFunc(
      (start, stop, step) => untilStep(num(start), num(stop), num(step)),
      [I, I, I],
    ),

    add1: goFunc((i) => wrap64(toInt64(i ?? null) + 1n), [A]),
    add: goFunc((...args) => wrap64(args.reduce<bigint>((acc, b) => acc + toInt64(b), 0n)), [], A),
    sub: goFunc((a, b) => wrap64(toInt64(a ?? null) - toInt64(b ?? null)), [A, A]),
    div: goFunc(
      (a, b) => {
        const d = toInt64(b ?? null);
        if (d === 0n) throw new GoFuncError('runtime error: integer divide by zero');
        return wrap64(toInt64(a ?? null) / d);
      },
      [A, A],
    ),
    mod: goFunc(
      (a, b) => {
        const d = toInt64(b ?? null);
        if (d === 0n) throw new GoFuncError('runtime error: integer divide by zero');
        return wrap64(toInt64(a ?? null) % d);
      },
      [A, A],
    ),
    mul: goFunc(
      (a, ...rest) =>
        wrap64(
          rest.reduce<bigint>((acc, b) => BigInt.asIntN(64, acc * toInt64(b)), toInt64(a ?? null)),
        ),
      [A],
      A,
    ),
    randInt: goFunc(
      (min, max) => {
        const n = num(max) - num(min);
        if (n <= 0) throw new GoFuncError('invalid argument to Intn');
        return int(Math.floor(Math.random() * n) + num(min));
      },
      [I, I],
    ),
    max: maxOf,
    // slim-sprig registers biggest as the same function as max (functions.go).
    biggest: maxOf,
    min: goFunc(
      (a, ...rest) =>
        int64(
          rest.reduce<bigint>(
            (acc, b) => (toInt64(b) < acc ? toInt64(b) : acc),
            toInt64(a ?? null),
          ),
        ),
      [A],
      A,
    ),
    maxf: goFunc(
      (a, ...rest) =>
        rest.reduce<number>((acc, b) => Math.max(acc, toFloat64(b)), toFloat64(a ?? null)),
      [A],
      A,
    ),
    minf: goFunc(
      (a, ...rest) =>
        rest.reduce<number>((acc, b) => Math.min(acc, toFloat64(b)), toFloat64(a ?? null)),
      [A],
      A,
    ),
    ceil: goFunc((a) => Math.ceil(toFloat64(a ?? null)), [A]),
    floor: goFunc((a) => Math.floor(toFloat64(a ?? null)), [A]),
    round: goFunc(
      (a, p, ...opt) => {
        const roundOn = opt.length > 0 ? (opt[0] as number) : 0.5;
        const pow = 10 ** num(p);
        const digit = pow * toFloat64(a ?? null);
        const frac = digit - Math.trunc(digit);
        return (frac >= roundOn ? Math.ceil(digit) : Math.floor(digit)) / pow;
      },
      [A, I],
      'float64',
    ),

    join: goFunc((sep, v) => strslice(v ?? null).join(str(sep)), [S, A]),
    sortAlpha: goFunc(
      (v) => {
        if (Array.isArray(v)) return typedSlice(strslice(v).sort(byteCompare), '[]string');
        return typedSlice([strval(v ?? null)], '[]string');
      },
      [A],
    ),

    default: goFunc(
      (d, ...given) =>
        given.length === 0 || empty(given[0] ?? null) ? (d ?? null) : (given[0] ?? null),
      [A],
      A,
    ),
    empty: goFunc((v) => empty(v ?? null), [A]),
    coalesce: goFunc((...v) => v.find((x) => !empty(x)) ?? null, [], A),
    all: goFunc((...v) => v.every((x) => !empty(x)), [], A),
    any: goFunc((...v) => v.some((x) => !empty(x)), [], A),
    compact: listFn('compact', (l) => l.filter((x) => !empty(x))),
    mustCompact: listFn('compact', (l) => l.filter((x) => !empty(x))),
    fromJson: goFunc(
      (v) => {
        try {
          return goJSONUnmarshal(str(v));
        } catch {
          return null;
        }
      },
      [S],
    ),
    mustFromJson: goFunc((v) => goJSONUnmarshal(str(v)), [S]),
    toJson: goFunc(
      (v) => {
        try {
          return goJSONMarshal(v ?? null);
        } catch {
          return '';
        }
      },
      [A],
    ),
    toPrettyJson: goFunc(
      (v) => {
        try {
          return goJSONMarshal(v ?? null, { indent: '  ' });
        } catch {
          return '';
        }
      },
      [A],
    ),
    toRawJson: goFunc((v) => goJSONMarshal(v ?? null, { escapeHTML: false }), [A]),
    mustToJson: goFunc((v) => goJSONMarshal(v ?? null), [A]),
    mustToPrettyJson: goFunc((v) => goJSONMarshal(v ?? null, { indent: '  ' }), [A]),
    mustToRawJson: goFunc((v) => goJSONMarshal(v ?? null, { escapeHTML: false }), [A]),
    ternary: goFunc((vt, vf, v) => (v === true ? (vt ?? null) : (vf ?? null)), [A, A, 'bool']),

    typeOf: goFunc((v) => goTypeOf(v ?? null) ?? '<nil>', [A]),
    typeIs: goFunc((t, v) => str(t) === (goTypeOf(v ?? null) ?? '<nil>'), [S, A]),
    typeIsLike: goFunc(
      (t, v) => {
        const type = goTypeOf(v ?? null) ?? '<nil>';
        return str(t) === type || `*${str(t)}` === type;
      },
      [S, A],
    ),
    kindOf: goFunc((v) => goKindOf(v ?? null), [A]),
    kindIs: goFunc((t, v) => str(t) === goKindOf(v ?? null), [S, A]),
    deepEqual: goFunc((a, b) => deepEqual(a ?? null, b ?? null), [A, A]),

    base: goFunc((p) => pathBase(str(p)), [S]),
    dir: goFunc((p) => pathDir(str(p)), [S]),
    clean: goFunc((p) => pathClean(str(p)), [S]),
    ext: goFunc((p) => pathExt(str(p)), [S]),
    isAbs: goFunc((p) => str(p).startsWith('/'), [S]),
    // filepath on Linux is the same lexical path handling.
    osBase: goFunc((p) => pathBase(str(p)), [S]),
    osClean: goFunc((p) => pathClean(str(p)), [S]),
    osDir: goFunc((p) => pathDir(str(p)), [S]),
    osExt: goFunc((p) => pathExt(str(p)), [S]),
    osIsAbs: goFunc((p) => str(p).startsWith('/'), [S]),
    osAbs: offline('osAbs'),

    b64enc: goFunc((v) => Buffer.from(str(v)).toString('base64'), [S]),
    b64dec: goFunc((v) => base64Decode(str(v)), [S]),
    b32enc: goFunc((v) => base32Encode(str(v)), [S]),
    b32dec: goFunc((v) => base32Decode(str(v)), [S]),

    tuple: goFunc((...v) => v, [], A),
    list: goFunc((...v) => v, [], A),
    dict: goFunc(
      (...v) => {
        const d = new Map<string, GoValue>();
        for (let i = 0; i < v.length; i += 2)
          d.set(strval(v[i] ?? null), i + 1 < v.length ? (v[i + 1] ?? null) : '');
        return d;
      },
      [],
      A,
    ),
    get: goFunc(
      (d, key) => {
        const map = mapArg(d);
        return map.has(str(key)) ? (map.get(str(key)) ?? null) : '';
      },
      [M, S],
    ),
    set: goFunc(
      (d, key, value) => {
        if (d === null) throw new GoFuncError('assignment to entry in nil map');
        mapArg(d).set(str(key), value ?? null);
        return d;
      },
      [M, S, A],
    ),
    unset: goFunc(
      (d, key) => {
        mapArg(d).delete(str(key));
        return d ?? null;
      },
      [M, S],
    ),
    hasKey: goFunc((d, key) => mapArg(d).has(str(key)), [M, S]),
    pluck: goFunc(
      (key, ...dicts) =>
        dicts.filter((d) => mapArg(d).has(str(key))).map((d) => mapArg(d).get(str(key)) ?? null),
      [S],
      M,
    ),
    keys: goFunc(
      (...dicts) =>
        typedSlice(
          dicts.flatMap((d) => sortedKeys(mapArg(d))),
          '[]string',
        ),
      [],
      M,
    ),
    pick: goFunc(
      (d, ...keys) => {
        const map = mapArg(d);
        return new Map(
          keys.filter((k) => map.has(str(k))).map((k) => [str(k), map.get(str(k)) ?? null]),
        );
      },
      [M],
      S,
    ),
    omit: goFunc(
      (d, ...keys) => {
        const drop = new Set(keys.map(str));
        return new Map([...mapArg(d)].filter(([k]) => !drop.has(k)));
      },
      [M],
      S,
    ),
    values: goFunc((d) => sortedKeys(mapArg(d)).map((k) => mapArg(d).get(k) ?? null), [M]),

    append: goFunc((list, v) => [...asList(list ?? null, 'push'), v ?? null], [A, A]),
    push: goFunc((list, v) => [...asList(list ?? null, 'push'), v ?? null], [A, A]),
    mustAppend: goFunc((list, v) => [...asList(list ?? null, 'push'), v ?? null], [A, A]),
    mustPush: goFunc((list, v) => [...asList(list ?? null, 'push'), v ?? null], [A, A]),
    prepend: goFunc((list, v) => [v ?? null, ...asList(list ?? null, 'prepend')], [A, A]),
    mustPrepend: goFunc((list, v) => [v ?? null, ...asList(list ?? null, 'prepend')], [A, A]),
    first: listFn('find first', (l) => l[0] ?? null),
    mustFirst: listFn('find first', (l) => l[0] ?? null),
    rest: listFn('find rest', (l) => (l.length === 0 ? null : l.slice(1))),
    mustRest: listFn('find rest', (l) => (l.length === 0 ? null : l.slice(1))),
    last: listFn('find last', (l) => l[l.length - 1] ?? null),
    mustLast: listFn('find last', (l) => l[l.length - 1] ?? null),
    initial: listFn('find initial', (l) => (l.length === 0 ? null : l.slice(0, -1))),
    mustInitial: listFn('find initial', (l) => (l.length === 0 ? null : l.slice(0, -1))),
    reverse: listFn('find reverse', (l) => [...l].reverse()),
    mustReverse: listFn('find reverse', (l) => [...l].reverse()),
    uniq: listFn('find uniq', (l) => l.filter((x, i) => !inList(l.slice(0, i), x))),
    mustUniq: listFn('find uniq', (l) => l.filter((x, i) => !inList(l.slice(0, i), x))),
    without: goFunc(
      (list, ...omit) => asList(list ?? null, 'find without').filter((x) => !inList(omit, x)),
      [A],
      A,
    ),
    mustWithout: goFunc(
      (list, ...omit) => asList(list ?? null, 'find without').filter((x) => !inList(omit, x)),
      [A],
      A,
    ),
    has: goFunc(
      (needle, haystack) => {
        if (haystack === null) return false;
        return inList(asList(haystack, 'find has'), needle ?? null);
      },
      [A, A],
    ),
    mustHas: goFunc(
      (needle, haystack) => {
        if (haystack === null) return false;
        return inList(asList(haystack, 'find has'), needle ?? null);
      },
      [A, A],
    ),
    slice: goFunc((list, ...indices) => sprigSlice(list ?? null, indices), [A], A),
    mustSlice: goFunc((list, ...indices) => sprigSlice(list ?? null, indices), [A], A),
    concat: goFunc(
      (...lists) =>
        lists.flatMap((l) => {
          if (l === null) return nilDeref();
          if (!Array.isArray(l)) throw new GoFuncError(`Cannot concat type ${goKindOf(l)} as list`);
          return l;
        }),
      [],
      A,
    ),
    dig: goFunc(
      (...ps) => {
        if (ps.length < 3) throw new GoFuncError('dig needs at least three arguments');
        const dict = ps[ps.length - 1] ?? null;
        if (!(dict instanceof Map)) {
          throw new GoFuncError(
            `interface conversion: interface {} is ${goTypeOf(dict) ?? 'nil'}, not map[string]interface {}`,
          );
        }
        const keys = ps.slice(0, -2).map((k) => {
          if (typeof k !== 'string')
            throw new GoFuncError(
              `interface conversion: interface {} is ${goTypeOf(k) ?? 'nil'}, not string`,
            );
          return k;
        });
        return digFrom(dict, ps[ps.length - 2] ?? null, keys);
      },
      [],
      A,
    ),
    chunk: goFunc(
      (size, list) => {
        const l = asList(list ?? null, 'chunk');
        const n = num(size);
        const out: GoValue[] = [];
        for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
        return out;
      },
      [I, A],
    ),
    mustChunk: goFunc(
      (size, list) => {
        const l = asList(list ?? null, 'chunk');
        const n = num(size);
        const out: GoValue[] = [];
        for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
        return out;
      },
      [I, A],
    ),

    fail: goFunc(
      (msg) => {
        throw new GoFuncError(str(msg));
      },
      [S],
    ),

    regexMatch: goFunc(
      (re, s) => {
        try {
          return regexMatch(str(re), str(s));
        } catch {
          return false;
        }
      },
      [S, S],
    ),
    mustRegexMatch: goFunc((re, s) => regexMatch(str(re), str(s)), [S, S]),
    regexFindAll: goFunc((re, s, n) => findAll(mustCompile(str(re)), str(s), num(n)), [S, S, I]),
    mustRegexFindAll: goFunc((re, s, n) => findAll(compile(str(re)), str(s), num(n)), [S, S, I]),
    regexFind: goFunc(
      (re, s) => allMatches(mustCompile(str(re)), str(s), 1)[0]?.groups[0] ?? '',
      [S, S],
    ),
    mustRegexFind: goFunc(
      (re, s) => allMatches(compile(str(re)), str(s), 1)[0]?.groups[0] ?? '',
      [S, S],
    ),
    regexReplaceAll: goFunc(
      (re, s, repl) => replaceAll(mustCompile(str(re)), str(s), str(repl), false),
      [S, S, S],
    ),
    mustRegexReplaceAll: goFunc(
      (re, s, repl) => replaceAll(compile(str(re)), str(s), str(repl), false),
      [S, S, S],
    ),
    regexReplaceAllLiteral: goFunc(
      (re, s, repl) => replaceAll(mustCompile(str(re)), str(s), str(repl), true),
      [S, S, S],
    ),
    mustRegexReplaceAllLiteral: goFunc(
      (re, s, repl) => replaceAll(compile(str(re)), str(s), str(repl), true),
      [S, S, S],
    ),
    regexSplit: goFunc(
      (re, s, n) => typedSlice(regexSplit(mustCompile(str(re)), str(s), num(n)), '[]string'),
      [S, S, I],
    ),
    mustRegexSplit: goFunc(
      (re, s, n) => typedSlice(regexSplit(compile(str(re)), str(s), num(n)), '[]string'),
      [S, S, I],
    ),
    regexQuoteMeta: goFunc((s) => str(s).replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'), [S]),

    urlParse: goFunc((v) => urlParse(str(v)), [S]),
    urlJoin: goFunc((d) => urlJoin(mapArg(d)), [M]),
  };
}

function sprigSlice(list: GoValue, indices: GoValue[]): GoValue {
  if (list === null) return nilDeref();
  if (!Array.isArray(list))
    throw new GoFuncError(`list should be type of slice or array but ${goKindOf(list)}`);
  if (list.length === 0) return null;
  const start = indices.length > 0 ? Number(toInt64(indices[0] ?? null)) : 0;
  const end = indices.length < 2 ? list.length : Number(toInt64(indices[1] ?? null));
  if (start < 0 || end > list.length || start > end)
    throw new GoFuncError('reflect: slice index out of range');
  return list.slice(start, end);
}

/** sigs.k8s.io/yaml.Marshal as the Flux Operator's `toYaml` uses it (FO resourceset.go). */
function toYaml(v: GoValue): string {
  return marshalGoYAML(v);
}

/**
 * The Flux Operator's template functions (FO internal/builder/resourceset.go newTemplate), in
 * its order: slim-sprig hermetic, then `slugify`, `inputs` (a zero-argument function returning
 * the current input set) and `toYaml` / `mustToYaml` (toYaml gives "" on error).
 */
export function fluxOperatorFuncs(inputs: () => GoValue): FuncMap {
  return {
    ...sprigHermeticFuncs(),
    slugify: goFunc((s) => slugify(str(s)), [S]),
    inputs: goFunc(() => inputs(), []),
    toYaml: goFunc(
      (v) => {
        try {
          return toYaml(v ?? null);
        } catch {
          return '';
        }
      },
      [A],
    ),
    mustToYaml: goFunc((v) => toYaml(v ?? null), [A]),
  };
}
