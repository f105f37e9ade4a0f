import { AirlockError } from '../../errors.ts';
import { chartTag, packageChart, pullChart, pushChart } from '../../artifact/index.ts';
import {
  formatRepository,
  parseReference,
  referenceTarget,
  type Repository,
  withTagOrDigest,
} from '../../oci/index.ts';
import { type CommandSpec, concurrencyOption, runBatch, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

export const chartPush: CommandSpec = {
  name: 'chart push',
  summary: 'Push packaged Helm charts as Helm OCI artifacts',
  usage: 'airlock chart push CHART.tgz [CHART.tgz…] REGISTRY/PREFIX',
  description:
    'Like "helm push": repository PREFIX/<chart name>, tag = version with "+" as "_", Helm\'s config,\nlayers and annotations; a CHART.tgz.prov beside a chart is pushed as the provenance layer.\nSeveral charts are pushed concurrently in one process; each failure is reported and the exit\nstatus is non-zero if any failed.',
  examples: [
    'airlock chart push podinfo-6.5.0.tgz oci://registry.internal/charts',
    'airlock chart push ./dist/*.tgz registry.internal/charts --json',
  ],
  registry: true,
  options: {},
  async run(context) {
    const { positionals, values, out } = context;
    const prefixText = positionals.at(-1);
    const charts = positionals.slice(0, -1);
    if (prefixText === undefined || charts.length === 0)
      throw new AirlockError('USAGE', 'chart push takes CHART.tgz… and REGISTRY/PREFIX');
    const prefix = parseReference(prefixText, { repositoryOnly: true });
    const session = await context.session();
    const open = (repository: string): Repository =>
      session.open(
        prefix.kind === 'layout'
          ? { ...prefix, path: `${prefix.path}/${repository.split('/').pop() ?? ''}` }
          : { ...prefix, repository },
      );
    const base = prefix.kind === 'layout' ? prefix.path : prefix.repository;
    const batch = await runBatch(
      charts,
      (chart) => chart,
      concurrencyOption(values) ?? 8,
      out,
      (chart) => pushChart(open, chart, base),
    );
    out.result(
      batch.results.map((r) => `${r.repository}:${r.tag}@${r.digest}`),
      charts.length === 1 && batch.results[0]
        ? batch.results[0]
        : { pushed: batch.results, failed: batch.failures },
    );
    return batch.exitCode;
  },
};

export const chartPull: CommandSpec = {
  name: 'chart pull',
  summary: "Pull a Helm chart's exact .tgz from an OCI registry",
  usage: 'airlock chart pull REF [-o DIR]',
  examples: ['airlock chart pull oci://registry.internal/charts/podinfo:6.5.0 -o ./charts'],
  registry: true,
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'DIR',
      description: 'Directory for <name>-<version>.tgz (default .).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'chart pull takes one REF');
    // A version with build metadata may be written with "+": the tag uses "_".
    const at = refText.lastIndexOf(':');
    const normalised =
      at > refText.lastIndexOf('/')
        ? `${refText.slice(0, at)}:${chartTag(refText.slice(at + 1))}`
        : refText;
    const ref = parseReference(normalised, { requireTagOrDigest: true });
    const repository = (await context.session()).open(
      ref.digest === undefined ? ref : withTagOrDigest(ref, { digest: ref.digest }),
    );
    const result = await pullChart(
      repository,
      referenceTarget(ref) ?? '',
      stringOption(values, 'output') ?? '.',
    );
    out.result(`${result.path} (${formatRepository(ref)}@${result.digest})`, result);
    return ExitCode.ok;
  },
};

export const chartPackage: CommandSpec = {
  name: 'chart package',
  summary: 'Package a chart directory as a deterministic .tgz',
  usage: 'airlock chart package DIR [-o DIR]',
  examples: ['airlock chart package ./charts/web -o ./dist'],
  registry: false,
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'DIR',
      description: 'Output directory (default .).',
    },
  },
  async run({ positionals, values, out }) {
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'chart package takes one chart DIR');
    const result = await packageChart(dir, stringOption(values, 'output') ?? '.');
    out.result(`${result.path}: ${result.digest}`, result);
    return ExitCode.ok;
  },
};

export const chartCommands: readonly CommandSpec[] = [chartPush, chartPull, chartPackage];
