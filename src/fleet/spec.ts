// The typed view of a ResourceSet and a ResourceSetInputProvider, read the way Go's
// encoding/json fills FO's api/v1 structs (FO @17c6aea api/v1/resourceset_types.go,
// resourcesetinputprovider_types.go): unknown fields ignored, null leaves a field at its zero
// value, a value of the wrong type is an error naming the field.
import { AirlockError } from '../errors.ts';
import { type GoMap, type GoValue, isGoInt, isGoMap } from '../goyaml/index.ts';
import { jsonRoundTrip } from './inputs.ts';
import type { LabelSelector, LabelSelectorRequirement } from './selector.ts';

export interface InputsFromRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Absent when the field is absent or null (Go: a nil *LabelSelector). */
  readonly selector?: LabelSelector;
}

export interface StepSpec {
  readonly name: string;
  readonly resources: readonly GoValue[];
  readonly resourcesTemplate: string;
}

export interface ResourceSetSpec {
  readonly commonMetadata?: {
    readonly labels: ReadonlyMap<string, string>;
    readonly annotations: ReadonlyMap<string, string>;
  };
  readonly inputStrategy: string;
  readonly includeEmptyProviders: boolean;
  readonly inputs: readonly GoMap[];
  readonly inputsFrom: readonly InputsFromRef[];
  readonly resources: readonly GoValue[];
  readonly resourcesTemplate: string;
  readonly steps: readonly StepSpec[];
}

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels: ReadonlyMap<string, string>;
}

export interface ResourceSetDoc {
  readonly metadata: ObjectMeta;
  readonly spec: ResourceSetSpec;
}

export interface InputProviderDoc {
  readonly metadata: ObjectMeta;
  readonly type: string;
  readonly defaultValues: GoMap;
}

function jsonType(value: GoValue): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' || isGoInt(value)) return 'number';
  return 'object';
}

class Reader {
  readonly #what: string;
  constructor(what: string) {
    this.#what = what;
  }

  fail(path: string, value: GoValue, goType: string): never {
    throw new AirlockError(
      'RESOURCESET_INVALID',
      `${this.#what}: json: cannot unmarshal ${jsonType(value)} into Go struct field ${path} of type ${goType}`,
      { data: { field: path } },
    );
  }

  string(value: GoValue | undefined, path: string): string {
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') this.fail(path, value, 'string');
    return value;
  }

  bool(value: GoValue | undefined, path: string): boolean {
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') this.fail(path, value, 'bool');
    return value;
  }

  map(value: GoValue | undefined, path: string, goType: string): GoMap | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isGoMap(value)) this.fail(path, value, goType);
    return value;
  }

  list(value: GoValue | undefined, path: string, goType: string): readonly GoValue[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(path, value, goType);
    return value;
  }

  stringMap(value: GoValue | undefined, path: string): Map<string, string> {
    const out = new Map<string, string>();
    const map = this.map(value, path, 'map[string]string');
    for (const [k, v] of map ?? []) {
      // A null value leaves Go's map entry as the zero value "".
      out.set(k, this.string(v, path));
    }
    return out;
  }

  stringList(value: GoValue | undefined, path: string): string[] {
    return this.list(value, path, '[]string').map((v) => this.string(v, path));
  }

  /** A map[string]*apiextensionsv1.JSON read back through util/json (ints stay int64). */
  input(value: GoValue, path: string): GoMap {
    const map = this.map(value, path, `v1.ResourceSetInput`);
    return map === undefined ? new Map<string, GoValue>() : (jsonRoundTrip(map) as GoMap);
  }

  metadata(object: GoMap, kind: string): ObjectMeta {
    const metadata = this.map(object.get('metadata'), `${kind}.metadata`, 'v1.ObjectMeta');
    return {
      name: this.string(metadata?.get('name'), `${kind}.metadata.name`),
      namespace: this.string(metadata?.get('namespace'), `${kind}.metadata.namespace`),
      labels: this.stringMap(metadata?.get('labels'), `${kind}.metadata.labels`),
    };
  }

  selector(value: GoValue | undefined, path: string): LabelSelector | undefined {
    const map = this.map(value, path, 'v1.LabelSelector');
    if (map === undefined) return undefined;
    const expressions: LabelSelectorRequirement[] = this.list(
      map.get('matchExpressions'),
      `${path}.matchExpressions`,
      '[]v1.LabelSelectorRequirement',
    ).map((entry) => {
      const e = this.map(entry, `${path}.matchExpressions`, 'v1.LabelSelectorRequirement');
      return {
        key: this.string(e?.get('key'), `${path}.matchExpressions.key`),
        operator: this.string(e?.get('operator'), `${path}.matchExpressions.operator`),
        values: this.stringList(e?.get('values'), `${path}.matchExpressions.values`),
      };
    });
    return {
      matchLabels: this.stringMap(map.get('matchLabels'), `${path}.matchLabels`),
      matchExpressions: expressions,
    };
  }
}

const rootType = (value: GoValue, goType: string, what: string): GoMap => {
  if (value === null) return new Map<string, GoValue>();
  if (!isGoMap(value))
    throw new AirlockError(
      'RESOURCESET_INVALID',
      `${what}: json: cannot unmarshal ${jsonType(value)} into Go value of type ${goType}`,
    );
  return value;
};

/** A ResourceSet document (the first of its file), as `yaml.Unmarshal` into v1.ResourceSet. */
export function readResourceSetDoc(
  value: GoValue,
  what = 'error parsing ResourceSet',
): ResourceSetDoc {
  const r = new Reader(what);
  const root = rootType(value, 'v1.ResourceSet', what);
  const spec =
    r.map(root.get('spec'), 'ResourceSet.spec', 'v1.ResourceSetSpec') ?? new Map<string, GoValue>();
  const common = r.map(
    spec.get('commonMetadata'),
    'ResourceSet.spec.commonMetadata',
    'v1.CommonMetadata',
  );
  const strategy = r.map(
    spec.get('inputStrategy'),
    'ResourceSet.spec.inputStrategy',
    'v1.InputStrategySpec',
  );
  const steps = r
    .list(spec.get('steps'), 'ResourceSet.spec.steps', '[]v1.ResourceSetStep')
    .map((entry): StepSpec => {
      const step =
        r.map(entry, 'ResourceSet.spec.steps', 'v1.ResourceSetStep') ?? new Map<string, GoValue>();
      return {
        name: r.string(step.get('name'), 'ResourceSet.spec.steps.name'),
        resources: r.list(step.get('resources'), 'ResourceSet.spec.steps.resources', '[]*v1.JSON'),
        resourcesTemplate: r.string(
          step.get('resourcesTemplate'),
          'ResourceSet.spec.steps.resourcesTemplate',
        ),
      };
    });
  return {
    metadata: r.metadata(root, 'ResourceSet'),
    spec: {
      ...(common === undefined
        ? {}
        : {
            commonMetadata: {
              labels: r.stringMap(common.get('labels'), 'ResourceSet.spec.commonMetadata.labels'),
              annotations: r.stringMap(
                common.get('annotations'),
                'ResourceSet.spec.commonMetadata.annotations',
              ),
            },
          }),
      inputStrategy: r.string(strategy?.get('name'), 'ResourceSet.spec.inputStrategy.name'),
      includeEmptyProviders: r.bool(
        strategy?.get('includeEmptyProviders'),
        'ResourceSet.spec.inputStrategy.includeEmptyProviders',
      ),
      inputs: readInputList(spec.get('inputs'), r, 'ResourceSet.spec.inputs'),
      inputsFrom: r
        .list(spec.get('inputsFrom'), 'ResourceSet.spec.inputsFrom', '[]v1.InputProviderReference')
        .map((entry): InputsFromRef => {
          const ref = r.map(entry, 'ResourceSet.spec.inputsFrom', 'v1.InputProviderReference');
          const selector = r.selector(ref?.get('selector'), 'ResourceSet.spec.inputsFrom.selector');
          return {
            apiVersion: r.string(ref?.get('apiVersion'), 'ResourceSet.spec.inputsFrom.apiVersion'),
            kind: r.string(ref?.get('kind'), 'ResourceSet.spec.inputsFrom.kind'),
            name: r.string(ref?.get('name'), 'ResourceSet.spec.inputsFrom.name'),
            ...(selector === undefined ? {} : { selector }),
          };
        }),
      resources: r.list(spec.get('resources'), 'ResourceSet.spec.resources', '[]*v1.JSON'),
      resourcesTemplate: r.string(
        spec.get('resourcesTemplate'),
        'ResourceSet.spec.resourcesTemplate',
      ),
      steps,
    },
  };
}

function readInputList(value: GoValue | undefined, r: Reader, path: string): GoMap[] {
  return r.list(value, path, '[]v1.ResourceSetInput').map((entry) => r.input(entry, path));
}

/** An inputs file (a YAML list of maps), as `yaml.Unmarshal` into []v1.ResourceSetInput. */
export function readInputsFile(value: GoValue, what = 'error parsing inputs file'): GoMap[] {
  if (value !== null && !Array.isArray(value))
    throw new AirlockError(
      'RESOURCESET_INVALID',
      `${what}: json: cannot unmarshal ${jsonType(value)} into Go value of type []v1.ResourceSetInput`,
    );
  return readInputList(value, new Reader(what), '[]v1.ResourceSetInput');
}

/** A ResourceSetInputProvider object (already read as a Kubernetes object). */
export function readInputProviderDoc(
  object: GoMap,
  what = 'error parsing inputs provider file',
): InputProviderDoc {
  const r = new Reader(what);
  const spec =
    r.map(object.get('spec'), 'ResourceSetInputProvider.spec', 'v1.ResourceSetInputProviderSpec') ??
    new Map<string, GoValue>();
  return {
    metadata: r.metadata(object, 'ResourceSetInputProvider'),
    type: r.string(spec.get('type'), 'ResourceSetInputProvider.spec.type'),
    defaultValues: r.input(
      spec.get('defaultValues') ?? null,
      'ResourceSetInputProvider.spec.defaultValues',
    ),
  };
}
