import { AirlockError } from '../../errors.ts';
import { compileTagPattern, escapeControl } from '../../core/index.ts';
import {
  collectGarbage,
  formatRepository,
  inspectReference,
  listTags,
  parseReference,
  referenceTarget,
  tagManifest,
} from '../../oci/index.ts';
import { type CommandContext, type CommandSpec, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';

const TAG_OPTIONS: CommandSpec['options'] = {
  tag: {
    type: 'string',
    multiple: true,
    value: 'TAG',
    description: 'Tag to add, like a TAG argument (the spelling of "artifact push --tag").',
  },
};

/** One implementation for "tag" and its alias "artifact tag": same flags, same output. */
async function runTag(context: CommandContext): Promise<number> {
  const { positionals, values, out } = context;
  const [refText, ...rest] = positionals;
  const tags = [...rest, ...stringList(values, 'tag')];
  if (refText === undefined || tags.length === 0)
    throw new AirlockError('USAGE', 'tag takes REF and at least one TAG');
  const ref = parseReference(refText, { requireTagOrDigest: true });
  const repository = (await context.session()).open(ref);
  const result = await tagManifest(repository, referenceTarget(ref) ?? '', tags);
  out.result(
    result.tags.map((t) => `tagged ${repository.name}:${t}@${result.digest}`),
    { repository: repository.name, digest: result.digest, tags: result.tags },
  );
  return ExitCode.ok;
}

export const tagCommand: CommandSpec = {
  name: 'tag',
  usage: 'airlock tag REF TAG [TAG...]',
  description: 'The exact manifest bytes are written under each tag: the digest does not change.',
  examples: [
    'airlock tag registry.internal/apps/web:latest latest-stable 1.4.0',
    'airlock tag oci-layout:./store@sha256:<digest> v1',
  ],
  registry: true,
  options: TAG_OPTIONS,
  run: runTag,
};

export const artifactTagCommand: CommandSpec = {
  ...tagCommand,
  name: 'artifact tag',
  usage: 'airlock artifact tag REF --tag TAG [--tag TAG…]',
  examples: [
    'airlock artifact tag oci://registry.internal/apps/web:$GIT_SHA --tag latest-stable --tag 1.4.0',
  ],
};

export const lsCommand: CommandSpec = {
  name: 'ls',
  usage: 'airlock ls REPO [--semver RANGE] [--tags REGEX]',
  examples: [
    'airlock ls registry.internal/charts/podinfo',
    'airlock ls --semver ">=6.0.0" registry.internal/charts/podinfo --json',
  ],
  registry: true,
  options: {
    semver: {
      type: 'string',
      value: 'RANGE',
      description: 'Only tags whose version satisfies RANGE, newest first ("_" read as "+").',
    },
    tags: { type: 'string', value: 'REGEX', description: 'Only tags matching REGEX.' },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'ls takes exactly one REPO');
    const ref = parseReference(refText, { repositoryOnly: true });
    const semverRange = stringOption(values, 'semver');
    const pattern = stringOption(values, 'tags');
    const tags = await listTags((await context.session()).open(ref), {
      ...(semverRange === undefined ? {} : { semverRange }),
      ...(pattern === undefined ? {} : { pattern: compileTagPattern(pattern) }),
    });
    out.result(tags.map(escapeControl), { repository: formatRepository(ref), tags });
    return ExitCode.ok;
  },
};

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  usage: 'airlock inspect REF [--raw]',
  examples: [
    'airlock inspect registry.internal/charts/podinfo:6.5.0',
    'airlock inspect --raw oci-layout:./store:1.0.0 | jq .',
  ],
  registry: true,
  options: { raw: { type: 'boolean', description: 'Print the manifest bytes exactly as stored.' } },
  async run(context) {
    const { positionals, values, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'inspect takes exactly one REF');
    const ref = parseReference(refText, { requireTagOrDigest: true });
    const repository = (await context.session()).open(ref);
    const inspection = await inspectReference(repository, referenceTarget(ref) ?? '');
    if (values.raw === true) {
      out.result(inspection.raw, JSON.parse(inspection.raw) as unknown);
      return ExitCode.ok;
    }
    const m = inspection.manifest;
    const lines = [
      `Reference:  ${inspection.reference}`,
      `Media type: ${inspection.descriptor.mediaType}`,
      `Size:       ${inspection.descriptor.size} bytes`,
    ];
    if (m.kind === 'manifest') {
      if (m.value.artifactType) lines.push(`Artifact:   ${m.value.artifactType}`);
      lines.push(
        `Config:     ${m.value.config.mediaType} ${m.value.config.digest} (${formatBytes(m.value.config.size)})`,
        'Layers:',
      );
      for (const layer of m.value.layers)
        lines.push(
          `  ${layer.digest}  ${formatBytes(layer.size).padStart(10)}  ${layer.mediaType}`,
        );
    } else {
      lines.push('Manifests:');
      for (const child of m.value.manifests) {
        const platform = child.platform
          ? ` ${JSON.stringify(child.platform.os ?? '')}/${JSON.stringify(child.platform.architecture ?? '')}`
          : '';
        lines.push(`  ${child.digest}  ${child.mediaType}${platform}`);
      }
    }
    if (m.value.subject) lines.push(`Subject:    ${m.value.subject.digest}`);
    const annotations = Object.entries(m.value.annotations ?? {});
    if (annotations.length > 0) {
      lines.push('Annotations:');
      for (const [k, v] of annotations) lines.push(`  ${k}: ${v}`);
    }
    out.result(lines.map(escapeControl), {
      reference: inspection.reference,
      descriptor: inspection.descriptor,
      manifest: JSON.parse(inspection.raw) as unknown,
    });
    return ExitCode.ok;
  },
};

export const gcCommand: CommandSpec = {
  name: 'gc',
  usage: 'airlock gc oci-layout:PATH',
  examples: ['airlock gc oci-layout:./airlock-store'],
  registry: false,
  options: {},
  async run(context) {
    const { positionals, out } = context;
    const [refText, ...extra] = positionals;
    if (refText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'gc takes exactly one oci-layout:PATH');
    const ref = parseReference(refText, { repositoryOnly: true });
    const result = await collectGarbage((await context.session()).open(ref));
    out.result(
      `removed ${result.removed.length} blobs, ${formatBytes(result.bytes)} freed`,
      result,
    );
    return ExitCode.ok;
  },
};
