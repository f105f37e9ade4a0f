// Flux's variable substitution language: github.com/fluxcd/pkg/envsubst (a fork of drone/envsubst),
// the engine kustomize-controller runs over each resource's YAML for spec.postBuild
// (../shared/reference/flux-oci.md §4, postBuild). The grammar follows envsubst/parse/scan.go and
// parse/parse.go, evaluation envsubst/template.go, the string functions envsubst/funcs.go and the
// glob matcher envsubst/path/match.go, quirks included, because a manifest renders the way Flux
// renders it or not at all:
//
// - `$$` becomes `$` anywhere outside `${…}` (so `$${x}` is the literal `${x}`); `$x` is plain text.
// - `${x-d}`, `${x+d}` and `${x?d}` do not parse ("missing closing brace"), although the README
//   lists `-`; `${x:?d}` and `${x:+d}` parse and behave like `${x:-d}`; every default operator
//   (`=`, `:=`, `:-`) takes the default when the value is empty, set or not.
// - `${x/p/r}` and `${x//p/r}` replace literal text; `#`, `##`, `%`, `%%` match globs (path.Match
//   where `*` and `?` also match `/`); `%`/`%%` match the reversed pattern against the reversed value.
// - Lengths and offsets count bytes of the UTF-8 text (Go strings), so this module evaluates on
//   "byte strings" (one JS char per UTF-8 byte) and decodes the result at the end.
// - A NUL character reads as end of input (the scanner's eof rune is 0): the text after it is dropped.
// - Arguments are evaluated before the variable is looked up: in strict mode `${a:=${b}}` fails
//   when b is unset even if a is set.
import { AirlockError } from '../errors.ts';

/** A parsed piece of text: literal text, or a `${…}` expression. */
export type EnvsubstNode =
  | { readonly kind: 'text'; readonly value: string }
  | {
      readonly kind: 'func';
      /** The variable name. */
      readonly param: string;
      /** The operator as Go names it: '' (plain), '#', '^^', ':', ':=', '//', … */
      readonly name: string;
      /** Each argument is one text or nested expression (defaults may hold several). */
      readonly args: readonly EnvsubstNode[];
      /** UTF-16 offset of the `${` in the input. */
      readonly offset: number;
    };

export interface EnvsubstOptions {
  /**
   * kustomize-controller's StrictPostBuildSubstitutions (on by default from Flux 2.9): a variable
   * the lookup does not know, used bare or with a transforming operator, is an error; the default
   * operators still supply their default. When false an unknown variable reads as ''.
   */
  readonly strict: boolean;
}

// --- byte strings -------------------------------------------------------------------------------

const RUNE_ERROR = 0xfffd;

const toBytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
const fromBytes = (bytes: string): string => Buffer.from(bytes, 'latin1').toString('utf8');

/** Go's utf8.DecodeRuneInString on a byte string: invalid input decodes as U+FFFD, width 1. */
function decodeRune(s: string, at: number): [rune: number, width: number] {
  const b0 = s.charCodeAt(at);
  if (b0 < 0x80) return [b0, 1];
  const cont = (i: number, lo = 0x80, hi = 0xbf): number => {
    const b = s.charCodeAt(at + i);
    return b >= lo && b <= hi ? b & 0x3f : -1;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    const c1 = cont(1);
    return c1 < 0 ? [RUNE_ERROR, 1] : [((b0 & 0x1f) << 6) | c1, 2];
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const c1 = cont(1, b0 === 0xe0 ? 0xa0 : 0x80, b0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    return c2 < 0 ? [RUNE_ERROR, 1] : [((b0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const c1 = cont(1, b0 === 0xf0 ? 0x90 : 0x80, b0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 < 0 ? -1 : cont(2);
    const c3 = c2 < 0 ? -1 : cont(3);
    return c3 < 0 ? [RUNE_ERROR, 1] : [((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [RUNE_ERROR, 1];
}

const encodeRune = (rune: number): string => toBytes(String.fromCodePoint(rune));

/** The runes of a byte string as Go's []rune(s) gives them (invalid bytes become U+FFFD). */
function runes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length;) {
    const [rune, width] = decodeRune(s, i);
    out.push(rune);
    i += width;
  }
  return out;
}

// Go's unicode.ToUpper/ToLower use the one-to-one case mappings of UnicodeData.txt. JavaScript
// only has the full mappings (ß → SS); where those give more than one code point the simple
// mapping is almost always "unchanged", except U+0130 whose simple lowercase is 'i'.
function mapCase(rune: number, upper: boolean): number {
  if (rune < 0x80) {
    if (upper && rune >= 0x61 && rune <= 0x7a) return rune - 0x20;
    if (!upper && rune >= 0x41 && rune <= 0x5a) return rune + 0x20;
    return rune;
  }
  if (!upper && rune === 0x130) return 0x69;
  const char = String.fromCodePoint(rune);
  const mapped = upper ? char.toUpperCase() : char.toLowerCase();
  const first = mapped.codePointAt(0) ?? rune;
  // One code point, of either UTF-16 length: a mapping that expands (ß → SS) leaves the rune.
  return mapped.length === (first > 0xffff ? 2 : 1) ? first : rune;
}

/** strings.ToUpper/ToLower (strings.Map): invalid bytes come out as the encoded U+FFFD. */
function mapAllCase(s: string, upper: boolean): string {
  let out = '';
  for (let i = 0; i < s.length;) {
    const [rune, width] = decodeRune(s, i);
    out += encodeRune(width === 1 && rune === RUNE_ERROR ? RUNE_ERROR : mapCase(rune, upper));
    i += width;
  }
  return out;
}

function mapFirstCase(s: string, upper: boolean): string {
  if (s === '') return s;
  const [rune, width] = decodeRune(s, 0);
  return encodeRune(mapCase(rune, upper)) + s.slice(width);
}

// --- scanner (envsubst/parse/scan.go) ----------------------------------------------------------

const EOF_RUNE = 0;
const DOLLAR = 0x24;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;

// Which tokens a scan may return.
const SCAN_IDENT = 1;
const SCAN_LBRACK = 2;
const SCAN_RBRACK = 4;
const SCAN_ESCAPE = 8;
// Which characters escape (`$$` always; `\\` and `\/` inside `${…}`).
const ESCAPE_DOLLAR = 1;
const ESCAPE_BACKSLASH = 2;
const ESCAPE_ALL = ESCAPE_DOLLAR | ESCAPE_BACKSLASH;

type Token = 'illegal' | 'eof' | 'ident' | 'lbrack' | 'rbrack';

/** Whether the rune at byte `i` of the token (counted from 1) belongs to it. */
type Accept = (rune: number, i: number) => boolean;

const isLetterRe = /^\p{L}$/u;
const isDigitRe = /^\p{Nd}$/u;
const codePoint = (rune: number): string => String.fromCodePoint(rune);

const acceptAny: Accept = () => true;
const acceptIdent: Accept = (r) =>
  r === 0x5f ||
  (r < 0x80
    ? (r >= 0x30 && r <= 0x39) || (r >= 0x41 && r <= 0x5a) || (r >= 0x61 && r <= 0x7a)
    : isLetterRe.test(codePoint(r)) || isDigitRe.test(codePoint(r)));
const acceptColons: Accept = (r) => r === 0x3a;
const acceptOneHash: Accept = (r, i) => r === 0x23 && i === 1;
const acceptNotClosing: Accept = (r) => r !== RBRACE;
const acceptHashes: Accept = (r, i) => r === 0x23 && i < 3;
const acceptPercents: Accept = (r, i) => r === 0x25 && i < 3;
const acceptDefaultOp: Accept = (r, i) =>
  (i === 1 && r === 0x3a) || (i === 2 && (r === 0x3d || r === 0x2d || r === 0x3f || r === 0x2b));
const acceptReplaceOp: Accept = (r, i) =>
  (i === 1 && r === SLASH) || (i === 2 && (r === SLASH || r === 0x23 || r === 0x25));
const acceptOneEqual: Accept = (r, i) => i === 1 && r === 0x3d;
const acceptOneColon: Accept = (r, i) => i === 1 && r === 0x3a;
const rejectColonClose: Accept = (r) => r !== 0x3a && r !== RBRACE;
const acceptSlashes: Accept = (r) => r === SLASH;
const acceptNotSlash: Accept = (r) => r !== SLASH;
const acceptCaseOp: Accept = (r, i) => (r === 0x2c || r === 0x5e) && i < 3;

/**
 * The upstream scanner deletes an escape character from its buffer when it meets one; this one
 * keeps the input intact and leaves the escape character out of the token text instead, which
 * yields the same tokens with offsets that stay valid in the original input.
 */
class Scanner {
  readonly src: string;
  pos = 0;
  width = 0;
  mode = 0;
  escapes = 0;
  accept: Accept = acceptAny;
  private start = 0;
  private pieces: string[] = [];
  private pieceStart = 0;
  private skipped = 0;

  constructor(src: string) {
    this.src = src;
  }

  read(): number {
    if (this.pos >= this.src.length) {
      this.width = 0;
      return EOF_RUNE;
    }
    const [rune, width] = decodeRune(this.src, this.pos);
    this.width = width;
    this.pos += width;
    return rune;
  }

  unread(): void {
    this.pos -= this.width;
  }

  peek(): number {
    const rune = this.read();
    this.unread();
    return rune;
  }

  /** The text of the token last scanned. */
  text(): string {
    return this.pieces.join('') + this.src.slice(this.pieceStart, this.pos);
  }

  scan(): Token {
    this.start = this.pos;
    this.pieces = [];
    this.pieceStart = this.pos;
    this.skipped = 0;
    const rune = this.read();
    if (rune === EOF_RUNE) return 'eof';
    if (this.lbrack(rune)) return 'lbrack';
    if (this.rbrack(rune)) return 'rbrack';
    if (this.ident(rune)) return 'ident';
    return 'illegal';
  }

  /** Token length so far as the upstream scanner counts it (its buffer has lost the escapes). */
  private index(): number {
    return this.pos - this.start - this.skipped;
  }

  /** Drops the escape character just read; the character it escapes is taken as read. */
  private skip(): void {
    const escapeAt = this.pos - 1;
    this.pieces.push(this.src.slice(this.pieceStart, escapeAt));
    this.pieceStart = escapeAt + 1;
    this.pos += 1;
    this.skipped += 1;
  }

  private ident(first: number): boolean {
    if ((this.mode & SCAN_IDENT) === 0) return false;
    if (this.escaped(first)) this.skip();
    else if (!this.accept(first, this.index())) return false;
    for (;;) {
      const rune = this.read();
      if (rune === EOF_RUNE) {
        this.unread();
        break;
      }
      if (this.lbrack(rune)) {
        this.unread();
        this.unread();
        break;
      }
      if (this.escaped(rune)) {
        this.skip();
        continue;
      }
      if (!this.accept(rune, this.index())) {
        this.unread();
        break;
      }
    }
    return true;
  }

  private lbrack(rune: number): boolean {
    if ((this.mode & SCAN_LBRACK) === 0 || rune !== DOLLAR) return false;
    if (this.read() === LBRACE) return true;
    this.unread();
    return false;
  }

  private rbrack(rune: number): boolean {
    return (this.mode & SCAN_RBRACK) !== 0 && rune === RBRACE;
  }

  private escaped(rune: number): boolean {
    if ((this.mode & SCAN_ESCAPE) === 0) return false;
    if (rune === DOLLAR && (this.escapes & ESCAPE_DOLLAR) !== 0 && this.peek() === DOLLAR) {
      return true;
    }
    if (rune === BACKSLASH && (this.escapes & ESCAPE_BACKSLASH) !== 0) {
      const next = this.peek();
      return next === SLASH || next === BACKSLASH;
    }
    return false;
  }
}

// --- parser (envsubst/parse/parse.go) ----------------------------------------------------------

interface TextNode {
  readonly kind: 'text';
  readonly value: string;
}
interface FuncNode {
  readonly kind: 'func';
  readonly param: string;
  readonly name: string;
  readonly args: Node[];
  readonly offset: number;
}
type Node = TextNode | FuncNode;

// The upstream error texts, which kustomize-controller shows in the Kustomization's status.
const BAD_SUBSTITUTION = 'bad substitution';
const MISSING_CLOSING_BRACE = 'missing closing brace';
const BAD_VARIABLE_NAME = 'unable to parse variable name';
const BAD_ARGUMENT = 'unable to parse substitution within function';
const BAD_DEFAULT = 'unable to parse default function';

/** Line and column (1-based, UTF-16 units) of a byte offset. */
function position(
  src: string,
  byteOffset: number,
): { line: number; column: number; offset: number } {
  const before = fromBytes(src.slice(0, byteOffset));
  const lineStart = before.lastIndexOf('\n') + 1;
  let line = 1;
  for (let i = before.indexOf('\n'); i >= 0; i = before.indexOf('\n', i + 1)) line += 1;
  return { line, column: before.length - lineStart + 1, offset: before.length };
}

class Parser {
  private readonly scanner: Scanner;

  constructor(src: string) {
    this.scanner = new Scanner(src);
  }

  private fail(message: string): never {
    const at = position(this.scanner.src, Math.min(this.scanner.pos, this.scanner.src.length));
    throw new AirlockError('TEMPLATE_INVALID', message, {
      details: [`at line ${at.line}, column ${at.column}`],
      data: at,
    });
  }

  /** The whole input: text and expressions in order (Go nests them as ListNodes). */
  parse(): Node[] {
    const s = this.scanner;
    const nodes: Node[] = [];
    for (;;) {
      s.accept = acceptAny;
      s.mode = SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE;
      s.escapes = ESCAPE_DOLLAR;
      const token = s.scan();
      if (token === 'eof') return nodes;
      if (token === 'ident') nodes.push({ kind: 'text', value: s.text() });
      else if (token === 'lbrack') nodes.push(this.func());
      else this.fail(BAD_SUBSTITUTION);
    }
  }

  /** After `${`. */
  private func(): FuncNode {
    const s = this.scanner;
    const offset = s.pos - 2;
    s.escapes = ESCAPE_ALL;
    if (s.peek() === 0x23) return this.length(offset);
    s.accept = acceptIdent;
    s.mode = SCAN_IDENT;
    if (s.scan() !== 'ident') this.fail(BAD_VARIABLE_NAME);
    const param = s.text();
    switch (s.peek()) {
      case 0x3a: // ':'
        return this.defaultOrSubstring(param, offset);
      case 0x3d: // '='
        return this.defaultOp(param, offset);
      case 0x2c: // ','
      case 0x5e: // '^'
        return this.operatorOnly(param, offset, acceptCaseOp);
      case SLASH:
        return this.replace(param, offset);
      case 0x23: // '#'
        return this.remove(param, offset, acceptHashes);
      case 0x25: // '%'
        return this.remove(param, offset, acceptPercents);
    }
    s.accept = acceptIdent;
    s.mode = SCAN_RBRACK;
    if (s.scan() !== 'rbrack') this.fail(MISSING_CLOSING_BRACE);
    return { kind: 'func', param, name: '', args: [], offset };
  }

  /** One argument: a `${…}` or text up to what `accept` refuses. */
  private argument(accept: Accept, mode: number): Node {
    const s = this.scanner;
    s.accept = accept;
    s.mode = mode | SCAN_LBRACK;
    const token = s.scan();
    if (token === 'lbrack') return this.func();
    if (token === 'ident' || token === 'rbrack') return { kind: 'text', value: s.text() };
    return this.fail(BAD_ARGUMENT);
  }

  private operator(accept: Accept, error = BAD_SUBSTITUTION): string {
    const s = this.scanner;
    s.accept = accept;
    s.mode = SCAN_IDENT;
    if (s.scan() !== 'ident') this.fail(error);
    return s.text();
  }

  private closing(): void {
    const s = this.scanner;
    s.mode = SCAN_RBRACK;
    if (s.scan() !== 'rbrack') this.fail(BAD_SUBSTITUTION);
  }

  private defaultOrSubstring(param: string, offset: number): FuncNode {
    const s = this.scanner;
    // Upstream reads the ':', peeks and unreads by the width of the peeked rune (not the
    // colon's): kept, since it decides which error a `${x:é}` gets.
    s.read();
    const next = s.peek();
    s.unread();
    if (next === 0x3d || next === 0x2d || next === 0x3f || next === 0x2b) {
      return this.defaultOp(param, offset);
    }
    const name = this.operator(acceptOneColon);
    const args = [this.argument(rejectColonClose, SCAN_IDENT)];
    s.accept = acceptColons;
    s.mode = SCAN_IDENT | SCAN_RBRACK;
    const token = s.scan();
    if (token === 'rbrack') return { kind: 'func', param, name, args, offset };
    if (token !== 'ident') this.fail(BAD_SUBSTITUTION);
    args.push(this.argument(acceptNotClosing, SCAN_IDENT));
    this.closing();
    return { kind: 'func', param, name, args, offset };
  }

  private remove(param: string, offset: number, accept: Accept): FuncNode {
    const name = this.operator(accept);
    const args = [this.argument(acceptNotClosing, SCAN_IDENT)];
    this.closing();
    return { kind: 'func', param, name, args, offset };
  }

  private replace(param: string, offset: number): FuncNode {
    const s = this.scanner;
    const name = this.operator(acceptReplaceOp);
    const args = [this.argument(acceptNotSlash, SCAN_IDENT | SCAN_ESCAPE)];
    this.operator(acceptSlashes);
    if (s.peek() !== RBRACE) args.push(this.argument(acceptNotClosing, SCAN_IDENT | SCAN_ESCAPE));
    this.closing();
    return { kind: 'func', param, name, args, offset };
  }

  private defaultOp(param: string, offset: number): FuncNode {
    const s = this.scanner;
    const name = this.operator(s.peek() === 0x3d ? acceptOneEqual : acceptDefaultOp, BAD_DEFAULT);
    const args: Node[] = [];
    while (s.peek() !== RBRACE) args.push(this.argument(acceptNotClosing, SCAN_IDENT));
    this.closing();
    return { kind: 'func', param, name, args, offset };
  }

  private operatorOnly(param: string, offset: number, accept: Accept): FuncNode {
    const name = this.operator(accept);
    this.closing();
    return { kind: 'func', param, name, args: [], offset };
  }

  /** `${#var}`. */
  private length(offset: number): FuncNode {
    const name = this.operator(acceptOneHash);
    const param = this.operator(acceptIdent);
    this.closing();
    return { kind: 'func', param, name, args: [], offset };
  }
}

// --- string functions (envsubst/funcs.go), on byte strings ----------------------------------------

type StringFunc = (value: string, args: readonly string[]) => string;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.Atoi: optional sign, decimal digits, int64 range. */
function atoi(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

const substring: StringFunc = (s, args) => {
  const [first, second] = args;
  if (first === undefined) return s;
  const length = BigInt(s.length);
  let pos = atoi(first);
  // An offset or length that does not parse leaves the value as it is, as bash does.
  if (pos === undefined) return s;
  if (pos < 0n) {
    pos += length;
    if (pos < 0n) pos = 0n;
  }
  if (second === undefined) return pos < length ? s.slice(Number(pos)) : '';
  const count = atoi(second);
  if (count === undefined) return s;
  const end = BigInt.asIntN(64, pos + count);
  if (end >= length) return pos < length ? s.slice(Number(pos)) : '';
  // A negative length makes Go slice s[pos:end] with end < pos, which panics; kustomize-controller
  // reports the recovered panic.
  if (end < pos) {
    throw new AirlockError(
      'TEMPLATE_FAILED',
      `runtime error: slice bounds out of range [${pos.toString()}:${end.toString()}]`,
    );
  }
  return s.slice(Number(pos), Number(end));
};

/** strings.Replace(s, old, replacement, n) with n < 0 meaning all. */
function replace(s: string, old: string, replacement: string, n: number): string {
  if (old === replacement || n === 0) return s;
  let found = 0;
  if (old === '') found = runes(s).length + 1;
  else for (let i = s.indexOf(old); i >= 0; i = s.indexOf(old, i + old.length)) found += 1;
  if (found === 0) return s;
  const count = n < 0 || found < n ? found : n;
  let out = '';
  let start = 0;
  for (let i = 0; i < count; i += 1) {
    let at = start;
    if (old === '') {
      if (i > 0) at += decodeRune(s, start)[1];
    } else {
      at = s.indexOf(old, start);
    }
    out += s.slice(start, at) + replacement;
    start = at + old.length;
  }
  return out + s.slice(start);
}

const replaceWith =
  (n: number): StringFunc =>
  (s, args) => {
    const [old, replacement] = args;
    return old === undefined ? s : replace(s, old, replacement ?? '', n);
  };

const replacePrefix: StringFunc = (s, args) => {
  const [old, replacement] = args;
  if (args.length !== 2 || old === undefined || replacement === undefined) return s;
  return s.startsWith(old) ? replace(s, old, replacement, 1) : s;
};

const replaceSuffix: StringFunc = (s, args) => {
  const [old, replacement] = args;
  if (args.length !== 2 || old === undefined || replacement === undefined) return s;
  return s.endsWith(old) ? s.slice(0, s.length - old.length) + replacement : s;
};

const BAD_PATTERN = Symbol('bad pattern');
type MatchResult = boolean | typeof BAD_PATTERN;

/** The next run of non-star pattern, and whether stars precede it (path.Match scanChunk). */
function scanChunk(pattern: string): [star: boolean, chunk: string, rest: string] {
  let star = false;
  let p = pattern;
  while (p.startsWith('*')) {
    p = p.slice(1);
    star = true;
  }
  let inRange = false;
  let i = 0;
  for (; i < p.length; i += 1) {
    const c = p[i];
    if (c === '\\') {
      if (i + 1 < p.length) i += 1;
    } else if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
  }
  return [star, p.slice(0, i), p.slice(i)];
}

/** A possibly escaped character of a character class. */
function classChar(chunk: string): [rune: number, rest: string] | typeof BAD_PATTERN {
  let c = chunk;
  if (c === '' || c.startsWith('-') || c.startsWith(']')) return BAD_PATTERN;
  if (c.startsWith('\\')) {
    c = c.slice(1);
    if (c === '') return BAD_PATTERN;
  }
  const [rune, width] = decodeRune(c, 0);
  const rest = c.slice(width);
  if ((rune === RUNE_ERROR && width === 1) || rest === '') return BAD_PATTERN;
  return [rune, rest];
}

/** Matches a star-free chunk at the start of `s`: the rest of `s`, false, or a bad pattern. */
function matchChunk(chunkIn: string, sIn: string): string | false | typeof BAD_PATTERN {
  let chunk = chunkIn;
  let s = sIn;
  while (chunk !== '') {
    if (s === '') return false;
    const c = chunk[0];
    if (c === '[') {
      const [rune, width] = decodeRune(s, 0);
      s = s.slice(width);
      chunk = chunk.slice(1);
      let negated = false;
      if (chunk.startsWith('^')) {
        negated = true;
        chunk = chunk.slice(1);
      }
      let matched = false;
      for (let ranges = 0; ; ranges += 1) {
        if (chunk.startsWith(']') && ranges > 0) {
          chunk = chunk.slice(1);
          break;
        }
        const lo = classChar(chunk);
        if (lo === BAD_PATTERN) return BAD_PATTERN;
        let hi = lo[0];
        chunk = lo[1];
        if (chunk.startsWith('-')) {
          const upper = classChar(chunk.slice(1));
          if (upper === BAD_PATTERN) return BAD_PATTERN;
          [hi, chunk] = upper;
        }
        if (lo[0] <= rune && rune <= hi) matched = true;
      }
      if (matched === negated) return false;
    } else if (c === '?') {
      s = s.slice(decodeRune(s, 0)[1]);
      chunk = chunk.slice(1);
    } else {
      if (c === '\\') {
        chunk = chunk.slice(1);
        if (chunk === '') return BAD_PATTERN;
      }
      if (chunk[0] !== s[0]) return false;
      s = s.slice(1);
      chunk = chunk.slice(1);
    }
  }
  return s;
}

/**
 * envsubst/path.Match: Go's path.Match with `*` and `?` matching `/` too, and a trailing `*`
 * matching whatever is left.
 */
function globMatch(patternIn: string, nameIn: string): MatchResult {
  let pattern = patternIn;
  let name = nameIn;
  next: while (pattern !== '') {
    const [star, chunk, rest] = scanChunk(pattern);
    pattern = rest;
    if (star && chunk === '') return true;
    const here = matchChunk(chunk, name);
    if (typeof here === 'string' && (here === '' || pattern !== '')) {
      name = here;
      continue;
    }
    if (here === BAD_PATTERN) return BAD_PATTERN;
    if (star) {
      for (let i = 0; i < name.length; i += 1) {
        const later = matchChunk(chunk, name.slice(i + 1));
        if (typeof later === 'string') {
          if (pattern === '' && later !== '') continue;
          name = later;
          continue next;
        }
        if (later === BAD_PATTERN) return BAD_PATTERN;
      }
    }
    return false;
  }
  return name === '';
}

/** Removes the shortest (or longest) non-empty prefix matching the pattern. */
function trimPrefix(s: string, pattern: string, longest: boolean): string {
  let shortest = '';
  for (let i = 0; i < s.length; i += 1) {
    const prefix = s.slice(0, s.length - i);
    const matched = globMatch(pattern, prefix);
    if (matched === BAD_PATTERN) return s;
    if (matched) {
      if (longest) return s.slice(prefix.length);
      shortest = prefix;
    }
  }
  return shortest === '' ? s : s.slice(shortest.length);
}

const reverse = (s: string): string =>
  runes(s)
    .reverse()
    .map((r) => encodeRune(r))
    .join('');

const trimFunc =
  (suffix: boolean, longest: boolean): StringFunc =>
  (s, args) => {
    const [pattern] = args;
    if (pattern === undefined) return s;
    if (!suffix) return trimPrefix(s, pattern, longest);
    return reverse(trimPrefix(reverse(s), reverse(pattern), longest));
  };

const orDefault: StringFunc = (s, args) => (s === '' && args.length > 0 ? args.join('') : s);

function stringFunc(name: string, argCount: number): StringFunc {
  switch (name) {
    case ',':
      return (s) => mapFirstCase(s, false);
    case ',,':
      return (s) => mapAllCase(s, false);
    case '^':
      return (s) => mapFirstCase(s, true);
    case '^^':
      return (s) => mapAllCase(s, true);
    case '#':
      return argCount === 0 ? (s) => String(s.length) : trimFunc(false, false);
    case '##':
      return trimFunc(false, true);
    case '%':
      return trimFunc(true, false);
    case '%%':
      return trimFunc(true, true);
    case ':':
      return substring;
    case '/#':
      return replacePrefix;
    case '/%':
      return replaceSuffix;
    case '/':
      return replaceWith(1);
    case '//':
      return replaceWith(-1);
    default:
      // '', '=', ':=', ':-', ':?', ':+' and any other operator the scanner let through (`,^`).
      return orDefault;
  }
}

/** Operators that supply their own value for an unset variable: exempt from strict mode. */
const DEFAULT_OPERATORS = new Set(['-', '+', '=', '?', ':-', ':+', ':=', ':?']);

// --- evaluation (envsubst/template.go) -----------------------------------------------------------

function evaluate(
  nodes: readonly Node[],
  src: string,
  lookup: (name: string) => string | undefined,
  strict: boolean,
): string {
  const evalNode = (node: Node): string => {
    if (node.kind === 'text') return node.value;
    const args = node.args.map(evalNode);
    const name = fromBytes(node.param);
    const found = lookup(name);
    if (found === undefined && strict && !DEFAULT_OPERATORS.has(node.name)) {
      const at = position(src, node.offset);
      throw new AirlockError('TEMPLATE_FAILED', `variable not set (strict mode): "${name}"`, {
        details: [`at line ${at.line}, column ${at.column}`],
        data: { variable: name, ...at },
      });
    }
    return stringFunc(node.name, args.length)(toBytes(found ?? ''), args);
  };
  return nodes.map(evalNode).join('');
}

const publicNode = (node: Node, src: string): EnvsubstNode =>
  node.kind === 'text'
    ? { kind: 'text', value: fromBytes(node.value) }
    : {
        kind: 'func',
        param: fromBytes(node.param),
        name: node.name,
        args: node.args.map((arg) => publicNode(arg, src)),
        offset: position(src, node.offset).offset,
      };

/**
 * Parses text the way envsubst.Parse does. Go nests the top level as right-leaning ListNodes;
 * here it is the flat list of those nodes (an empty input gives []).
 */
export function parseEnvsubst(text: string): EnvsubstNode[] {
  const src = toBytes(text);
  return new Parser(src).parse().map((node) => publicNode(node, src));
}

/**
 * envsubst.Eval(text, mapping) with kustomize-controller's mapping: `lookup` says whether a
 * variable is defined. Throws AirlockError 'TEMPLATE_INVALID' for text that does not parse ("bad
 * substitution", "missing closing brace", …) and 'TEMPLATE_FAILED' when evaluation fails
 * (`variable not set (strict mode): "name"`), with the line and column in `details` and `data`.
 */
export function envsubst(
  text: string,
  lookup: (name: string) => string | undefined,
  options: EnvsubstOptions,
): string {
  const src = toBytes(text);
  const nodes = new Parser(src).parse();
  return fromBytes(evaluate(nodes, src, lookup, options.strict));
}
