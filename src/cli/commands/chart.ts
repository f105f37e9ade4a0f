import { AirlockError } from '../../errors.ts';
import { packageChart, parseChartReference, pullChart, pushCharts } from '../../artifact/index.ts';
import { formatRepository, referenceTarget } from '../../oci/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { renderBatch } from '../render.ts';

export const chartPush: CommandSpec = {
  name: 'chart push',
  usage: 'airlock chart push CHART.tgz [CHART.tgz…] REGISTRY/PREFIX',
  description: [
    'Like "helm push": repository PREFIX/<chart name>, tag = version with "+" as "_", Helm\'s config,',
    'layers and annotations; a CHART.tgz.prov beside a chart is pushed as the provenance layer.',
    'Several charts are pushed concurrently in one process. A chart whose tag already points at the',
    'same manifest is "present" and nothing is uploaded. Each failure is reported and the exit',
    'status is non-zero if any failed; --json prints the batch report.',
  ].join('\n'),
  examples: [
    'airlock chart push podinfo-6.5.0.tgz oci://registry.internal/charts',
    'airlock chart push ./dist/*.tgz registry.internal/charts --json',
  ],
  registry: true,
  options: {},
  async run(context) {
    const { positionals, out } = context;
    const prefix = positionals.at(-1);
    const charts = positionals.slice(0, -1);
    if (prefix === undefined || charts.length === 0)
      throw new AirlockError('USAGE', 'chart push takes CHART.tgz… and REGISTRY/PREFIX');
    const session = await context.session();
    const report = await pushCharts(session.target(prefix), charts, {
      concurrency: session.concurrency,
      signal: context.signal,
    });
    const { done, present, failed } = report.summary;
    return renderBatch(out, report, {
      line: (item) =>
        item.outcome === 'failed' ? item.chart : `${item.reference}@${item.digest ?? ''}`,
      summary: `${done} pushed, ${present} already present, ${failed} failed`,
    });
  },
};

export const chartPull: CommandSpec = {
  name: 'chart pull',
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
    const ref = parseChartReference(refText);
    const result = await pullChart(
      (await context.session()).open(ref),
      referenceTarget(ref) ?? '',
      stringOption(values, 'output') ?? '.',
    );
    out.result(`${result.path} (${formatRepository(ref)}@${result.digest})`, result);
    return ExitCode.ok;
  },
};

export const chartPackage: CommandSpec = {
  name: 'chart package',
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
