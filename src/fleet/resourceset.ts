// The ResourceSet build as the Flux Operator does it (FO @17c6aea internal/builder/resourceset.go
// and cmd/cli/build_resourceset.go; ../shared/reference/resourceset.md §1.3–1.6, §2.1): inputs
// combined from the ResourceSet and its Static providers, `resources` re-emitted as YAML and
// rendered per input set, `resourcesTemplate` rendered and split into documents, exclusion, dedup,
// steps, and the operator's error messages.
import { AirlockError } from '../errors.ts';
import { type GoMap, type GoValue, isGoMap, jsonToYAML, marshalGoYAML } from '../goyaml/index.ts';
import {
  type FuncMap,
  goFunc,
  parseTemplate,
  slugify,
  sprigHermeticFuncs,
  type Template,
} from '../gotemplate/index.ts';
import { combineInputs, inputID, jsonRoundTrip, withProvider } from './inputs.ts';
import {
  formatObject,
  type KubeObject,
  nestedStringMap,
  objectKey,
  readObject,
  readObjects,
  setCommonMetadata,
} from './objects.ts';
import { compileLabelSelector } from './selector.ts';
import {
  type InputProviderDoc,
  readInputProviderDoc,
  readInputsFile,
  readResourceSetDoc,
  type ResourceSetDoc,
  type ResourceSetSpec,
  type StepSpec,
} from './spec.ts';

export const API_GROUP = 'fluxcd.controlplane.io';
export const API_VERSION = `${API_GROUP}/v1`;
/** The annotation that excludes a generated object (exact, case-sensitive compare). */
const RECONCILE_ANNOTATION = `${API_GROUP}/reconcile`;
const OWNER_LABEL_GROUP = `resourceset.${API_GROUP}`;

export interface BuildResourceSetOptions {
  /**
   * The inputs file's content: a list of maps that replaces `spec.inputs` (the flux-operator
   * CLI's inputs file).
   */
  readonly inputsFrom?: GoValue;
  /** ResourceSetInputProvider objects (type Static) that `spec.inputsFrom` selects from. */
  readonly providers?: readonly GoMap[];
  /** The namespace of a ResourceSet whose manifest names none (CLI mode; default "default"). */
  readonly namespace?: string;
  /**
   * true: what `flux-operator build resourceset` does (the `provider` input key, providers,
   * commonMetadata and owner labels, an error when nothing is generated). false (default): the
   * operator's builder as its golden tests call it: inline inputs as they are, objects untouched.
   */
  readonly cli?: boolean;
}

export interface ResourceSetStepResult {
  /** The step's name; undefined for the one anonymous step of a ResourceSet without steps. */
  readonly name?: string;
  readonly objects: KubeObject[];
}

export interface ResourceSetBuild {
  readonly name: string;
  readonly namespace: string;
  readonly steps: ResourceSetStepResult[];
  /** Every object of every step, in build order (the same object values as in `steps`). */
  readonly objects: KubeObject[];
  /** The combined input sets the templates were rendered with. */
  readonly inputs: GoMap[];
}

/** Prefixes an error's message the way Go's `fmt.Errorf("…: %w")` does, keeping its code. */
function wrap(error: unknown, prefix: string): AirlockError {
  if (error instanceof AirlockError)
    return new AirlockError(error.code, `${prefix}: ${error.message}`, {
      cause: error,
      details: error.details,
      data: error.data,
    });
  const message = error instanceof Error ? error.message : String(error);
  return new AirlockError('RESOURCESET_INVALID', `${prefix}: ${message}`, { cause: error });
}

const toYAML = (value: GoValue): string => marshalGoYAML(jsonRoundTrip(value));

/**
 * One template per text, parsed once and executed per input set: `inputs` reads the current
 * set. The operator parses per input set, which fails or succeeds the same way every time.
 */
class ResourceTemplate {
  readonly #text: string;
  #parsed: Template | undefined;
  #current: GoMap = new Map();
  readonly #funcs: FuncMap;

  constructor(text: string, base: FuncMap) {
    this.#text = text;
    this.#funcs = {
      ...base,
      // The current input set; a nil map when there are none (an empty map reads the same).
      inputs: goFunc(() => this.#current, []),
    };
  }

  render(inputs: GoMap | undefined, parseError: string, executeError: string): string {
    if (this.#parsed === undefined) {
      try {
        this.#parsed = parseTemplate(this.#text, {
          name: 'resourceset',
          leftDelim: '<<',
          rightDelim: '>>',
          funcs: this.#funcs,
        });
      } catch (error) {
        throw wrap(error, parseError);
      }
    }
    this.#current = inputs ?? new Map<string, GoValue>();
    try {
      // Executed with nil data: everything goes through `inputs` (FO newTemplate).
      return this.#parsed.execute(null, { missingKey: 'error' });
    } catch (error) {
      throw wrap(error, executeError);
    }
  }
}

/** The function map of FO newTemplate, in its order: sprig, slugify, inputs, toYaml. */
function baseFuncs(): FuncMap {
  return {
    ...sprigHermeticFuncs(),
    // gosimple/slug.Make(text string) with MaxLength 63 and smart truncation (FO resourceset.go).
    slugify: goFunc((text) => slugify(text as string), ['string']),
    // sigs.k8s.io/yaml.Marshal(v any): toYaml swallows the error, mustToYaml returns it.
    toYaml: goFunc(
      (value) => {
        try {
          return toYAML(value);
        } catch {
          return '';
        }
      },
      ['interface {}'],
    ),
    mustToYaml: goFunc((value) => toYAML(value), ['interface {}']),
  };
}

const isExcluded = (object: KubeObject): boolean =>
  nestedStringMap(object, 'metadata', 'annotations')?.get(RECONCILE_ANNOTATION) === 'disabled';

/**
 * FO BuildResourceSet: `resources` entries first (entry-major), then the `resourcesTemplate`
 * documents (input-major); excluded objects dropped and the first of each key kept — except
 * `resources` rendered without inputs, which are kept as they are.
 */
function buildObjects(
  resourcesTemplate: string,
  resources: readonly GoValue[],
  inputs: readonly GoMap[],
  funcs: FuncMap,
): KubeObject[] {
  const objects: KubeObject[] = [];
  const keys = new Set<string>();
  const add = (object: KubeObject, dedup: boolean): void => {
    const key = objectKey(object);
    if (dedup && keys.has(key)) return;
    keys.add(key);
    objects.push(object);
  };
  resources.forEach((entry, i) => {
    const prefix =
      inputs.length === 0 ? 'failed to build resource' : `failed to build resources[${i}]`;
    let text: string;
    try {
      text = jsonToYAML(jsonRoundTrip(entry));
    } catch (error) {
      throw wrap(wrap(error, 'failed to convert template to YAML'), prefix);
    }
    const template = new ResourceTemplate(text, funcs);
    const renderOne = (input: GoMap | undefined): KubeObject => {
      try {
        const rendered = template.render(
          input,
          'failed to parse template',
          'failed to execute template',
        );
        try {
          return readObject(rendered);
        } catch (error) {
          throw wrap(error, 'failed to read object');
        }
      } catch (error) {
        throw wrap(error, prefix);
      }
    };
    if (inputs.length === 0) {
      add(renderOne(undefined), false);
      return;
    }
    for (const input of inputs) {
      const object = renderOne(input);
      if (!isExcluded(object)) add(object, true);
    }
  });
  if (resourcesTemplate !== '') {
    const template = new ResourceTemplate(resourcesTemplate, funcs);
    const fromTemplate: KubeObject[] = [];
    const renderAll = (input: GoMap | undefined, prefix: string): void => {
      try {
        const rendered = template.render(
          input,
          'failed to parse multi-doc YAML template',
          'failed to execute multi-doc YAML template',
        );
        try {
          fromTemplate.push(...readObjects(rendered));
        } catch (error) {
          throw wrap(error, 'failed to read objects from multi-doc YAML');
        }
      } catch (error) {
        throw wrap(error, prefix);
      }
    };
    if (inputs.length === 0) renderAll(undefined, 'failed to build resource');
    for (const input of inputs) renderAll(input, 'failed to build resources');
    for (const object of fromTemplate) if (!isExcluded(object)) add(object, true);
  }
  return objects;
}

const goQuoted = (text: string): string => JSON.stringify(text);

/** FO ValidateResourceSetSpec: steps exclude top-level resources; each step builds something. */
function validateSpec(spec: ResourceSetSpec): void {
  if (spec.steps.length > 0 && (spec.resources.length > 0 || spec.resourcesTemplate !== ''))
    throw new AirlockError(
      'RESOURCESET_INVALID',
      'spec.steps is mutually exclusive with spec.resources and spec.resourcesTemplate',
      { data: { field: 'spec.steps' } },
    );
  for (const step of spec.steps)
    if (step.resources.length === 0 && step.resourcesTemplate === '')
      throw new AirlockError(
        'RESOURCESET_INVALID',
        `step ${goQuoted(step.name)}: at least one of resources or resourcesTemplate must be set`,
        { data: { field: 'spec.steps' } },
      );
}

/**
 * FO BuildResourceSetFromSpec: the spec checks, then the steps (an object key may appear in
 * one step only) or the one anonymous step.
 */
export function buildFromSpec(
  spec: ResourceSetSpec,
  inputs: readonly GoMap[],
): ResourceSetStepResult[] {
  validateSpec(spec);
  const funcs = baseFuncs();
  if (spec.steps.length === 0)
    return [{ objects: buildObjects(spec.resourcesTemplate, spec.resources, inputs, funcs) }];
  return buildSteps(spec.steps, inputs, funcs);
}

function buildSteps(
  steps: readonly StepSpec[],
  inputs: readonly GoMap[],
  funcs: FuncMap,
): ResourceSetStepResult[] {
  const stepOf = new Map<string, string>();
  return steps.map((step) => {
    let objects: KubeObject[];
    try {
      objects = buildObjects(step.resourcesTemplate, step.resources, inputs, funcs);
    } catch (error) {
      throw wrap(error, `step ${goQuoted(step.name)}`);
    }
    for (const object of objects) {
      const key = objectKey(object);
      const previous = stepOf.get(key);
      if (previous === step.name) continue;
      if (previous !== undefined)
        throw new AirlockError(
          'RESOURCESET_INVALID',
          `duplicate resource ${formatObject(object)} in step ${goQuoted(step.name)}, already defined in step ${goQuoted(previous)}`,
          { data: { field: 'spec.steps' } },
        );
      stepOf.set(key, step.name);
    }
    return { name: step.name, objects };
  });
}

const compareBytes = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The Static providers of the CLI's providers file (FO loadProvidersFromFile): namespace
 * defaulted to the ResourceSet's, other namespaces ignored, a name required, type Static only;
 * each exports one input set, `defaultValues` with `id` = adler32 of its name (in a cluster the
 * UID is hashed, so ids differ there).
 */
function loadProviders(objects: readonly GoMap[], namespace: string): InputProviderDoc[] {
  const providers: InputProviderDoc[] = [];
  for (const object of objects) {
    const doc = readInputProviderDoc(object);
    const providerNamespace = doc.metadata.namespace === '' ? namespace : doc.metadata.namespace;
    if (providerNamespace !== namespace) continue;
    if (doc.metadata.name === '')
      throw new AirlockError(
        'RESOURCESET_INVALID',
        'ResourceSetInputProvider name must be set in the manifest',
      );
    if (doc.type !== 'Static')
      throw new AirlockError(
        'RESOURCESET_INVALID',
        `unsupported provider type '${doc.type}', only 'Static' is supported`,
      );
    providers.push({ ...doc, metadata: { ...doc.metadata, namespace: providerNamespace } });
  }
  return providers;
}

/** FO filterProviders: `inputsFrom` entries pick providers by name or by label selector. */
function selectProviders(
  doc: ResourceSetDoc,
  providers: readonly InputProviderDoc[],
): InputProviderDoc[] {
  const byName = new Map<string, InputProviderDoc>();
  // A later provider of the same name replaces an earlier one in the operator's map.
  for (const p of providers) byName.set(p.metadata.name, p);
  const selected = new Map<string, InputProviderDoc>();
  for (const ref of doc.spec.inputsFrom) {
    if (ref.name !== '') {
      const found = byName.get(ref.name);
      // A name no provider in the file has is ignored here; the operator would fail.
      if (found !== undefined && !selected.has(ref.name)) selected.set(ref.name, found);
    } else if (ref.selector !== undefined) {
      const { selector } = ref;
      const empty = selector.matchLabels.size + selector.matchExpressions.length === 0;
      let matches;
      try {
        matches = empty ? () => true : compileLabelSelector(selector);
      } catch (error) {
        throw wrap(error, 'failed to parse selector');
      }
      for (const p of providers)
        if (!selected.has(p.metadata.name) && matches(p.metadata.labels))
          selected.set(p.metadata.name, p);
    } else {
      throw new AirlockError(
        'RESOURCESET_INVALID',
        'input provider reference must have either name or selector set',
        { data: { field: 'spec.inputsFrom' } },
      );
    }
  }
  // All providers share the GVK and namespace, so compareProviderKeys orders them by name.
  return [...selected.values()].sort((a, b) => compareBytes(a.metadata.name, b.metadata.name));
}

/**
 * Builds a ResourceSet (its first document, as parsed by parseGoYAML) into objects per step.
 * Errors carry the operator's messages: RESOURCESET_INVALID, or TEMPLATE_INVALID /
 * TEMPLATE_FAILED for templates that do not parse or fail to execute.
 */
export function buildResourceSet(
  resourceSet: GoValue,
  options: BuildResourceSetOptions = {},
): ResourceSetBuild {
  const doc = readResourceSetDoc(resourceSet);
  const inline =
    options.inputsFrom === undefined ? doc.spec.inputs : readInputsFile(options.inputsFrom);
  if (options.cli !== true) {
    if (options.providers !== undefined)
      throw new AirlockError('INPUT_INVALID', 'providers are read only in CLI mode', {
        data: { option: 'providers' },
      });
    const steps = buildFromSpec(doc.spec, inline);
    return {
      name: doc.metadata.name,
      namespace: doc.metadata.namespace,
      steps,
      objects: steps.flatMap((s) => s.objects),
      inputs: [...inline],
    };
  }
  const namespace =
    doc.metadata.namespace !== '' ? doc.metadata.namespace : (options.namespace ?? 'default');
  if (namespace === '')
    throw new AirlockError(
      'RESOURCESET_INVALID',
      'ResourceSet namespace must be set either in the manifest or with the namespace option',
      { data: { option: 'namespace' } },
    );
  const { name } = doc.metadata;
  if (name === '')
    throw new AirlockError('RESOURCESET_INVALID', 'ResourceSet name must be set in the manifest');
  if (
    doc.spec.inputsFrom.length > 0 &&
    options.inputsFrom === undefined &&
    options.providers === undefined
  )
    throw new AirlockError(
      'RESOURCESET_INVALID',
      // The operator's CLI names its flags here; the library names no flag.
      "ResourceSet has '.spec.inputsFrom', please provide the inputs with an inputs file or input providers",
      { data: { option: 'inputsFrom', field: 'spec.inputsFrom' } },
    );
  let selected: InputProviderDoc[] = [];
  if (options.providers !== undefined) {
    let loaded;
    try {
      loaded = loadProviders(options.providers, namespace);
    } catch (error) {
      throw wrap(error, 'error loading providers from file');
    }
    try {
      selected = selectProviders(doc, loaded);
    } catch (error) {
      throw wrap(error, 'error filtering providers');
    }
  }
  let inputs: GoMap[];
  try {
    inputs = combineInputs(
      [
        {
          kind: 'ResourceSet',
          name,
          inputs: withProvider(inline, {
            apiVersion: API_VERSION,
            kind: 'ResourceSet',
            name,
            namespace,
          }),
        },
        ...selected.map((p) => {
          const exported: GoMap = new Map(p.defaultValues);
          exported.set('id', inputID(p.metadata.name));
          return {
            kind: 'ResourceSetInputProvider',
            name: p.metadata.name,
            inputs: withProvider([exported], {
              apiVersion: API_VERSION,
              kind: 'ResourceSetInputProvider',
              name: p.metadata.name,
              namespace: p.metadata.namespace,
            }),
          };
        }),
      ],
      { strategy: doc.spec.inputStrategy, includeEmptyProviders: doc.spec.includeEmptyProviders },
    );
  } catch (error) {
    throw wrap(error, 'error combining inputs');
  }
  const steps = buildFromSpec(doc.spec, inputs);
  const objects = steps.flatMap((s) => s.objects);
  if (objects.length === 0)
    throw new AirlockError('RESOURCESET_INVALID', 'no objects were generated');
  const common = doc.spec.commonMetadata;
  if (common !== undefined) setCommonMetadata(objects, common.labels, common.annotations);
  setCommonMetadata(
    objects,
    new Map([
      [`${OWNER_LABEL_GROUP}/name`, name],
      [`${OWNER_LABEL_GROUP}/namespace`, namespace],
    ]),
    new Map(),
  );
  return { name, namespace, steps, objects, inputs };
}

/** sigs.k8s.io/yaml.Marshal of an Unstructured: through JSON, then go-yaml v2. */
export const marshalObject = (object: KubeObject): string => marshalGoYAML(jsonRoundTrip(object));

/**
 * What `flux-operator build resourceset` prints: `---` before each object, and
 * `# step: NAME` before the objects of each named step that has any.
 */
export function renderBuildCLI(build: Pick<ResourceSetBuild, 'steps'>): string {
  let out = '';
  for (const step of build.steps) {
    if (step.name !== undefined && step.objects.length > 0) out += `# step: ${step.name}\n`;
    for (const object of step.objects) out += `---\n${marshalObject(object)}`;
  }
  return out;
}

/**
 * ssautil.ObjectsToYAML, the form of the builder's golden files: each object followed by `---`;
 * with steps, `# step: NAME` before every step, empty ones included.
 */
export function renderBuildGolden(build: Pick<ResourceSetBuild, 'steps'>): string {
  let out = '';
  for (const step of build.steps) {
    if (step.name !== undefined) out += `# step: ${step.name}\n`;
    for (const object of step.objects) out += `${marshalObject(object)}---\n`;
  }
  return out;
}

/** The objects as plain JSON-able values (int64 beyond 2^53 as exact decimal strings). */
export function toPlain(value: GoValue): unknown {
  if (isGoMap(value)) return Object.fromEntries([...value].map(([k, v]) => [k, toPlain(v)]));
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    const n = Number(value.value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  return value;
}
