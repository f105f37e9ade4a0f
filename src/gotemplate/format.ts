// Go's fmt package for the value model: %v (print.go printValue), strconv.Quote (%q), strconv's
// shortest float formatting ('g' with the exponent threshold 6 that %v uses: 1e+06,
// 3.40788154e+08), and Sprintf/Sprint/Sprintln with Go's error forms (%!d(string=x),
// %!v(MISSING), %!(EXTRA …)).

import { GoInt, type GoValue } from '../goyaml/index.ts';
import { goTypeOf } from './types.ts';

const isPrintable = (ch: string): boolean => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch);

/** strconv.Quote: Go double-quoted string with Go escapes; printable Unicode is kept. */
export function goQuote(text: string, quote = '"'): string {
  let out = quote;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    else if (isPrintable(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** Decimal digits and exponent of the shortest representation that round-trips (strconv 'e', -1). */
function shortestDigits(value: number): { digits: string; exp: number } {
  const [mantissa = '0', exponent = '0'] = Math.abs(value).toExponential().split('e');
  return { digits: mantissa.replace('.', ''), exp: Number(exponent) };
}

function expSuffix(exp: number, upper: boolean): string {
  const sign = exp < 0 ? '-' : '+';
  return `${upper ? 'E' : 'e'}${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function fixedDigits(digits: string, exp: number, precision: number | undefined): string {
  // digits d1d2d3… with decimal point after position exp+1.
  const point = exp + 1;
  let intPart: string;
  let frac: string;
  if (point <= 0) {
    intPart = '0';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    intPart = digits.slice(0, point);
    frac = digits.slice(point);
  }
  if (precision !== undefined) frac = frac.padEnd(precision, '0').slice(0, precision);
  return frac === '' ? intPart : `${intPart}.${frac}`;
}

/**
 * strconv.FormatFloat(value, verb, precision, 64) for verbs e, E, f, g, G; precision -1 is the
 * shortest representation (%v uses 'g' with -1, whose %e/%f switch uses exponent threshold 6).
 */
export function formatFloat(value: number, verb: string, precision = -1): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const negative = value < 0 || Object.is(value, -0);
  const sign = negative ? '-' : '';
  const abs = Math.abs(value);
  const upper = verb === 'E' || verb === 'G';
  const shortest = precision < 0;
  if (verb === 'f' || verb === 'F') {
    if (shortest) {
      const { digits, exp } = abs === 0 ? { digits: '0', exp: 0 } : shortestDigits(abs);
      return sign + fixedDigits(digits, exp, undefined);
    }
    return sign + (abs < 1e21 ? abs.toFixed(Math.min(precision, 100)) : BigInt(abs).toString());
  }
  if (verb === 'e' || verb === 'E') {
    if (shortest) {
      const { digits, exp } = abs === 0 ? { digits: '0', exp: 0 } : shortestDigits(abs);
      const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
      return sign + mant + expSuffix(exp, upper);
    }
    const [m = '0', e = '0'] = abs.toExponential(Math.min(precision, 100)).split('e');
    return sign + m + expSuffix(Number(e), upper);
  }
  // 'g' / 'G'
  let digits: string;
  let exp: number;
  if (abs === 0) {
    digits = '0';
    exp = 0;
  } else if (shortest) {
    ({ digits, exp } = shortestDigits(abs));
  } else {
    const p = precision === 0 ? 1 : precision;
    const [m = '0', e = '0'] = abs.toExponential(Math.min(p - 1, 100)).split('e');
    digits = m.replace('.', '').replace(/0+$/, '') || '0';
    exp = Number(e);
  }
  let eprec = shortest ? 6 : precision === 0 ? 1 : precision;
  if (!shortest && eprec > digits.length && digits.length >= exp + 1) eprec = digits.length;
  if (exp < -4 || exp >= eprec) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return sign + mant + expSuffix(exp, upper);
  }
  return sign + fixedDigits(digits, exp, undefined);
}

function sortedKeys(map: Map<string, GoValue>): string[] {
  // internal/fmtsort: string keys in byte order.
  return [...map.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** fmt's %v of a value (`<nil>` for nil; the template's `<no value>` is the caller's business). */
export function formatValue(value: GoValue | undefined): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return formatFloat(value, 'g');
  if (value instanceof GoInt) return value.value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => formatValue(v)).join(' ')}]`;
  return `map[${sortedKeys(value)
    .map((k) => `${k}:${formatValue(value.get(k) ?? null)}`)
    .join(' ')}]`;
}

/** %T: the Go type name. */
export function formatType(value: GoValue | undefined): string {
  return goTypeOf(value) ?? '<nil>';
}

interface Spec {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  width: number | undefined;
  precision: number | undefined;
}

function pad(text: string, spec: Spec, numeric: boolean): string {
  if (spec.width === undefined || Array.from(text).length >= spec.width) return text;
  const fill = spec.width - Array.from(text).length;
  if (spec.minus) return text + ' '.repeat(fill);
  if (spec.zero && numeric) {
    const signMatch = /^[+\- ]/.exec(text);
    const sign = signMatch ? signMatch[0] : '';
    return sign + '0'.repeat(fill) + text.slice(sign.length);
  }
  return ' '.repeat(fill) + text;
}

function badVerb(verb: string, value: GoValue | undefined): string {
  if (value === null || value === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${formatType(value)}=${formatValue(value)})`;
}

function formatInt(n: bigint, verb: string, spec: Spec): string | undefined {
  const negative = n < 0n;
  const abs = negative ? -n : n;
  let body: string;
  switch (verb) {
    case 'd':
    case 'v':
      body = abs.toString(10);
      break;
    case 'b':
      body = abs.toString(2);
      break;
    case 'o':
      body = (spec.sharp ? '0' : '') + abs.toString(8);
      break;
    case 'O':
      body = '0o' + abs.toString(8);
      break;
    case 'x':
      body = (spec.sharp ? '0x' : '') + abs.toString(16);
      break;
    case 'X':
      body = (spec.sharp ? '0X' : '') + abs.toString(16).toUpperCase();
      break;
    case 'c':
      return String.fromCodePoint(Number(n));
    case 'q':
      return goQuote(String.fromCodePoint(Number(n)), "'");
    case 'U':
      return `U+${abs.toString(16).toUpperCase().padStart(4, '0')}`;
    default:
      return undefined;
  }
  if (spec.precision !== undefined) body = body.padStart(spec.precision, '0');
  const sign = negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  return sign + body;
}

function formatOne(value: GoValue | undefined, verb: string, spec: Spec): string {
  if (verb === 'T') return pad(formatType(value), spec, false);
  if (value === null || value === undefined) {
    return verb === 'v' ? pad('<nil>', spec, false) : badVerb(verb, value);
  }
  if (typeof value === 'boolean') {
    return verb === 'v' || verb === 't' ? pad(String(value), spec, false) : badVerb(verb, value);
  }
  if (value instanceof GoInt) {
    const text = formatInt(value.value, verb, spec);
    return text === undefined ? badVerb(verb, value) : pad(text, spec, true);
  }
  if (typeof value === 'number') {
    const v = verb === 'v' ? 'g' : verb === 'F' ? 'f' : verb;
    if (!'eEfgG'.includes(v) || v.length !== 1) return badVerb(verb, value);
    const precision = spec.precision ?? (v === 'g' || v === 'G' ? -1 : 6);
    let text = formatFloat(value, v, precision);
    if (spec.plus && !text.startsWith('-')) text = `+${text}`;
    else if (spec.space && !text.startsWith('-')) text = ` ${text}`;
    return pad(text, spec, Number.isFinite(value));
  }
  if (typeof value === 'string') {
    switch (verb) {
      case 'v':
      case 's': {
        const text =
          spec.precision === undefined
            ? value
            : Array.from(value).slice(0, spec.precision).join('');
        return pad(text, spec, false);
      }
      case 'q':
        return pad(
          spec.sharp && !/[`\p{Cc}]/u.test(value) ? `\`${value}\`` : goQuote(value),
          spec,
          false,
        );
      case 'x':
      case 'X': {
        const hex = Buffer.from(value).toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, spec, false);
      }
      default:
        return badVerb(verb, value);
    }
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => formatOne(v, verb, { ...spec })).join(' ')}]`;
  }
  return `map[${sortedKeys(value)
    .map((k) => `${formatOne(k, verb, spec)}:${formatOne(value.get(k) ?? null, verb, spec)}`)
    .join(' ')}]`;
}

/** fmt.Sprintf for the value model: flags `+-# 0`, width, precision (also `*`), Go's error forms. */
export function sprintf(format: string, args: readonly (GoValue | undefined)[]): string {
  let out = '';
  let argIndex = 0;
  let i = 0;
  while (i < format.length) {
    const ch = format[i];
    if (ch !== '%') {
      out += ch ?? '';
      i++;
      continue;
    }
    i++;
    const spec: Spec = {
      minus: false,
      plus: false,
      sharp: false,
      space: false,
      zero: false,
      width: undefined,
      precision: undefined,
    };
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === '#') spec.sharp = true;
      else if (f === ' ') spec.space = true;
      else if (f === '0') spec.zero = true;
      else break;
    }
    const readNumber = (): number | undefined => {
      if (format[i] === '*') {
        i++;
        const arg = args[argIndex++];
        return arg instanceof GoInt ? Number(arg.value) : undefined;
      }
      const m = /^\d+/.exec(format.slice(i));
      if (!m) return undefined;
      i += m[0].length;
      return Number(m[0]);
    };
    spec.width = readNumber();
    if (spec.width !== undefined && spec.width < 0) {
      spec.minus = true;
      spec.width = -spec.width;
    }
    if (format[i] === '.') {
      i++;
      spec.precision = readNumber() ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argIndex >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(args[argIndex++], verb, spec);
  }
  if (argIndex < args.length) {
    const extra = args
      .slice(argIndex)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${formatType(a)}=${formatValue(a)}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: readonly (GoValue | undefined)[]): string {
  let out = '';
  args.forEach((arg, index) => {
    const isString = typeof arg === 'string';
    if (index > 0 && !isString && typeof args[index - 1] !== 'string') out += ' ';
    out += formatValue(arg);
  });
  return out;
}

/** fmt.Sprintln: always spaces between operands, and a newline. */
export function sprintln(args: readonly (GoValue | undefined)[]): string {
  return `${args.map((a) => formatValue(a)).join(' ')}\n`;
}
