// Kubernetes label selectors (metav1.LabelSelector → labels.Selector, k8s.io/apimachinery
// v0.36.3 pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector and pkg/labels/selector.go): how
// `inputsFrom[].selector` picks ResourceSetInputProviders (../shared/reference/resourceset.md
// §1.3, §6.3). matchLabels and matchExpressions are ANDed; an empty selector matches everything.
import { AirlockError } from '../errors.ts';

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: ReadonlyMap<string, string>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

export type LabelMatcher = (labels: ReadonlyMap<string, string>) => boolean;

// k8s.io/apimachinery/pkg/util/validation: IsQualifiedName and IsValidLabelValue.
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblems(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const problems: string[] = [];
  if (parts.length === 2) {
    const [prefix = '', rest = ''] = parts;
    name = rest;
    if (prefix.length === 0) problems.push('prefix part must be non-empty');
    else if (prefix.length > 253) problems.push('prefix part must be no more than 253 bytes');
    else if (!DNS1123_SUBDOMAIN.test(prefix))
      problems.push(
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
      );
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character with an optional DNS subdomain prefix and '/'",
    ];
  }
  if (name.length === 0) problems.push('name part must be non-empty');
  else if (name.length > 63) problems.push('name part must be no more than 63 bytes');
  if (name.length > 0 && !NAME_PART.test(name))
    problems.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    );
  return problems;
}

function valueProblems(value: string): string[] {
  const problems: string[] = [];
  if (value.length > 63) problems.push('must be no more than 63 bytes');
  if (value.length > 0 && !NAME_PART.test(value))
    problems.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
    );
  return problems;
}

const goStrings = (values: readonly string[]): string =>
  `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;

/**
 * Compiles a selector, refusing what NewRequirement refuses (invalid keys and values, In/NotIn
 * without values, Exists/DoesNotExist with values, unknown operators).
 */
export function compileLabelSelector(selector: LabelSelector): LabelMatcher {
  const requirements: ((labels: ReadonlyMap<string, string>) => boolean)[] = [];
  const problems: string[] = [];
  const checkKey = (key: string): void => {
    const found = keyProblems(key);
    if (found.length > 0)
      problems.push(`key: Invalid value: ${JSON.stringify(key)}: ${found.join('; ')}`);
  };
  const checkValues = (key: string, values: readonly string[]): void => {
    values.forEach((value, i) => {
      const found = valueProblems(value);
      if (found.length > 0)
        problems.push(
          `values[${i}][${key}]: Invalid value: ${JSON.stringify(value)}: ${found.join('; ')}`,
        );
    });
  };
  for (const [key, value] of selector.matchLabels) {
    checkKey(key);
    checkValues(key, [value]);
    requirements.push((labels) => labels.get(key) === value);
  }
  for (const expression of selector.matchExpressions) {
    const { key, operator, values } = expression;
    const set = new Set(values);
    switch (operator) {
      case 'In':
      case 'NotIn':
        break;
      case 'Exists':
      case 'DoesNotExist':
        break;
      default:
        throw new AirlockError(
          'RESOURCESET_INVALID',
          `${JSON.stringify(operator)} is not a valid label selector operator`,
        );
    }
    checkKey(key);
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0)
      problems.push(
        `values: Invalid value: ${goStrings(values)}: for 'in', 'notin' operators, values set can't be empty`,
      );
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0)
      problems.push(
        `values: Invalid value: ${goStrings(values)}: values set must be empty for exists and does not exist`,
      );
    checkValues(key, values);
    if (operator === 'In')
      requirements.push((labels) => labels.has(key) && set.has(labels.get(key) as string));
    else if (operator === 'NotIn')
      requirements.push((labels) => !labels.has(key) || !set.has(labels.get(key) as string));
    else if (operator === 'Exists') requirements.push((labels) => labels.has(key));
    else requirements.push((labels) => !labels.has(key));
  }
  if (problems.length > 0)
    throw new AirlockError(
      'RESOURCESET_INVALID',
      problems.length === 1 ? (problems[0] as string) : `[${problems.join(', ')}]`,
    );
  return (labels) => requirements.every((requirement) => requirement(labels));
}
