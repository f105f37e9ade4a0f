import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe } from 'node:test';
import { gated, tempDir } from '../harness/tools.ts';
import { kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type CommandRun, runCommand } from '../helpers/command.ts';
import { fleetGraphCommand } from '../../src/cli/commands/fleet-graph.ts';
import { checkAdmissionPolicies, initFleet, PHASES, renderFleet } from '../../src/fleet/index.ts';
import { parseGoYAMLDocuments, type GoMap } from '../../src/goyaml/index.ts';

// `fleet graph --offline` on the fleet `fleet init` writes, rendered with the real kustomize in
// kubectl: the four phase ResourceSets come out as four phases in order, in each format.

const { it, before, after } = gated(kubeToolsSkipReason());

type Run = CommandRun;

const cli = (args: readonly string[]): Promise<Run> => runCommand(fleetGraphCommand, args);

const phaseSets = PHASES.map((p) => `ResourceSet/flux-system/${p.name}`);

describe('fleet graph --offline: the fleet fleet init writes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: string;
  before(async () => {
    dir = await tempDir('airlock-fleet-graph-');
    fleet = join(dir.path, 'fleet');
    await initFleet(fleet);
  });
  after(() => dir.remove());

  const base = (): string[] => [
    fleet,
    '--cluster',
    'dev',
    '--offline',
    '--kustomize-bin',
    kubectlBinary(),
  ];

  it('--json: core → security → network → observability are four phases in that order, no cycles', async () => {
    const run = await cli([...base(), '--json']);
    assert.equal(run.code, 0, run.error?.message);
    const graph = JSON.parse(run.stdout) as {
      cluster: string;
      phases: string[][];
      cycles: string[][];
      edges: { from: string; to: string; ready?: boolean; readyExpr?: string }[];
      nodes: { id: string; appliedBy?: string; missing?: true }[];
    };
    assert.equal(graph.cluster, 'dev');
    assert.equal(graph.phases.length, 4);
    assert.deepEqual(
      graph.phases.map((phase) => phase.filter((id) => phaseSets.includes(id))),
      phaseSets.map((id) => [id]),
    );
    assert.deepEqual(graph.cycles, []);
    assert.deepEqual(
      graph.edges.map((e) => [e.from, e.to, e.ready]),
      [
        [phaseSets[1], phaseSets[0], true],
        [phaseSets[2], phaseSets[1], true],
        [phaseSets[3], phaseSets[2], true],
      ].sort(),
    );
    assert.ok(graph.nodes.every((n) => n.missing !== true));
    // Each tenant's Kustomization is a node, applied by its phase's ResourceSet.
    assert.equal(
      graph.nodes.find((n) => n.id === 'Kustomization/rbac/platform')?.appliedBy,
      'ResourceSet/flux-system/security',
    );
  });

  it('text: the phases with what each waits for', async () => {
    const run = await cli(base());
    assert.equal(run.code, 0, run.error?.message);
    const lines = run.stdout.split('\n');
    const at = (text: string): number => lines.findIndex((l) => l.startsWith(text));
    assert.ok(at('phase 1:') < at(`  ${phaseSets[0]}`));
    assert.ok(at('phase 2:') < at(`  ${phaseSets[1]}`) && at(`  ${phaseSets[1]}`) < at('phase 3:'));
    assert.ok(at('phase 4:') < at(`  ${phaseSets[3]}`));
    assert.ok(
      lines.includes(
        `    after ${phaseSets[2]} when status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')`,
      ),
      run.stdout,
    );
  });

  it('--format mermaid and dot: a flowchart and a digraph with one subgraph per phase', async () => {
    const mermaid = await cli([...base(), '--format', 'mermaid']);
    assert.equal(mermaid.code, 0, mermaid.error?.message);
    assert.ok(mermaid.stdout.startsWith('flowchart TD\n'));
    assert.equal(mermaid.stdout.match(/^ {2}subgraph phase\d\["phase \d"\]$/gm)?.length, 4);
    assert.equal(mermaid.stdout.match(/^ {2}n\d+ -->\|"ready"\| n\d+$/gm)?.length, 3);

    const dot = await cli([...base(), '--format', 'dot']);
    assert.equal(dot.code, 0, dot.error?.message);
    assert.ok(dot.stdout.startsWith('digraph dependencies {\n'));
    assert.ok(dot.stdout.trimEnd().endsWith('}'));
    assert.equal(dot.stdout.match(/subgraph cluster_phase\d \{/g)?.length, 4);
    assert.ok(dot.stdout.includes(`  "${phaseSets[0]}" -> "${phaseSets[1]}" [label=`), dot.stdout);
  });

  it('the rendered fleet passes its own ValidatingAdmissionPolicy; a planted foreign source is denied', async () => {
    const render = await renderFleet({
      dir: fleet,
      cluster: 'dev',
      offline: true,
      kustomizeBin: kubectlBinary(),
    });
    assert.deepEqual(checkAdmissionPolicies(render.groups), []);
    const planted = parseGoYAMLDocuments(
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: other, namespace: cilium}\nspec: {url: "oci://ghcr.io/other/x"}\n',
    ) as GoMap[];
    const findings = checkAdmissionPolicies([
      ...render.groups,
      { appliedBy: 'ResourceSet/flux-system/core', objects: planted },
    ]);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.object, f.field, f.appliedBy]),
      [
        [
          'admission-denied',
          'OCIRepository/cilium/other',
          'spec.url',
          'ResourceSet/flux-system/core',
        ],
      ],
    );
    assert.match(
      findings[0]?.message ?? '',
      /^Source oci:\/\/ghcr\.io\/other\/x is not allowed, must be one of oci:\/\/registry\.internal\/ /,
    );
  });

  it('online, a source whose key does not load stops the graph (exit 3); a bad --format is usage', async () => {
    const online = await cli([fleet, '--cluster', 'dev', '--kustomize-bin', kubectlBinary()]);
    assert.equal(online.error?.code, 'VERIFICATION_FAILED');
    assert.equal(online.code, 3);
    const format = await cli([...base(), '--format', 'svg']);
    assert.equal(format.error?.code, 'USAGE');
  });
});
