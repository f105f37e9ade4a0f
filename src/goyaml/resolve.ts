// go-yaml v2 implicit scalar resolution (YAML 1.1 flavoured), the rules both the decoder and the
// encoder's "would this string read back as something else?" check use.
// Source: go-yaml/yaml@v2.4.0 resolve.go (resolveMapList, resolve, parseTimestamp); the module
// sigs.k8s.io/yaml uses (go.yaml.in/yaml/v2 v2.4.2) carries the same file.

export const STR_TAG = 'tag:yaml.org,2002:str';
export const BOOL_TAG = 'tag:yaml.org,2002:bool';
export const INT_TAG = 'tag:yaml.org,2002:int';
export const FLOAT_TAG = 'tag:yaml.org,2002:float';
export const NULL_TAG = 'tag:yaml.org,2002:null';
export const TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp';
export const MERGE_TAG = 'tag:yaml.org,2002:merge';
export const BINARY_TAG = 'tag:yaml.org,2002:binary';

/** What resolve() yields: Go's int/int64 (kept as bigint), uint64 (`uint`), float64, bool, nil, string. */
export type Resolved =
  | { readonly tag: typeof NULL_TAG; readonly value: null }
  | { readonly tag: typeof BOOL_TAG; readonly value: boolean }
  | { readonly tag: typeof INT_TAG; readonly value: bigint; readonly unsigned: boolean }
  | { readonly tag: typeof FLOAT_TAG; readonly value: number }
  | { readonly tag: typeof TIMESTAMP_TAG; readonly value: string }
  | { readonly tag: typeof MERGE_TAG; readonly value: string }
  | { readonly tag: string; readonly value: string };

// resolve.go:33-46 resolveMapList: exact spellings only, no other case variants.
const RESOLVE_MAP = new Map<string, Resolved>();
const put = (r: Resolved, spellings: string[]): void => {
  for (const s of spellings) RESOLVE_MAP.set(s, r);
};
put({ tag: BOOL_TAG, value: true }, ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE']);
put({ tag: BOOL_TAG, value: true }, ['on', 'On', 'ON']);
put({ tag: BOOL_TAG, value: false }, ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE']);
put({ tag: BOOL_TAG, value: false }, ['off', 'Off', 'OFF']);
put({ tag: NULL_TAG, value: null }, ['', '~', 'null', 'Null', 'NULL']);
put({ tag: FLOAT_TAG, value: NaN }, ['.nan', '.NaN', '.NAN']);
put({ tag: FLOAT_TAG, value: Infinity }, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']);
put({ tag: FLOAT_TAG, value: -Infinity }, ['-.inf', '-.Inf', '-.INF']);
put({ tag: MERGE_TAG, value: '<<' }, ['<<']);

// resolve.go:81 yamlStyleFloat.
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** The first-byte hint of resolve.go:20-30 resolveTable. */
function hint(s: string): 'S' | 'D' | 'M' | '.' | 'N' | '' {
  if (s === '') return 'N';
  const c = s[0] ?? '';
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return '';
}

/**
 * Go strconv.ParseUint(s, 0, 64) digits: base prefix 0x/0o/0b, a leading 0 means octal.
 * Returns undefined on a syntax error. No underscores: resolve removed them all before.
 */
function parseUintBase0(s: string): bigint | undefined {
  if (s === '') return undefined;
  let base = 10;
  let digits = s;
  if (s[0] === '0') {
    const p = s[1]?.toLowerCase();
    if (p === 'x') [base, digits] = [16, s.slice(2)];
    else if (p === 'o') [base, digits] = [8, s.slice(2)];
    else if (p === 'b') [base, digits] = [2, s.slice(2)];
    else [base, digits] = [8, s.slice(1)];
    if (digits === '' && base !== 8) return undefined;
    if (digits === '') return 0n; // "0"
  }
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base as 2];
  if (!valid.test(digits)) return undefined;
  const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[base as 2];
  return BigInt(prefix + digits);
}

/** Go strconv.ParseInt(s, 0, 64): optional sign, then ParseUint; out of range is an error. */
export function goParseInt(s: string): bigint | undefined {
  let body = s;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    body = s.slice(1);
  }
  const u = parseUintBase0(body);
  if (u === undefined) return undefined;
  const v = neg ? -u : u;
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** Go strconv.ParseUint(s, 0, 64): no sign allowed. */
export function goParseUint(s: string): bigint | undefined {
  const u = parseUintBase0(s);
  return u === undefined || u > UINT64_MAX ? undefined : u;
}

function parseBinary(digits: string, neg: boolean): bigint | undefined {
  if (!/^[01]+$/.test(digits)) return undefined;
  const v = neg ? -BigInt('0b' + digits) : BigInt('0b' + digits);
  return v;
}

/**
 * Go strconv.ParseFloat on text already known to be decimal-float shaped; overflow to ±Inf is an
 * error in Go (ErrRange), so the scalar then stays a string.
 */
function parseFloatChecked(s: string): number | undefined {
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** go-yaml v2 resolve(tag, in) for the tags a JSON-bound document can carry. */
export function resolve(tag: string, input: string): Resolved {
  const resolvable = ['', STR_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG, NULL_TAG, TIMESTAMP_TAG].includes(
    tag,
  );
  if (!resolvable) return { tag, value: input };
  const out = resolveImplicit(tag, input);
  // resolve.go:89-107: an explicit tag must agree with what the text resolves to (an int may be
  // read as a float); anything else fails the whole decode.
  if (tag === '' || tag === out.tag || tag === STR_TAG || tag === BINARY_TAG) return out;
  if (tag === FLOAT_TAG && out.tag === INT_TAG) {
    return { tag: FLOAT_TAG, value: Number((out as { value: bigint }).value) };
  }
  throw new ResolveError(`cannot decode ${shortTag(out.tag)} \`${input}\` as a ${shortTag(tag)}`);
}

export class ResolveError extends Error {}

export function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? '!!' + tag.slice('tag:yaml.org,2002:'.length) : tag;
}

function resolveImplicit(tag: string, input: string): Resolved {
  const h = hint(input);
  if (h === '' || tag === STR_TAG || tag === BINARY_TAG) return { tag: STR_TAG, value: input };
  const mapped = RESOLVE_MAP.get(input);
  if (mapped !== undefined) return mapped;
  if (h === '.') {
    // strconv.ParseFloat on the raw text: a leading '.' is only ever a decimal fraction here.
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(input)) {
      const f = parseFloatChecked(input);
      if (f !== undefined) return { tag: FLOAT_TAG, value: f };
    }
  } else if (h === 'D' || h === 'S') {
    if ((tag === '' || tag === TIMESTAMP_TAG) && isTimestamp(input)) {
      return { tag: TIMESTAMP_TAG, value: input };
    }
    const plain = input.replaceAll('_', '');
    const i = goParseInt(plain);
    if (i !== undefined) return { tag: INT_TAG, value: i, unsigned: false };
    const u = goParseUint(plain);
    if (u !== undefined) return { tag: INT_TAG, value: u, unsigned: true };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = parseFloatChecked(plain);
      if (f !== undefined) return { tag: FLOAT_TAG, value: f };
    }
    // resolve.go:163-185: 0b binary (already covered by ParseInt base 0 in Go ≥1.13, kept for
    // the -0b form, which ParseInt also reads), then -0b.
    if (plain.startsWith('0b')) {
      const b = parseBinary(plain.slice(2), false);
      if (b !== undefined && b <= INT64_MAX) return { tag: INT_TAG, value: b, unsigned: false };
      if (b !== undefined && b <= UINT64_MAX) return { tag: INT_TAG, value: b, unsigned: true };
    } else if (plain.startsWith('-0b')) {
      const b = parseBinary(plain.slice(3), true);
      if (b !== undefined && b >= INT64_MIN) return { tag: INT_TAG, value: b, unsigned: false };
    }
  }
  return { tag: STR_TAG, value: input };
}

// --- timestamps (resolve.go:213-258): time.Parse with four layouts -----------------------------

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Go time.Parse getnum(s, false): one or two digits. Returns [value, rest] or undefined.
 */
function getnum(s: string): [number, string] | undefined {
  if (!/^[0-9]/.test(s)) return undefined;
  if (!/^[0-9]{2}/.test(s)) return [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}

/**
 * Whether one of go-yaml's allowedTimestampFormats parses s:
 * "2006-1-2T15:4:5.999999999Z07:00", the same with "t", "2006-1-2 15:4:5.999999999", "2006-1-2".
 */
export function isTimestamp(s: string): boolean {
  // parseTimestamp quick check: exactly four digits then '-'.
  if (!/^[0-9]{4}-/.test(s)) return false;
  const year = Number(s.slice(0, 4));
  let rest = s.slice(5);
  const m = getnum(rest);
  if (m === undefined || m[0] < 1 || m[0] > 12) return false;
  rest = m[1];
  if (rest[0] !== '-') return false;
  const d = getnum(rest.slice(1));
  if (d === undefined) return false;
  rest = d[1];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = m[0] === 2 && leap ? 29 : (DAYS_IN_MONTH[m[0] - 1] ?? 31);
  if (d[0] < 1 || d[0] > maxDay) return false;
  if (rest === '') return true; // "2006-1-2"
  const sep = rest[0];
  if (sep !== 'T' && sep !== 't' && sep !== ' ') return false;
  rest = rest.slice(1);
  const hh = getnum(rest);
  if (hh === undefined || hh[0] > 23 || hh[1][0] !== ':') return false;
  const mm = getnum(hh[1].slice(1));
  if (mm === undefined || mm[0] > 59 || mm[1][0] !== ':') return false;
  const ss = getnum(mm[1].slice(1));
  if (ss === undefined || ss[0] > 59) return false;
  rest = ss[1];
  // .999999999: an optional fraction; Go's stdFracSecond9 takes any number of digits and also
  // accepts ',' as the separator (time/format.go).
  const frac = /^[.,][0-9]+/.exec(rest);
  if (frac !== null) rest = rest.slice(frac[0].length);
  if (sep === ' ') return rest === '';
  // Z07:00: "Z" or ±hh:mm.
  if (rest === 'Z') return true;
  return /^[+-][0-9]{2}:[0-9]{2}$/.test(rest) && Number(rest.slice(1, 3)) < 24;
}

/** go-yaml v2 encode.go isBase60Float: such strings are quoted on the way out. */
export function isBase60Float(s: string): boolean {
  if (s === '') return false;
  const c = s[0] ?? '';
  if (!(c === '+' || c === '-' || (c >= '0' && c <= '9')) || !s.includes(':')) return false;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s);
}

// --- strconv.FormatFloat(f, 'g', -1, bits) -----------------------------------------------------

/** Shortest round-trip decimal digits and decimal-point position of |f| (Go's digs.d, digs.dp). */
function shortestDigits(f: number, bits: 32 | 64): { digits: string; dp: number } {
  const abs = Math.abs(f);
  let exp: string;
  if (bits === 64) {
    exp = abs.toExponential();
  } else {
    // float32: the fewest significant digits whose value rounds back to the same float32.
    const target = Math.fround(abs);
    exp = target.toExponential(8);
    for (let p = 1; p <= 9; p++) {
      const candidate = target.toExponential(p - 1);
      if (Math.fround(Number(candidate)) === target) {
        exp = candidate;
        break;
      }
    }
  }
  const [mant, e] = exp.split('e') as [string, string];
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  return { digits, dp: Number(e) + 1 };
}

/** strconv.FormatFloat(f, 'g', -1, bits): %e when exp < -4 or exp >= 6 (shortest eprec), else %f. */
export function formatFloatG(f: number, bits: 32 | 64 = 64): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const neg = f < 0 || Object.is(f, -0);
  const sign = neg ? '-' : '';
  if (f === 0) return sign + '0';
  const { digits, dp } = shortestDigits(f, bits);
  const exp = dp - 1;
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (dp >= digits.length) return sign + digits + '0'.repeat(dp - digits.length);
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}
