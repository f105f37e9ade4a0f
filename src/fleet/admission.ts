// The fleet's own ValidatingAdmissionPolicies, evaluated offline against the rendered objects
// (issue 10 §6: "every source URL is allowed by the fleet's own ValidatingAdmissionPolicy"),
// as the API server evaluates them on CREATE (Kubernetes docs, "Validating Admission Policy";
// k8s.io/apiserver/pkg/admission/plugin/policy/validating):
//
// - A policy applies to an object when its spec.matchConstraints match (resourceRules /
//   excludeResourceRules on apiGroups, resources and operations; namespaceSelector;
//   objectSelector), and a ValidatingAdmissionPolicyBinding names the policy and its
//   spec.matchResources match as well. The namespaceSelector is evaluated against the labels of
//   the rendered Namespace objects, plus `kubernetes.io/metadata.name`, which the API server sets
//   on every namespace.
// - spec.matchConditions are evaluated first (all must be true); then spec.variables in order,
//   each visible to the later ones as `variables.<name>`; then every spec.validations[] entry.
//   CEL variables: `object`, `oldObject` (null on CREATE), `params` (the object the binding's
//   paramRef names, of the policy's paramKind), `request` (kind, resource, name, namespace,
//   operation), `namespaceObject`, `variables`. `authorizer` is not available offline.
// - A validation that is false denies with its messageExpression (or message, or "failed
//   expression: …"); an evaluation error is handled as failurePolicy says (Fail: an error).
//
// The CEL engine is @bufbuild/cel with the strings extension, and the string functions whose
// semantics differ from Kubernetes' replaced by Go's (cel-go ext/strings.go, which the API server
// installs as ext.Strings in k8s.io/apiserver/pkg/cel/environment/base.go).
import type { CelError, CelFunc, CelInput, CelValue } from '@bufbuild/cel';
import { celExtensions, celLib } from './cel.ts';
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoInt, isGoMap } from '../goyaml/index.ts';
import type { FleetFinding } from './findings.ts';
import { nestedString, nestedStringMap, objectName, objectNamespace } from './objects.ts';
import { compileLabelSelector, type LabelMatcher } from './selector.ts';

// --- Kubernetes' string library (cel-go ext/strings.go) ---------------------------------------

/** Go strings.SplitN: n < 0 all parts, 0 none, n > 0 at most n with the remainder last. */
function goSplitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  // strings.Split(s, "") explodes into code points (UTF-8 sequences), not UTF-16 units.
  const parts = sep === '' ? Array.from(s) : s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  const head = parts.slice(0, n - 1);
  return [...head, parts.slice(n - 1).join(sep)];
}

/** Go strings.Replace: n < 0 replaces all; an empty `old` matches before every code point. */
function goReplace(s: string, old: string, replacement: string, n: number): string {
  if (n === 0 || old === replacement) return s;
  if (old === '') {
    const points = Array.from(s);
    let out = '';
    let done = 0;
    for (let i = 0; i <= points.length; i++) {
      if (n < 0 || done < n) {
        out += replacement;
        done++;
      }
      out += points[i] ?? '';
    }
    return out;
  }
  let out = '';
  let at = 0;
  let done = 0;
  for (;;) {
    const found = s.indexOf(old, at);
    if (found < 0 || (n >= 0 && done >= n)) break;
    out += s.slice(at, found) + replacement;
    at = found + old.length;
    done++;
  }
  return out + s.slice(at);
}

/** cel-go indexOf/lastIndexOf count code points (runes), not UTF-16 units. */
function runeIndex(s: string, sub: string, from: number | undefined, last: boolean): bigint {
  const runes = Array.from(s);
  const subRunes = Array.from(sub);
  if (from !== undefined && (from < 0 || from >= runes.length) && !(sub === '' && !last))
    throw new Error(`index out of range: ${from}`);
  const matchesAt = (i: number): boolean => subRunes.every((r, j) => runes[i + j] === r);
  if (last) {
    if (sub === '') return BigInt(from ?? runes.length);
    let i = Math.min(from ?? runes.length, runes.length - subRunes.length);
    for (; i >= 0; i--) if (matchesAt(i)) return BigInt(i);
    return -1n;
  }
  if (sub === '') return BigInt(from ?? 0);
  for (let i = from ?? 0; i + subRunes.length <= runes.length; i++)
    if (matchesAt(i)) return BigInt(i);
  return -1n;
}

const REPLACED = new Set(['split', 'replace', 'indexOf', 'lastIndexOf']);

type CelFunctions = CelFunc[];
type CelEnvironment = ReturnType<ReturnType<typeof celLib>['celEnv']>;

/** The Kubernetes string library over @bufbuild/cel's strings extension. */
function kubernetesStrings(): CelFunctions {
  const { CelScalar, celList, celMethod, listType } = celLib();
  const S = CelScalar.STRING;
  const I = CelScalar.INT;
  return [
    ...celExtensions().strings.filter((f) => !REPLACED.has(f.name)),
    celMethod('split', S, [S], listType(S), function (sep) {
      return celList(goSplitN(this, sep, -1));
    }),
    celMethod('split', S, [S, I], listType(S), function (sep, n) {
      return celList(goSplitN(this, sep, Number(n)));
    }),
    celMethod('replace', S, [S, S], S, function (old, replacement) {
      return goReplace(this, old, replacement, -1);
    }),
    celMethod('replace', S, [S, S, I], S, function (old, replacement, n) {
      return goReplace(this, old, replacement, Number(n));
    }),
    celMethod('indexOf', S, [S], I, function (sub) {
      return runeIndex(this, sub, undefined, false);
    }),
    celMethod('indexOf', S, [S, I], I, function (sub, from) {
      return runeIndex(this, sub, Number(from), false);
    }),
    celMethod('lastIndexOf', S, [S], I, function (sub) {
      return runeIndex(this, sub, undefined, true);
    }),
    celMethod('lastIndexOf', S, [S, I], I, function (sub, from) {
      return runeIndex(this, sub, Number(from), true);
    }),
  ];
}

let environment: CelEnvironment | undefined;
/** The CEL environment, built on first use (see cel.ts). */
function celEnvironment(): CelEnvironment {
  environment ??= celLib().celEnv({ funcs: kubernetesStrings() });
  return environment;
}

const isCelError = (value: unknown): value is CelError => celLib().isCelError(value);

/** Exported for tests: evaluates one expression with the Kubernetes string library. */
export function evaluateCEL(expression: string, bindings: Record<string, CelInput>): CelValue {
  const result = celLib().plan(celEnvironment(), celLib().parse(expression))(bindings);
  if (isCelError(result)) throw result;
  return result;
}

// --- Objects as CEL values -------------------------------------------------------------------

/** A Go value as CEL input: int64 → int, float64 → double, maps and lists recursively. */
function toCel(value: GoValue): CelInput {
  if (isGoInt(value)) return value.value;
  if (isGoMap(value)) {
    const out = new Map<string, CelInput>();
    for (const [k, v] of value) out.set(k, toCel(v));
    return out;
  }
  if (Array.isArray(value)) return value.map(toCel);
  return value;
}

// --- Matching ----------------------------------------------------------------------------------

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const strings_ = (value: GoValue | undefined): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
};

/**
 * The resource (plural) of a kind, as the API server's RESTMapper guesses it for CRDs and core
 * kinds alike (k8s.io/apimachinery pkg/api/meta/restmapper.go UnsafeGuessKindToResource).
 */
export function kindToResource(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower === '') return '';
  if (lower.endsWith('s')) return `${lower}es`;
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/** A NamedRuleWithOperations matches the CREATE of this object (subresource rules never do). */
function ruleMatches(rule: GoValue, group: string, resource: string, name: string): boolean {
  const groups = strings_(field(rule, 'apiGroups'));
  const resources = strings_(field(rule, 'resources'));
  const operations = strings_(field(rule, 'operations'));
  const names = strings_(field(rule, 'resourceNames'));
  return (
    (groups.includes('*') || groups.includes(group)) &&
    (resources.includes('*') || resources.includes(resource)) &&
    (operations.includes('*') || operations.includes('CREATE')) &&
    (names.length === 0 || names.includes(name))
  );
}

function selectorOf(value: GoValue | undefined): LabelMatcher {
  const matchLabels = new Map<string, string>();
  const labels = field(value, 'matchLabels');
  if (isGoMap(labels))
    for (const [k, v] of labels) if (typeof v === 'string') matchLabels.set(k, v);
  const expressions = field(value, 'matchExpressions');
  const matchExpressions = (Array.isArray(expressions) ? expressions : []).map((e) => ({
    key: typeof field(e, 'key') === 'string' ? (field(e, 'key') as string) : '',
    operator: typeof field(e, 'operator') === 'string' ? (field(e, 'operator') as string) : '',
    values: strings_(field(e, 'values')),
  }));
  return compileLabelSelector({ matchLabels, matchExpressions });
}

interface Subject {
  readonly object: GoMap;
  readonly appliedBy: string;
  readonly id: string;
  readonly group: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
}

/** MatchResources (policy matchConstraints or binding matchResources) against one object. */
function matchResources(
  match: GoValue | undefined,
  subject: Subject,
  namespaceLabels: (namespace: string) => ReadonlyMap<string, string>,
  requireRules: boolean,
): boolean {
  const rules = field(match, 'resourceRules');
  if (Array.isArray(rules)) {
    if (!rules.some((r) => ruleMatches(r, subject.group, subject.resource, subject.name)))
      return false;
  } else if (requireRules) return false;
  const excluded = field(match, 'excludeResourceRules');
  if (
    Array.isArray(excluded) &&
    excluded.some((r) => ruleMatches(r, subject.group, subject.resource, subject.name))
  )
    return false;
  const nsSelector = field(match, 'namespaceSelector');
  if (nsSelector !== undefined && nsSelector !== null) {
    // Cluster-scoped objects are not filtered by namespaceSelector, except a Namespace itself,
    // which is matched by its own labels (admissionregistration/v1 MatchResources docs).
    const isNamespace = subject.group === '' && subject.resource === 'namespaces';
    const ns = isNamespace ? subject.name : subject.namespace;
    if (ns !== '' && !selectorOf(nsSelector)(namespaceLabels(ns))) return false;
  }
  const objSelector = field(match, 'objectSelector');
  if (objSelector !== undefined && objSelector !== null) {
    const labels = nestedStringMap(subject.object, 'metadata', 'labels') ?? new Map();
    if (!selectorOf(objSelector)(labels)) return false;
  }
  return true;
}

// --- Evaluation --------------------------------------------------------------------------------

const ADMISSION_GROUP = 'admissionregistration.k8s.io';

const ref = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);

const errorText = (error: unknown): string =>
  escapeControl(error instanceof Error ? error.message : String(error));

/** The object fields a CEL expression reads as `object.a.b…`, for the finding's field. */
const objectPaths = (expression: string): string[] =>
  [...expression.matchAll(/\bobject((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) =>
    (m[1] ?? '').slice(1),
  );

/**
 * Evaluates every ValidatingAdmissionPolicy in the rendered objects against the objects it and
 * its bindings select, as their CREATE would be admitted. Accepts render groups (each finding
 * then names the Flux object that applies the denied object) or plain objects.
 */
export function checkAdmissionPolicies(
  input:
    | readonly { readonly appliedBy: string; readonly objects: readonly GoMap[] }[]
    | readonly GoMap[],
): FleetFinding[] {
  const groups = input.map((entry) =>
    isGoMap(entry as GoValue)
      ? { appliedBy: '', objects: [entry as GoMap] }
      : (entry as { appliedBy: string; objects: readonly GoMap[] }),
  );
  const subjects: Subject[] = [];
  for (const g of groups)
    for (const object of g.objects) {
      const kind = nestedString(object, 'kind');
      subjects.push({
        object,
        appliedBy: g.appliedBy,
        id: ref(kind, objectNamespace(object), objectName(object)),
        group: groupOf(nestedString(object, 'apiVersion')),
        resource: kindToResource(kind),
        namespace: objectNamespace(object),
        name: objectName(object),
      });
    }
  const of = (group: string, kind: string): Subject[] =>
    subjects.filter((s) => s.group === group && nestedString(s.object, 'kind') === kind);
  const namespaces = new Map<string, GoMap>();
  for (const s of of('', 'Namespace')) namespaces.set(s.name, s.object);
  const namespaceLabels = (ns: string): ReadonlyMap<string, string> => {
    const labels = new Map(
      nestedStringMap(namespaces.get(ns) ?? new Map<string, GoValue>(), 'metadata', 'labels'),
    );
    labels.set('kubernetes.io/metadata.name', ns);
    return labels;
  };

  const findings: FleetFinding[] = [];
  const policies = of(ADMISSION_GROUP, 'ValidatingAdmissionPolicy');
  const bindings = of(ADMISSION_GROUP, 'ValidatingAdmissionPolicyBinding');
  for (const policy of policies) {
    const spec = policy.object.get('spec');
    const failClosed = str(field(spec, 'failurePolicy')) !== 'Ignore';
    const paramKind = field(spec, 'paramKind');
    const compiled = compilePolicy(spec, policy, findings);
    if (compiled === undefined) continue;
    for (const binding of bindings) {
      const bindingSpec = binding.object.get('spec');
      if (str(field(bindingSpec, 'policyName')) !== policy.name) continue;
      const actions = strings_(field(bindingSpec, 'validationActions'));
      const severity: FleetFinding['severity'] = actions.includes('Deny') ? 'error' : 'warning';
      const paramRef = field(bindingSpec, 'paramRef');
      for (const subject of subjects) {
        if (!matchResources(field(spec, 'matchConstraints'), subject, namespaceLabels, true))
          continue;
        if (!matchResources(field(bindingSpec, 'matchResources'), subject, namespaceLabels, false))
          continue;
        const finding = (
          rule: string,
          message: string,
          fieldPath: string,
          sev = severity,
        ): void => {
          findings.push({
            rule,
            object: subject.id,
            ...(subject.appliedBy === '' ? {} : { appliedBy: subject.appliedBy }),
            field: fieldPath,
            message: `${message} (${policy.id}, binding ${binding.id})`,
            severity: sev,
          });
        };
        const onError = (message: string): void =>
          finding('admission-error', message, policy.id, failClosed ? 'error' : 'warning');
        let params: CelInput = null;
        if (paramKind !== undefined && paramKind !== null && paramRef !== undefined) {
          const found = findParam(subjects, paramKind, paramRef, subject.namespace);
          if (found === undefined) {
            if (str(field(paramRef, 'parameterNotFoundAction')) !== 'Allow')
              finding(
                'admission-denied',
                `no params found for policy binding with Deny parameterNotFoundAction: ${paramDescription(paramKind, paramRef, subject.namespace)}`,
                policy.id,
              );
            continue;
          }
          params = toCel(found);
        }
        const namespaceObject = namespaces.get(subject.namespace);
        const bindingsBase: Record<string, CelInput> = {
          object: toCel(subject.object),
          oldObject: null,
          params,
          namespaceObject: namespaceObject === undefined ? null : toCel(namespaceObject),
          request: new Map<string, CelInput>([
            ['operation', 'CREATE'],
            ['name', subject.name],
            ['namespace', subject.namespace],
            [
              'kind',
              new Map([
                ['group', subject.group],
                ['kind', nestedString(subject.object, 'kind')],
              ]),
            ],
            [
              'resource',
              new Map([
                ['group', subject.group],
                ['resource', subject.resource],
              ]),
            ],
            ['userInfo', new Map([['username', '']])],
            ['dryRun', false],
          ]),
        };
        evaluate(compiled, bindingsBase, finding, onError);
      }
    }
  }
  return findings;
}

const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

interface CompiledExpression {
  readonly source: string;
  readonly run: (bindings: Record<string, CelInput>) => CelValue | CelError;
}

interface CompiledPolicy {
  readonly matchConditions: (CompiledExpression & { name: string })[];
  readonly variables: (CompiledExpression & { name: string })[];
  readonly validations: {
    readonly index: number;
    readonly expression: CompiledExpression;
    readonly message: string;
    readonly messageExpression?: CompiledExpression;
    readonly field: string;
  }[];
}

/** Parses every expression once; a parse error is an admission-error on the policy. */
function compilePolicy(
  spec: GoValue | undefined,
  policy: Subject,
  findings: FleetFinding[],
): CompiledPolicy | undefined {
  const state = { ok: true };
  const compile = (source: string, at: string): CompiledExpression => {
    try {
      const run = celLib().plan(celEnvironment(), celLib().parse(source));
      return { source, run: (b) => run(b) };
    } catch (error) {
      state.ok = false;
      findings.push({
        rule: 'admission-error',
        object: policy.id,
        ...(policy.appliedBy === '' ? {} : { appliedBy: policy.appliedBy }),
        field: at,
        message: `CEL expression does not parse: ${errorText(error)}`,
        severity: 'error',
      });
      // Never run: a policy with an expression that does not parse is not evaluated.
      return { source, run: () => null };
    }
  };
  const list = (key: string): GoValue[] => {
    const value = field(spec, key);
    return Array.isArray(value) ? value : [];
  };
  const variables = list('variables').map((v, i) => ({
    name: str(field(v, 'name')),
    ...compile(str(field(v, 'expression')), `spec.variables[${i}].expression`),
  }));
  const matchConditions = list('matchConditions').map((c, i) => ({
    name: str(field(c, 'name')),
    ...compile(str(field(c, 'expression')), `spec.matchConditions[${i}].expression`),
  }));
  const validations = list('validations').map((v, i) => {
    const expression = compile(str(field(v, 'expression')), `spec.validations[${i}].expression`);
    const messageExpression = str(field(v, 'messageExpression'));
    // The field a denial is about: the one object field the expression (and the variables it
    // uses) read, e.g. spec.url for the source allowlist; otherwise the policy itself.
    const read = new Set(objectPaths(expression.source));
    for (const variable of variables)
      if (new RegExp(`\\bvariables\\.${variable.name}\\b`).test(expression.source))
        for (const path of objectPaths(variable.source)) read.add(path);
    return {
      index: i,
      expression,
      message: str(field(v, 'message')),
      ...(messageExpression === ''
        ? {}
        : {
            messageExpression: compile(
              messageExpression,
              `spec.validations[${i}].messageExpression`,
            ),
          }),
      field: read.size === 1 ? ([...read][0] as string) : policy.id,
    };
  });
  return state.ok ? { matchConditions, variables, validations } : undefined;
}

function evaluate(
  policy: CompiledPolicy,
  base: Record<string, CelInput>,
  finding: (rule: string, message: string, field: string) => void,
  onError: (message: string) => void,
): void {
  // matchConditions: all true → evaluate; any false → skip; an error → failurePolicy.
  for (const condition of policy.matchConditions) {
    const result = condition.run(base);
    if (isCelError(result) || typeof result !== 'boolean') {
      onError(
        `matchCondition ${escapeControl(condition.name)}: ${isCelError(result) ? errorText(result) : 'must evaluate to bool'}`,
      );
      return;
    }
    if (!result) return;
  }
  const variables = new Map<string, CelInput>();
  const scope = { ...base, variables };
  for (const variable of policy.variables) {
    const result = variable.run(scope);
    if (isCelError(result)) {
      onError(`variable ${escapeControl(variable.name)}: ${errorText(result)}`);
      return;
    }
    variables.set(variable.name, result);
  }
  for (const validation of policy.validations) {
    const result = validation.expression.run(scope);
    if (isCelError(result) || typeof result !== 'boolean') {
      onError(
        `validation ${validation.index}: ${isCelError(result) ? errorText(result) : 'must evaluate to bool'}`,
      );
      continue;
    }
    if (result) continue;
    let message =
      validation.message === ''
        ? `failed expression: ${validation.expression.source}`
        : validation.message;
    if (validation.messageExpression !== undefined) {
      const text = validation.messageExpression.run(scope);
      // A messageExpression that errors or is not a non-empty string falls back to message.
      if (typeof text === 'string' && text.trim() !== '') message = text;
    }
    finding('admission-denied', escapeControl(message), validation.field);
  }
}

/** The param object: paramKind's apiVersion/kind, paramRef's name in its namespace (or the object's). */
function findParam(
  subjects: readonly Subject[],
  paramKind: GoValue,
  paramRef: GoValue,
  objectNs: string,
): GoMap | undefined {
  const apiVersion = str(field(paramKind, 'apiVersion'));
  const kind = str(field(paramKind, 'kind'));
  const name = str(field(paramRef, 'name'));
  const namespace = str(field(paramRef, 'namespace')) || objectNs;
  return subjects.find(
    (s) =>
      nestedString(s.object, 'apiVersion') === apiVersion &&
      nestedString(s.object, 'kind') === kind &&
      s.name === name &&
      (s.namespace === namespace || s.namespace === ''),
  )?.object;
}

const paramDescription = (paramKind: GoValue, paramRef: GoValue, objectNs: string): string =>
  ref(
    str(field(paramKind, 'kind')),
    str(field(paramRef, 'namespace')) || objectNs,
    str(field(paramRef, 'name')),
  );
