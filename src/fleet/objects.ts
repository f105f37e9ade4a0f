// Kubernetes objects as the operator reads and writes them: apimachinery's Unstructured accessors
// (a field of the wrong type reads as empty), the YAML document reader of k8s.io/apimachinery
// v0.36.3 pkg/util/yaml/decoder.go (YAMLReader, LineReader) and fluxcd/pkg ssa/utils
// ReadObject/ReadObjects/SetCommonMetadata (../shared/reference/resourceset.md §1.5 B).
import { AirlockError } from '../errors.ts';
import { type GoMap, type GoValue, isGoInt, isGoMap, parseGoYAML } from '../goyaml/index.ts';
import { jsonRoundTrip } from './inputs.ts';

/** A decoded object: `map[string]interface{}` with int64/float64 numbers. */
export type KubeObject = GoMap;

function nested(object: GoMap, fields: readonly string[]): GoValue | undefined {
  let current: GoValue | undefined = object;
  for (const field of fields) {
    if (!isGoMap(current)) return undefined;
    current = current.get(field);
  }
  return current;
}

/** unstructured.NestedString as the getters use it: "" unless a string is there. */
export function nestedString(object: GoMap, ...fields: string[]): string {
  const value = nested(object, fields);
  return typeof value === 'string' ? value : '';
}

/**
 * unstructured.NestedStringMap as GetLabels/GetAnnotations use it: undefined when absent, not a
 * map, or when any value is not a string (the getters then return nil).
 */
export function nestedStringMap(
  object: GoMap,
  ...fields: string[]
): Map<string, string> | undefined {
  const value = nested(object, fields);
  if (!isGoMap(value)) return undefined;
  const out = new Map<string, string>();
  for (const [k, v] of value) {
    if (typeof v !== 'string') return undefined;
    out.set(k, v);
  }
  return out;
}

export const objectName = (o: GoMap): string => nestedString(o, 'metadata', 'name');
export const objectNamespace = (o: GoMap): string => nestedString(o, 'metadata', 'namespace');

/** schema.ParseGroupVersion on apiVersion, then the kind; all empty when apiVersion is invalid. */
export function groupVersionKind(o: GoMap): { group: string; version: string; kind: string } {
  const apiVersion = nestedString(o, 'apiVersion');
  const kind = nestedString(o, 'kind');
  if (apiVersion === '' || apiVersion === '/') return { group: '', version: '', kind };
  const slashes = apiVersion.split('/').length - 1;
  if (slashes === 0) return { group: '', version: apiVersion, kind };
  if (slashes === 1) {
    const i = apiVersion.indexOf('/');
    return { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1), kind };
  }
  return { group: '', version: '', kind: '' };
}

/** The builder's identity of an object: group/kind/namespace/name, the version left out. */
export function objectKey(o: GoMap): string {
  return [
    groupVersionKind(o).group,
    nestedString(o, 'kind'),
    objectNamespace(o),
    objectName(o),
  ].join('/');
}

/** ssautil.FmtUnstructured: Kind/namespace/name, without the namespace when empty. */
export function formatObject(o: GoMap): string {
  const namespace = objectNamespace(o);
  return `${groupVersionKind(o).kind}/${namespace === '' ? '' : `${namespace}/`}${objectName(o)}`;
}

/**
 * Splits a stream into YAML documents exactly as apimachinery's YAMLReader: lines are read
 * with their `\n` or `\r\n` replaced by `\n`; a line starting with `---` ends the document
 * before it, and anything after `---` other than spaces or a `#` comment is an error. A
 * separator with nothing before it stays in the next document (YAML reads it as a
 * document start), which keeps Go's line numbers in parse errors.
 */
export function splitDocuments(text: string, limit = Infinity): string[] {
  const documents: string[] = [];
  if (text === '') return documents;
  const lines = text.split('\n');
  // A final line without its newline is still a line; an empty tail after the last \n is not.
  if (lines[lines.length - 1] === '') lines.pop();
  let buffer = '';
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith('---')) {
      const rest = line.slice(3).trim();
      if (rest.length > 0 && !rest.startsWith('#'))
        throw new AirlockError('RESOURCESET_INVALID', `invalid Yaml document separator: ${rest}`);
      if (buffer.length > 0) {
        documents.push(buffer);
        // The reader stops here when only this many documents are wanted (ReadObject).
        if (documents.length >= limit) return documents;
        buffer = '';
        continue;
      }
    }
    buffer += `${line}\n`;
  }
  if (buffer.length > 0) documents.push(buffer);
  return documents;
}

const JSON_TYPE = (value: GoValue): string => {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' || isGoInt(value)) return 'number';
  return 'object';
};

/** Go encoding/json bytes of a value (map keys sorted, `<>&` escaped), for error messages. */
export function goJSONText(value: GoValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return String(value);
  if (isGoInt(value)) return value.toString();
  if (Array.isArray(value)) return `[${value.map(goJSONText).join(',')}]`;
  const keys = [...value.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${keys.map((k) => `${goJSONText(k)}:${goJSONText(value.get(k) as GoValue)}`).join(',')}}`;
}

function yamlError(error: unknown): AirlockError {
  if (error instanceof AirlockError) {
    // The YAML module prefixes its messages with where the text came from; the operator's
    // message starts at "error converting YAML to JSON".
    const at = error.message.indexOf('error converting YAML to JSON');
    const message = at > 0 ? error.message.slice(at) : error.message;
    return new AirlockError('RESOURCESET_INVALID', message, { cause: error });
  }
  throw error;
}

/**
 * One document decoded into an Unstructured (sigs.k8s.io/yaml.Unmarshal, then
 * UnstructuredJSONScheme): null for an empty document, an error for anything but a mapping
 * and for a mapping whose kind (or apiVersion) does not make a GroupVersionKind.
 */
export function decodeObject(document: string): KubeObject | null {
  let value: GoValue;
  try {
    value = parseGoYAML(document);
  } catch (error) {
    throw yamlError(error);
  }
  if (value === null) return null;
  value = jsonRoundTrip(value);
  if (!isGoMap(value))
    throw new AirlockError(
      'RESOURCESET_INVALID',
      `error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${JSON_TYPE(value)} into Go value of type map[string]interface {}`,
    );
  if (groupVersionKind(value).kind === '')
    throw new AirlockError(
      'RESOURCESET_INVALID',
      `error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '${goJSONText(value)}'`,
    );
  return value;
}

/** ssautil.ReadObject: the first document only, whatever it holds. */
export function readObject(text: string): KubeObject {
  const [first] = splitDocuments(text, 1);
  if (first === undefined) throw new AirlockError('RESOURCESET_INVALID', 'EOF');
  // An empty document decodes to an Unstructured without content; it prints as `{}`.
  return decodeObject(first) ?? new Map<string, GoValue>();
}

const isKubernetesObject = (o: GoMap): boolean =>
  objectName(o) !== '' && nestedString(o, 'kind') !== '' && nestedString(o, 'apiVersion') !== '';

const isKustomizeConfig = (o: GoMap): boolean =>
  nestedString(o, 'kind').toLowerCase() === 'kustomization' &&
  nestedString(o, 'apiVersion').startsWith('kustomize.config.k8s.io/');

/**
 * ssautil.ReadObjects: every document; an `items` list is expanded (its items unfiltered);
 * documents without apiVersion, kind or metadata.name and kustomize.config.k8s.io
 * Kustomizations are dropped.
 */
export function readObjects(text: string): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const document of splitDocuments(text)) {
    const object = decodeObject(document);
    if (object === null) continue;
    const items = object.get('items');
    if (Array.isArray(items)) {
      for (const item of items) {
        if (!isGoMap(item))
          throw new AirlockError(
            'RESOURCESET_INVALID',
            'items member is not an object: map[string]interface {}',
          );
        objects.push(item);
      }
      continue;
    }
    if (isKubernetesObject(object) && !isKustomizeConfig(object)) objects.push(object);
  }
  return objects;
}

/**
 * ssautil.SetCommonMetadata: the labels and annotations are added to every object, replacing
 * keys that exist. As with Unstructured, a metadata map holding a non-string value reads as
 * empty and is replaced by the given keys alone.
 */
export function setCommonMetadata(
  objects: readonly KubeObject[],
  labels: ReadonlyMap<string, string>,
  annotations: ReadonlyMap<string, string>,
): void {
  for (const object of objects) {
    for (const [field, add] of [
      ['labels', labels],
      ['annotations', annotations],
    ] as const) {
      const merged = nestedStringMap(object, 'metadata', field) ?? new Map<string, string>();
      for (const [k, v] of add) merged.set(k, v);
      if (merged.size === 0) continue;
      let metadata = object.get('metadata');
      if (metadata === undefined || metadata === null) {
        metadata = new Map();
        object.set('metadata', metadata);
      }
      // SetNestedField fails (and the setter ignores it) when metadata is not a map.
      if (!isGoMap(metadata)) continue;
      metadata.set(field, new Map<string, GoValue>(merged));
    }
  }
}

/** A v1 Secret's values, decoded: `data` base64, `stringData` over it (as the API server merges). */
export function secretValues(secret: GoMap): Map<string, string> {
  const values = new Map<string, string>();
  const data = secret.get('data');
  if (isGoMap(data))
    for (const [k, v] of data)
      values.set(
        k,
        Buffer.from((typeof v === 'string' ? v : '').replace(/\s/g, ''), 'base64').toString('utf8'),
      );
  const stringData = secret.get('stringData');
  if (isGoMap(stringData))
    for (const [k, v] of stringData) values.set(k, typeof v === 'string' ? v : '');
  return values;
}
