import { AirlockError } from '../../errors.ts';
import { listFleetImages } from '../../fleet/index.ts';
import { listInventoryChartImages } from '../../mirror/index.ts';
import {
  type DiscoveredImage,
  describeSource,
  invalidImagesError,
  listChartImages,
} from '../../images/index.ts';
import { type CommandContext, type CommandSpec, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import {
  FLEET_SOURCE_OPTIONS,
  fleetRenderOptions,
  KUSTOMIZE_BIN_OPTION,
} from '../fleet-options.ts';

/** `REFERENCE  # sources`: what `images mirror --from-file` reads (a comment after the reference). */
const line = (image: DiscoveredImage): string =>
  `${image.reference}  # ${image.sources.map(describeSource).join('; ')}`;

const asJSON = (images: readonly DiscoveredImage[]): unknown =>
  images.map((i) => ({
    reference: i.reference,
    registry: i.image.registry,
    repository: i.image.repository,
    ...(i.image.tag === undefined ? {} : { tag: i.image.tag }),
    ...(i.image.digest === undefined ? {} : { digest: i.image.digest }),
    sources: i.sources,
  }));

/** Flags of one mode given in the other (only flags without an AIRLOCK_* default). */
function refuse(context: CommandContext, flags: readonly string[], mode: string): void {
  for (const flag of flags) {
    const value = context.values[flag];
    if (value !== undefined && !(Array.isArray(value) && value.length === 0))
      throw new AirlockError('USAGE', `--${flag} has no meaning ${mode}`, {
        details: ['Run "airlock images list --help" for usage.'],
      });
  }
}

async function listFleet(context: CommandContext, dir: string): Promise<number> {
  const { values, out } = context;
  if (context.positionals.length > 0)
    throw new AirlockError('USAGE', 'images list takes CHART arguments or --fleet, not both');
  refuse(
    context,
    ['values', 'no-helm', 'kube-version', 'inventory', 'from', 'row'],
    'with --fleet',
  );
  const cluster = stringOption(values, 'cluster');
  if (cluster === undefined || cluster === '')
    throw new AirlockError('USAGE', '--cluster is required with --fleet', {
      details: ['Name the cluster to list: a directory under clusters/ in the fleet.'],
    });
  const result = await listFleetImages({ dir, cluster, ...(await fleetRenderOptions(context)) });
  if (result.invalid.length > 0) throw invalidImagesError(result.invalid);
  for (const u of result.unresolved)
    out.info(`warning: ${u.object} not rendered (${u.reason}): its images are not listed`);
  out.result(result.images.map(line), asJSON(result.images));
  return ExitCode.ok;
}

async function listCharts(context: CommandContext): Promise<number> {
  const { values, positionals, out } = context;
  const inventory = stringOption(values, 'inventory');
  if (positionals.length === 0 && inventory === undefined)
    throw new AirlockError(
      'USAGE',
      'images list needs a CHART (.tgz or reference), --inventory FILE --from REGISTRY/PREFIX or --fleet DIR',
      {
        details: ['Run "airlock images list --help" for usage.'],
      },
    );
  refuse(context, ['cluster', 'offline', 'registry-map', 'key-secret'], 'without --fleet');
  const from = stringOption(values, 'from');
  const rowText = stringOption(values, 'row');
  if (inventory === undefined) refuse(context, ['from', 'row'], 'without --inventory');
  else if (positionals.length > 0)
    throw new AirlockError('USAGE', 'images list takes CHART arguments or --inventory, not both');
  else if (from === undefined || from === '')
    throw new AirlockError('USAGE', '--inventory needs --from REGISTRY/PREFIX', {
      details: [
        'Name the prefix the inventory is mirrored under, as given to airlock mirror --to.',
      ],
    });
  const row = rowText === undefined ? undefined : Number(rowText);
  if (row !== undefined && (!Number.isInteger(row) || row < 1))
    throw new AirlockError('USAGE', `--row ${JSON.stringify(rowText)} is not a line number`);
  const helmBin = stringOption(values, 'helm-bin');
  const kubeVersion = stringOption(values, 'kube-version');
  const common = {
    values: stringList(values, 'values'),
    helm: values['no-helm'] !== true,
    ...(helmBin === undefined ? {} : { helmBin }),
    ...(kubeVersion === undefined ? {} : { kubeVersion }),
    env: context.env,
    session: await context.session(),
  };
  let result;
  try {
    result =
      inventory === undefined
        ? await listChartImages({ chart: positionals, ...common })
        : await listInventoryChartImages({
            inventory,
            from: from ?? '',
            ...(row === undefined ? {} : { row }),
            ...common,
          });
  } catch (error) {
    if (error instanceof AirlockError && error.data.helmFailed === true)
      throw new AirlockError(error.code, error.message, {
        cause: error,
        details: ['--no-helm lists the images of the annotation and the values only.'],
        data: error.data,
      });
    throw error;
  }
  for (const chart of result.charts) {
    for (const missing of chart.missingDependencies)
      out.info(
        `warning: ${chart.input}: ${missing.in === '' ? chart.name : missing.in} depends on ${missing.name}${missing.version === undefined ? '' : ` ${missing.version}`}, which is not in the archive: its images are not listed`,
      );
  }
  if (result.helm === undefined && values['no-helm'] !== true)
    out.info(
      'note: no helm found (--helm-bin, or helm on PATH): images from the annotation and values only',
    );
  out.result(result.images.map(line), asJSON(result.images));
  return ExitCode.ok;
}

export const imagesListCommand: CommandSpec = {
  name: 'images list',
  usage: [
    'airlock images list CHART… [--values FILE]… [--helm-bin PATH | --no-helm] [--json]',
    '       airlock images list --inventory inventory.csv --from REGISTRY/PREFIX [--row LINE] [--values FILE]… [--json]',
    '       airlock images list --fleet DIR --cluster NAME [--offline | --registry-map FROM=TO --key-secret NAME=FILE --trusted-root FILE --helm-bin PATH] [--json]',
  ].join('\n'),
  description: [
    'Lists every container image a chart, or one cluster of a fleet, will pull, normalised as the',
    'runtime reads it (nginx is docker.io/library/nginx:latest; digests are kept), each with where',
    'it was found.',
    '',
    'CHART is a packaged chart (.tgz) or a chart in a registry (oci://HOST/REPO/CHART:VERSION or',
    'HOST/REPO/CHART:VERSION). Its images come from the artifacthub.io/images annotation of',
    'Chart.yaml; from image-shaped values (image: "repo:tag", or a map under a key named image or',
    'ending in Image with repository (or repo, name) and optional registry, tag, digest (or sha);',
    "an empty tag is the chart's appVersion; global.imageRegistry replaces registry), with the",
    '--values files merged as helm merges them (later files win); subcharts in charts/ included as',
    "helm installs them (condition, tags, alias, the parent's values under their key); and, when a",
    'helm binary is found (--helm-bin, or helm on PATH), the pod specs of helm template with the',
    'same values (test hooks skipped). helm failing (a dependency missing from charts/, say) is an',
    'error; --no-helm lists the annotation and values only.',
    '',
    '--inventory lists the charts of an inventory as the mirror under --from holds them: every',
    'mirrored version of every chart row (or of the row on line --row), as airlock mirror wrote it.',
    '',
    '--fleet renders the cluster as fleet render does (online by default: every OCI source verified',
    'and pulled, HelmReleases rendered by helm template with their values and valuesFrom) and lists',
    'the images of every pod spec: Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets,',
    'ReplicationControllers, Jobs, CronJobs; containers, initContainers and ephemeralContainers.',
    '',
    'Output: one line per image, "REFERENCE  # sources", which images mirror --from-file reads',
    'as it is. --json prints an array of {reference, registry, repository, tag?, digest?,',
    'sources: [{from (annotation | values | template | object), raw, chart?, version?, file?,',
    'line?, column?, field, object?, appliedBy?, tagFrom?}]}. Exit 2 for an invalid image',
    'reference (naming its file or object and field) or a values file that is not YAML.',
  ].join('\n'),
  examples: [
    'airlock images list prometheus-29.27.0.tgz',
    'airlock images list prometheus-29.27.0.tgz --values prod-values.yaml --json',
    'airlock images list oci://registry.internal/charts/cert-manager:1.16.2 --no-helm',
    'airlock images list prometheus-29.27.0.tgz > images.txt && airlock images mirror --from-file images.txt --to registry.internal/mirror',
    'airlock images list --inventory inventory.csv --from registry.internal/mirror --row 3',
    'airlock images list --fleet ./fleet --cluster prod --registry-map ghcr.io/acme=registry.internal/acme --trusted-root trusted_root.json',
  ],
  registry: true,
  options: {
    values: {
      type: 'string',
      short: 'f',
      value: 'FILE',
      multiple: true,
      description:
        "A values file merged over the chart's values.yaml (later files win), as helm -f.",
    },
    'no-helm': {
      type: 'boolean',
      description: 'Do not run helm template: the annotation and the values only.',
    },
    'kube-version': {
      type: 'string',
      value: 'VERSION',
      description: 'The Kubernetes version helm template renders for (--kube-version).',
    },
    inventory: {
      type: 'string',
      value: 'FILE',
      description: 'List the charts of this inventory as the mirror (--from) holds them.',
    },
    from: {
      type: 'string',
      value: 'REGISTRY/PREFIX',
      description: 'With --inventory: the prefix it is mirrored under (airlock mirror --to).',
    },
    row: {
      type: 'string',
      value: 'LINE',
      description: 'With --inventory: only the row on this line of the inventory.',
    },
    fleet: {
      type: 'string',
      value: 'DIR',
      description: 'List the images of one cluster of this fleet instead of a chart.',
    },
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'With --fleet: the cluster (its directory is clusters/NAME).',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    ...FLEET_SOURCE_OPTIONS,
    'helm-bin': {
      type: 'string',
      value: 'PATH',
      env: true,
      description:
        'The helm that renders charts and HelmReleases (default: helm on PATH; without one, charts are read from their values only and HelmReleases are not rendered).',
    },
  },
  async run(context) {
    const dir = stringOption(context.values, 'fleet');
    return dir === undefined ? listCharts(context) : listFleet(context, dir);
  },
};
