// Go regexp (RE2 syntax, https://github.com/google/re2/wiki/Syntax) on JavaScript RegExp, for
// sprig's regex* functions. RE2 is close to JS with the `u` flag; the differences handled here:
// leading flag groups `(?i)` `(?s)` `(?m)` `(?U)` (U is refused), `(?P<name>…)`, `\A` `\z`,
// `\Q…\E`, POSIX classes `[[:alpha:]]`, one-letter Unicode classes `\pL`, and escaped punctuation
// that JS's `u` mode refuses. RE2 has no backreferences or lookaround, so those are errors, as in
// Go. Matching is leftmost-first in both engines; "All" functions skip an empty match right
// after a previous match, as Go does (regexp.go allMatches).

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const SYNTAX = new Set(Array.from('^$\\.*+?()[]{}|/'));

/** Compiles a Go regular expression; throws an Error with Go's wording on bad syntax. */
export function compileGoRegexp(pattern: string, global = false): RegExp {
  let flags = 'u' + (global ? 'g' : '');
  let source = pattern;
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    const f = leading[1] ?? '';
    if (f.includes('U'))
      throw new Error(`error parsing regexp: invalid or unsupported Perl syntax: \`(?U\``);
    for (const c of f) if (!flags.includes(c)) flags += c;
    source = source.slice(leading[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] ?? '';
    if (c === '\\') {
      const e = source[i + 1] ?? '';
      i++;
      if (e === 'A' && !inClass) out += '(?<![\\s\\S])';
      else if (e === 'z' && !inClass) out += '(?![\\s\\S])';
      else if (e === 'Q') {
        const end = source.indexOf('\\E', i + 1);
        const literal = end < 0 ? source.slice(i + 1) : source.slice(i + 1, end);
        out += literal.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? source.length : end + 1;
      } else if ((e === 'p' || e === 'P') && source[i + 1] !== '{') {
        out += `\\${e}{${source[i + 1] ?? ''}}`;
        i++;
      } else if (/[0-9]/.test(e) && e !== '0') {
        throw new Error(`error parsing regexp: invalid escape sequence: \`\\${e}\``);
      } else if (/[a-zA-Z0-9]/.test(e) || SYNTAX.has(e) || (inClass && e === '-')) {
        out += `\\${e}`;
      } else {
        // Escaped punctuation (\#, \:, \-, …) is a literal in RE2.
        out += /[\\^$.*+?()[\]{}|/-]/.test(e) ? `\\${e}` : e;
      }
      continue;
    }
    if (!inClass && c === '(' && source.startsWith('(?P<', i)) {
      out += '(?<';
      i += 3;
      continue;
    }
    if (
      !inClass &&
      c === '(' &&
      (source.startsWith('(?=', i) ||
        source.startsWith('(?!', i) ||
        source.startsWith('(?<=', i) ||
        source.startsWith('(?<!', i))
    ) {
      throw new Error(
        `error parsing regexp: invalid or unsupported Perl syntax: \`${source.slice(i, i + 3)}\``,
      );
    }
    if (c === '[' && !inClass) {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (source[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (inClass && c === '[' && source[i + 1] === ':') {
      const end = source.indexOf(':]', i + 2);
      const name = end < 0 ? '' : source.slice(i + 2, end);
      const negated = name.startsWith('^');
      const cls = POSIX[negated ? name.slice(1) : name];
      if (cls !== undefined && !negated) {
        out += cls;
        i = end + 1;
        continue;
      }
    }
    if (inClass && c === '[') {
      out += '\\[';
      continue;
    }
    if (c === ']' && inClass) inClass = false;
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch (error) {
    throw new Error(`error parsing regexp: ${(error as Error).message}: \`${pattern}\``, {
      cause: error,
    });
  }
}

export interface GoMatch {
  readonly index: number;
  readonly end: number;
  readonly groups: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>>;
}

/** regexp.FindAll… semantics: at most n matches (n < 0: all), no empty match right after a match. */
export function allMatches(re: RegExp, text: string, n = -1): GoMatch[] {
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  const matches: GoMatch[] = [];
  let prevEnd = -1;
  for (const m of text.matchAll(global)) {
    if (n >= 0 && matches.length >= n) break;
    const index = m.index;
    const end = index + m[0].length;
    if (m[0].length === 0 && index === prevEnd) continue;
    matches.push({ index, end, groups: [...m], named: m.groups ?? {} });
    prevEnd = end;
  }
  return matches;
}

/** Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to "". */
export function expandTemplate(template: string, match: GoMatch): string {
  return template.replace(
    /\$(\$|\{([^}]*)\}|([A-Za-z0-9_]+))/g,
    (all, whole: string, braced?: string, bare?: string) => {
      if (whole === '$') return '$';
      const name = braced ?? bare ?? '';
      if (braced !== undefined && !/^[A-Za-z0-9_]+$/.test(braced)) return all;
      if (/^\d+$/.test(name)) return match.groups[Number(name)] ?? '';
      return match.named[name] ?? '';
    },
  );
}
