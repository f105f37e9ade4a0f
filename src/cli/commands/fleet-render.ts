import { AirlockError } from '../../errors.ts';
import { escapeControl } from '../../core/index.ts';
import {
  type FleetRender,
  renderFleet,
  renderFleetYAML,
  toPlain,
  writeFleetRender,
} from '../../fleet/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { KUSTOMIZE_BIN_OPTION } from '../fleet-options.ts';

const asJSON = (render: FleetRender): unknown => ({
  cluster: render.cluster,
  objects: render.objects,
  groups: render.groups.map((g) => ({
    appliedBy: g.appliedBy,
    ...(g.path === undefined ? {} : { path: g.path }),
    objects: g.objects.map(toPlain),
  })),
  unresolved: render.unresolved,
});

export const fleetRenderCommand: CommandSpec = {
  name: 'fleet render',
  usage:
    'airlock fleet render FLEET_DIR --cluster NAME --offline [--kustomize-bin PATH] [-o OUTDIR] [--json]',
  description: [
    'Renders what one cluster of a fleet would run, grouped by the Flux object that applies it, as',
    'the Flux Operator and kustomize-controller would: from the FluxInstance in clusters/NAME (its',
    'spec.sync is the root Kustomization; without one, clusters/NAME itself), each Kustomization',
    'built with a real kustomize (a kustomization.yaml generated where there is none, as',
    "kustomize-controller does), its postBuild substitution applied from the cluster's",
    'ConfigMaps and Secrets, every ResourceSet expanded, and every Kustomization that uses the',
    "fleet's own source rendered in turn. Nothing is written into FLEET_DIR.",
    '',
    "--offline is required for now: the fleet directory stands for the FluxInstance's sync",
    'artifact, and sources it cannot follow (other OCIRepositories, GitRepositories, Helm charts,',
    'input providers that need a cluster) are listed as unresolved, not errors. Online rendering',
    '(pulling and verifying every source from the registry) is not built yet.',
    '',
    'Output: a YAML stream ("# applied by Kind/namespace/name", then --- and each object), or with',
    '-o a directory tree (one file per applier, unresolved.yaml), written only when complete into',
    'a directory that must not exist or be empty; --json the whole result.',
  ].join('\n'),
  examples: [
    'airlock fleet render ./fleet --cluster dev --offline',
    'airlock fleet render ./fleet --cluster prod --offline -o rendered/prod',
    'airlock fleet render ./fleet --cluster dev --offline --kustomize-bin /usr/local/bin/kubectl --json',
  ],
  registry: false,
  options: {
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to render (its directory is clusters/NAME).',
    },
    offline: {
      type: 'boolean',
      description:
        'Render the fleet directory only; list sources outside it as unresolved (required for now).',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    output: {
      type: 'string',
      short: 'o',
      value: 'OUTDIR',
      description:
        'Write a directory tree instead of a YAML stream (OUTDIR must not exist or be empty).',
    },
  },
  async run({ values, positionals, out, env }) {
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'fleet render takes one FLEET_DIR', {
        details: ['Run "airlock fleet render --help" for usage.'],
      });
    const cluster = stringOption(values, 'cluster');
    if (cluster === undefined || cluster === '')
      throw new AirlockError('USAGE', '--cluster is required', {
        details: ['Name the cluster to render: a directory under clusters/ in the fleet.'],
      });
    if (values.offline !== true)
      throw new AirlockError(
        'INPUT_INVALID',
        'online rendering (following sources into the registry) is not built yet: use --offline',
        { data: { option: 'offline' } },
      );
    const kustomizeBin = stringOption(values, 'kustomize-bin');
    const outDir = stringOption(values, 'output');
    let files: string[] | undefined;
    const render = await renderFleet({
      dir,
      cluster,
      offline: true,
      env,
      ...(kustomizeBin === undefined ? {} : { kustomizeBin }),
    });
    if (outDir !== undefined) files = await writeFleetRender(render, outDir);
    if (files !== undefined && outDir !== undefined) {
      out.result(
        [
          `${render.cluster}: ${render.objects} objects from ${render.groups.length} appliers written to ${escapeControl(outDir)}`,
          ...files.map((f) => `  ${f}`),
          ...render.unresolved.map(
            (u) => `unresolved: ${u.object} needs ${u.source}: ${escapeControl(u.reason)}`,
          ),
        ],
        { ...(asJSON(render) as object), outDir, files },
      );
      return ExitCode.ok;
    }
    // Output.result ends the text with a newline; the stream already has its own.
    out.result(renderFleetYAML(render).replace(/\n$/, ''), asJSON(render));
    return ExitCode.ok;
  },
};
