import { AirlockError } from '../../errors.ts';
import { readUserFile } from '../../core/index.ts';
import { type CopyItem, type CopySpec, copySpecs, parseCopyList } from '../../oci/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { formatBytes } from '../output.ts';
import { renderBatch } from '../render.ts';

export const copyCommand: CommandSpec = {
  name: 'copy',
  usage: 'airlock copy SRC DST [flags]\n       airlock copy --from-file LIST [flags]',
  description: [
    'SRC and DST are host/repo[:tag][@digest], oci://host/repo:tag or oci-layout:PATH[:tag].',
    'A SRC with a tag or digest copies that one artifact; a bare repository copies every tag',
    '(filtered with --tags or --semver). Blobs and manifests already present are skipped, every',
    'byte read is checked against its digest, and tags are written only after everything behind',
    'them is stored. Re-running after an interruption finishes the job without redoing work.',
  ].join('\n'),
  examples: [
    'airlock copy registry.example.com/charts/podinfo:6.5.0 registry.internal/charts/podinfo',
    'airlock copy --semver ">=6 <7" registry.example.com/charts/podinfo oci-layout:./bundle',
    'airlock copy --from-file promote.txt --signatures --json',
    'airlock copy --insecure-registry 127.0.0.1:5000 127.0.0.1:5000/a/b:1 oci-layout:./out:1',
  ],
  registry: true,
  options: {
    'from-file': {
      type: 'string',
      value: 'FILE',
      description: 'Copy every "SRC DST" pair listed in FILE (one per line, # comments).',
    },
    tags: {
      type: 'string',
      value: 'REGEX',
      description: 'Whole-repository copies: only tags matching REGEX.',
    },
    semver: {
      type: 'string',
      value: 'RANGE',
      description: 'Whole-repository copies: only tags whose version satisfies RANGE.',
    },
    signatures: {
      type: 'boolean',
      description:
        'Also copy cosign signatures, attestations and SBOMs (sha256-<hex>.sig/.att/.sbom).',
    },
    referrers: { type: 'boolean', description: 'Also copy OCI referrers of each artifact.' },
    'dry-run': { type: 'boolean', description: 'List what would be copied; write nothing.' },
    'fail-fast': { type: 'boolean', description: 'Stop at the first failure.' },
  },
  async run(context) {
    const { values, positionals, out } = context;
    const specs = await copyList(stringOption(values, 'from-file'), positionals);
    const tagPattern = stringOption(values, 'tags');
    const semverRange = stringOption(values, 'semver');
    const dryRun = values['dry-run'] === true;
    const session = await context.session();
    let finished = 0;
    let failed = 0;
    const report = await copySpecs(session, specs, {
      concurrency: session.concurrency,
      signatures: values.signatures === true,
      referrers: values.referrers === true,
      dryRun,
      failFast: values['fail-fast'] === true,
      signal: context.signal,
      ...(tagPattern === undefined ? {} : { tagPattern }),
      ...(semverRange === undefined ? {} : { semverRange }),
      onEvent: (event) => {
        if (event.type !== 'item') return;
        finished = event.done;
        if (event.item.outcome === 'failed') failed++;
        out.progress(
          `copying ${finished}/${event.total}${failed > 0 ? ` (${failed} failed)` : ''}`,
        );
        out.debug(`${event.item.outcome} ${event.item.source} -> ${event.item.reference}`);
      },
    });
    const { summary } = report;
    const requests = session.client.transport.requestCount;
    const counts = [
      `${summary.done} copied`,
      `${summary.present} up to date`,
      ...(dryRun ? [`${countSkipped(report.items, 'dry run')} would be copied`] : []),
      `${summary.failed} failed`,
      ...(summary.skipped > countSkipped(report.items, 'dry run')
        ? [`${summary.skipped - countSkipped(report.items, 'dry run')} not started`]
        : []),
    ];
    return renderBatch(out, report, {
      line: (item) =>
        `${item.source} -> ${item.reference}${item.digest === undefined || item.tags.length === 0 ? '' : `@${item.digest}`}`,
      summary: `${counts.join(', ')}; ${formatBytes(summary.bytes)} ${dryRun ? 'to upload' : 'uploaded'} in ${(summary.durationMs / 1000).toFixed(1)} s${requests > 0 ? `, ${requests} registry requests` : ''}`,
      showAll: dryRun,
    });
  },
};

/** The SRC DST pairs: from the list file, or the two arguments. */
async function copyList(fromFile: string | undefined, positionals: readonly string[]) {
  if (fromFile !== undefined) {
    if (positionals.length > 0)
      throw new AirlockError('USAGE', '--from-file takes no SRC DST arguments');
    const text = await readUserFile(fromFile, { what: 'the copy list (--from-file)' });
    return parseCopyList(text.toString('utf8'), fromFile);
  }
  const [source, destination, ...extra] = positionals;
  if (source === undefined || destination === undefined || extra.length > 0) {
    throw new AirlockError('USAGE', 'copy takes exactly SRC and DST (or --from-file LIST)', {
      details: ['Run "airlock copy --help" for usage.'],
    });
  }
  return [{ source, destination }] satisfies CopySpec[];
}

function countSkipped(items: readonly CopyItem[], reason: string): number {
  return items.filter((i) => i.outcome === 'skipped' && i.reason === reason).length;
}
