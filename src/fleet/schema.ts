// Structural validation of rendered Flux objects against the rules of their CRDs (issue 10 §6:
// "or validate structurally — say which": this is the structural form; the full openAPIV3Schema
// check against fetched CRDs is still to come). Each rule cites the CRD field it comes from:
// source-controller api/v1 ocirepository_types.go, kustomize-controller api/v1
// kustomization_types.go, helm-controller api/v2 helmrelease_types.go (kubebuilder markers).
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import type { FleetFinding } from './findings.ts';

/** metav1.Duration as the CRDs constrain it: `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`. */
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

interface Rule {
  readonly path: readonly string[];
  readonly required?: boolean;
  readonly type?: 'string' | 'boolean' | 'list' | 'map';
  readonly pattern?: RegExp;
  readonly oneOf?: readonly string[];
}

const RULES: Readonly<Record<string, readonly Rule[]>> = {
  'source.toolkit.fluxcd.io/OCIRepository': [
    { path: ['spec', 'url'], required: true, type: 'string', pattern: /^oci:\/\/.*$/ },
    { path: ['spec', 'interval'], required: true, type: 'string', pattern: DURATION },
    { path: ['spec', 'timeout'], type: 'string', pattern: DURATION },
    { path: ['spec', 'provider'], type: 'string', oneOf: ['generic', 'aws', 'azure', 'gcp'] },
    { path: ['spec', 'verify', 'provider'], type: 'string', oneOf: ['cosign', 'notation'] },
    { path: ['spec', 'ref'], type: 'map' },
  ],
  'kustomize.toolkit.fluxcd.io/Kustomization': [
    { path: ['spec', 'interval'], required: true, type: 'string', pattern: DURATION },
    { path: ['spec', 'retryInterval'], type: 'string', pattern: DURATION },
    { path: ['spec', 'timeout'], type: 'string', pattern: DURATION },
    // Prune has no omitempty: the CRD requires it (kustomization_types.go `Prune bool`).
    { path: ['spec', 'prune'], required: true, type: 'boolean' },
    { path: ['spec', 'sourceRef'], required: true, type: 'map' },
    {
      path: ['spec', 'sourceRef', 'kind'],
      required: true,
      type: 'string',
      oneOf: ['OCIRepository', 'GitRepository', 'Bucket', 'ExternalArtifact'],
    },
    { path: ['spec', 'sourceRef', 'name'], required: true, type: 'string' },
    { path: ['spec', 'path'], type: 'string' },
    { path: ['spec', 'dependsOn'], type: 'list' },
  ],
  'helm.toolkit.fluxcd.io/HelmRelease': [
    { path: ['spec', 'interval'], required: true, type: 'string', pattern: DURATION },
    { path: ['spec', 'dependsOn'], type: 'list' },
  ],
  'fluxcd.controlplane.io/ResourceSet': [
    { path: ['spec', 'inputs'], type: 'list' },
    { path: ['spec', 'resources'], type: 'list' },
    { path: ['spec', 'dependsOn'], type: 'list' },
  ],
  'fluxcd.controlplane.io/FluxInstance': [
    { path: ['spec', 'distribution'], required: true, type: 'map' },
    { path: ['spec', 'distribution', 'version'], required: true, type: 'string' },
    { path: ['spec', 'distribution', 'registry'], required: true, type: 'string' },
  ],
};

function at(object: GoMap, path: readonly string[]): GoValue | undefined {
  let value: GoValue | undefined = object;
  for (const key of path) {
    if (!isGoMap(value)) return undefined;
    value = value.get(key);
  }
  return value;
}

const typeOf = (value: GoValue): Rule['type'] | 'other' =>
  typeof value === 'string'
    ? 'string'
    : typeof value === 'boolean'
      ? 'boolean'
      : Array.isArray(value)
        ? 'list'
        : isGoMap(value)
          ? 'map'
          : 'other';

/** `schema-invalid` findings for the Flux objects of a rendered cluster. */
export function checkSchemas(
  groups: readonly { readonly appliedBy: string; readonly objects: readonly GoMap[] }[],
): FleetFinding[] {
  const findings: FleetFinding[] = [];
  for (const group of groups)
    for (const object of group.objects) {
      const apiVersion = at(object, ['apiVersion']);
      const kind = at(object, ['kind']);
      if (typeof apiVersion !== 'string' || typeof kind !== 'string') continue;
      const rules = RULES[`${apiVersion.split('/')[0] ?? ''}/${kind}`];
      if (rules === undefined) continue;
      const namespace = at(object, ['metadata', 'namespace']);
      const name = at(object, ['metadata', 'name']);
      const id = escapeControl(
        `${kind}/${typeof namespace === 'string' ? `${namespace}/` : ''}${typeof name === 'string' ? name : ''}`,
      );
      const report = (rule: Rule, message: string): void => {
        findings.push({
          rule: 'schema-invalid',
          object: id,
          appliedBy: group.appliedBy,
          field: rule.path.join('.'),
          message: escapeControl(message),
          severity: 'error',
        });
      };
      if (kind === 'HelmRelease') {
        // helmrelease_types.go XValidation: "either chart or chartRef must be set".
        const chart = at(object, ['spec', 'chart']);
        const chartRef = at(object, ['spec', 'chartRef']);
        if (
          (chart === undefined || chart === null) === (chartRef === undefined || chartRef === null)
        )
          report(
            { path: ['spec', 'chart'] },
            'exactly one of spec.chart and spec.chartRef must be set',
          );
      }
      for (const rule of rules) {
        const value = at(object, rule.path);
        if (value === undefined || value === null) {
          if (rule.required) report(rule, `${rule.path.join('.')} is required`);
          continue;
        }
        if (rule.type !== undefined && typeOf(value) !== rule.type) {
          report(rule, `${rule.path.join('.')} must be a ${rule.type}, not ${typeOf(value)}`);
          continue;
        }
        if (typeof value !== 'string') continue;
        if (rule.pattern !== undefined && !rule.pattern.test(value))
          report(
            rule,
            `${rule.path.join('.')} ${JSON.stringify(value)} does not match ${String(rule.pattern)}`,
          );
        if (rule.oneOf !== undefined && !rule.oneOf.includes(value))
          report(
            rule,
            `${rule.path.join('.')} ${JSON.stringify(value)} is not one of ${rule.oneOf.join(', ')}`,
          );
      }
    }
  return findings;
}
