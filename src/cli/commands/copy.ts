import { readFile } from 'node:fs/promises';
import { AirlockError } from '../../errors.ts';
import { isValidRange } from '../../core/index.ts';
import {
  copyAll,
  type CopyResult,
  type CopySpec,
  expandCopySpecs,
  parseCopyList,
} from '../../oci/index.ts';
import { type CommandSpec, concurrencyOption, stringOption } from '../command.ts';
import { ExitCode, exitCodeFor } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';

export const copyCommand: CommandSpec = {
  name: 'copy',
  summary: 'Copy artifacts between registries and OCI layouts, verifying every digest',
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
    const fromFile = stringOption(values, 'from-file');
    let specs: CopySpec[];
    if (fromFile !== undefined) {
      if (positionals.length > 0)
        throw new AirlockError('USAGE', '--from-file takes no SRC DST arguments');
      let text: string;
      try {
        text = await readFile(fromFile, 'utf8');
      } catch (error) {
        throw new AirlockError('USAGE', `--from-file ${fromFile}: cannot read it`, {
          cause: error,
        });
      }
      specs = parseCopyList(text, fromFile);
    } else {
      const [source, destination, ...extra] = positionals;
      if (source === undefined || destination === undefined || extra.length > 0) {
        throw new AirlockError('USAGE', 'copy takes exactly SRC and DST (or --from-file LIST)', {
          details: ['Run "airlock copy --help" for usage.'],
        });
      }
      specs = [{ source, destination }];
    }
    const tagsRegex = stringOption(values, 'tags');
    let tagPattern: RegExp | undefined;
    if (tagsRegex !== undefined) {
      try {
        tagPattern = new RegExp(tagsRegex);
      } catch (error) {
        throw new AirlockError('USAGE', `--tags "${tagsRegex}" is not a valid regular expression`, {
          cause: error,
        });
      }
    }
    const semverRange = stringOption(values, 'semver');
    if (semverRange !== undefined && !isValidRange(semverRange)) {
      throw new AirlockError('USAGE', `--semver "${semverRange}" is not a valid semver range`, {
        details: ['Examples: ">=1.2 <2", "^3", "~1.4", "*".'],
      });
    }
    const session = await context.session();
    const started = Date.now();
    const concurrency = concurrencyOption(values);
    const requests = await expandCopySpecs(session, specs, {
      ...(tagPattern ? { tagPattern } : {}),
      ...(semverRange === undefined ? {} : { semverRange }),
      ...(concurrency === undefined ? {} : { concurrency }),
    });
    let done = 0;
    let failed = 0;
    const summary = await copyAll(requests, {
      ...(concurrency === undefined ? {} : { concurrency }),
      signatures: values.signatures === true,
      referrers: values.referrers === true,
      dryRun: values['dry-run'] === true,
      failFast: values['fail-fast'] === true,
      onEvent: (event) => {
        if (event.type === 'copy-done' || event.type === 'copy-failed') {
          done++;
          if (event.type === 'copy-failed') failed++;
          out.progress(
            `copying ${done}/${requests.length}${failed > 0 ? ` (${failed} failed)` : ''}`,
          );
          if (event.type === 'copy-done')
            out.debug(
              `${event.result.action} ${event.result.source} -> ${event.result.destination}`,
            );
        }
      },
    });
    for (const failure of summary.failures)
      out.failure(
        `${failure.source} -> ${failure.destination}`,
        failure.error,
        exitCodeFor(failure.error.code),
      );
    const seconds = (Date.now() - started) / 1000;
    const count = (action: CopyResult['action']): number =>
      summary.results.filter((r) => r.action === action).length;
    const bytes = summary.results.reduce((sum, r) => sum + r.bytesUploaded, 0);
    const human = [
      ...summary.results.map(
        (r) =>
          `${r.action.padEnd(10)} ${r.destination}${r.tags.length > 0 ? `:${r.tags.join(',')}` : ''}@${r.digest}`,
      ),
      `${count('copied')} copied, ${count('unchanged')} unchanged${values['dry-run'] === true ? `, ${count('would-copy')} would be copied` : ''}, ${summary.failures.length} failed; ${formatBytes(bytes)} uploaded in ${seconds.toFixed(1)} s${session.client.transport.requestCount > 0 ? `, ${session.client.transport.requestCount} registry requests` : ''}`,
    ];
    out.result(human, {
      results: summary.results,
      failures: summary.failures.map((f) => ({
        source: f.source,
        destination: f.destination,
        code: f.error.code,
        message: f.error.message,
        details: f.error.details,
      })),
      summary: {
        copied: count('copied'),
        unchanged: count('unchanged'),
        wouldCopy: count('would-copy'),
        failed: summary.failures.length,
        bytesUploaded: bytes,
        seconds,
        requests: session.client.transport.requestCount,
      },
    });
    if (summary.failures.length === 0) return ExitCode.ok;
    // One failure: its own exit status; several: the operational failure status.
    const codes = new Set(summary.failures.map((f) => exitCodeFor(f.error.code)));
    return codes.size === 1 ? ([...codes][0] ?? ExitCode.failure) : ExitCode.failure;
  },
};
