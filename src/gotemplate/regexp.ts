// Go regexp for sprig's regex* functions, on re2js: a JavaScript port of RE2, the engine Go's
// regexp package implements. Matching is linear in the input, as in Go, so a template from an
// untrusted fleet repository cannot stall a build with a pattern such as `^(a+)+$` (JavaScript's
// backtracking RegExp takes exponential time on it). The syntax is RE2's, and errors carry Go's
// wording (`error parsing regexp: missing closing ): `(``). "All" functions skip an empty match
// right after a previous match, as Go does (regexp.go allMatches).
import { RE2JS } from 're2js';

/** A compiled Go regular expression. */
export interface GoRegexp {
  readonly source: string;
  readonly re: RE2JS;
  test(s: string): boolean;
}

/** Compiles a Go regular expression; throws an Error with Go's wording on bad syntax. */
export function compileGoRegexp(pattern: string): GoRegexp {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    throw new Error((error as Error).message, { cause: error });
  }
  return { source: pattern, re, test: (s) => re.matcher(s).find() };
}

export interface GoMatch {
  readonly index: number;
  readonly end: number;
  readonly groups: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>>;
}

/** regexp.FindAll… semantics: at most n matches (n < 0: all), no empty match right after a match. */
export function allMatches(re: GoRegexp, text: string, n = -1): GoMatch[] {
  const matcher = re.re.matcher(text);
  const count = re.re.groupCount();
  const names = Object.entries(re.re.namedGroups());
  const matches: GoMatch[] = [];
  let prevEnd = -1;
  let pos = 0;
  while ((n < 0 || matches.length < n) && pos <= text.length && matcher.find(pos)) {
    const index = matcher.start();
    const end = matcher.end();
    // After an empty match the search moves on by one character (a whole surrogate pair).
    const step = index < text.length && (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
    pos = end > index ? end : index + step;
    if (end === index && index === prevEnd) continue;
    const groups = Array.from({ length: count + 1 }, (_, g) => matcher.group(g) ?? undefined);
    const named = Object.fromEntries(
      names.map(([name, g]) => [name, matcher.group(g) ?? undefined]),
    ) as Record<string, string | undefined>;
    matches.push({ index, end, groups, named });
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
