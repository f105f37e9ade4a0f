import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGoYAML } from '../goyaml/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { objectName, readObjects, splitDocuments } from './objects.ts';
import { buildResourceSet, renderBuildCLI, renderBuildGolden } from './resourceset.ts';

const build = (yaml: string, options: Parameters<typeof buildResourceSet>[1] = {}) =>
  buildResourceSet(parseGoYAML(yaml), options);
const names = (result: ReturnType<typeof buildResourceSet>): string[] =>
  result.objects.map(objectName);

describe('ResourceSet build rules (FO internal/builder/resourceset_test.go)', () => {
  it('refuses the same object in two steps even across API versions of its group', () => {
    const error = assertThrowsCode(
      () =>
        build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  steps:
    - name: pre-deploy
      resources:
        - {apiVersion: helm.toolkit.fluxcd.io/v2beta2, kind: HelmRelease, metadata: {name: app, namespace: apps}}
    - name: deploy
      resources:
        - {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: app, namespace: apps}}
`),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      error.message,
      'duplicate resource HelmRelease/apps/app in step "deploy", already defined in step "pre-deploy"',
    );
  });

  it('keeps duplicates of resources built without inputs, within one step', () => {
    const result = build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  steps:
    - name: deploy
      resources:
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: apps}, data: {n: "1"}}
        - {apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: apps}, data: {n: "2"}}
`);
    assert.equal(result.steps[0]?.objects.length, 2);
  });

  it('refuses a step without resources, and steps beside top-level resources', () => {
    const error = assertThrowsCode(
      () =>
        build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  steps:
    - name: pre-deploy
      resourcesTemplate: "apiVersion: v1"
    - name: deploy
`),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      error.message,
      'step "deploy": at least one of resources or resourcesTemplate must be set',
    );
  });

  it('does not exclude or dedup resources rendered without inputs, but does for templates', () => {
    const result = build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  resources:
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: kept, annotations: {fluxcd.controlplane.io/reconcile: disabled}}
  resourcesTemplate: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: kept}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: tpl-off
      annotations: {fluxcd.controlplane.io/reconcile: disabled}
`);
    // The template's "kept" has the key of the resource before it: dropped as a duplicate.
    assert.deepEqual(names(result), ['kept']);
  });

  it('reads template documents as ssautil.ReadObjects: Lists expanded, incomplete and kustomize documents dropped', () => {
    const result = build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  inputs: [{num: 1}]
  resourcesTemplate: |
    # a comment only
    ---
    apiVersion: v1
    kind: List
    items:
      - {apiVersion: v1, kind: ConfigMap, metadata: {name: item-<< inputs.num >>}}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {}
    ---
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    metadata: {name: k}
    --- # a separator may carry a comment
    apiVersion: v1
    kind: Secret
    metadata: {name: s}
`);
    assert.deepEqual(names(result), ['item-1', 's']);
  });

  it('fails on a document without kind and on a separator followed by text', () => {
    const base = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  resourcesTemplate: |
`;
    const noKind = assertThrowsCode(
      () => build(`${base}    apiVersion: v1\n    metadata: {name: x}\n`),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      noKind.message,
      `failed to build resource: failed to read objects from multi-doc YAML: error unmarshaling JSON: while decoding JSON: Object 'Kind' is missing in '{"apiVersion":"v1","metadata":{"name":"x"}}'`,
    );
    assertThrowsCode(() => splitDocuments('a: 1\n---x\nb: 2\n'), 'RESOURCESET_INVALID');
    assert.deepEqual(splitDocuments('---\na: 1\r\n---\n---\nb: 2'), ['---\na: 1\n', '---\nb: 2\n']);
    assert.deepEqual(readObjects(''), []);
  });

  it('names the resource index and the template position in template errors', () => {
    const error = assertThrowsCode(
      () =>
        build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  inputs: [{a: 1}]
  resources:
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: ok}}
    - {apiVersion: v1, kind: ConfigMap, metadata: {name: "<< nosuchfunc >>"}}
`),
      'TEMPLATE_INVALID',
    );
    assert.match(
      error.message,
      /^failed to build resources\[1\]: failed to parse template: template: resourceset:/,
    );
  });

  it('renders resources in the re-emitted form: quoting in the source does not make a string', () => {
    const result = build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: test, namespace: apps}
spec:
  # YAML 1.1: an unquoted n is the boolean false, as a key too.
  inputs: [{num: 3, f: 1.0, ratio: 0.5, n: x}]
  resources:
    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: x}
      data: {"n": "<< inputs.num >>", q: "<< inputs.num | quote >>", f: "<< inputs.f >>", r: "<< inputs.ratio >>", b: '<< index inputs "false" >>'}
`);
    assert.equal(
      renderBuildGolden(result),
      'apiVersion: v1\ndata:\n  b: x\n  f: 1\n  "n": 3\n  q: "3"\n  r: 0.5\nkind: ConfigMap\nmetadata:\n  name: x\n---\n',
    );
  });
});

describe('ResourceSet build in CLI mode (flux-operator build resourceset)', () => {
  const rset = `
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: apps}
spec:
  inputStrategy: {name: Permute}
  inputs: [{env: dev}, {env: prod}]
  inputsFrom: [{selector: {}}]
  resourcesTemplate: |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: << inputs.apps.env >>-<< inputs.team_a.team >>-<< inputs.id >>
`;
  const providers = [
    parseGoYAML(
      'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSetInputProvider\nmetadata: {name: team-a}\nspec: {type: Static, defaultValues: {team: a}}\n',
    ) as Map<string, never>,
  ];

  it('permutes the ResourceSet with its providers, ids from the normalized names', () => {
    const result = build(rset, { cli: true, providers, namespace: 'flux' });
    assert.equal(result.namespace, 'flux');
    // adler32("apps=0/team_a=0") and adler32("apps=1/team_a=0").
    assert.deepEqual(names(result), ['dev-a-724239653', 'prod-a-724895014']);
    assert.match(
      renderBuildCLI(result),
      /^---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n {2}labels:\n {4}resourceset.fluxcd.controlplane.io\/name: apps\n {4}resourceset.fluxcd.controlplane.io\/namespace: flux\n/,
    );
  });

  it('builds nothing when includeEmptyProviders meets an empty provider, and says so', () => {
    const error = assertThrowsCode(
      () =>
        build(
          rset
            .replace('{name: Permute}', '{name: Permute, includeEmptyProviders: true}')
            .replace('inputs: [{env: dev}, {env: prod}]', 'inputs: []'),
          {
            cli: true,
            providers,
          },
        ),
      'TEMPLATE_FAILED',
    );
    // Zero input sets: the template renders once with empty inputs and fails on the missing key.
    assert.match(error.message, /map has no entry for key "apps"/);
  });

  it('refuses non-Static providers of its namespace', () => {
    const gitHub = parseGoYAML(
      'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSetInputProvider\nmetadata: {name: pr}\nspec: {type: GitHubPullRequest}\n',
    ) as Map<string, never>;
    const error = assertThrowsCode(
      () => build(rset, { cli: true, providers: [gitHub] }),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      error.message,
      "error loading providers from file: unsupported provider type 'GitHubPullRequest', only 'Static' is supported",
    );
  });
});

describe('1,000 input sets', () => {
  // Its time is measured by bench/fleet.ts (budget 1 s); a test only checks the result.
  it('build 2,000 objects, one per resource and input set', () => {
    const inputs = Array.from(
      { length: 1000 },
      (_, i) => `    - {tenant: t${i}, replicas: "${i % 5}"}`,
    ).join('\n');
    const result = build(`
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: many, namespace: apps}
spec:
  inputs:
${inputs}
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata: {name: "<< inputs.tenant >>"}
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      metadata: {name: app, namespace: "<< inputs.tenant >>"}
      spec: {values: {replicas: "<< inputs.replicas | int >>"}}
`);
    const text = renderBuildGolden(result);
    assert.equal(result.objects.length, 2000);
    assert.equal(text.match(/^---$/gm)?.length, 2000);
  });
});
