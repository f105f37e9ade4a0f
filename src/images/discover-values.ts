// Helm values for image discovery: values files read with their positions, merged as Helm merges
// them (helm pkg/chartutil coalesce.go: values files in order, later winning; a null deletes the
// chart's default; a subchart's values are the parent's under its name or alias over its own
// values.yaml, and `global` flows down, the parent's winning), and the image-shaped values found
// in the result.
//
// Image shapes (the common ones of prometheus-community, bitnami, ingress-nginx, cert-manager and
// cilium charts), under a key named `image` or ending in `Image` (`thanosImage`):
//
//   image: registry.k8s.io/ingress-nginx/controller:v1.12.0      a string (templated text skipped)
//   image:                                                        a map with a name:
//     registry: quay.io              optional; global.imageRegistry replaces it when set
//     repository: prometheus/node-exporter    or `repo`, or `name`
//     tag: v1.9.1                    optional; when empty, the chart's appVersion (tagFrom)
//     digest: sha256:…               optional; or `sha` (bare hex is sha256)
//   image:                                                        maps of such maps
//     busybox: {repository: busybox, tag: "1.37"}
//     kubectl: {registry: registry.k8s.io, repository: kubectl, tag: v1.33.0}
//
// Keys inside lists are walked too (`extraContainers[0].image`). The values give what a chart CAN
// pull: components their templates leave disabled are listed as well; `helm template` says what it
// WILL pull with these values.
import { isMap, isScalar, type Document, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { formatFloatG } from '../goyaml/index.ts';

/** A values tree: YAML as Helm reads it (YAML 1.1 scalars, numbers as float64). */
export type Value = null | boolean | number | string | Value[] | ValueMap;
export type ValueMap = Map<string, Value>;

export const isValueMap = (value: Value | undefined): value is ValueMap => value instanceof Map;

/** One values file: its tree, and what is needed to say where a field is written. */
export interface ValuesLayer {
  /** The file as shown in sources: `prometheus/values.yaml`, or the path given. */
  readonly file: string;
  readonly value: ValueMap;
  readonly document: Document;
  readonly lines: LineCounter;
  /** Where this file's root sits in the values of the chart it is read for. */
  readonly prefix: readonly string[];
}

/** A path segment: a map key or a list index. */
export type Segment = string | number;

/** `server.image`, `extraContainers[0].image`, `annotations["a.b"]`. */
export function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

function convert(value: unknown): Value {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(convert);
  if (value instanceof Map) {
    const out: ValueMap = new Map();
    for (const [k, v] of value) out.set(String(k), convert(v));
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'symbol' ? (value.description ?? '') : JSON.stringify(value);
}

/**
 * Parses a values file as Helm reads it (YAML 1.1, merge keys, a bounded number of alias
 * expansions). CONFIG_INVALID with `where:line:col` for text that is not YAML, or not a map.
 */
export function parseValues(text: string, file: string, where = file): ValuesLayer {
  const lines = new LineCounter();
  const document = parseDocument(text.replace(/^\uFEFF/, ''), {
    version: '1.1',
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
    lineCounter: lines,
  });
  const issues = document.errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return { where: `${where}:${line}:${col}`, message: error.message.split('\n')[0] ?? '' };
  });
  if (issues.length > 0) throw new ConfigError(`${escapeControl(where)} is not valid YAML`, issues);
  let js: unknown;
  try {
    js = document.toJS({ mapAsMap: true, maxAliasCount: 1000 });
  } catch (error) {
    throw new ConfigError(`${escapeControl(where)} cannot be read as values`, [
      { where: `${where}:1:1`, message: (error as Error).message },
    ]);
  }
  const value = convert(js);
  if (value === null) return { file, value: new Map(), document, lines, prefix: [] };
  if (!isValueMap(value)) {
    const { line, col } = lines.linePos(document.contents?.range[0] ?? 0);
    throw new ConfigError(`${escapeControl(where)} is not a map of values`, [
      { where: `${where}:${line}:${col}`, message: 'values are a YAML mapping (key: value)' },
    ]);
  }
  return { file, value, document, lines, prefix: [] };
}

/** Helm's mergeMaps over values files: later files win, maps merge, a null is kept (to delete). */
export function mergeValues(base: ValueMap, over: ValueMap): ValueMap {
  const out: ValueMap = new Map(base);
  for (const [key, value] of over) {
    const existing = out.get(key);
    out.set(key, isValueMap(existing) && isValueMap(value) ? mergeValues(existing, value) : value);
  }
  return out;
}

/**
 * Helm's coalesce of given values over a chart's defaults: `over` wins, maps merge, and a null in
 * `over` deletes the default (a null with no default stays, to meet a subchart's default).
 */
export function coalesceValues(over: ValueMap, defaults: ValueMap): ValueMap {
  const out: ValueMap = new Map(over);
  for (const [key, fallback] of defaults) {
    if (!out.has(key)) {
      out.set(key, fallback);
      continue;
    }
    const value = out.get(key) ?? null;
    if (value === null) out.delete(key);
    else if (isValueMap(value) && isValueMap(fallback))
      out.set(key, coalesceValues(value, fallback));
  }
  return out;
}

/** The value at a path, undefined when a step is missing. */
export function valueAt(root: Value, path: readonly Segment[]): Value | undefined {
  let current: Value | undefined = root;
  for (const segment of path) {
    if (typeof segment === 'number')
      current = Array.isArray(current) ? current[segment] : undefined;
    else current = isValueMap(current) ? current.get(segment) : undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/** Where `path` is written in a layer (line and column), when the layer writes it. */
export function positionIn(
  layer: ValuesLayer,
  path: readonly Segment[],
): { line: number; column: number } | undefined {
  const node: unknown = layer.document.getIn([...layer.prefix, ...path], true);
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  if (range === undefined) {
    // Through an alias or a merge key: the parent map's position is the best there is.
    const parent: unknown = layer.document.getIn([...layer.prefix, ...path.slice(0, -1)], true);
    if (path.length === 0 || !isMap(parent)) return undefined;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path.at(-1));
    const start = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
    if (start === undefined) return undefined;
    const { line, col } = layer.lines.linePos(start);
    return { line, column: col };
  }
  const { line, col } = layer.lines.linePos(range[0]);
  return { line, column: col };
}

/** A scalar as a template prints it (`{{ .Values.image.tag }}`): Helm's numbers are float64. */
export function scalarText(value: Value | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatFloatG(value);
  return '';
}

/** An image-shaped value found in one chart's values. */
export interface ValuesImage {
  /** The path of the image key in the chart's values. */
  readonly path: readonly Segment[];
  readonly raw: string;
  /** The value paths the reference was built from (for where it is written). */
  readonly leaves: readonly (readonly Segment[])[];
  readonly tagFrom?: 'appVersion';
}

const NAME_KEYS = ['repository', 'repo', 'name'] as const;

/** `image`, or camelCase ending in `Image` (`thanosImage`, `initImage`). */
export function isImageKey(key: string): boolean {
  return key === 'image' || /^[a-z][A-Za-z0-9]*Image$/.test(key);
}

function digestText(value: Value | undefined): string {
  const text = scalarText(value);
  return /^[0-9a-f]{64}$/.test(text) ? `sha256:${text}` : text;
}

/** The image a map describes, or undefined when it names none. */
function imageOfMap(
  map: ValueMap,
  path: readonly Segment[],
  appVersion: string | undefined,
  globalRegistry: string,
): ValuesImage | undefined {
  const nameKey = NAME_KEYS.find((k) => {
    const v = map.get(k);
    return typeof v === 'string' && v.trim() !== '';
  });
  if (nameKey === undefined) return undefined;
  const name = map.get(nameKey) as string;
  if (name.includes('{{')) return undefined;
  const leaves: Segment[][] = [[...path, nameKey]];
  let registry = '';
  if (map.has('registry')) {
    if (globalRegistry !== '') {
      registry = globalRegistry;
      leaves.push(['global', 'imageRegistry']);
    } else {
      registry = scalarText(map.get('registry'));
      leaves.push([...path, 'registry']);
    }
  }
  let tag = scalarText(map.get('tag'));
  let tagFrom: 'appVersion' | undefined;
  if (tag !== '') leaves.push([...path, 'tag']);
  else if (appVersion !== undefined && appVersion !== '') {
    tag = appVersion;
    tagFrom = 'appVersion';
  }
  const digestKey = scalarText(map.get('digest')) !== '' ? 'digest' : 'sha';
  const digest = digestText(map.get(digestKey));
  if (digest !== '') leaves.push([...path, digestKey]);
  if ([registry, tag, digest].some((part) => part.includes('{{'))) return undefined;
  const raw = `${registry === '' ? '' : `${registry}/`}${name}${tag === '' ? '' : `:${tag}`}${digest === '' ? '' : `@${digest}`}`;
  return { path, raw, leaves, ...(tagFrom === undefined ? {} : { tagFrom }) };
}

/**
 * The image-shaped values of one chart's merged values (the shapes in the file comment), in
 * document order. `appVersion` stands in for an empty tag; `global.imageRegistry`, when set,
 * replaces the registry of maps that have a `registry` key. Top-level keys in `skip` (the values
 * of the chart's subcharts, read with each subchart) are not walked.
 */
export function valuesImages(
  values: ValueMap,
  appVersion: string | undefined,
  skip: ReadonlySet<string> = new Set(),
): ValuesImage[] {
  const found: ValuesImage[] = [];
  const global = values.get('global');
  const globalRegistry = isValueMap(global) ? scalarText(global.get('imageRegistry')) : '';
  const walk = (value: Value, path: Segment[]): void => {
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...path, index]));
      return;
    }
    if (!isValueMap(value)) return;
    for (const [key, child] of value) {
      const at = [...path, key];
      if (!isImageKey(key)) {
        walk(child, at);
        continue;
      }
      if (typeof child === 'string') {
        if (child.trim() !== '' && !child.includes('{{'))
          found.push({ path: at, raw: child, leaves: [at] });
        continue;
      }
      if (!isValueMap(child)) {
        walk(child, at);
        continue;
      }
      const image = imageOfMap(child, at, appVersion, globalRegistry);
      if (image !== undefined) {
        found.push(image);
        continue;
      }
      // A map of images (`image: {busybox: {...}, kubectl: {...}}`), or one to walk further.
      for (const [innerKey, inner] of child) {
        const innerImage = isValueMap(inner)
          ? imageOfMap(inner, [...at, innerKey], appVersion, globalRegistry)
          : undefined;
        if (innerImage !== undefined) found.push(innerImage);
        else walk(inner, [...at, innerKey]);
      }
    }
  };
  for (const [key, child] of values) if (!skip.has(key)) walk(new Map([[key, child]]), []);
  return found;
}
