import { AirlockError } from '../../errors.ts';
import {
  buildContent,
  diffFluxArtifact,
  listFluxArtifacts,
  pullFluxArtifact,
} from '../../artifact/index.ts';
import { compileTagPattern, escapeControl, writeFileAtomic } from '../../core/index.ts';
import { parseReference, referenceTarget } from '../../oci/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';
import { BUILD_OPTIONS, contentFrom } from '../artifact-options.ts';

export const artifactBuild: CommandSpec = {
  name: 'artifact build',
  usage: 'airlock artifact build DIR|FILE|- -o artifact.tgz [flags]',
  description:
    'The tar is laid out as Flux builds it (sorted pre-order walk, "." root, uid/gid 0, mtime 0,\nno symlinks); gzip is deterministic, so the same tree gives the same digest on every machine.',
  examples: [
    'airlock artifact build ./deploy -o artifact.tgz',
    'airlock artifact build ./deploy -o artifact.tgz --add-ignore-paths "*.md,tests/"',
  ],
  registry: false,
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      description: 'Where to write the .tgz (default artifact.tgz).',
    },
    ...BUILD_OPTIONS,
  },
  async run({ positionals, values, out, stdin }) {
    const [path, ...extra] = positionals;
    if (path === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'artifact build takes one DIR, FILE or "-"');
    const layer = await buildContent(await contentFrom(path, values, stdin));
    const output = stringOption(values, 'output') ?? 'artifact.tgz';
    await writeFileAtomic(output, layer.tgz, { mode: 0o640 });
    out.result(
      `${output}: ${layer.digest} (${formatBytes(layer.tgz.length)}, ${layer.entries.length} entries, diffID ${layer.diffID})`,
      {
        path: output,
        digest: layer.digest,
        diffID: layer.diffID,
        size: layer.tgz.length,
        entries: layer.entries.map((e) => ({
          name: e.name,
          type: e.type,
          mode: e.mode.toString(8),
        })),
      },
    );
    return ExitCode.ok;
  },
};

export const artifactPull: CommandSpec = {
  name: 'artifact pull',
  usage: 'airlock artifact pull REF -o DIR',
  description:
    'Extraction accepts what Flux\'s source-controller accepts and refuses the rest: no absolute\npaths, "..", backslashes, hard links or devices; symlinks skipped; size limited.',
  examples: ['airlock artifact pull oci://registry.internal/apps/web:latest -o ./web'],
  registry: true,
  options: {
    output: {
      type: 'string',
      short: 'o',
      value: 'DIR',
      description: 'Directory to extract into (created if missing).',
    },
    'max-size': {
      type: 'string',
      value: 'BYTES',
      description: 'Most bytes the layer may decompress to (default 256 MiB).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    const output = stringOption(values, 'output');
    if (refText === undefined || extra.length > 0 || output === undefined)
      throw new AirlockError('USAGE', 'artifact pull takes REF and -o DIR');
    const ref = parseReference(refText);
    const maxSizeText = stringOption(values, 'max-size');
    const maxSize = maxSizeText === undefined ? undefined : Number(maxSizeText);
    if (maxSize !== undefined && (!Number.isSafeInteger(maxSize) || maxSize <= 0))
      throw new AirlockError(
        'USAGE',
        `--max-size "${maxSizeText ?? ''}" is not a positive number of bytes`,
      );
    const result = await pullFluxArtifact(
      (await context.session()).open(ref),
      referenceTarget(ref) ?? 'latest',
      output,
      maxSize === undefined ? {} : { maxSize },
    );
    out.result(
      [
        `extracted ${result.files.length} files to ${output}`,
        `source:   ${escapeControl(result.source ?? '-')}`,
        `revision: ${escapeControl(result.revision ?? '-')}`,
        `digest:   ${result.digest}`,
        ...result.skippedSymlinks.map((s) => `skipped symlink ${escapeControl(s)}`),
      ],
      result,
    );
    return ExitCode.ok;
  },
};

export const artifactDiff: CommandSpec = {
  name: 'artifact diff',
  usage: 'airlock artifact diff DIR REF',
  examples: ['airlock artifact diff ./deploy oci://registry.internal/apps/web:latest'],
  registry: true,
  options: { ...BUILD_OPTIONS },
  async run(context) {
    const { positionals, values, out, stdin } = context;
    const [path, refText, ...extra] = positionals;
    if (path === undefined || refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'artifact diff takes DIR and REF');
    const ref = parseReference(refText);
    const layer = await buildContent(await contentFrom(path, values, stdin));
    const diff = await diffFluxArtifact(
      (await context.session()).open(ref),
      referenceTarget(ref) ?? 'latest',
      layer,
    );
    const lines = diff.changed
      ? [
          ...diff.added.map((f) => `added     ${f}`),
          ...diff.removed.map((f) => `removed   ${f}`),
          ...diff.modified.map((f) => `modified  ${f}`),
        ]
      : ['no changes'];
    out.result(lines.map(escapeControl), diff);
    return diff.changed ? ExitCode.failure : ExitCode.ok;
  },
};

export const artifactList: CommandSpec = {
  name: 'artifact list',
  usage: 'airlock artifact list REPO [--semver RANGE] [--tags REGEX]',
  description:
    'The filters are spelled as in "airlock ls" and "airlock copy"; Flux\'s spellings\n--filter-semver and --filter-regex are accepted as aliases.',
  examples: [
    'airlock artifact list oci://registry.internal/apps/web',
    'airlock artifact list registry.internal/apps/web --semver ">=1.0.0" --json',
  ],
  registry: true,
  options: {
    semver: {
      type: 'string',
      value: 'RANGE',
      description: 'Only tags whose version satisfies RANGE, newest first ("_" read as "+").',
    },
    tags: { type: 'string', value: 'REGEX', description: 'Only tags matching REGEX.' },
    'filter-semver': { type: 'string', value: 'RANGE', description: 'Alias of --semver (Flux).' },
    'filter-regex': { type: 'string', value: 'REGEX', description: 'Alias of --tags (Flux).' },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'artifact list takes one REPO');
    const ref = parseReference(refText, { repositoryOnly: true });
    const pattern = stringOption(values, 'tags') ?? stringOption(values, 'filter-regex');
    const semverRange = stringOption(values, 'semver') ?? stringOption(values, 'filter-semver');
    const listing = await listFluxArtifacts((await context.session()).open(ref), {
      ...(semverRange === undefined ? {} : { semverRange }),
      ...(pattern === undefined ? {} : { pattern: compileTagPattern(pattern) }),
    });
    out.result(
      listing.map((l) =>
        escapeControl(`${l.tag}\t${l.digest}\t${l.source ?? '-'}\t${l.revision ?? '-'}`),
      ),
      listing,
    );
    return ExitCode.ok;
  },
};

/** "artifact push" lives in artifact-push.ts; "artifact tag" is an alias of "tag" (registry-ops.ts). */
export const artifactCommands: readonly CommandSpec[] = [
  artifactBuild,
  artifactPull,
  artifactDiff,
  artifactList,
];
