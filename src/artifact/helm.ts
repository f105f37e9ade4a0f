import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import semver from 'semver';
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import { ConfigError, AirlockError, type ConfigIssue } from '../errors.ts';
import {
  type Digest,
  gunzipLimited,
  GoMap,
  goJSON,
  isGzip,
  MediaType,
  readAll,
  fileProblem,
  readTar,
  readUserFile,
  sha256,
  type TarReadEntry,
  writeFileAtomic,
} from '../core/index.ts';
import { parseManifest, type Repository } from '../oci/index.ts';
import { ANNOTATION } from './flux.ts';
import { collectEntries, entriesFromFiles, type LayerEntry, packLayer } from './build.ts';

// Helm byte parity. `helm push` (Helm v4.1, pkg/registry/client.go Push) loads the chart with
// pkg/chart/v2/loader, then writes json.Marshal(chart.Metadata) as the config blob and
// json.Marshal(ocispec.Manifest) as the manifest. Chart.yaml goes through sigs.k8s.io/yaml (YAML 1.1
// scalars of go-yaml v2, numbers and booleans turned into strings where the field is a string) and
// Metadata.Validate (pkg/chart/v2/metadata.go), which rewrites every whitespace character in most
// strings to a space and drops unprintable ones. The code below reproduces those steps, so the
// same .tgz gives the same config and manifest digests as helm push.

/** A Chart.yaml maintainer (helm pkg/chart/v2 Maintainer). */
export interface ChartMaintainer {
  readonly name?: string;
  readonly email?: string;
  readonly url?: string;
}

/** A Chart.yaml (or apiVersion v1 requirements.yaml) dependency (helm pkg/chart/v2 Dependency). */
export interface ChartDependency {
  readonly name?: string;
  readonly version?: string;
  readonly repository?: string;
  readonly condition?: string;
  readonly tags?: readonly string[];
  readonly enabled?: boolean;
  readonly 'import-values'?: readonly unknown[];
  readonly alias?: string;
}

/**
 * Chart.yaml as Helm models it (helm pkg/chart/v2 Metadata), after Helm's decoding and
 * sanitising: only Helm's fields, strings as Helm reads them.
 */
export interface ChartMetadata {
  readonly name: string;
  readonly home?: string;
  readonly sources?: readonly string[];
  readonly version: string;
  readonly description?: string;
  readonly keywords?: readonly string[];
  readonly maintainers?: readonly ChartMaintainer[];
  readonly icon?: string;
  readonly apiVersion: string;
  readonly condition?: string;
  readonly tags?: string;
  readonly appVersion?: string;
  readonly deprecated?: boolean;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly kubeVersion?: string;
  readonly dependencies?: readonly ChartDependency[];
  readonly type?: string;
}

export interface ChartArchive {
  readonly metadata: ChartMetadata;
  readonly entries: readonly TarReadEntry[];
  /** Top-level directory inside the archive (normally the chart name). */
  readonly root: string;
}

const MAX_CHART_SIZE = 256 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// YAML as go-yaml v2 reads it into interface{} (go.yaml.in/yaml/v2 resolve.go, decode.go).

/** A decoded YAML value: bigint is a YAML int, number a YAML float, Map a mapping. */
type YValue = null | boolean | bigint | number | string | YValue[] | YMap;
type YMap = Map<string, YValue>;

const YAML_TAG = 'tag:yaml.org,2002:';
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const YAML_CONSTANTS = new Map<string, YValue>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map(
    (s): [string, YValue] => [s, true],
  ),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map(
    (s): [string, YValue] => [s, false],
  ),
  ...['', '~', 'null', 'Null', 'NULL'].map((s): [string, YValue] => [s, null]),
  ...['.nan', '.NaN', '.NAN'].map((s): [string, YValue] => [s, NaN]),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s): [string, YValue] => [
    s,
    Infinity,
  ]),
  ...['-.inf', '-.Inf', '-.INF'].map((s): [string, YValue] => [s, -Infinity]),
]);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt/ParseUint(s, 0, 64): sign, 0x/0o/0b/leading-0 octal prefixes. */
function goParseInt(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2] ?? '';
  const digits = /^0[0-7]+$/.test(body) ? `0o${body.slice(1)}` : body.replace(/^0[oO]/, '0o');
  const value = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  // Beyond int64 only ParseUint is left, and it takes no sign.
  if (value > INT64_MAX) return m[1] === '' && value <= UINT64_MAX ? value : undefined;
  return value >= INT64_MIN ? value : undefined;
}

/** go-yaml v2 `resolve` for a plain (unquoted, untagged) scalar or one with a standard tag. */
function resolveScalar(text: string, tag: string | undefined, plain: boolean): YValue {
  if (tag === undefined && !plain) return text;
  const short = tag?.startsWith(YAML_TAG) ? tag.slice(YAML_TAG.length) : tag;
  if (short === 'str') return text;
  if (short === 'binary') return Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (short !== undefined && !['bool', 'int', 'float', 'null', 'timestamp'].includes(short))
    return text;
  let resolved: YValue = text;
  const hint = text === '' ? 'N' : text[0];
  if (YAML_CONSTANTS.has(text)) resolved = YAML_CONSTANTS.get(text) ?? null;
  else if (hint === '.') {
    // strconv.ParseFloat: underscores only between digits.
    if (/^\.[0-9]+(_[0-9]+)*([eE][-+]?[0-9]+(_[0-9]+)*)?$/.test(text))
      resolved = Number(text.replaceAll('_', ''));
  } else if (hint !== undefined && /[-+0-9]/.test(hint)) {
    // Timestamps read into interface{} stay strings (decode.go), so they need no case here.
    const digits = text.replaceAll('_', '');
    const int =
      goParseInt(digits) ??
      (/^-0[bB][01]+$/.test(digits) ? -BigInt(`0b${digits.slice(3)}`) : undefined);
    if (int !== undefined) resolved = int;
    else if (YAML_FLOAT.test(digits)) resolved = Number(digits);
  }
  if (short === undefined || short === 'timestamp') return resolved;
  const kind =
    resolved === null
      ? 'null'
      : typeof resolved === 'boolean'
        ? 'bool'
        : typeof resolved === 'bigint'
          ? 'int'
          : typeof resolved === 'number'
            ? 'float'
            : 'str';
  if (kind === short) return resolved;
  if (short === 'float' && typeof resolved === 'bigint') return Number(resolved);
  throw new Error(`cannot decode !!${kind} \`${text}\` as a !!${short}`);
}

/** strconv.FormatFloat(v, 'g', -1, 32): shortest float32 digits, %e for exponents < -4 or >= 6. */
export function formatFloat32(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const f = Math.fround(v);
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  let exponential = '';
  for (let p = 1; p <= 9; p++) {
    exponential = Math.abs(f).toExponential(p - 1);
    if (Math.fround(Number(exponential)) === Math.abs(f)) break;
  }
  const [mantissa = '', exp = '0'] = exponential.split('e');
  const digits = mantissa.replace('.', '').replace(/0+$/, '') || '0';
  const e = Number(exp);
  const sign = f < 0 ? '-' : '';
  if (e < -4 || e >= 6) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0] ?? '0'}${frac}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const dp = e + 1;
  if (dp <= 0) return `${sign}0.${'0'.repeat(-dp)}${digits}`;
  if (digits.length <= dp) return `${sign}${digits}${'0'.repeat(dp - digits.length)}`;
  return `${sign}${digits.slice(0, dp)}.${digits.slice(dp)}`;
}

/** sigs.k8s.io/yaml turns map keys into strings: ints in decimal, floats as float32 %g. */
function keyString(key: YValue): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'bigint') return key.toString();
  if (typeof key === 'boolean') return String(key);
  if (typeof key === 'number') {
    const s = formatFloat32(key);
    return s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s;
  }
  throw new Error('unsupported map key (a mapping, sequence or null)');
}

/** Decodes the first YAML document as go-yaml v2 does (merge keys, aliases, YAML 1.1 scalars). */
function goYAML(text: string): YValue {
  const docs = parseAllDocuments(text, {
    schema: 'failsafe',
    uniqueKeys: false,
    merge: false,
    strict: false,
  });
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (!doc) return null;
  const error = doc.errors[0];
  if (error) throw new Error(error.message.split('\n')[0] ?? 'parse error');
  // go-yaml refuses documents that expand aliases without bound; a Chart.yaml never needs many.
  let budget = 100_000;
  const walk = (node: unknown, depth: number): YValue => {
    if (--budget < 0 || depth > 1000) throw new Error('document contains excessive aliasing');
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return walk(node.resolve(doc) ?? null, depth + 1);
    // The failsafe schema leaves every scalar a string; go-yaml's rules resolve it below.
    if (isScalar(node))
      return resolveScalar(
        typeof node.value === 'string' ? node.value : '',
        node.tag,
        node.type === 'PLAIN',
      );
    if (isSeq(node)) return node.items.map((item) => walk(item, depth + 1));
    if (isMap(node)) {
      const out: YMap = new Map();
      for (const pair of node.items) {
        const key = pair.key;
        const isMerge =
          isScalar(key) &&
          key.value === '<<' &&
          (key.tag === `${YAML_TAG}merge` || (key.tag === undefined && key.type === 'PLAIN'));
        if (isMerge) {
          // decode.go merge: a mapping or a sequence of them, earlier ones taking precedence.
          const value = walk(pair.value, depth + 1);
          const maps = Array.isArray(value) ? [...value].reverse() : [value];
          for (const m of maps) {
            if (!(m instanceof Map)) throw new Error('map merge requires map or sequence of maps');
            for (const [k, v] of m) out.set(k, v);
          }
          continue;
        }
        out.set(keyString(walk(key, depth + 1)), walk(pair.value, depth + 1));
      }
      return out;
    }
    throw new Error('unsupported YAML node');
  };
  return walk(doc.contents, 0);
}

// ---------------------------------------------------------------------------------------------
// json.Unmarshal of that value into chart.Metadata (as sigs.k8s.io/yaml.Unmarshal does it).

type FieldKind = 'string' | 'bool' | 'strings' | 'stringMap' | 'values' | StructSpec;
interface StructSpec {
  readonly fields: readonly (readonly [string, FieldKind])[];
}
type Mutable = Record<string, unknown>;

const MAINTAINER: StructSpec = {
  fields: [
    ['name', 'string'],
    ['email', 'string'],
    ['url', 'string'],
  ],
};
const DEPENDENCY: StructSpec = {
  fields: [
    ['name', 'string'],
    ['version', 'string'],
    ['repository', 'string'],
    ['condition', 'string'],
    ['tags', 'strings'],
    ['enabled', 'bool'],
    ['import-values', 'values'],
    ['alias', 'string'],
  ],
};
/** Field order of helm pkg/chart/v2/metadata.go Metadata: the order json.Marshal writes. */
const METADATA: StructSpec = {
  fields: [
    ['name', 'string'],
    ['home', 'string'],
    ['sources', 'strings'],
    ['version', 'string'],
    ['description', 'string'],
    ['keywords', 'strings'],
    ['maintainers', MAINTAINER],
    ['icon', 'string'],
    ['apiVersion', 'string'],
    ['condition', 'string'],
    ['tags', 'string'],
    ['appVersion', 'string'],
    ['deprecated', 'bool'],
    ['annotations', 'stringMap'],
    ['kubeVersion', 'string'],
    ['dependencies', DEPENDENCY],
    ['type', 'string'],
  ],
};

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const typeName = (v: YValue): string =>
  v instanceof Map
    ? 'a mapping'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'string'
        ? 'a string'
        : typeof v === 'boolean'
          ? 'a boolean'
          : 'a number';

class Decoder {
  readonly issues: ConfigIssue[] = [];
  readonly where: string;
  constructor(where: string) {
    this.where = where;
  }

  problem(path: string, message: string): undefined {
    this.issues.push({ where: path === '' ? this.where : `${this.where}: ${path}`, message });
  }

  /** A string field: sigs.k8s.io/yaml writes YAML numbers and booleans as strings there. */
  string(v: YValue, path: string): string | undefined {
    if (typeof v === 'string') return v;
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') return formatFloat32(v);
    if (typeof v === 'boolean') return String(v);
    this.problem(path, `expected a string, found ${typeName(v)}`);
    return undefined;
  }

  /** Any JSON value (import-values): what json.Marshal(interface{}) writes after a round trip. */
  json(v: YValue, path: string): unknown {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) this.problem(path, `${String(v)} is not valid JSON`);
      return v;
    }
    if (Array.isArray(v)) return v.map((x, i) => this.json(x, `${path}[${i}]`));
    const out: Mutable = {};
    for (const [k, x] of v) out[k] = this.json(x, `${path}.${k}`);
    return out;
  }

  /** json.Unmarshal into an existing struct: keys in sorted order, exact then case-folded match. */
  struct(target: Mutable, v: YValue, spec: StructSpec, path: string): void {
    if (v === null) return;
    if (!(v instanceof Map)) {
      this.problem(path, `expected a mapping, found ${typeName(v)}`);
      return;
    }
    for (const key of [...v.keys()].sort(byteOrder)) {
      const field =
        spec.fields.find(([name]) => name === key) ??
        spec.fields.find(([name]) => name.toLowerCase() === key.toLowerCase());
      if (!field) continue;
      const [name, kind] = field;
      const value = v.get(key) ?? null;
      const at = path === '' ? name : `${path}.${name}`;
      this.field(target, name, kind, value, at);
    }
  }

  field(target: Mutable, name: string, kind: FieldKind, v: YValue, at: string): void {
    // JSON null leaves strings and booleans alone and sets lists and maps to nil.
    if (v === null) {
      if (kind !== 'string' && kind !== 'bool') target[name] = undefined;
      return;
    }
    if (kind === 'string') {
      const s = this.string(v, at);
      if (s !== undefined) target[name] = s;
    } else if (kind === 'bool') {
      if (typeof v === 'boolean') target[name] = v;
      else this.problem(at, `expected true or false, found ${typeName(v)}`);
    } else if (kind === 'stringMap') {
      if (!(v instanceof Map)) {
        this.problem(at, `expected a mapping of strings, found ${typeName(v)}`);
        return;
      }
      // json.Unmarshal keeps the entries of a map it decodes into.
      const map = (target[name] ?? {}) as Record<string, string>;
      for (const [k, x] of v) {
        const s = x === null ? '' : this.string(x, `${at}.${k}`);
        if (s !== undefined) map[k] = s;
      }
      target[name] = map;
    } else if (!Array.isArray(v)) {
      this.problem(at, `expected a list, found ${typeName(v)}`);
    } else {
      // json.Unmarshal decodes list items into the elements already there, then truncates.
      const old = Array.isArray(target[name]) ? (target[name] as unknown[]) : [];
      target[name] = v.map((x, i): unknown => {
        const item = `${at}[${i}]`;
        if (kind === 'strings') return x === null ? (old[i] ?? '') : this.string(x, item);
        if (kind === 'values') return this.json(x, item);
        if (x === null) return null;
        const struct = { ...((old[i] ?? {}) as Mutable) };
        this.struct(struct, x, kind, item);
        return struct;
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata.Validate (helm pkg/chart/v2/metadata.go, dependency.go).

/** sanitizeString: every Unicode space becomes ' ', unprintable characters are dropped. */
function sanitize(s: string): string {
  return s.replace(/\p{White_Space}/gu, ' ').replace(/[^ \p{L}\p{M}\p{N}\p{P}\p{S}]/gu, '');
}

function sanitizeFields(target: Mutable, fields: readonly string[]): void {
  for (const f of fields) {
    const v: unknown = target[f];
    if (typeof v === 'string') target[f] = sanitize(v);
    else if (Array.isArray(v))
      target[f] = v.map((x: unknown) => (typeof x === 'string' ? sanitize(x) : x));
  }
}

/** Helm's version rule: strict semver (Masterminds StrictNewVersion), no "v" prefix. */
function isStrictSemver(version: string): boolean {
  return semver.valid(version) !== null && !/^v/i.test(version) && /^\d+\.\d+\.\d+/.test(version);
}

function validateMetadata(m: Mutable, where: string, issues: ConfigIssue[]): void {
  const at = (field: string): string => `${where}: ${field}`;
  sanitizeFields(m, [
    'name',
    'description',
    'home',
    'icon',
    'condition',
    'tags',
    'appVersion',
    'kubeVersion',
    'sources',
    'keywords',
  ]);
  const name = typeof m.name === 'string' ? m.name : '';
  const version = typeof m.version === 'string' ? m.version : '';
  if (name === '') issues.push({ where: at('name'), message: '"name" is required' });
  else if (!/^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i.test(name))
    issues.push({ where: at('name'), message: `"${name}" is not a valid chart name` });
  if (version === '') issues.push({ where: at('version'), message: '"version" is required' });
  // Helm accepts any Masterminds version; airlock needs one that tags and sorts as semver.
  else if (!isStrictSemver(version))
    issues.push({
      where: at('version'),
      message: `"${version}" is not a semantic version (MAJOR.MINOR.PATCH, no "v")`,
    });
  if (m.type !== undefined && !['', 'application', 'library'].includes(m.type as string))
    issues.push({ where: at('type'), message: 'must be application or library' });
  const maintainers = (m.maintainers ?? []) as (Mutable | null)[];
  maintainers.forEach((x, i) => {
    if (x === null)
      issues.push({ where: at(`maintainers[${i}]`), message: 'must not be empty or null' });
    else sanitizeFields(x, ['name', 'email', 'url']);
  });
  const seen = new Set<string>();
  const dependencies = (m.dependencies ?? []) as (Mutable | null)[];
  dependencies.forEach((d, i) => {
    if (d === null) {
      issues.push({ where: at(`dependencies[${i}]`), message: 'must not be empty or null' });
      return;
    }
    // Dependency name and repository have no omitempty: Helm always writes them.
    d.name = typeof d.name === 'string' ? d.name : '';
    d.repository = typeof d.repository === 'string' ? d.repository : '';
    sanitizeFields(d, ['name', 'version', 'repository', 'condition', 'tags']);
    const alias = typeof d.alias === 'string' ? d.alias : '';
    if (alias !== '' && !/^[a-zA-Z0-9_-]+$/.test(alias))
      issues.push({ where: at(`dependencies[${i}].alias`), message: 'has disallowed characters' });
    const key = alias !== '' ? alias : (d.name as string);
    if (seen.has(key))
      issues.push({
        where: at(`dependencies[${i}]`),
        message: `more than one dependency with name or alias "${key}"`,
      });
    seen.add(key);
  });
}

/** Reads Chart.yaml documents (and a v1 requirements.yaml) the way Helm's chart loader does. */
function loadMetadata(
  files: readonly { text: string; where: string }[],
  where: string,
): ChartMetadata {
  const metadata: Mutable = {};
  const issues: ConfigIssue[] = [];
  for (const file of files) {
    let value: YValue;
    try {
      value = goYAML(file.text.replace(/^\uFEFF/, ''));
    } catch (error) {
      throw new ConfigError(`${file.where} is not valid YAML`, [
        { where: file.where, message: (error as Error).message },
      ]);
    }
    const decoder = new Decoder(file.where);
    decoder.struct(metadata, value, METADATA, '');
    issues.push(...decoder.issues);
    // Helm 2 charts had no apiVersion: Helm reads them as v1 (pkg/chart/v2/loader/load.go).
    if (basename(file.where) === 'Chart.yaml' && (metadata.apiVersion ?? '') === '')
      metadata.apiVersion = 'v1';
  }
  if (issues.length === 0) validateMetadata(metadata, where, issues);
  if (issues.length > 0) throw new ConfigError(`${where} is invalid`, issues);
  return metadata as unknown as ChartMetadata;
}

/** Validates Chart.yaml text as Helm reads it; every problem at once, each with the file and field. */
export function parseChartYAML(text: string, where: string): ChartMetadata {
  return loadMetadata([{ text, where }], where);
}

/**
 * The name Helm's archive loader gives a tar entry: the first path element dropped, `\` read as
 * `/` in Windows-made archives, cleaned (helm pkg/chart/loader/archive LoadArchiveFiles).
 */
function helmEntryName(name: string): string {
  const delimiter = name.includes('\\') ? '\\' : '/';
  const parts = name.split(delimiter);
  const cleaned = posix.normalize(parts.slice(1).join('/'));
  return cleaned.length > 1 ? cleaned.replace(/\/+$/, '') : cleaned;
}

// A chart read once is not read again: mirror checks an upstream chart and then pushes it, and
// each read gunzips the archive and parses Chart.yaml (a tenth of a signed mirror's CPU).
const readArchives = new WeakMap<Buffer, ChartArchive>();

/** Reads a packaged chart (.tgz): its Chart.yaml under `<name>/`, validated as Helm loads it. */
export function readChartArchive(tgz: Buffer, where: string): ChartArchive {
  let archive = readArchives.get(tgz);
  if (!archive) {
    archive = readChartArchiveOnce(tgz, where);
    readArchives.set(tgz, archive);
  }
  return archive;
}

function readChartArchiveOnce(tgz: Buffer, where: string): ChartArchive {
  if (!isGzip(tgz))
    throw new ConfigError(`${where} is not a gzip-compressed chart`, [
      { where, message: 'expected a .tgz made by helm package or airlock chart package' },
    ]);
  const entries = readTar(gunzipLimited(tgz, MAX_CHART_SIZE, where), where, MAX_CHART_SIZE);
  const files = entries.filter((e) => e.type === 'file');
  const chartYAMLs = files.filter((e) => helmEntryName(e.name) === 'Chart.yaml');
  const first = chartYAMLs[0];
  if (!first)
    throw new ConfigError(`${where} has no Chart.yaml`, [
      { where, message: 'expected <chart-name>/Chart.yaml inside the archive' },
    ]);
  // Helm reads every Chart.yaml first, then requirements.yaml (which may set the dependencies).
  const requirements = files.filter((e) => helmEntryName(e.name) === 'requirements.yaml');
  const metadata = loadMetadata(
    [...chartYAMLs, ...requirements].map((e) => ({
      text: e.data.toString('utf8'),
      where: `${where}:${e.name}`,
    })),
    `${where}:${first.name}`,
  );
  return { metadata, entries, root: first.name.split(/[/\\]/)[0] ?? '' };
}

// ---------------------------------------------------------------------------------------------
// What helm push writes.

const nonEmpty = (v: string | undefined): v is string => v !== undefined && v !== '';
const someItems = <T>(v: readonly T[] | undefined): readonly T[] | undefined =>
  v !== undefined && v.length > 0 ? v : undefined;

/** JSON values with their objects as Go maps (json.Marshal sorts map keys). */
function goValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(goValue);
  if (v !== null && typeof v === 'object')
    return new GoMap(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, goValue(x)])));
  return v;
}

/**
 * The Helm config blob: json.Marshal(chart.Metadata), fields in Helm's struct order, omitempty as
 * Helm's tags say (helm pkg/chart/v2/metadata.go, dependency.go; flux-oci.md §3.1).
 */
export function helmConfig(m: ChartMetadata): Buffer {
  const str = (v: string | undefined): string | undefined => (nonEmpty(v) ? v : undefined);
  const annotations = m.annotations ?? {};
  return Buffer.from(
    goJSON({
      name: str(m.name),
      home: str(m.home),
      sources: someItems(m.sources),
      version: str(m.version),
      description: str(m.description),
      keywords: someItems(m.keywords),
      maintainers: someItems(m.maintainers)?.map((x) => ({
        name: str(x.name),
        email: str(x.email),
        url: str(x.url),
      })),
      icon: str(m.icon),
      apiVersion: str(m.apiVersion),
      condition: str(m.condition),
      tags: str(m.tags),
      appVersion: str(m.appVersion),
      deprecated: m.deprecated === true ? true : undefined,
      annotations: Object.keys(annotations).length > 0 ? new GoMap(annotations) : undefined,
      kubeVersion: str(m.kubeVersion),
      dependencies: someItems(m.dependencies)?.map((d) => ({
        name: d.name ?? '',
        version: str(d.version),
        repository: d.repository ?? '',
        condition: str(d.condition),
        tags: someItems(d.tags),
        enabled: d.enabled === true ? true : undefined,
        'import-values': someItems(d['import-values'])?.map(goValue),
        alias: str(d.alias),
      })),
      type: str(m.type),
    }),
  );
}

/**
 * Helm's manifest annotations (helm pkg/registry/chart.go generateOCIAnnotations): description,
 * title, version, url, created, first source and authors when not blank (`addToMap` trims), then
 * every chart annotation as is, except that none may replace the title or the version.
 */
export function helmAnnotations(m: ChartMetadata, created: string): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (key: string, value: string | undefined): void => {
    if (value !== undefined && value.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '') !== '')
      out[key] = value;
  };
  add(ANNOTATION.description, m.description);
  add(ANNOTATION.title, m.name);
  add(ANNOTATION.version, m.version);
  add(ANNOTATION.url, m.home);
  add(ANNOTATION.created, created);
  add(ANNOTATION.source, m.sources?.[0]);
  if (m.maintainers !== undefined && m.maintainers.length > 0)
    add(
      ANNOTATION.authors,
      m.maintainers
        .map((x) => `${x.name ?? ''}${nonEmpty(x.email) ? ` (${x.email})` : ''}`)
        .join(', '),
    );
  for (const [key, value] of Object.entries(m.annotations ?? {}))
    if (key !== ANNOTATION.title && key !== ANNOTATION.version) out[key] = value;
  return out;
}

/**
 * The `created` annotation `helm push` writes: the chart file's modification time, RFC 3339 in the
 * local time zone, whole seconds (helm pkg/pusher/ocipusher.go: stat.ModTime().Format(time.RFC3339)).
 */
export function helmCreationTime(mtime: Date): string {
  const offset = -mtime.getTimezoneOffset();
  const local = new Date(Math.floor(mtime.getTime() / 1000) * 1000 + offset * 60_000);
  const clock = local.toISOString().slice(0, 19);
  if (offset === 0) return `${clock}Z`;
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${clock}${offset < 0 ? '-' : '+'}${hh}:${mm}`;
}

/**
 * The manifest helm push writes: json.Marshal(ocispec.Manifest) with schemaVersion, config, layers
 * and annotations only; no top-level mediaType (helm pkg/registry/client.go tagManifest).
 */
export function helmManifest(
  config: { readonly digest: Digest; readonly size: number },
  layers: readonly { readonly mediaType: string; readonly digest: Digest; readonly size: number }[],
  annotations: Record<string, string>,
): Buffer {
  return Buffer.from(
    goJSON({
      schemaVersion: 2,
      config: { mediaType: MediaType.helmConfig, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      annotations: new GoMap(annotations),
    }),
  );
}

/** Helm writes `+` in versions as `_` in tags (helm pkg/registry reference.go). */
export function chartTag(version: string): string {
  return version.replaceAll('+', '_');
}

export interface ChartPushResult {
  readonly name: string;
  readonly version: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: Digest;
  readonly provenance: boolean;
}

/**
 * Pushes a packaged chart as `helm push` does: repository `<prefix>/<name>`, tag = version (+ → _),
 * the Chart.yaml metadata as config, the exact .tgz bytes as the chart layer, a `.prov` file beside
 * it as the provenance layer, layers sorted by digest, Helm's annotations. `created` defaults to
 * Helm's rule (the file's modification time), so the digest equals helm push's for the same file.
 */
export async function pushChart(
  open: (repository: string) => Repository,
  chartPath: string,
  prefix: string,
  options: { created?: string } = {},
): Promise<ChartPushResult> {
  const tgz = await readUserFile(chartPath, { what: 'chart', maxSize: MAX_CHART_SIZE });
  let prov: Buffer | undefined;
  try {
    prov = await readFile(`${chartPath}.prov`);
  } catch {
    prov = undefined;
  }
  const created = options.created ?? helmCreationTime((await stat(chartPath)).mtime);
  const chart = readChartArchive(tgz, chartPath);
  const repository = open(`${prefix.replace(/\/+$/, '')}/${chart.metadata.name}`);
  return pushChartArchive(repository, tgz, {
    created,
    ...(prov ? { provenance: prov } : {}),
    where: chartPath,
  });
}

/**
 * Pushes chart bytes to a given repository (the step `pushChart` and the mirror share). `created`
 * is the `org.opencontainers.image.created` annotation; a chart annotation of that name wins, as
 * in Helm.
 */
export async function pushChartArchive(
  repository: Repository,
  tgz: Buffer,
  options: { created: string; provenance?: Buffer; where?: string },
): Promise<ChartPushResult> {
  const chart = readChartArchive(tgz, options.where ?? repository.name);
  const prov = options.provenance;
  const config = helmConfig(chart.metadata);
  const configDescriptor = {
    mediaType: MediaType.helmConfig,
    digest: sha256(config),
    size: config.length,
  };
  const layers: { mediaType: string; digest: Digest; size: number; bytes: Buffer }[] = [
    { mediaType: MediaType.helmChart, digest: sha256(tgz), size: tgz.length, bytes: tgz },
  ];
  if (prov)
    layers.push({
      mediaType: MediaType.helmProvenance,
      digest: sha256(prov),
      size: prov.length,
      bytes: prov,
    });
  // Sorted by digest "for determinism, similar to how ORAS v1 does it" (helm client.go Push).
  layers.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const mount = repository.mountName ? { mountFrom: repository.mountName } : {};
  // The blobs go up together (one round trip of latency, not two or three); the manifest, and
  // with it the tag, only after all of them are stored.
  await Promise.all([
    repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])), mount),
    ...layers.map((layer) =>
      repository.pushBlob(layer, () => Promise.resolve(Readable.from([layer.bytes])), mount),
    ),
  ]);
  const manifest = helmManifest(
    configDescriptor,
    layers,
    helmAnnotations(chart.metadata, options.created),
  );
  const tag = chartTag(chart.metadata.version);
  const pushed = await repository.pushManifest(manifest, MediaType.ociManifest, tag);
  return {
    name: chart.metadata.name,
    version: chart.metadata.version,
    repository: repository.name,
    tag,
    digest: pushed.digest,
    provenance: prov !== undefined,
  };
}

export interface ChartPullResult {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly digest: Digest;
}

/** Pulls a chart's exact .tgz (verified against the layer digest) as `<name>-<version>.tgz`. */
export async function pullChart(
  repository: Repository,
  reference: string,
  outputDir: string,
): Promise<ChartPullResult> {
  const fetched = await repository.fetchManifest(reference);
  const parsed = parseManifest(
    fetched.bytes,
    fetched.descriptor.mediaType,
    `${repository.name}:${reference}`,
  );
  if (parsed.kind !== 'manifest' || parsed.value.config.mediaType !== MediaType.helmConfig) {
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${reference} is not a Helm chart (config media type ${parsed.kind === 'manifest' ? parsed.value.config.mediaType : 'index'})`,
    );
  }
  const layer = parsed.value.layers.find(
    (l) => l.mediaType === MediaType.helmChart || l.mediaType === 'application/tar+gzip',
  );
  if (!layer)
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${reference} has no chart layer`,
    );
  const tgz = await readAll(await repository.fetchBlob(layer));
  const chart = readChartArchive(tgz, `${repository.name}@${fetched.descriptor.digest}`);
  await mkdir(outputDir, { recursive: true });
  const path = join(outputDir, `${chart.metadata.name}-${chart.metadata.version}.tgz`);
  await writeFileAtomic(path, tgz);
  return {
    path,
    name: chart.metadata.name,
    version: chart.metadata.version,
    digest: fetched.descriptor.digest,
  };
}

/**
 * CRDs of a chart as Flux artifact entries: the files of every `crds/` folder Helm would install
 * (the chart's own as `crds/<file>`, a subchart's as `crds/<subchart>/<file>`), plus plain
 * (untemplated) YAML documents of kind CustomResourceDefinition elsewhere in the chart. Templated
 * CRDs need rendering and are not taken.
 */
export function chartCRDEntries(chart: ChartArchive): LayerEntry[] {
  const files = new Map<string, Buffer>();
  let templated = 0;
  for (const entry of chart.entries) {
    if (entry.type !== 'file') continue;
    const relative = entry.name.slice(chart.root.length + 1);
    const crdFolder = /^((?:charts\/[^/]+\/)*)crds\/(.+)$/.exec(relative);
    if (crdFolder) {
      const subcharts = (crdFolder[1] ?? '').split('/').filter((p, i) => p !== '' && i % 2 === 1);
      files.set(['crds', ...subcharts, crdFolder[2] ?? ''].join('/'), entry.data);
      continue;
    }
    if (!/\.ya?ml$/.test(relative)) continue;
    const text = entry.data.toString('utf8');
    if (!/^kind:\s*CustomResourceDefinition\s*$/m.test(text)) continue;
    if (text.includes('{{')) {
      templated++;
      continue;
    }
    files.set(`crds/${basename(relative)}`, entry.data);
  }
  if (files.size === 0) {
    throw new AirlockError(
      'INPUT_INVALID',
      `chart ${chart.metadata.name} ${chart.metadata.version} has no CRDs to push`,
      {
        details: [
          templated > 0
            ? `${templated} CRD manifest(s) are Helm templates: render the chart first (helm template) and push the output directory.`
            : 'The chart has no crds/ folder and no plain CustomResourceDefinition manifests.',
        ],
      },
    );
  }
  return entriesFromFiles(files);
}

export interface PackageResult {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly digest: Digest;
}

/** The deterministic .tgz of a chart directory, in memory. */
export async function packageChartBytes(
  dir: string,
): Promise<{ tgz: Buffer; digest: Digest; metadata: ChartMetadata }> {
  const chartYAMLPath = join(dir, 'Chart.yaml');
  let text: string;
  try {
    text = await readFile(chartYAMLPath, 'utf8');
  } catch (error) {
    throw new ConfigError(`${chartYAMLPath} is missing`, [
      {
        where: chartYAMLPath,
        message: `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); a chart directory needs a Chart.yaml`,
      },
    ]);
  }
  const metadata = parseChartYAML(text, chartYAMLPath);
  let ignore: string[] = [];
  try {
    ignore = (await readFile(join(dir, '.helmignore'), 'utf8')).split(/\r?\n/);
  } catch {
    ignore = [];
  }
  const entries = (await collectEntries(dir, { ignorePaths: ignore }))
    .filter((e) => e.type === 'file')
    .map((e): LayerEntry => ({ ...e, name: `${metadata.name}/${e.name}` }));
  const { tgz, digest } = packLayer(entries);
  return { tgz, digest, metadata };
}

/**
 * Packages a chart directory as a deterministic .tgz: files only, under `<name>/`, in sorted
 * pre-order, permission bits from disk, uid/gid 0, mtime 0, `.helmignore` honoured. The same tree
 * gives the same bytes on every machine.
 */
export async function packageChart(dir: string, outputDir: string): Promise<PackageResult> {
  const { tgz, digest, metadata } = await packageChartBytes(dir);
  await mkdir(outputDir, { recursive: true });
  const path = join(outputDir, `${metadata.name}-${metadata.version}.tgz`);
  await writeFileAtomic(path, tgz);
  return { path, name: metadata.name, version: metadata.version, digest };
}

/**
 * Adds test manifests to a packaged chart under `<name>/templates/tests/` and repacks it
 * deterministically. The result's digest differs from upstream's; whoever signs it vouches for it.
 */
export async function injectTests(tgz: Buffer, testsDir: string, where: string): Promise<Buffer> {
  const chart = readChartArchive(tgz, where);
  let names: string[];
  try {
    names = (await readdir(testsDir)).filter((n) => /\.(ya?ml|tpl)$/.test(n)).sort();
  } catch (error) {
    throw new AirlockError(
      'FILE_UNREADABLE',
      `tests directory ${testsDir} cannot be read: ${fileProblem(error)}`,
      { cause: error },
    );
  }
  if (names.length === 0)
    throw new AirlockError('INPUT_INVALID', `tests directory ${testsDir} has no .yaml files`);
  const added = new Map<string, Buffer>();
  for (const name of names)
    added.set(`${chart.root}/templates/tests/${name}`, await readFile(join(testsDir, name)));
  const entries: LayerEntry[] = chart.entries
    .filter((e) => (e.type === 'file' || e.type === 'dir') && !added.has(e.name))
    .map((e) =>
      e.type === 'file'
        ? { name: e.name, type: 'file' as const, mode: e.mode, data: e.data }
        : { name: e.name, type: 'dir' as const, mode: e.mode },
    );
  for (const [name, data] of added) entries.push({ name, type: 'file', mode: 0o644, data });
  return packLayer(entries).tgz;
}
