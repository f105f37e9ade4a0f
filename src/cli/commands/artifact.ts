import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { AirlockError } from '../../errors.ts';
import {
  type BuildOptions,
  buildLayer,
  type BuiltLayer,
  chartCRDEntries,
  diffFluxArtifact,
  listFluxArtifacts,
  packLayer,
  pullFluxArtifact,
  pushFluxArtifact,
  readChartArchive,
  REPRODUCIBLE_CREATED,
  stdinEntries,
} from '../../artifact/index.ts';
import { parseReference, referenceTarget, tagManifest, withTagOrDigest } from '../../oci/index.ts';
import {
  type CommandSpec,
  type OptionSpec,
  type OptionValues,
  readStdin,
  stringList,
  stringOption,
} from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';

const BUILD_OPTIONS: Record<string, OptionSpec> = {
  'ignore-paths': {
    type: 'string',
    value: 'LIST',
    description:
      'Comma-separated gitignore patterns replacing the default list (.git/, images, archives).',
  },
  'add-ignore-paths': {
    type: 'string',
    value: 'LIST',
    description: 'Comma-separated gitignore patterns added to the list.',
  },
  'resolve-symlinks': { type: 'boolean', description: 'Follow symlinks instead of skipping them.' },
};

function csv(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function buildOptions(values: OptionValues): BuildOptions {
  const ignore = csv(stringOption(values, 'ignore-paths'));
  const add = csv(stringOption(values, 'add-ignore-paths'));
  return {
    ...(ignore ? { ignorePaths: ignore } : {}),
    ...(add ? { addIgnorePaths: add } : {}),
    resolveSymlinks: values['resolve-symlinks'] === true,
  };
}

/** DIR, a single file, or "-" for manifests on standard input. */
async function layerFrom(path: string, values: OptionValues, stdin: Readable): Promise<BuiltLayer> {
  if (path === '-') return packLayer(stdinEntries(await readStdin(stdin)));
  return buildLayer(path, buildOptions(values));
}

function parseAnnotations(values: OptionValues): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const item of stringList(values, 'annotation')) {
    const parts = item.split('=');
    if (parts.length !== 2 || parts[0] === '')
      problems.push(`"${item}" is not key=value (values cannot contain "=", as in Flux)`);
    else out[parts[0] ?? ''] = parts[1] ?? '';
  }
  if (problems.length > 0)
    throw new AirlockError('USAGE', 'invalid --annotation', { details: problems });
  return out;
}

export const artifactBuild: CommandSpec = {
  name: 'artifact build',
  summary: 'Build a Flux artifact layer (.tgz) from a directory, byte for byte reproducible',
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
    const layer = await layerFrom(path, values, stdin);
    const output = stringOption(values, 'output') ?? 'artifact.tgz';
    const tmp = `${output}.${process.pid}.tmp`;
    await writeFile(tmp, layer.tgz, { mode: 0o640 });
    await rename(tmp, output);
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

export const artifactPush: CommandSpec = {
  name: 'artifact push',
  summary: "Push a directory (or a chart's CRDs) as a Flux OCI artifact",
  usage:
    'airlock artifact push DIR|FILE|- REF --source URL --revision REF@sha1:SHA [flags]\n       airlock artifact push --crds-from CHART.tgz REF --source URL --revision REF@sha1:SHA',
  description:
    'REF is registry/repo:tag (oci:// accepted; the tag defaults to "latest"). Prints REPO@sha256:…;\n--json prints the same shape as "flux push artifact -o json".',
  examples: [
    'airlock artifact push ./deploy oci://registry.internal/apps/web:latest --source https://git.internal/apps/web --revision main@sha1:$GIT_SHA',
    'airlock artifact push ./deploy registry.internal/apps/web:$GIT_SHA --diff-tag latest --tag latest --source "$URL" --revision "main@sha1:$GIT_SHA"',
    'airlock artifact push --crds-from kube-prometheus-stack-80.0.0.tgz registry.internal/crds/kube-prometheus-stack:80.0.0 --source https://prometheus-community.github.io/helm-charts --revision 80.0.0@sha1:0000000000000000000000000000000000000000',
  ],
  registry: true,
  options: {
    source: {
      type: 'string',
      value: 'URL',
      env: true,
      description: 'org.opencontainers.image.source: where the content comes from.',
    },
    revision: {
      type: 'string',
      value: 'REV',
      env: true,
      description: 'org.opencontainers.image.revision: <branch|tag>@sha1:<commit>.',
    },
    annotation: {
      type: 'string',
      short: 'a',
      multiple: true,
      value: 'K=V',
      description: 'Extra manifest annotation.',
    },
    reproducible: {
      type: 'boolean',
      description:
        'Set the created annotation to the Unix epoch, so the manifest digest is reproducible.',
    },
    'diff-tag': {
      type: 'string',
      value: 'TAG',
      description: 'Push only if the content differs from what TAG holds.',
    },
    tag: {
      type: 'string',
      multiple: true,
      value: 'TAG',
      description: 'Also point TAG at the pushed artifact.',
    },
    'crds-from': {
      type: 'string',
      value: 'CHART.tgz',
      description:
        'Push the CRDs of this chart (crds/ and plain CRD manifests) instead of a directory.',
    },
    ...BUILD_OPTIONS,
  },
  async run(context) {
    const { positionals, values, out, stdin } = context;
    const crdsFrom = stringOption(values, 'crds-from');
    const expected = crdsFrom === undefined ? 2 : 1;
    if (positionals.length !== expected) {
      throw new AirlockError(
        'USAGE',
        crdsFrom === undefined
          ? 'artifact push takes DIR and REF'
          : 'with --crds-from, artifact push takes only REF',
      );
    }
    const refText = positionals[expected - 1] ?? '';
    const parsed = parseReference(refText);
    if (parsed.digest !== undefined)
      throw new AirlockError('USAGE', `${refText}: push to a tag, not a digest`);
    const ref = parsed.tag === undefined ? withTagOrDigest(parsed, { tag: 'latest' }) : parsed;
    const source = stringOption(values, 'source');
    const revision = stringOption(values, 'revision');
    if (source === undefined || revision === undefined)
      throw new AirlockError('USAGE', 'artifact push needs --source and --revision', {
        details: ['Example: --source https://git.internal/apps/web --revision main@sha1:<commit>'],
      });
    let layer;
    if (crdsFrom !== undefined) {
      const tgz = await readFile(crdsFrom).catch((error: unknown) => {
        throw new AirlockError('USAGE', `--crds-from ${crdsFrom}: cannot read it`, {
          cause: error,
        });
      });
      layer = packLayer(chartCRDEntries(readChartArchive(tgz, crdsFrom)));
    } else {
      layer = await layerFrom(positionals[0] ?? '', values, stdin);
    }
    const repository = (await context.session()).open(ref);
    const diffTag = stringOption(values, 'diff-tag');
    const result = await pushFluxArtifact(repository, layer, {
      tag: ref.tag ?? 'latest',
      meta: {
        source,
        revision,
        ...(values.reproducible === true ? { created: REPRODUCIBLE_CREATED } : {}),
        annotations: parseAnnotations(values),
      },
      ...(diffTag === undefined ? {} : { diffTag }),
      extraTags: stringList(values, 'tag'),
    });
    out.result(
      result.pushed
        ? `${result.repository}@${result.digest}`
        : `no changes since ${diffTag ?? ''}: ${result.repository}@${result.digest} (nothing pushed)`,
      { ...result.flux, pushed: result.pushed, tags: result.tags },
    );
    return ExitCode.ok;
  },
};

export const artifactPull: CommandSpec = {
  name: 'artifact pull',
  summary: 'Pull a Flux artifact and extract it safely',
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
    const repository = (await context.session()).open(ref);
    const result = await pullFluxArtifact(
      repository,
      referenceTarget(ref) ?? 'latest',
      output,
      maxSize === undefined ? {} : { maxSize },
    );
    out.result(
      [
        `extracted ${result.files.length} files to ${output}`,
        `source:   ${result.source ?? '-'}`,
        `revision: ${result.revision ?? '-'}`,
        `digest:   ${result.digest}`,
        ...result.skippedSymlinks.map((s) => `skipped symlink ${s}`),
      ],
      result,
    );
    return ExitCode.ok;
  },
};

export const artifactDiff: CommandSpec = {
  name: 'artifact diff',
  summary: 'Compare a directory with a Flux artifact (exit 1 when they differ)',
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
    const layer = await layerFrom(path, values, stdin);
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
    out.result(lines, diff);
    return diff.changed ? ExitCode.failure : ExitCode.ok;
  },
};

export const artifactTag: CommandSpec = {
  name: 'artifact tag',
  summary: 'Add tags to a Flux artifact (same digest)',
  usage: 'airlock artifact tag REF --tag TAG [--tag TAG…]',
  examples: [
    'airlock artifact tag oci://registry.internal/apps/web:$GIT_SHA --tag latest-stable --tag 1.4.0',
  ],
  registry: true,
  options: {
    tag: { type: 'string', multiple: true, value: 'TAG', description: 'Tag to add (repeatable).' },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'artifact tag takes one REF');
    const ref = parseReference(refText, { requireTagOrDigest: true });
    const repository = (await context.session()).open(ref);
    const result = await tagManifest(
      repository,
      referenceTarget(ref) ?? '',
      stringList(values, 'tag'),
    );
    out.result(
      result.tags.map((t) => `${repository.name}:${t}@${result.digest}`),
      { repository: repository.name, ...result },
    );
    return ExitCode.ok;
  },
};

export const artifactList: CommandSpec = {
  name: 'artifact list',
  summary: 'List Flux artifacts in a repository with their source and revision',
  usage: 'airlock artifact list REPO [--filter-semver RANGE] [--filter-regex REGEX]',
  examples: [
    'airlock artifact list oci://registry.internal/apps/web',
    'airlock artifact list registry.internal/apps/web --filter-semver ">=1.0.0" --json',
  ],
  registry: true,
  options: {
    'filter-semver': {
      type: 'string',
      value: 'RANGE',
      description: 'Only semver tags in RANGE, newest first.',
    },
    'filter-regex': { type: 'string', value: 'REGEX', description: 'Only tags matching REGEX.' },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'artifact list takes one REPO');
    const ref = parseReference(refText, { repositoryOnly: true });
    const regexText = stringOption(values, 'filter-regex');
    let pattern: RegExp | undefined;
    try {
      pattern = regexText === undefined ? undefined : new RegExp(regexText);
    } catch (error) {
      throw new AirlockError(
        'USAGE',
        `--filter-regex "${regexText ?? ''}" is not a valid regular expression`,
        { cause: error },
      );
    }
    const semverRange = stringOption(values, 'filter-semver');
    const listing = await listFluxArtifacts((await context.session()).open(ref), {
      ...(semverRange === undefined ? {} : { semverRange }),
      ...(pattern ? { pattern } : {}),
    });
    out.result(
      listing.map((l) => `${l.tag}\t${l.digest}\t${l.source ?? '-'}\t${l.revision ?? '-'}`),
      listing,
    );
    return ExitCode.ok;
  },
};

export const artifactCommands: readonly CommandSpec[] = [
  artifactBuild,
  artifactPush,
  artifactPull,
  artifactDiff,
  artifactTag,
  artifactList,
];
