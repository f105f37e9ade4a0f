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
import {
  FLEET_SOURCE_OPTIONS,
  fleetRenderOptions,
  KUSTOMIZE_BIN_OPTION,
} from '../fleet-options.ts';

const asJSON = (render: FleetRender): unknown => ({
  cluster: render.cluster,
  objects: render.objects,
  groups: render.groups.map((g) => ({
    appliedBy: g.appliedBy,
    ...(g.path === undefined ? {} : { path: g.path }),
    ...(g.source === undefined ? {} : { source: g.source }),
    objects: g.objects.map(toPlain),
  })),
  unresolved: render.unresolved,
  sources: render.sources,
  toolMs: render.toolMs,
});

export const fleetRenderCommand: CommandSpec = {
  name: 'fleet render',
  usage:
    'airlock fleet render FLEET_DIR --cluster NAME [--offline | --registry-map FROM=TO --key-secret NAME=FILE --trusted-root FILE --helm-bin PATH] [-o OUTDIR] [--json]',
  description: [
    'Renders what one cluster of a fleet would run, grouped by the Flux object that applies it, as',
    'the Flux Operator and kustomize-controller would: from the FluxInstance in clusters/NAME (its',
    'spec.sync is the root Kustomization; without one, clusters/NAME itself), each Kustomization',
    'built with a real kustomize (a kustomization.yaml generated where there is none, as',
    "kustomize-controller does), its postBuild substitution applied from the cluster's",
    'ConfigMaps and Secrets, every ResourceSet expanded, and every Kustomization that uses the',
    "fleet's own source rendered in turn. Nothing is written into FLEET_DIR.",
    '',
    'Every Flux source is followed (the default): for each OCIRepository the artifact its ref',
    'selects (digest, semver, tag) is resolved in the registry (or read from the mirror',
    '--registry-map names), verified with exactly the policy its spec.verify declares — the key',
    'in the Secret it names (from the fleet, or --key-secret for a Secret the cluster holds), or',
    'its matchOIDCIdentity against --trusted-root — then pulled, and each Kustomization built',
    'from it. HelmReleases are resolved to their chart (chartRef to an OCIRepository, or an OCI',
    'HelmRepository) and rendered with helm template and the values they declare when a helm',
    'binary is found (--helm-bin, or helm on PATH). A source that is missing or does not',
    'verify stops the render (exit 1 or 3); nothing is written.',
    '',
    "--offline touches no registry: the fleet directory stands for the FluxInstance's sync",
    'artifact, and sources it cannot follow (other OCIRepositories, GitRepositories, Helm charts,',
    'input providers that need a cluster) are listed as unresolved, not errors.',
    '',
    'Output: a YAML stream ("# applied by Kind/namespace/name", then --- and each object), or with',
    '-o a directory tree (one file per applier, unresolved.yaml), written only when complete into',
    'a directory that must not exist or be empty; --json the whole result.',
  ].join('\n'),
  examples: [
    'airlock fleet render ./fleet --cluster dev --offline',
    'airlock fleet render ./fleet --cluster prod --registry-map ghcr.io/acme=registry.internal/acme --trusted-root trusted_root.json --helm-bin /usr/local/bin/helm -o rendered/prod',
    'airlock fleet render ./fleet --cluster prod --offline -o rendered/prod',
    'airlock fleet render ./fleet --cluster dev --offline --kustomize-bin /usr/local/bin/kubectl --json',
  ],
  registry: true,
  options: {
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to render (its directory is clusters/NAME).',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    ...FLEET_SOURCE_OPTIONS,
    output: {
      type: 'string',
      short: 'o',
      value: 'OUTDIR',
      description:
        'Write a directory tree instead of a YAML stream (OUTDIR must not exist or be empty).',
    },
  },
  async run(context) {
    const { values, positionals, out } = context;
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
    const outDir = stringOption(values, 'output');
    let files: string[] | undefined;
    const render = await renderFleet({ dir, cluster, ...(await fleetRenderOptions(context)) });
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
