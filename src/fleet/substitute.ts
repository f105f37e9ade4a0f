// Flux Kustomization spec.postBuild: variable substitution over the built objects, as
// kustomize-controller runs it through fluxcd/pkg kustomize/kustomize_varsub.go
// (SubstituteVariables, LoadVariables, varSubstitution) — ../shared/reference/flux-oci.md §4,
// postBuild bullet:
//
// - An object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is left as is.
// - Variables: each substituteFrom source in order (a later key overwrites an earlier one), then
//   the inline `substitute` map over them; "\n" is removed from every value. A source that does
//   not exist fails the build unless it is optional.
// - Substitution runs only when there is at least one variable, or always with
//   substituteStrategy: Always. Every variable name must then match
//   ^[_[:alpha:]][_[:alpha:][:digit:]]*$.
// - It works on the object's YAML text (kustomize Resource.AsYAML = sigs.k8s.io/yaml.JSONToYAML),
//   then reads the result back (YAMLToJSON): an unquoted `${port}` that becomes 8080 is a number.
//
// Here the ConfigMaps and Secrets come from the rendered set (`available`) instead of the
// cluster: a Secret is read the way the API server stores it, `stringData` merged over the
// base64-decoded `data`; a ConfigMap's `binaryData` is not read (LoadVariables reads `data` only).
import { AirlockError } from '../errors.ts';
import { type GoMap, type GoValue, isGoMap, marshalGoYAML, parseGoYAML } from '../goyaml/index.ts';
import { envsubst } from './envsubst.ts';

/** The label and annotation that opt an object out of substitution, with the value `disabled`. */
export const SUBSTITUTE_ANNOTATION = 'kustomize.toolkit.fluxcd.io/substitute';

/** The variable name rule, quoted as Go's regexp spells it (POSIX classes, ASCII only in RE2). */
const VAR_NAME_RULE = '^[_[:alpha:]][_[:alpha:][:digit:]]*$';
const VAR_NAME = /^[_A-Za-z][_A-Za-z0-9]*$/;

/** One spec.postBuild.substituteFrom entry. */
export interface SubstituteSource {
  readonly kind: 'ConfigMap' | 'Secret';
  readonly name: string;
  readonly optional?: boolean;
}

export interface SubstituteOptions {
  /** spec.postBuild.substitute: overrides every substituteFrom variable. */
  readonly substitute?: Readonly<Record<string, string>>;
  /** spec.postBuild.substituteFrom, read in order. */
  readonly substituteFrom?: readonly SubstituteSource[];
  /** The Kustomization's namespace, where the sources are looked up. */
  readonly namespace: string;
  /**
   * The objects a source may be: v1 ConfigMaps and Secrets of that name in `namespace` (an
   * object without a namespace counts as being in it). When several match, the last one wins.
   */
  readonly available: readonly GoMap[];
  /** spec.postBuild.substituteStrategy (Flux 2.9): 'Always' substitutes even without variables. */
  readonly strategy?: 'WithVariables' | 'Always';
  /** StrictPostBuildSubstitutions: on by default from Flux 2.9. */
  readonly strict?: boolean;
}

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;

const text = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

function disabled(object: GoMap): boolean {
  const metadata = object.get('metadata');
  return (
    field(field(metadata, 'labels'), SUBSTITUTE_ANNOTATION) === 'disabled' ||
    field(field(metadata, 'annotations'), SUBSTITUTE_ANNOTATION) === 'disabled'
  );
}

/** kustomize resid Gvk.String(): Kind.version.group, with kyaml's placeholders for empty parts. */
function gvkName(object: GoMap): string {
  const apiVersion = text(object.get('apiVersion'));
  const slash = apiVersion.lastIndexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const kind = text(object.get('kind'));
  return `${kind || '[noKind]'}.${version || '[noVer]'}.${group || '[noGrp]'}`;
}

/** kustomize-controller's prefix: `post build failed for '<Kind.version.group>/<name>': `. */
const failedFor = (object: GoMap): string =>
  `post build failed for '${gvkName(object)}/${text(field(object.get('metadata'), 'name'))}': `;

function findSource(source: SubstituteSource, options: SubstituteOptions): GoMap | undefined {
  let found: GoMap | undefined;
  for (const object of options.available) {
    if (object.get('apiVersion') !== 'v1' || object.get('kind') !== source.kind) continue;
    const metadata = object.get('metadata');
    if (field(metadata, 'name') !== source.name) continue;
    const namespace = field(metadata, 'namespace');
    if (
      namespace !== undefined &&
      namespace !== null &&
      namespace !== '' &&
      namespace !== options.namespace
    ) {
      continue;
    }
    found = object;
  }
  return found;
}

/** The string values of a ConfigMap's data or Secret's stringData (the API refuses others). */
function stringEntries(source: SubstituteSource, object: GoMap, key: string): [string, string][] {
  const entries = object.get(key);
  if (entries === undefined || entries === null) return [];
  const where = `${source.kind}/${source.name}`;
  if (!isGoMap(entries)) {
    throw new AirlockError('CONFIG_INVALID', `${where}: ${key} is not a map`, {
      data: { source: where, field: key },
    });
  }
  return [...entries].map(([name, value]) => {
    if (typeof value !== 'string') {
      throw new AirlockError('CONFIG_INVALID', `${where}: ${key}.${name} is not a string`, {
        details: ['quote the value: ConfigMap and Secret values are strings'],
        data: { source: where, field: `${key}.${name}` },
      });
    }
    return [name, value];
  });
}

// Base64 as Go's encoding/json decodes []byte (StdEncoding: padded, line breaks ignored).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function secretEntries(source: SubstituteSource, object: GoMap): [string, string][] {
  const where = `${source.kind}/${source.name}`;
  const data = stringEntries(source, object, 'data').map(([name, encoded]): [string, string] => {
    const compact = encoded.replace(/[\r\n]/g, '');
    if (!BASE64.test(compact)) {
      throw new AirlockError('CONFIG_INVALID', `${where}: data.${name} is not base64`, {
        details: ['Secret data values are base64; put plain text under stringData'],
        data: { source: where, field: `data.${name}` },
      });
    }
    return [name, Buffer.from(compact, 'base64').toString('utf8')];
  });
  // The API server merges stringData over data when it stores the Secret.
  return [...data, ...stringEntries(source, object, 'stringData')];
}

/**
 * LoadVariables, then the inline map over it: the variables of spec.postBuild, in the order they
 * were first set. Throws CONFIG_INVALID for a source that does not exist and is not optional,
 * with kustomize-controller's message (`substitute from 'ConfigMap/x' error: configmaps "x" not found`).
 */
export function loadSubstituteVariables(options: SubstituteOptions): Map<string, string> {
  const vars = new Map<string, string>();
  const strip = (value: string): string => value.replaceAll('\n', '');
  for (const source of options.substituteFrom ?? []) {
    // The CRD allows only these kinds; LoadVariables ignores any other.
    const kind: string = source.kind;
    if (kind !== 'ConfigMap' && kind !== 'Secret') continue;
    const object = findSource(source, options);
    if (object === undefined) {
      if (source.optional === true) continue;
      const resource = source.kind === 'ConfigMap' ? 'configmaps' : 'secrets';
      throw new AirlockError(
        'CONFIG_INVALID',
        `substitute from '${source.kind}/${source.name}' error: ${resource} "${source.name}" not found`,
        {
          details: [
            `no v1 ${source.kind} named ${source.name} in namespace ${options.namespace} among the rendered objects; mark it optional if it may be absent`,
          ],
          data: { source: `${source.kind}/${source.name}`, namespace: options.namespace },
        },
      );
    }
    const entries =
      source.kind === 'ConfigMap'
        ? stringEntries(source, object, 'data')
        : secretEntries(source, object);
    for (const [name, value] of entries) vars.set(name, strip(value));
  }
  for (const [name, value] of Object.entries(options.substitute ?? {})) {
    vars.set(name, strip(value));
  }
  return vars;
}

/** encoding/json's name for the JSON type of a value (its UnmarshalTypeError text). */
function jsonType(value: GoValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  return 'number';
}

function substituteOne(object: GoMap, vars: ReadonlyMap<string, string>, strict: boolean): GoMap {
  for (const name of vars.keys()) {
    if (!VAR_NAME.test(name)) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `envsubst error: '${name}' var name is invalid, must match '${VAR_NAME_RULE}'`,
        { data: { variable: name } },
      );
    }
  }
  let output: string;
  try {
    output = envsubst(marshalGoYAML(object), (name) => vars.get(name), { strict });
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    throw new AirlockError(
      error.code,
      `envsubst error: variable substitution failed: ${error.message}`,
      { cause: error, details: error.details, data: error.data },
    );
  }
  let value: GoValue;
  try {
    value = parseGoYAML(output);
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    // sigs.k8s.io/yaml.YAMLToJSON returns go-yaml's own error (`yaml: line N: …`).
    const yamlError = error.message.replace(/^(?:.*: )?error converting YAML to JSON: /, '');
    throw new AirlockError('CONFIG_INVALID', `envsubst error: YAMLToJSON: ${yamlError}`, {
      cause: error,
      details: ['quote substituted values that YAML would read as syntax (a leading *, &, {, …)'],
      data: error.data,
    });
  }
  if (!isGoMap(value)) {
    throw new AirlockError(
      'CONFIG_INVALID',
      `UnmarshalJSON: json: cannot unmarshal ${jsonType(value)} into Go value of type map[string]interface {}`,
    );
  }
  return value;
}

/**
 * kustomize-controller's post-build step over `objects`: each one substituted (a new object,
 * read back from the substituted YAML) or returned as it was (disabled, or nothing to run).
 * Errors carry kustomize-controller's message, `post build failed for '<Kind.version.group>/<name>': …`:
 * CONFIG_INVALID for a missing source, a bad variable name or YAML the substitution broke;
 * TEMPLATE_INVALID for an expression that does not parse; TEMPLATE_FAILED for a variable that is
 * not set in strict mode (its line and column in `details`).
 */
export function substituteObjects(objects: readonly GoMap[], options: SubstituteOptions): GoMap[] {
  const strict = options.strict ?? true;
  const always = options.strategy === 'Always';
  let vars: Map<string, string> | undefined;
  return objects.map((object) => {
    if (disabled(object)) return object;
    try {
      // Upstream loads the sources for every object it substitutes: a missing one fails at the
      // first object that is not disabled, and not at all when every object is.
      vars ??= loadSubstituteVariables(options);
      if (vars.size === 0 && !always) return object;
      return substituteOne(object, vars, strict);
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      throw new AirlockError(error.code, failedFor(object) + error.message, {
        cause: error,
        details: error.details,
        data: {
          ...error.data,
          object: `${gvkName(object)}/${text(field(object.get('metadata'), 'name'))}`,
        },
      });
    }
  });
}
