import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type GoMap, parseGoYAMLDocuments } from '../goyaml/index.ts';
import { checkAdmissionPolicies, evaluateCEL, kindToResource } from './admission.ts';
import { scaffoldFleet } from './init.ts';

const docs = (yaml: string): GoMap[] => parseGoYAMLDocuments(yaml) as GoMap[];

/** The allowlist policy, ConfigMap and binding exactly as fleet init writes them. */
const policies = (): GoMap[] =>
  docs(scaffoldFleet({ registry: 'registry.internal:5000' }).get('platform/policies.yaml') ?? '');

const namespace = (name: string, labels: Record<string, string> = {}): string =>
  [
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${name}`,
    ...(Object.keys(labels).length === 0
      ? []
      : ['  labels:', ...Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`)]),
    '---',
    '',
  ].join('\n');

const source = (ns: string, url: string, kind = 'OCIRepository'): string =>
  [
    'apiVersion: source.toolkit.fluxcd.io/v1',
    `kind: ${kind}`,
    'metadata:',
    '  name: platform',
    `  namespace: ${ns}`,
    'spec:',
    `  url: ${JSON.stringify(url)}`,
    '---',
    '',
  ].join('\n');

const TENANT = { 'toolkit.fluxcd.io/role': 'tenant' };

describe('checkAdmissionPolicies: the fleet init source allowlist', () => {
  it('passes sources under oci://REGISTRY/ in tenant namespaces', () => {
    const findings = checkAdmissionPolicies([
      ...policies(),
      ...docs(
        namespace('cilium', TENANT) +
          source('cilium', 'oci://registry.internal:5000/platform/cilium'),
      ),
    ]);
    assert.deepEqual(findings, []);
  });

  it('denies a source outside the allowlist in a tenant namespace with the policy message', () => {
    const findings = checkAdmissionPolicies([
      { appliedBy: 'Kustomization/flux-system/platform', objects: policies() },
      {
        appliedBy: 'ResourceSet/flux-system/core',
        objects: docs(namespace('cilium', TENANT) + source('cilium', 'oci://ghcr.io/other/x')),
      },
    ]);
    assert.equal(findings.length, 1, JSON.stringify(findings));
    const finding = findings[0];
    assert.ok(finding);
    assert.equal(finding.rule, 'admission-denied');
    assert.equal(finding.object, 'OCIRepository/cilium/platform');
    assert.equal(finding.appliedBy, 'ResourceSet/flux-system/core');
    assert.equal(finding.field, 'spec.url');
    assert.equal(finding.severity, 'error');
    // The messageExpression, evaluated: split(' ') and join(", ") from the string library.
    assert.ok(
      finding.message.startsWith(
        'Source oci://ghcr.io/other/x is not allowed, must be one of oci://registry.internal:5000/',
      ),
      finding.message,
    );
  });

  it('does not check namespaces without the tenant label, nor kinds outside the rules', () => {
    const findings = checkAdmissionPolicies([
      ...policies(),
      ...docs(
        namespace('infra') +
          source('infra', 'oci://ghcr.io/other/x') +
          // Not rendered at all: only kubernetes.io/metadata.name, so not a tenant.
          source('elsewhere', 'oci://ghcr.io/other/x') +
          namespace('apps', TENANT) +
          source('apps', 'oci://ghcr.io/other/x', 'Bucket'),
      ),
    ]);
    assert.deepEqual(findings, []);
  });

  it('a GitRepository and a HelmRepository are checked too (the rule lists all three)', () => {
    const findings = checkAdmissionPolicies([
      ...policies(),
      ...docs(
        namespace('apps', TENANT) +
          source('apps', 'https://github.com/x/y', 'GitRepository') +
          source('apps', 'oci://registry.internal:5000/charts', 'HelmRepository'),
      ),
    ]);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.object]),
      [['admission-denied', 'GitRepository/apps/platform']],
    );
  });

  it('exists_one: a URL matched by two allowed prefixes is denied', () => {
    const objects = policies();
    const cm = objects.find((o) => o.get('kind') === 'ConfigMap');
    (cm?.get('data') as GoMap).set(
      'sources',
      'oci://registry.internal:5000/ oci://registry.internal:5000/platform/',
    );
    const findings = checkAdmissionPolicies([
      ...objects,
      ...docs(namespace('a', TENANT) + source('a', 'oci://registry.internal:5000/platform/a')),
    ]);
    assert.equal(findings[0]?.rule, 'admission-denied');
  });

  it('a missing param with parameterNotFoundAction Deny denies; an expression error is admission-error', () => {
    const withoutParam = policies().filter((o) => o.get('kind') !== 'ConfigMap');
    const denied = checkAdmissionPolicies([
      ...withoutParam,
      ...docs(namespace('a', TENANT) + source('a', 'oci://registry.internal:5000/a')),
    ]);
    const first = denied[0];
    assert.ok(first);
    assert.equal(first.rule, 'admission-denied');
    assert.match(first.message, /no params found/);

    // A source without spec.url: object.spec.url is "no such key", the variable errors.
    const broken = checkAdmissionPolicies([
      ...policies(),
      ...docs(
        namespace('a', TENANT) +
          'apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: x, namespace: a}\nspec: {}\n',
      ),
    ]);
    assert.deepEqual(
      broken.map((f) => [f.rule, f.severity]),
      [['admission-error', 'error']],
    );
  });

  it('an expression that does not parse is an admission-error on the policy', () => {
    const objects = policies();
    const policy = objects.find((o) => o.get('kind') === 'ValidatingAdmissionPolicy');
    const validations = (policy?.get('spec') as GoMap).get('validations') as GoMap[];
    validations[0]?.set('expression', 'variables.sources.exists_one(');
    const findings = checkAdmissionPolicies(objects);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.object, f.field]),
      [
        [
          'admission-error',
          'ValidatingAdmissionPolicy/source.policy.airlock.dev',
          'spec.validations[0].expression',
        ],
      ],
    );
  });
});

describe('the Kubernetes CEL string library (cel-go ext/strings.go semantics)', () => {
  const run = (expression: string): unknown => {
    const value = evaluateCEL(expression, {});
    return typeof value === 'object' && value !== null && Symbol.iterator in value
      ? [...(value as Iterable<unknown>)]
      : value;
  };
  it('split and split with a count, as strings.Split and strings.SplitN', () => {
    assert.deepEqual(run("'a b c'.split(' ')"), ['a', 'b', 'c']);
    assert.deepEqual(run("'a b c'.split(' ', 2)"), ['a', 'b c']);
    assert.deepEqual(run("'a b c'.split(' ', 0)"), []);
    assert.deepEqual(run("'a b c'.split(' ', -1)"), ['a', 'b', 'c']);
    assert.deepEqual(run("''.split(' ')"), ['']);
    assert.deepEqual(run("'a😀b'.split('')"), ['a', '😀', 'b']);
  });
  it('join, lowerAscii, upperAscii, trim', () => {
    assert.equal(run("['a', 'b'].join(', ')"), 'a, b');
    assert.equal(run("['a', 'b'].join()"), 'ab');
    assert.equal(run("'ÀBC'.lowerAscii()"), 'Àbc');
    assert.equal(run("'àbc'.upperAscii()"), 'àBC');
    assert.equal(run("' \\t x \\n'.trim()"), 'x');
  });
  it('replace (all, or n; n < 0 is all), as strings.Replace', () => {
    assert.equal(run("'aaa'.replace('a', 'b')"), 'bbb');
    assert.equal(run("'aaa'.replace('a', 'b', 2)"), 'bba');
    assert.equal(run("'aaa'.replace('a', 'b', -1)"), 'bbb');
    assert.equal(run("'abc'.replace('', '-')"), '-a-b-c-');
  });
  it('indexOf and lastIndexOf count code points', () => {
    assert.equal(run("'😀ab'.indexOf('b')"), 2n);
    assert.equal(run("'abab'.indexOf('b', 2)"), 3n);
    assert.equal(run("'abab'.lastIndexOf('a')"), 2n);
    assert.equal(run("'abab'.lastIndexOf('b', 2)"), 1n);
    assert.throws(() => run("'ab'.indexOf('b', 5)"));
  });
  it('resources are guessed from kinds as the RESTMapper does', () => {
    assert.equal(kindToResource('OCIRepository'), 'ocirepositories');
    assert.equal(kindToResource('Ingress'), 'ingresses');
    assert.equal(kindToResource('Kustomization'), 'kustomizations');
  });
});
