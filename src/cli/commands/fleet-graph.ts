import { AirlockError } from '../../errors.ts';
import {
  dependencyGraph,
  graphDOT,
  graphMermaid,
  graphText,
  renderFleet,
} from '../../fleet/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import {
  FLEET_SOURCE_OPTIONS,
  fleetRenderOptions,
  KUSTOMIZE_BIN_OPTION,
} from '../fleet-options.ts';

const FORMATS = ['text', 'mermaid', 'dot'] as const;
type Format = (typeof FORMATS)[number];

export const fleetGraphCommand: CommandSpec = {
  name: 'fleet graph',
  usage:
    'airlock fleet graph FLEET_DIR --cluster NAME [--offline | --registry-map FROM=TO …] [--format text|mermaid|dot] [--json]',
  description: [
    'Prints the dependsOn graph of one cluster of a fleet: the cluster is rendered as',
    '"airlock fleet render" renders it, then every Kustomization, HelmRelease and ResourceSet',
    'becomes a node and every spec.dependsOn entry an edge. The output is the phases the cluster',
    'comes up in (each phase waits only for earlier ones), what each object waits for and which',
    'Flux object applies it, dependsOn targets missing from the rendered set, and cycles.',
    '',
    '--format mermaid prints a Mermaid flowchart, --format dot a Graphviz digraph (arrows run',
    'from the dependency to the object that waits for it); --json the graph as data.',
    '',
    'Online (the default) the graph includes what the pulled artifacts and charts declare;',
    'the source flags are those of "airlock fleet render --help".',
  ].join('\n'),
  examples: [
    'airlock fleet graph ./fleet --cluster dev --offline',
    'airlock fleet graph ./fleet --cluster prod --registry-map ghcr.io/acme=registry.internal/acme --trusted-root trusted_root.json',
    'airlock fleet graph ./fleet --cluster prod --offline --format mermaid > graph.mmd',
    'airlock fleet graph ./fleet --cluster prod --offline --format dot | dot -Tsvg > graph.svg',
  ],
  registry: true,
  options: {
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to graph (its directory is clusters/NAME).',
    },
    format: {
      type: 'string',
      value: 'FORMAT',
      description: 'text (default), mermaid or dot.',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    ...FLEET_SOURCE_OPTIONS,
  },
  async run(context) {
    const { values, positionals, out } = context;
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'fleet graph takes one FLEET_DIR', {
        details: ['Run "airlock fleet graph --help" for usage.'],
      });
    const cluster = stringOption(values, 'cluster');
    if (cluster === undefined || cluster === '')
      throw new AirlockError('USAGE', '--cluster is required', {
        details: ['Name the cluster to graph: a directory under clusters/ in the fleet.'],
      });
    const format = (stringOption(values, 'format') ?? 'text') as Format;
    if (!FORMATS.includes(format))
      throw new AirlockError('USAGE', `--format must be one of ${FORMATS.join(', ')}`);
    const render = await renderFleet({ dir, cluster, ...(await fleetRenderOptions(context)) });
    const graph = dependencyGraph(render.groups);
    const human =
      format === 'mermaid'
        ? graphMermaid(graph)
        : format === 'dot'
          ? graphDOT(graph)
          : graphText(graph);
    out.result(human, { cluster: render.cluster, ...graph });
    return ExitCode.ok;
  },
};
