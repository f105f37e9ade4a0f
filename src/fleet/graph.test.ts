import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasControl } from '../core/index.ts';
import { type GoMap, parseGoYAMLDocuments } from '../goyaml/index.ts';
import { dependencyGraph, graphDOT, graphMermaid, graphText } from './graph.ts';

const objects = (yaml: string): GoMap[] => parseGoYAMLDocuments(yaml) as GoMap[];

const ks = (namespace: string, name: string, dependsOn: string[] = []): string =>
  [
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    `  name: ${JSON.stringify(name)}`,
    `  namespace: ${namespace}`,
    'spec:',
    ...(dependsOn.length === 0 ? [] : ['  dependsOn:', ...dependsOn.map((d) => `    - ${d}`)]),
    '---',
    '',
  ].join('\n');

/** Whether any line of a multi-line output holds a control character. */
const controlInLines = (text: string): boolean => text.split('\n').some(hasControl);

describe('dependencyGraph', () => {
  it('a Kustomization dependsOn without namespace is in its own namespace; phases follow the chain', () => {
    const graph = dependencyGraph(
      objects(
        ks('apps', 'c', ['name: b']) +
          ks('apps', 'b', ['{name: a, namespace: infra}']) +
          ks('infra', 'a') +
          ks('apps', 'free'),
      ),
    );
    assert.deepEqual(graph.phases, [
      ['Kustomization/apps/free', 'Kustomization/infra/a'],
      ['Kustomization/apps/b'],
      ['Kustomization/apps/c'],
    ]);
    assert.deepEqual(
      graph.edges.map((e) => [e.from, e.to, e.field]),
      [
        ['Kustomization/apps/c', 'Kustomization/apps/b', 'spec.dependsOn[0]'],
        ['Kustomization/apps/b', 'Kustomization/infra/a', 'spec.dependsOn[0]'],
      ],
    );
    assert.deepEqual(graph.cycles, []);
    assert.deepEqual(graph.unordered, []);
  });

  it('reports each cycle (and a self-dependency) and leaves what waits on it unordered', () => {
    const graph = dependencyGraph(
      objects(
        ks('x', 'a', ['name: b']) +
          ks('x', 'b', ['name: a']) +
          ks('x', 'c', ['name: b']) +
          ks('x', 'self', ['name: self']) +
          ks('x', 'ok'),
      ),
    );
    assert.deepEqual(graph.cycles, [
      ['Kustomization/x/a', 'Kustomization/x/b'],
      ['Kustomization/x/self'],
    ]);
    assert.deepEqual(graph.phases, [['Kustomization/x/ok']]);
    assert.deepEqual(graph.unordered, [
      'Kustomization/x/a',
      'Kustomization/x/b',
      'Kustomization/x/c',
      'Kustomization/x/self',
    ]);
    assert.match(
      graphText(graph),
      /^cycle: Kustomization\/x\/a -> Kustomization\/x\/b -> Kustomization\/x\/a$/m,
    );
  });

  it('ResourceSet targets: any kind, namespace as written; a missing target is a node marked missing', () => {
    const graph = dependencyGraph(
      objects(
        [
          'apiVersion: fluxcd.controlplane.io/v1',
          'kind: ResourceSet',
          'metadata: {name: apps, namespace: flux-system}',
          'spec:',
          '  dependsOn:',
          '    - {apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, name: helmreleases.helm.toolkit.fluxcd.io}',
          '    - {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: infra-configs, namespace: monitoring, ready: true, readyExpr: "status.observedGeneration >= 0"}',
          '---',
          ks('monitoring', 'infra-configs'),
        ].join('\n'),
      ),
    );
    const crd = graph.nodes.find((n) => n.kind === 'CustomResourceDefinition');
    assert.deepEqual(crd, {
      id: 'CustomResourceDefinition/helmreleases.helm.toolkit.fluxcd.io',
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      namespace: '',
      name: 'helmreleases.helm.toolkit.fluxcd.io',
      missing: true,
    });
    assert.deepEqual(graph.edges[1], {
      from: 'ResourceSet/flux-system/apps',
      to: 'Kustomization/monitoring/infra-configs',
      field: 'spec.dependsOn[1]',
      ready: true,
      readyExpr: 'status.observedGeneration >= 0',
    });
    // The missing CRD does not hold the ResourceSet back from a phase: fleet check reports it.
    assert.deepEqual(graph.phases, [
      ['Kustomization/monitoring/infra-configs'],
      ['ResourceSet/flux-system/apps'],
    ]);
    assert.match(graphText(graph), /missing: CustomResourceDefinition\/helmreleases/);
  });

  it('HelmRelease dependsOn targets HelmReleases; render groups give each node its applier', () => {
    const [a, b] = objects(
      [
        'apiVersion: helm.toolkit.fluxcd.io/v2',
        'kind: HelmRelease',
        'metadata: {name: app, namespace: apps}',
        'spec: {dependsOn: [{name: db}]}',
        '---',
        'apiVersion: helm.toolkit.fluxcd.io/v2',
        'kind: HelmRelease',
        'metadata: {name: db, namespace: apps}',
      ].join('\n'),
    );
    const graph = dependencyGraph([
      { appliedBy: 'Kustomization/apps/apps', objects: [a as GoMap] },
      { appliedBy: 'ResourceSet/flux-system/db', objects: [b as GoMap] },
    ]);
    assert.deepEqual(
      graph.nodes.map((n) => [n.id, n.appliedBy]),
      [
        ['HelmRelease/apps/app', 'Kustomization/apps/apps'],
        ['HelmRelease/apps/db', 'ResourceSet/flux-system/db'],
      ],
    );
    assert.deepEqual(graph.phases, [['HelmRelease/apps/db'], ['HelmRelease/apps/app']]);
  });

  it('control characters and quotes in names cannot break the text, Mermaid or DOT output', () => {
    const graph = dependencyGraph(
      objects(ks('x', 'evil\u001b[31m"]\nfoo --> bar', ['name: plain']) + ks('x', 'plain')),
    );
    const text = graphText(graph);
    assert.ok(!controlInLines(text), text);
    assert.match(text, /evil\\x1b\[31m"\]\\nfoo --> bar/);

    const mermaid = graphMermaid(graph);
    const lines = mermaid.split('\n');
    assert.equal(lines[0], 'flowchart TD');
    // Every node line is id["label"] with nothing that could close the label or the line.
    for (const line of lines.filter((l) => /^\s+n\d+\[/.test(l)))
      assert.match(line, /^\s+n\d+\["[^"\n[\]]*"\]$/, line);
    assert.ok(lines.includes('  n1 --> n0'), mermaid);
    assert.ok(!mermaid.includes('\u001b'));

    const dot = graphDOT(graph);
    assert.ok(dot.startsWith('digraph dependencies {\n') && dot.endsWith('\n}'), dot);
    assert.ok(!controlInLines(dot));
    assert.ok(
      dot.includes(
        '"Kustomization/x/plain" -> "Kustomization/x/evil\\\\x1b[31m\\"]\\\\nfoo --> bar";',
      ),
      dot,
    );
    // Every quoted string in the DOT output is well formed: quotes inside are escaped.
    for (const line of dot.split('\n'))
      assert.match(line, /^[^"]*("(?:[^"\\]|\\.)*"[^"]*)*$/, line);
  });
});
