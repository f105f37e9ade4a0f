// cache.yaml: for each upstream registry, the private path its images are cached or mirrored
// under (issue 12 §3). `images rewrite` and the Kyverno policy both read it, and rewriteImage
// (rewrite.ts) is the one mapping they share. docs/cache.schema.json is its JSON Schema.
//
//   rules:
//     - {upstream: docker.io, to: registry.internal/dockerhub}
//     - {upstream: quay.io, to: registry.internal/quay}
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { AirlockError } from '../errors.ts';
import { escapeControl, readUserFile } from '../core/index.ts';
import { isRegistryHost, namesRegistry, registryKey, repositoryPathProblem } from './reference.ts';

export interface CacheRule {
  /** The upstream registry host, normalised: lower case, Docker Hub's aliases as `docker.io`. */
  readonly upstream: string;
  /** `host[/path]` its images are pulled from instead (the host lower-cased, no trailing "/"). */
  readonly to: string;
  /** Where the rule is written: `cache.yaml:3:5`. */
  readonly where: string;
  /**
   * `cache` (default): a pull-through cache, which fetches an image from the upstream the first
   * time it is asked for it. `mirror`: a path that holds only what was copied there (`images
   * mirror`), so an image missing from it is not pulled: `fleet check` asks the registry.
   */
  readonly mode: 'cache' | 'mirror';
}

export interface CacheConfig {
  /** The file it was read from, for messages. */
  readonly file: string;
  readonly rules: readonly CacheRule[];
}

/** cache.yaml is a few lines: anything this large is not one. */
const MAX_CACHE_CONFIG_SIZE = 1024 * 1024;

/** Collects every problem with its file:line:col and field, so one run shows them all. */
class Problems {
  readonly list: string[] = [];
  readonly #file: string;
  readonly #lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }
  at(node: Node | null | undefined): string {
    const { line, col } = this.#lines.linePos(node?.range?.[0] ?? 0);
    return `${this.#file}:${line}:${col}`;
  }
  line(node: Node | null | undefined): number {
    return this.#lines.linePos(node?.range?.[0] ?? 0).line;
  }
  add(node: Node | null | undefined, field: string, message: string): void {
    this.list.push(`${this.at(node)}: ${field}: ${message}`);
  }
}

function value(map: Node, key: string): Node | undefined {
  if (!isMap(map)) return undefined;
  for (const pair of map.items)
    if (isScalar(pair.key) && pair.key.value === key) return (pair.value ?? pair.key) as Node;
  return undefined;
}

function unknownKeys(map: Node, allowed: readonly string[], at: string, problems: Problems): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (!allowed.includes(key))
      problems.add(
        pair.key as Node,
        `${at}${escapeControl(key)}`,
        `unknown field (allowed: ${allowed.join(', ')})`,
      );
  }
}

/** A required non-empty string field, or undefined (with the problem recorded). */
function stringField(map: Node, key: string, at: string, problems: Problems): string | undefined {
  const node = value(map, key);
  if (node === undefined) {
    problems.add(map, `${at}${key}`, 'is required');
    return undefined;
  }
  const content = isScalar(node) ? node.value : undefined;
  if (typeof content !== 'string' || content === '') {
    problems.add(node, `${at}${key}`, 'must be a non-empty string');
    return undefined;
  }
  return content;
}

/** What is wrong with a registry host (`quay.io`, `registry.internal:5000`), if anything. */
function hostProblem(host: string): string | undefined {
  if (!isRegistryHost(host))
    return `${escapeControl(host)} is not a registry host (a host name or [IPv6] address, optionally with :PORT)`;
  if (!namesRegistry(host))
    return `${escapeControl(host)} cannot name a registry: an image's first path component is a registry only when it contains "." or ":" or is localhost (${escapeControl(host)}/x is docker.io/${escapeControl(host)}/x)`;
  return undefined;
}

function upstreamOf(raw: string): { upstream?: string; problem?: string } {
  if (raw.includes('://'))
    return { problem: `${escapeControl(raw)} must be a registry host, not a URL` };
  if (raw.includes('/'))
    return {
      problem: `${escapeControl(raw)} must be a registry host without a path: the private path goes in "to"`,
    };
  const problem = hostProblem(raw);
  return problem === undefined ? { upstream: registryKey(raw) } : { problem };
}

function targetOf(raw: string): { to?: string; problem?: string } {
  if (raw.includes('://'))
    return { problem: `${escapeControl(raw)} must be HOST[/PATH], not a URL` };
  if (raw.endsWith('/')) return { problem: `${escapeControl(raw)} must not end with "/"` };
  const slash = raw.indexOf('/');
  const host = slash < 0 ? raw : raw.slice(0, slash);
  const path = slash < 0 ? '' : raw.slice(slash + 1);
  const problem = hostProblem(host) ?? (path === '' ? undefined : repositoryPathProblem(path));
  if (problem !== undefined) return { problem };
  return { to: path === '' ? registryKey(host) : `${registryKey(host)}/${path}` };
}

/** Whether `inner` is `outer` or a path below it (`registry.internal/a/b` below `registry.internal/a`). */
export function isUnder(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

interface Parsed {
  readonly rule: CacheRule;
  readonly index: number;
  readonly upstreamNode: Node | undefined;
  readonly toNode: Node | undefined;
}

/**
 * Parses cache.yaml. Every problem is reported with file:line:col and its field, all at once, as
 * CONFIG_INVALID: malformed YAML, unknown fields, an upstream that is not a registry host, a `to`
 * that is not HOST[/PATH], two rules for one upstream, two upstreams cached under one path (or
 * one under the other's), and a `to` on a registry that is itself a rule's upstream.
 */
export function parseCacheConfig(text: string, file: string): CacheConfig {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problems = new Problems(file, lines);
  // Without prettyErrors the errors carry offsets only: the line counter turns them into lines.
  for (const error of document.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    problems.list.push(`${file}:${line}:${col}: ${error.message.split('\n')[0] ?? ''}`);
  }
  if (problems.list.length > 0) throw invalid(file, problems.list);
  const root = document.contents;
  if (!root || !isMap(root))
    throw invalid(file, [`${file}:1:1: the document must be a mapping with "rules"`]);
  unknownKeys(root, ['rules'], '', problems);
  const rulesNode = value(root, 'rules');
  const parsed: Parsed[] = [];
  if (rulesNode === undefined) problems.add(root, 'rules', 'is required');
  else if (!isSeq(rulesNode)) problems.add(rulesNode, 'rules', 'must be a list of rules');
  else if (rulesNode.items.length === 0)
    problems.add(rulesNode, 'rules', 'must list at least one rule');
  else
    rulesNode.items.forEach((item, index) => {
      const node = item as Node;
      const at = `rules[${index}]`;
      if (!isMap(node)) {
        problems.add(node, at, 'must be a mapping with upstream and to');
        return;
      }
      unknownKeys(node, ['upstream', 'to', 'mode'], `${at}.`, problems);
      const modeNode = value(node, 'mode');
      let mode: CacheRule['mode'] = 'cache';
      if (modeNode !== undefined) {
        const raw = isScalar(modeNode) ? modeNode.value : undefined;
        if (raw === 'cache' || raw === 'mirror') mode = raw;
        else problems.add(modeNode, `${at}.mode`, 'must be cache or mirror');
      }
      const upstreamRaw = stringField(node, 'upstream', `${at}.`, problems);
      const toRaw = stringField(node, 'to', `${at}.`, problems);
      const upstreamNode = value(node, 'upstream');
      const toNode = value(node, 'to');
      const { upstream, problem: upstreamProblem } =
        upstreamRaw === undefined ? {} : upstreamOf(upstreamRaw);
      if (upstreamProblem !== undefined)
        problems.add(upstreamNode, `${at}.upstream`, upstreamProblem);
      const { to, problem: toProblem } = toRaw === undefined ? {} : targetOf(toRaw);
      if (toProblem !== undefined) problems.add(toNode, `${at}.to`, toProblem);
      if (upstream !== undefined && to !== undefined)
        parsed.push({
          rule: { upstream, to, where: problems.at(node), mode },
          index,
          upstreamNode,
          toNode,
        });
    });

  // Across rules: one rule per upstream, one upstream per path, and no path that reaches a
  // registry some rule treats as public.
  parsed.forEach((current, n) => {
    const { rule, index } = current;
    for (const earlier of parsed.slice(0, n)) {
      const other = `rules[${earlier.index}] (line ${problems.line(earlier.upstreamNode)})`;
      if (earlier.rule.upstream === rule.upstream)
        problems.add(
          current.upstreamNode,
          `rules[${index}].upstream`,
          `${rule.upstream} is already the upstream of ${other}: one rule per upstream registry`,
        );
      if (earlier.rule.to === rule.to)
        problems.add(
          current.toNode,
          `rules[${index}].to`,
          `${rule.to} is already where ${other} caches ${earlier.rule.upstream}: two upstream registries cannot share one path`,
        );
      else if (isUnder(rule.to, earlier.rule.to) || isUnder(earlier.rule.to, rule.to))
        problems.add(
          current.toNode,
          `rules[${index}].to`,
          `${rule.to} is ${isUnder(rule.to, earlier.rule.to) ? 'inside' : 'above'} ${earlier.rule.to}, where ${other} caches ${earlier.rule.upstream}: images of two upstream registries could land on one path`,
        );
    }
    const host = rule.to.split('/')[0] ?? rule.to;
    const publicRule = parsed.find((p) => p.rule.upstream === host);
    if (publicRule !== undefined)
      problems.add(
        current.toNode,
        `rules[${index}].to`,
        `${host} is the upstream of rules[${publicRule.index}]: "to" must be a private registry`,
      );
  });
  if (problems.list.length > 0) throw invalid(file, problems.list);
  return { file, rules: parsed.map((p) => p.rule) };
}

function invalid(file: string, problems: readonly string[]): AirlockError {
  return new AirlockError(
    'CONFIG_INVALID',
    problems.length === 1 ? (problems[0] ?? '') : `${file}: ${problems.length} problems`,
    { details: problems.length === 1 ? [] : problems, data: { file } },
  );
}

/** Reads and parses a cache.yaml (FILE_UNREADABLE when it cannot be read). */
export async function readCacheConfig(file: string): Promise<CacheConfig> {
  const bytes = await readUserFile(file, {
    what: 'the cache configuration',
    maxSize: MAX_CACHE_CONFIG_SIZE,
  });
  return parseCacheConfig(bytes.toString('utf8'), file);
}
