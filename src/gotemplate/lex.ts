// The text/template lexer (golang/go src/text/template/parse/lex.go), re-expressed: text and
// actions between configurable delimiters, trim markers `{{- ` / ` -}}` (the space is
// required), comments `{{/* */}}` directly inside the delimiters, and inside actions: spaces
// including newlines, `:=`, `=`, `|`, parentheses, quoted/raw strings, character constants,
// numbers, `$variables`, `.fields`, identifiers and keywords.

export type ItemType =
  | 'error'
  | 'bool'
  | 'char'
  | 'charConstant'
  | 'comment'
  | 'assign'
  | 'declare'
  | 'EOF'
  | 'field'
  | 'identifier'
  | 'leftDelim'
  | 'leftParen'
  | 'number'
  | 'pipe'
  | 'rawString'
  | 'rightDelim'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'text'
  | 'variable'
  | 'dot'
  | 'nil'
  // keywords
  | 'block'
  | 'break'
  | 'continue'
  | 'define'
  | 'else'
  | 'end'
  | 'if'
  | 'range'
  | 'template'
  | 'with';

export interface Item {
  readonly type: ItemType;
  readonly pos: number;
  readonly val: string;
  readonly line: number;
}

const KEYWORDS = new Set<ItemType>([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);

export const isKeyword = (type: ItemType): boolean => KEYWORDS.has(type) || type === 'nil';

const isSpace = (ch: string | undefined): boolean =>
  ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isAlphaNumeric = (ch: string | undefined): boolean =>
  ch !== undefined && (ch === '_' || /^[\p{L}\p{Nd}]$/u.test(ch));

/** Go's item String(), used in "unexpected X in Y" messages (lex.go). */
export function itemString(item: Item): string {
  if (item.type === 'EOF') return 'EOF';
  if (item.type === 'error') return item.val;
  if (isKeyword(item.type)) return `<${item.val}>`;
  if (Array.from(item.val).length > 10) return `${goQuoteShort(item.val)}...`;
  return JSON.stringify(item.val);
}

function goQuoteShort(text: string): string {
  // %.10q: the first ten runes, quoted.
  return JSON.stringify(Array.from(text).slice(0, 10).join(''));
}

export interface LexOptions {
  readonly leftDelim: string;
  readonly rightDelim: string;
}

/** Tokenizes the whole template (Go runs the lexer as a goroutine; the result is the same). */
export function lex(input: string, options: LexOptions): Item[] {
  const { leftDelim, rightDelim } = options;
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  let parenDepth = 0;
  let insideAction = false as boolean;

  const emit = (type: ItemType, val = input.slice(start, pos)): void => {
    items.push({ type, pos: start, val, line: startLine });
    start = pos;
    startLine = line;
  };
  const advance = (to: number): void => {
    for (let i = pos; i < to; i++) if (input[i] === '\n') line++;
    pos = to;
  };
  const ignore = (): void => {
    start = pos;
    startLine = line;
  };
  const fail = (message: string): false => {
    items.push({ type: 'error', pos: start, val: message, line: startLine });
    items.push({ type: 'EOF', pos, val: '', line });
    return false;
  };
  const hasLeftTrim = (at: number): boolean => input[at] === '-' && isSpace(input[at + 1]);
  const atRightDelim = (): { delim: boolean; trim: boolean } => {
    if (isSpace(input[pos]) && input[pos + 1] === '-' && input.startsWith(rightDelim, pos + 2)) {
      return { delim: true, trim: true };
    }
    return { delim: input.startsWith(rightDelim, pos), trim: false };
  };
  const skipLeadingSpace = (): void => {
    let p = pos;
    while (isSpace(input[p])) p++;
    advance(p);
    ignore();
  };

  // lexText: everything up to the next left delimiter.
  const lexText = (): boolean => {
    const at = input.indexOf(leftDelim, pos);
    if (at < 0) {
      advance(input.length);
      if (pos > start) emit('text');
      emit('EOF', '');
      return false;
    }
    advance(at);
    let textEnd = pos;
    if (hasLeftTrim(pos + leftDelim.length)) {
      while (textEnd > start && isSpace(input[textEnd - 1])) textEnd--;
    }
    if (textEnd > start) {
      const endLine = line;
      items.push({ type: 'text', pos: start, val: input.slice(start, textEnd), line: startLine });
      start = pos;
      startLine = endLine;
    }
    return lexLeftDelim();
  };

  const lexLeftDelim = (): boolean => {
    advance(pos + leftDelim.length);
    const trim = hasLeftTrim(pos);
    const afterMarker = trim ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      advance(pos + afterMarker);
      ignore();
      return lexComment();
    }
    emit('leftDelim');
    advance(pos + afterMarker);
    ignore();
    insideAction = true;
    parenDepth = 0;
    return true;
  };

  const lexComment = (): boolean => {
    const close = input.indexOf('*/', pos + 2);
    if (close < 0) return fail('unclosed comment');
    advance(close + 2);
    const { delim, trim } = atRightDelim();
    if (!delim) return fail('comment ends before closing delimiter');
    // Comments are dropped (the parser's ParseComments mode is off by default).
    advance(pos + (trim ? 2 : 0) + rightDelim.length);
    ignore();
    if (trim) skipLeadingSpace();
    return true;
  };

  const lexRightDelim = (trim: boolean): boolean => {
    if (trim) {
      advance(pos + 2);
      ignore();
    }
    advance(pos + rightDelim.length);
    emit('rightDelim');
    if (trim) skipLeadingSpace();
    insideAction = false;
    return true;
  };

  const atTerminator = (): boolean => {
    const ch = input[pos];
    if (ch === undefined || isSpace(ch)) return true;
    if ('.,|:()'.includes(ch)) return true;
    return input.startsWith(rightDelim, pos);
  };

  const scanNumber = (): boolean => {
    let p = pos;
    if (input[p] === '+' || input[p] === '-') p++;
    let digits = '0123456789_';
    if (input[p] === '0' && /[xXoObB]/.test(input[p + 1] ?? '')) {
      const base = (input[p + 1] ?? '').toLowerCase();
      p += 2;
      digits = base === 'x' ? '0123456789abcdefABCDEF_' : base === 'o' ? '01234567_' : '01_';
    }
    while (p < input.length && digits.includes(input[p] ?? '')) p++;
    if (input[p] === '.') {
      p++;
      while (p < input.length && digits.includes(input[p] ?? '')) p++;
    }
    const expChars = digits.length > 20 ? 'pP' : 'eE';
    if (expChars.includes(input[p] ?? '#')) {
      p++;
      if (input[p] === '+' || input[p] === '-') p++;
      while (p < input.length && '0123456789_'.includes(input[p] ?? '')) p++;
    }
    advance(p);
    return !isAlphaNumeric(input[pos]);
  };

  const lexInsideAction = (): boolean => {
    const { delim, trim } = atRightDelim();
    if (delim) {
      if (parenDepth > 0) return fail('unclosed left paren');
      return lexRightDelim(trim);
    }
    const ch = input[pos];
    if (ch === undefined) return fail('unclosed action');
    if (isSpace(ch)) {
      let p = pos;
      while (isSpace(input[p])) p++;
      let spaces = p - pos;
      // A trim-marked right delimiter starts with a space: leave that space to it.
      if (input[p] === '-' && input.startsWith(rightDelim, p + 1)) {
        p--;
        spaces--;
      }
      advance(p);
      if (spaces > 0) emit('space');
      return true;
    }
    if (ch === '=') {
      advance(pos + 1);
      emit('assign');
      return true;
    }
    if (ch === ':') {
      if (input[pos + 1] !== '=') {
        advance(pos + 1);
        return fail('expected :=');
      }
      advance(pos + 2);
      emit('declare');
      return true;
    }
    if (ch === '|') {
      advance(pos + 1);
      emit('pipe');
      return true;
    }
    if (ch === '"') {
      let p = pos + 1;
      for (;;) {
        const c = input[p];
        if (c === '\\' && p + 1 < input.length && input[p + 1] !== '\n') p += 2;
        else if (c === undefined || c === '\n') {
          advance(p);
          return fail('unterminated quoted string');
        } else if (c === '"') break;
        else p++;
      }
      advance(p + 1);
      emit('string');
      return true;
    }
    if (ch === '`') {
      const close = input.indexOf('`', pos + 1);
      if (close < 0) {
        advance(input.length);
        return fail('unterminated raw quoted string');
      }
      advance(close + 1);
      emit('rawString');
      return true;
    }
    if (ch === "'") {
      let p = pos + 1;
      for (;;) {
        const c = input[p];
        if (c === '\\' && p + 1 < input.length && input[p + 1] !== '\n') p += 2;
        else if (c === undefined || c === '\n') {
          advance(p);
          return fail('unterminated character constant');
        } else if (c === "'") break;
        else p++;
      }
      advance(p + 1);
      emit('charConstant');
      return true;
    }
    if (ch === '$' || ch === '.') {
      if (ch === '.' && /[0-9]/.test(input[pos + 1] ?? '')) {
        if (!scanNumber())
          return fail(`bad number syntax: ${JSON.stringify(input.slice(start, pos + 1))}`);
        emit('number');
        return true;
      }
      advance(pos + 1);
      if (atTerminator()) {
        emit(ch === '$' ? 'variable' : 'dot');
        return true;
      }
      let p = pos;
      while (isAlphaNumeric(input[p])) p++;
      advance(p);
      if (!atTerminator()) {
        return fail(`bad character ${unicodeForm(input.codePointAt(pos) ?? 0)}`);
      }
      emit(ch === '$' ? 'variable' : 'field');
      return true;
    }
    if (ch === '+' || ch === '-' || /[0-9]/.test(ch)) {
      if (!scanNumber()) {
        return fail(`bad number syntax: ${JSON.stringify(input.slice(start, pos + 1))}`);
      }
      emit('number');
      return true;
    }
    if (isAlphaNumeric(ch)) {
      let p = pos;
      while (isAlphaNumeric(input[p])) p++;
      advance(p);
      if (!atTerminator()) {
        return fail(`bad character ${unicodeForm(input.codePointAt(pos) ?? 0)}`);
      }
      const word = input.slice(start, pos);
      if (KEYWORDS.has(word as ItemType)) emit(word as ItemType);
      else if (word === 'nil') emit('nil');
      else if (word === 'true' || word === 'false') emit('bool');
      else emit('identifier');
      return true;
    }
    if (ch === '(') {
      advance(pos + 1);
      emit('leftParen');
      parenDepth++;
      return true;
    }
    if (ch === ')') {
      advance(pos + 1);
      if (parenDepth === 0) return fail('unexpected right paren');
      parenDepth--;
      emit('rightParen');
      return true;
    }
    const cp = input.codePointAt(pos) ?? 0;
    if (cp < 0x7f && cp >= 0x20) {
      advance(pos + 1);
      emit('char');
      return true;
    }
    return fail(`unrecognized character in action: ${unicodeForm(cp)}`);
  };

  for (;;) {
    const go = insideAction ? lexInsideAction() : lexText();
    if (!go) break;
  }
  return items;
}

/** Go's %#U: U+0023 '#'. */
function unicodeForm(cp: number): string {
  const hex = cp.toString(16).toUpperCase().padStart(4, '0');
  return `U+${hex} '${String.fromCodePoint(cp)}'`;
}
