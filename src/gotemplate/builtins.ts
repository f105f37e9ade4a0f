// text/template's predefined functions (golang/go src/text/template/funcs.go): and, or, not,
// call, html, js, urlquery, index, slice, len, print, printf, println and the comparisons, with
// Go's comparison rules (basic kinds only for lt/le/gt/ge; int64 vs float64 is "incompatible
// types for comparison"; eq accepts several right-hand operands and compares nil).

import { GoInt, type GoValue } from '../goyaml/index.ts';
import { formatType, formatValue, sprint, sprintf, sprintln } from './format.ts';
import { type FuncMap, GoFuncError, goFunc, GoPlainInt, goTypeOf } from './types.ts';

type BasicKind = 'bool' | 'int' | 'float' | 'string' | undefined;

function basicKind(value: GoValue): BasicKind {
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof GoInt) return 'int';
  if (typeof value === 'number') return 'float';
  if (typeof value === 'string') return 'string';
  return undefined;
}

const errBadComparisonType = 'invalid type for comparison';
const errBadComparison = 'incompatible types for comparison';

function scalar(value: GoValue): bigint | number | string | boolean {
  return value instanceof GoInt ? value.value : (value as number | string | boolean);
}

function eq(arg1: GoValue, ...rest: GoValue[]): boolean {
  if (rest.length === 0) throw new GoFuncError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const arg of rest) {
    const k2 = basicKind(arg);
    let truth: boolean;
    if (k1 !== k2) {
      if (arg1 !== null && arg !== null) throw new GoFuncError(errBadComparison);
      truth = false;
    } else if (k1 === undefined) {
      // Non-basic values: nil compares with nil; maps and slices are not comparable in Go.
      if (arg1 === null || arg === null) truth = arg1 === null && arg === null;
      else throw new GoFuncError(`non-comparable type ${formatValue(arg)}: ${formatType(arg)}`);
    } else {
      truth = scalar(arg1) === scalar(arg);
    }
    if (truth) return true;
  }
  return false;
}

function lt(arg1: GoValue, arg2: GoValue): boolean {
  const k1 = basicKind(arg1);
  const k2 = basicKind(arg2);
  if (k1 === undefined || k2 === undefined) throw new GoFuncError(errBadComparisonType);
  if (k1 !== k2) throw new GoFuncError(errBadComparison);
  if (k1 === 'bool') throw new GoFuncError(errBadComparisonType);
  if (k1 === 'string') {
    return Buffer.compare(Buffer.from(arg1 as string), Buffer.from(arg2 as string)) < 0;
  }
  return scalar(arg1) < scalar(arg2);
}

function le(a: GoValue, b: GoValue): boolean {
  return lt(a, b) || eq(a, b);
}

const truth = (v: GoValue): boolean => {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (v instanceof GoInt) return v.value !== 0n;
  return v.size > 0;
};

/** evalArgs: fmt.Sprint with nil shown as `<no value>` (the template's own rule). */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === null ? '<no value>' : a)));
}

export function htmlEscape(s: string): string {
  return s.replace(
    /["'&<>]/g,
    (c) => ({ '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c,
  );
}

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else if (cp >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) {
      out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

/** net/url QueryEscape: spaces become +, unreserved characters stay. */
export function queryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function indexArg(index: GoValue, cap: number): number {
  if (index === null) throw new GoFuncError('cannot index slice/array with nil');
  if (!(index instanceof GoInt)) {
    throw new GoFuncError(`cannot index slice/array with type ${formatType(index)}`);
  }
  const x = index.value;
  if (x < 0n || x > BigInt(cap)) throw new GoFuncError(`index out of range: ${x}`);
  return Number(x);
}

function index(item: GoValue, ...indexes: GoValue[]): GoValue {
  if (item === null) throw new GoFuncError('index of untyped nil');
  let current: GoValue = item;
  for (const i of indexes) {
    if (current === null) throw new GoFuncError('index of nil pointer');
    if (typeof current === 'string' || Array.isArray(current)) {
      const length = typeof current === 'string' ? Buffer.byteLength(current) : current.length;
      const x = indexArg(i, length);
      if (x >= length) throw new GoFuncError(`index out of range: ${x}`);
      current =
        typeof current === 'string'
          ? new GoPlainInt(Buffer.from(current)[x] ?? 0)
          : (current[x] ?? null);
    } else if (current instanceof Map) {
      if (i !== null && typeof i !== 'string') {
        throw new GoFuncError(`value has type ${formatType(i)}; should be string`);
      }
      // A missing key gives the zero value (nil): missingkey does not apply to index.
      current = current.get(i ?? '') ?? null;
    } else {
      throw new GoFuncError(`can't index item of type ${formatType(current)}`);
    }
  }
  return current;
}

function slice(item: GoValue, ...indexes: GoValue[]): GoValue {
  if (item === null) throw new GoFuncError('slice of untyped nil');
  if (indexes.length > 3) throw new GoFuncError(`too many slice indexes: ${indexes.length}`);
  let length: number;
  if (typeof item === 'string') {
    if (indexes.length === 3) throw new GoFuncError('cannot 3-index slice a string');
    length = Buffer.byteLength(item);
  } else if (Array.isArray(item)) {
    length = item.length;
  } else {
    throw new GoFuncError(`can't slice item of type ${formatType(item)}`);
  }
  const idx = [0, length, length];
  indexes.forEach((ix, n) => {
    idx[n] = indexArg(ix, length);
  });
  const [i = 0, j = length, k = length] = idx;
  if (i > j) throw new GoFuncError(`invalid slice index: ${i} > ${j}`);
  if (indexes.length === 3 && j > k) throw new GoFuncError(`invalid slice index: ${j} > ${k}`);
  if (typeof item === 'string') return Buffer.from(item).subarray(i, j).toString();
  return item.slice(i, j);
}

function length(item: GoValue): GoValue {
  if (typeof item === 'string') return new GoPlainInt(Buffer.byteLength(item));
  if (Array.isArray(item)) return new GoPlainInt(item.length);
  if (item instanceof Map) return new GoPlainInt(item.size);
  if (item === null) throw new GoFuncError('reflect: call of reflect.Value.Type on zero Value');
  throw new GoFuncError(`len of type ${goTypeOf(item)}`);
}

/** The builtin function map (funcs.go builtins). */
export function builtinFuncs(): FuncMap {
  return {
    and: goFunc((...args) => args[args.length - 1] ?? null, ['interface {}'], 'interface {}'),
    or: goFunc((...args) => args[args.length - 1] ?? null, ['interface {}'], 'interface {}'),
    not: goFunc((arg) => !truth(arg ?? null), ['interface {}']),
    call: goFunc(
      (fn) => {
        throw new GoFuncError(`non-function of type ${formatType(fn ?? null)}`);
      },
      ['interface {}'],
      'interface {}',
    ),
    html: goFunc((...args) => htmlEscape(evalArgs(args)), [], 'interface {}'),
    js: goFunc((...args) => jsEscape(evalArgs(args)), [], 'interface {}'),
    urlquery: goFunc((...args) => queryEscape(evalArgs(args)), [], 'interface {}'),
    index: goFunc(
      (item, ...rest) => index(item ?? null, ...rest),
      ['interface {}'],
      'interface {}',
    ),
    slice: goFunc(
      (item, ...rest) => slice(item ?? null, ...rest),
      ['interface {}'],
      'interface {}',
    ),
    len: goFunc((item) => length(item ?? null), ['interface {}']),
    print: goFunc((...args) => sprint(args), [], 'interface {}'),
    printf: goFunc(
      (format, ...args) => sprintf(format as string, args),
      ['string'],
      'interface {}',
    ),
    println: goFunc((...args) => sprintln(args), [], 'interface {}'),
    eq: goFunc((a, ...rest) => eq(a ?? null, ...rest), ['interface {}'], 'interface {}'),
    ne: goFunc((a, b) => !eq(a ?? null, b ?? null), ['interface {}', 'interface {}']),
    lt: goFunc((a, b) => lt(a ?? null, b ?? null), ['interface {}', 'interface {}']),
    le: goFunc((a, b) => le(a ?? null, b ?? null), ['interface {}', 'interface {}']),
    gt: goFunc((a, b) => !le(a ?? null, b ?? null), ['interface {}', 'interface {}']),
    ge: goFunc((a, b) => !lt(a ?? null, b ?? null), ['interface {}', 'interface {}']),
  };
}
