// sigs.k8s.io/yaml Unmarshal into a JSON value: go-yaml v2 decodes the first document into
// interface{} (YAML 1.1 resolution, merge keys, aliases), convertToJSONableObject turns map keys
// into strings, json.Marshal writes JSON, and the JSON is read back with integral literals as
// int64 (k8s.io/apimachinery util/json) and everything else as float64.
// Sources: kubernetes-sigs/yaml yaml.go (Unmarshal, yamlToJSONTarget, convertToJSONableObject);
// go-yaml/yaml@v2.4.0 decode.go (decoder.scalar, mapping, merge, alias), resolve.go.
//
// The YAML text is tokenised and composed by the `yaml` package (eemeli/yaml), which follows the
// same YAML grammar; go-yaml's semantics are then applied to its nodes here.

import {
  type Alias,
  Composer,
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  Parser,
} from 'yaml';
import { AirlockError } from '../errors.ts';
import { fastParseGoYAML } from './fastparse.ts';
import {
  BINARY_TAG,
  formatFloatG,
  MERGE_TAG,
  NULL_TAG,
  resolve,
  ResolveError,
  TIMESTAMP_TAG,
} from './resolve.ts';
import { GoInt, type GoMap, type GoValue } from './value.ts';

/** What go-yaml v2 hands to convertToJSONableObject. */
export type YamlValue =
  | null
  | boolean
  | string
  | { readonly int: bigint; readonly unsigned: boolean }
  | { readonly float: number }
  | YamlValue[]
  | YamlMap;

/** map[interface{}]interface{}: keys compared as Go compares interface values (type + value). */
class YamlMap {
  readonly entries = new Map<string, { key: YamlValue; value: YamlValue }>();
  set(key: YamlValue, value: YamlValue): void {
    this.entries.set(keyIdentity(key), { key, value });
  }
}

function keyIdentity(key: YamlValue): string {
  if (key === null) return 'nil';
  if (typeof key === 'boolean') return `bool:${key}`;
  if (typeof key === 'string') return `string:${key}`;
  if (Array.isArray(key) || key instanceof YamlMap) return 'invalid';
  if ('int' in key) return `${key.unsigned ? 'uint' : 'int'}:${key.int}`;
  return `float:${Object.is(key.float, -0) ? '0' : String(key.float)}`;
}

/** A failure inside go-yaml or sigs.k8s.io/yaml; `text` is Go's error string. */
class GoYAMLError extends Error {}

// decode.go:321-347 allowedAliasRatio: the "billion laughs" guard.
function allowedAliasRatio(decodeCount: number): number {
  const low = 400000;
  const high = 4000000;
  if (decodeCount <= low) return 0.99;
  if (decodeCount >= high) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - low) / (high - low));
}

class Decoder {
  private readonly doc: Document.Parsed;
  private decodeCount = 0;
  private aliasCount = 0;
  private aliasDepth = 0;
  private readonly activeAliases = new Set<Alias>();

  constructor(doc: Document.Parsed) {
    this.doc = doc;
  }

  decode(node: Node | null | undefined): YamlValue {
    this.decodeCount++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (
      this.aliasCount > 100 &&
      this.decodeCount > 1000 &&
      this.aliasCount / this.decodeCount > allowedAliasRatio(this.decodeCount)
    ) {
      throw new GoYAMLError('yaml: document contains excessive aliasing');
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return this.alias(node);
    if (isScalar(node)) return this.scalar(node);
    if (isSeq(node)) return node.items.map((item) => this.decode(item as Node));
    if (isMap(node)) {
      const out = new YamlMap();
      this.mapping(node.items, out);
      return out;
    }
    throw new GoYAMLError('yaml: unknown node');
  }

  private target(alias: Alias): Node {
    const target = alias.resolve(this.doc);
    if (target === undefined) {
      throw new GoYAMLError(`yaml: unknown anchor '${alias.source}' referenced`);
    }
    return target;
  }

  /** decode.go alias(): an alias met again while it is being expanded contains itself. */
  private alias(alias: Alias, into?: YamlMap): YamlValue {
    if (this.activeAliases.has(alias)) {
      throw new GoYAMLError(`yaml: anchor '${alias.source}' value contains itself`);
    }
    this.activeAliases.add(alias);
    this.aliasDepth++;
    try {
      const target = this.target(alias);
      if (into !== undefined) {
        this.decodeCount++;
        this.aliasCount++;
        this.mapping(
          (target as unknown as { items: { key: unknown; value: unknown }[] }).items,
          into,
        );
        return into;
      }
      return this.decode(target);
    } finally {
      this.aliasDepth--;
      this.activeAliases.delete(alias);
    }
  }

  private scalar(node: Node & { value: unknown; type?: string; tag?: string }): YamlValue {
    const text = typeof node.value === 'string' ? node.value : '';
    return decodeScalar(text, node.type === 'PLAIN' || node.type === undefined, node.tag ?? '');
  }

  private isMerge(key: unknown): boolean {
    if (!isScalar(key) || key.value !== '<<') return false;
    const tag = key.tag ?? '';
    return (tag === '' && key.type === 'PLAIN') || tag === MERGE_TAG;
  }

  /** decode.go mapping(): pairs in order; `<<` merges overwrite what is already set (v2). */
  private mapping(items: readonly { key: unknown; value: unknown }[], out: YamlMap): void {
    for (const pair of items) {
      if (this.isMerge(pair.key)) {
        this.merge(pair.value as Node | null, out);
        continue;
      }
      const key = this.decode(pair.key as Node | null);
      if (Array.isArray(key) || key instanceof YamlMap) {
        throw new GoYAMLError(`yaml: invalid map key: ${goSprintV(key)}`);
      }
      out.set(key, this.decode(pair.value as Node | null));
    }
  }

  /** decode.go merge(): a map, an alias of a map, or a sequence of those (earlier wins). */
  private merge(node: Node | null, out: YamlMap): void {
    const wantMap = (): never => {
      throw new GoYAMLError('yaml: map merge requires map or sequence of maps as the value');
    };
    const mergeOne = (n: Node): void => {
      if (isAlias(n)) {
        if (!isMap(this.target(n))) wantMap();
        this.alias(n, out);
      } else if (isMap(n)) {
        this.decodeCount++;
        this.mapping(n.items, out);
      } else {
        wantMap();
      }
    };
    if (node !== null && isSeq(node)) {
      this.decodeCount++;
      const items = node.items as Node[];
      for (let i = items.length - 1; i >= 0; i--) {
        const item = items[i];
        if (item === undefined) continue;
        if (!isAlias(item) && !isMap(item)) wantMap();
        mergeOne(item);
      }
    } else if (node !== null && (isMap(node) || isAlias(node))) {
      mergeOne(node);
    } else {
      wantMap();
    }
  }
}

/**
 * decode.go scalar() into interface{}: a quoted or block scalar without a tag is its text, a
 * plain one is resolved (YAML 1.1). Shared with the fast path (fastparse.ts).
 */
export function decodeScalar(text: string, plain: boolean, tag: string): YamlValue {
  if (tag === '' && !plain) return text;
  if (tag === BINARY_TAG) return decodeBinary(text);
  let resolved;
  try {
    resolved = resolve(tag, text);
  } catch (error) {
    if (error instanceof ResolveError) throw new GoYAMLError(`yaml: ${error.message}`);
    throw error;
  }
  // A timestamp stays the text it was written as (decode.go: backward compatibility).
  if (resolved.tag === TIMESTAMP_TAG) return text;
  if (resolved.tag === NULL_TAG) return null;
  const v = resolved.value as unknown;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint')
    return { int: v, unsigned: (resolved as { unsigned: boolean }).unsigned };
  if (typeof v === 'number') return { float: v };
  return text;
}

/** !!binary: standard base64 (line breaks ignored) into a Go string of those bytes. */
function decodeBinary(text: string): string {
  const compact = text.replace(/[\r\n]/g, '');
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact)) {
    throw new GoYAMLError('yaml: !!binary value contains invalid base64 data');
  }
  return Buffer.from(compact, 'base64').toString('utf8');
}

/** A rough %#v of a Go value, for the few errors that print one. */
function goSprintV(v: YamlValue): string {
  if (v === null) return '<nil>';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[]interface {}{${v.map(goSprintV).join(', ')}}`;
  if (v instanceof YamlMap) {
    const parts = [...v.entries.values()].map((e) => `${goSprintV(e.key)}:${goSprintV(e.value)}`);
    return `map[interface {}]interface {}{${parts.join(', ')}}`;
  }
  if ('int' in v) return v.int.toString();
  return formatFloatG(v.float, 64);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * convertToJSONableObject + json.Marshal + the int64-or-float64 JSON read: the GoValue the
 * Flux operator's code sees.
 */
export function toGoValue(v: YamlValue): GoValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toGoValue);
  if (v instanceof YamlMap) {
    const out: GoMap = new Map();
    for (const { key, value } of v.entries.values()) out.set(jsonKey(key, value), toGoValue(value));
    return out;
  }
  if ('int' in v) {
    // A uint64 past int64 is a JSON integer that no longer fits: it is read as a float64.
    return v.int >= INT64_MIN && v.int <= INT64_MAX ? new GoInt(v.int) : Number(v.int);
  }
  const f = v.float;
  if (!Number.isFinite(f)) {
    throw new GoYAMLError(
      `json: unsupported value: ${Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf'}`,
    );
  }
  // json.Marshal writes integral floats below 1e21 without exponent: they read back as int64
  // when they fit.
  if (Number.isInteger(f) && f >= -(2 ** 63) && f < 2 ** 63) return new GoInt(BigInt(f));
  return f;
}

/** convertToJSONableObject key conversion (yaml.go): floats use FormatFloat(f, 'g', -1, 32). */
export function jsonKey(key: YamlValue, value: YamlValue): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'boolean') return key ? 'true' : 'false';
  if (key !== null && !Array.isArray(key) && !(key instanceof YamlMap)) {
    if ('int' in key) {
      if (!key.unsigned) return key.int.toString();
      throw new GoYAMLError(
        `unsupported map key of type: uint64, key: 0x${key.int.toString(16)}, value: ${goSprintV(value)}`,
      );
    }
    const s = formatFloatG(key.float, 32);
    return s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s;
  }
  throw new GoYAMLError(
    `unsupported map key of type: <nil>, key: <nil>, value: ${goSprintV(value)}`,
  );
}

// --- syntax errors --------------------------------------------------------------------------

interface YAMLSyntaxError {
  readonly code: string;
  readonly message: string;
  readonly pos: readonly [number, number];
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/**
 * The `yaml: line N: <problem>` text libyaml would give, for the problems the operator's users
 * meet; other problems keep the line and describe the problem in the parser's words.
 */
function syntaxMessage(text: string, error: YAMLSyntaxError): string {
  const line = lineOf(text, error.pos[0]);
  let problem = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  if (error.message.startsWith('Block scalar header includes extra characters')) {
    // scannerc.go yaml_parser_scan_block_scalar: after `|`/`>` and its indicators only a
    // comment or a line break may follow (e.g. `semver: >=1.0.0`).
    problem = 'did not find expected comment or line break';
  } else if (error.code === 'TAB_AS_INDENT') {
    problem = 'found character that cannot start any token';
  } else if (error.code === 'DUPLICATE_KEY') {
    return '';
  }
  return `yaml: line ${line}: ${problem}`;
}

function fail(where: string | undefined, message: string, cause?: unknown): never {
  const prefix = where === undefined || where === '' ? '' : `${where}: `;
  throw new AirlockError('CONFIG_INVALID', `${prefix}error converting YAML to JSON: ${message}`, {
    cause,
    data: where === undefined ? {} : { file: where },
  });
}

/** The first document of `text` as go-yaml's parser sees it (later documents are not read). */
function firstDocument(text: string): Document.Parsed | undefined {
  const composer = new Composer({
    schema: 'failsafe',
    uniqueKeys: false,
    strict: false,
    version: '1.1',
  });
  for (const doc of composer.compose(new Parser().parse(text), true, text.length)) return doc;
  return undefined;
}

/**
 * sigs.k8s.io/yaml.Unmarshal of `text` into a JSON value: the first YAML document, read with
 * go-yaml v2 (YAML 1.1) resolution. Errors are CONFIG_INVALID with Go's message shape,
 * `<where>: error converting YAML to JSON: yaml: line N: <problem>`.
 */
export function parseGoYAML(text: string, where?: string): GoValue {
  // Most documents (every object the template renderer produces) are simple block YAML that the
  // fast path reads alone; it declines anything else, which the full parser then reads.
  const fast = fastParseGoYAML(text);
  return fast === undefined ? parseGoYAMLFull(text, where) : fast;
}

/** parseGoYAML through the `yaml` package's Parser and Composer, whatever the text holds. */
export function parseGoYAMLFull(text: string, where?: string): GoValue {
  const doc = firstDocument(text);
  if (doc === undefined) return null;
  // After an explicit `...` go-yaml's parser is done; the `yaml` package reports stray tokens
  // that follow it on the same document (decode_test.go:714 "---\nhello\n...\n}not yaml").
  const end = doc.directives.docEnd ? doc.range[2] : Infinity;
  for (const error of doc.errors as unknown as YAMLSyntaxError[]) {
    if (error.pos[0] >= end) continue;
    const message = syntaxMessage(text, error);
    if (message !== '') fail(where, message, error);
  }
  try {
    return toGoValue(new Decoder(doc).decode(doc.contents));
  } catch (error) {
    if (error instanceof GoYAMLError) fail(where, error.message, error);
    throw error;
  }
}

/**
 * k8s.io/apimachinery YAMLReader document split, as fluxcd/pkg ssa ReadObjects uses it: a line
 * starting with `---` followed only by blanks (or a `# comment`) ends a document; empty chunks
 * are skipped. Each chunk is then one parseGoYAML (a chunk of only comments reads as null).
 */
export function splitGoYAMLDocuments(text: string): string[] {
  const chunks: string[] = [];
  let buffer = '';
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  for (const line of lines) {
    if (line.startsWith('---')) {
      const rest = line.slice(3).trim();
      if (rest === '' || rest.startsWith('#')) {
        if (buffer !== '') chunks.push(buffer);
        buffer = '';
        continue;
      }
    }
    buffer += line;
  }
  if (buffer !== '') chunks.push(buffer);
  return chunks;
}

/** Every document of a multi-document YAML text, each read as parseGoYAML reads one. */
export function parseGoYAMLDocuments(text: string, where?: string): GoValue[] {
  return splitGoYAMLDocuments(text).map((chunk) => parseGoYAML(chunk, where));
}
