// Validates objects against a CustomResourceDefinition's openAPIV3Schema the way the API server
// treats them (k8s.io/apiextensions-apiserver: structural schemas, pruning, strict field
// validation as kubectl applies by default), by turning the schema into a JSON Schema for Ajv:
//
// - a field the structural schema does not declare would be pruned (or refused under strict field
//   validation): objects get `additionalProperties: false` unless they declare additionalProperties
//   or `x-kubernetes-preserve-unknown-fields: true` — so a misspelled field is an error here;
// - an object with neither properties nor additionalProperties keeps nothing: only {} passes;
// - `x-kubernetes-preserve-unknown-fields: true` keeps any field (and, without a type, any value);
// - `x-kubernetes-int-or-string: true`: an integer or a string (the CRDs also spell it as anyOf);
// - `nullable: true` admits null; elsewhere null is an error (the server would drop the field
//   silently: the generator meant something else);
// - `x-kubernetes-list-type: set` items are unique; `map` items are unique by
//   `x-kubernetes-list-map-keys`; `atomic` and `x-kubernetes-map-type` only steer merges;
// - formats the API server checks on strings (cidr, date-time) are checked; other formats
//   (idn-hostname, and int32/int64 on integers) are annotations there and here;
// - `x-kubernetes-validations` (CEL) cannot be run here: a schema with any is refused, so a CRD
//   that gains one makes the test fail instead of passing unchecked;
// - anyOf/oneOf/allOf/not are value validations: their branches get no additionalProperties;
// - metadata is ObjectMeta, which the server validates itself: name a DNS subdomain, namespace a
//   DNS label, labels and annotations string maps, nothing else (the generators write no more).
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseYAML } from 'yaml';

type Schema = Record<string, unknown>;

const COPIED = [
  'type',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minProperties',
  'maxProperties',
  'uniqueItems',
  'required',
];
const IGNORED = new Set([
  'description',
  'default',
  'example',
  'externalDocs',
  'title',
  'x-kubernetes-map-type',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'nullable',
  'format',
  'properties',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  ...COPIED,
]);
const CHECKED_FORMATS = new Set(['cidr', 'date-time']);

function convert(schema: Schema, path: string, structural: boolean): Schema {
  for (const key of Object.keys(schema))
    if (!IGNORED.has(key)) throw new Error(`${path}: schema keyword ${key} is not handled`);
  const out: Schema = {};
  for (const key of COPIED) if (key in schema) out[key] = schema[key];
  if (schema['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  if (schema['x-kubernetes-list-type'] === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'];
    if (!Array.isArray(keys)) throw new Error(`${path}: list-type map without list-map-keys`);
    out.listMapKeys = keys;
  }
  const format = schema.format;
  if (typeof format === 'string' && schema.type === 'string' && CHECKED_FORMATS.has(format))
    out.format = format;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    if (schema.anyOf === undefined) out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (schema.properties !== undefined) {
    const properties: Schema = {};
    for (const [name, child] of Object.entries(schema.properties as Record<string, Schema>))
      properties[name] = convert(child, `${path}.${name}`, structural);
    out.properties = properties;
  }
  if (schema.items !== undefined)
    out.items = convert(schema.items as Schema, `${path}[]`, structural);
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null)
    out.additionalProperties = convert(
      schema.additionalProperties as Schema,
      `${path}.*`,
      structural,
    );
  else if (typeof schema.additionalProperties === 'boolean')
    out.additionalProperties = schema.additionalProperties;
  else if (structural && schema.type === 'object' && !preserve) out.additionalProperties = false;
  for (const junctor of ['anyOf', 'oneOf', 'allOf'] as const)
    if (Array.isArray(schema[junctor]))
      out[junctor] = (schema[junctor] as Schema[]).map((branch, i) =>
        convert(branch, `${path}.${junctor}[${i}]`, false),
      );
  if (schema.not !== undefined) out.not = convert(schema.not as Schema, `${path}.not`, false);
  if (schema.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  return out;
}

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } };

/** What a stored CRD version holds. */
export interface CRDVersion {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly validate: ValidateFunction;
}

function cidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^(0|[1-9][0-9]*)$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * The served, storage version of a CRD file, as an Ajv validator of whole objects (apiVersion
 * and kind must be that version's, metadata as the server checks it).
 */
export function loadCRD(text: string): CRDVersion {
  const crd = parseYAML(text) as {
    spec: {
      group: string;
      names: { kind: string };
      scope: 'Namespaced' | 'Cluster';
      versions: {
        name: string;
        served: boolean;
        storage: boolean;
        schema: { openAPIV3Schema: Schema };
      }[];
    };
  };
  if (text.includes('x-kubernetes-validations'))
    throw new Error('the CRD has CEL validations, which this check cannot run');
  const version = crd.spec.versions.find((v) => v.served && v.storage);
  if (version === undefined) throw new Error('no served storage version');
  const root = convert(version.schema.openAPIV3Schema, crd.spec.names.kind, true);
  const properties = root.properties as Schema;
  properties.apiVersion = { const: `${crd.spec.group}/${version.name}` };
  properties.kind = { const: crd.spec.names.kind };
  properties.metadata = {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', maxLength: 253, pattern: DNS_SUBDOMAIN },
      ...(crd.spec.scope === 'Namespaced'
        ? { namespace: { type: 'string', maxLength: 63, pattern: DNS_LABEL } }
        : {}),
      labels: STRING_MAP,
      annotations: STRING_MAP,
    },
  };
  root.required = [
    ...new Set([
      'apiVersion',
      'kind',
      'metadata',
      ...((root.required as string[] | undefined) ?? []),
    ]),
  ];
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('cidr', cidr);
  ajv.addFormat(
    'date-time',
    /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  );
  ajv.addKeyword({
    keyword: 'listMapKeys',
    type: 'array',
    schemaType: 'array',
    validate: (keys: string[], items: unknown[]) => {
      const seen = new Set<string>();
      for (const item of items) {
        const id = JSON.stringify(keys.map((k) => (item as Record<string, unknown>)[k] ?? null));
        if (seen.has(id)) return false;
        seen.add(id);
      }
      return true;
    },
  });
  return {
    group: crd.spec.group,
    version: version.name,
    kind: crd.spec.names.kind,
    scope: crd.spec.scope,
    validate: ajv.compile(root),
  };
}

/** The errors of one object, as `path: message` lines (none when it validates). */
export function crdErrors(crd: CRDVersion, object: unknown): string[] {
  if (crd.validate(object)) return [];
  return (crd.validate.errors ?? []).map(
    (e: ErrorObject) =>
      `${e.instancePath || '/'}: ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  );
}
