// gitignore matching with go-git's semantics, which Flux uses for --ignore-paths
// (fluxcd/pkg sourceignore → go-git plumbing/format/gitignore; shared/reference/flux-oci.md §1.4):
// patterns are tried last to first and the first match decides; "!" re-includes; a trailing "/"
// matches directories only; a pattern without "/" matches any path component; one with "/" is
// anchored to the root, with "**" spanning directories. Excluded directories are not pruned.

interface Pattern {
  readonly inclusion: boolean;
  readonly dirOnly: boolean;
  readonly isGlob: boolean;
  readonly parts: readonly string[];
}

/** Go's path/filepath.Match for one path component, as a RegExp. */
function componentRegExp(pattern: string): RegExp | undefined {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) return undefined;
      source += escape(pattern[i] ?? '');
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return undefined;
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      source += `[${body.replaceAll('\\', '\\\\')}]`;
      i = end;
    } else source += escape(c);
  }
  try {
    return new RegExp(`${source}$`, 'u');
  } catch {
    return undefined;
  }
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

const cache = new Map<string, RegExp | undefined>();
function matchComponent(pattern: string, name: string): boolean {
  let re = cache.get(pattern);
  if (!cache.has(pattern)) {
    re = componentRegExp(pattern);
    cache.set(pattern, re);
  }
  return re?.test(name) ?? false;
}

export function parseIgnorePattern(line: string): Pattern {
  let p = line;
  let inclusion = false;
  if (p.startsWith('!')) {
    inclusion = true;
    p = p.slice(1);
  }
  if (!p.endsWith('\\ ')) p = p.replace(/ +$/, '');
  let dirOnly = false;
  if (p.endsWith('/')) {
    dirOnly = true;
    p = p.slice(0, -1);
  }
  return { inclusion, dirOnly, isGlob: p.includes('/'), parts: p.split('/') };
}

function simpleNameMatch(p: Pattern, path: readonly string[], isDir: boolean): boolean {
  for (const [i, name] of path.entries()) {
    if (!matchComponent(p.parts[0] ?? '', name)) continue;
    if (p.dirOnly && !isDir && i === path.length - 1) return false;
    return true;
  }
  return false;
}

function globMatch(p: Pattern, pathIn: readonly string[], isDir: boolean): boolean {
  let path = [...pathIn];
  let matched = false;
  let canTraverse = false;
  for (const [i, part] of p.parts.entries()) {
    if (part === '') {
      canTraverse = false;
      continue;
    }
    if (part === '**') {
      if (i === p.parts.length - 1) break;
      canTraverse = true;
      continue;
    }
    if (part.includes('**')) return false;
    if (path.length === 0) return false;
    if (canTraverse) {
      canTraverse = false;
      while (path.length > 0) {
        const e = path[0] ?? '';
        path = path.slice(1);
        if (matchComponent(part, e)) {
          matched = true;
          break;
        } else if (path.length === 0) matched = false;
      }
    } else {
      if (!matchComponent(part, path[0] ?? '')) return false;
      matched = true;
      path = path.slice(1);
    }
  }
  if (matched && p.dirOnly && !isDir && path.length === 0) matched = false;
  return matched;
}

export class IgnoreMatcher {
  readonly #patterns: Pattern[];

  /** Lines as in a .gitignore; blank lines and "#" comments are skipped (sourceignore.ReadPatterns). */
  constructor(lines: readonly string[]) {
    this.#patterns = lines
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map(parseIgnorePattern);
  }

  /** True when the slash-separated relative path is excluded. */
  ignores(relativePath: string, isDir: boolean): boolean {
    const path = relativePath.split('/').filter((c) => c !== '');
    if (path.length === 0) return false;
    for (let i = this.#patterns.length - 1; i >= 0; i--) {
      const p = this.#patterns[i];
      if (!p) continue;
      const hit = p.isGlob ? globMatch(p, path, isDir) : simpleNameMatch(p, path, isDir);
      if (hit) return !p.inclusion;
    }
    return false;
  }
}

/** Flux CLI's default --ignore-paths (flux2 build_artifact.go excludeOCI: VCS + ExcludeExt). */
export const FLUX_DEFAULT_IGNORE: readonly string[] = [
  '.git/',
  '.gitignore',
  '.gitmodules',
  '.gitattributes',
  '*.jpg',
  '*.jpeg',
  '*.gif',
  '*.png',
  '*.wmv',
  '*.flv',
  '*.tar.gz',
  '*.zip',
];
