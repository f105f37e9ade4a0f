import { AirlockError } from '../../errors.ts';
import {
  type ImageMirrorItem,
  mirrorImages,
  type MirrorImagesReport,
  type RewriteResult,
  rewriteImages,
} from '../../images/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { formatBytes } from '../output.ts';
import { renderBatch } from '../render.ts';
import { policyFrom, verifyOptions } from '../verify-options.ts';

function line(reference: string, result: RewriteResult): string {
  switch (result.outcome) {
    case 'rewritten':
      return `${reference} → ${result.rewritten ?? ''}`;
    case 'private':
      return `${reference} (already under ${result.rule?.to ?? 'a cache path'})`;
    case 'no-rule':
      return `${reference} (no rule)`;
  }
}

export const imagesRewriteCommand: CommandSpec = {
  name: 'images rewrite',
  usage: 'airlock images rewrite REF… --cache cache.yaml [--json]',
  description: [
    'Prints where each image is pulled from once the pull-through cache rules apply: the',
    'reference is normalised as Docker and containerd read it (nginx is',
    'docker.io/library/nginx:latest, index.docker.io is docker.io, ports and digests are kept),',
    'then the rule for its registry gives <to>/<repository>[:tag][@digest]. An image already',
    'under a rule\'s "to" is left as it is; an image no rule covers is printed with (no rule).',
    '',
    'cache.yaml lists one rule per upstream registry (JSON Schema: docs/cache.schema.json):',
    '  rules:',
    '    - {upstream: docker.io, to: registry.internal/dockerhub}',
    '    - {upstream: quay.io, to: registry.internal/quay}',
    '',
    '--json prints an array of {reference, normalized, outcome, rewritten?, rule?}.',
    'Exit 2 for an invalid reference or cache.yaml.',
  ].join('\n'),
  examples: [
    'airlock images rewrite nginx quay.io/prometheus/prometheus:v2.55.0 --cache cache.yaml',
    'airlock images rewrite ghcr.io/fluxcd/source-controller:v1.4.1 --cache cache.yaml --json',
  ],
  registry: false,
  options: {
    cache: {
      type: 'string',
      value: 'FILE',
      description:
        'cache.yaml: the upstream registries and the private paths they are cached under.',
    },
  },
  async run({ values, positionals, out }) {
    if (positionals.length === 0)
      throw new AirlockError('USAGE', 'images rewrite needs at least one image reference', {
        details: ['Run "airlock images rewrite --help" for usage.'],
      });
    const cacheFile = stringOption(values, 'cache');
    if (cacheFile === undefined || cacheFile === '')
      throw new AirlockError('USAGE', '--cache is required', {
        details: ['Name the cache.yaml that maps upstream registries to private paths.'],
      });
    const { results } = await rewriteImages({ references: positionals, cacheFile });
    out.result(
      results.map((result, i) => line(positionals[i] ?? '', result)),
      results.map((result, i) => ({
        reference: positionals[i] ?? '',
        normalized: result.image.normalized,
        outcome: result.outcome,
        ...(result.rewritten === undefined ? {} : { rewritten: result.rewritten }),
        ...(result.rule === undefined
          ? {}
          : {
              rule: {
                upstream: result.rule.upstream,
                to: result.rule.to,
                where: result.rule.where,
              },
            }),
      })),
    );
    return ExitCode.ok;
  },
};

function mirrorLine(report: MirrorImagesReport, item: ImageMirrorItem): string {
  const filtered =
    item.platformFilter === 'filtered' ? ` (${(item.platforms ?? []).join(', ')})` : '';
  const digest = item.digest === undefined || item.tags.length === 0 ? '' : `@${item.digest}`;
  const left = (item.tagsLeft ?? []).map((l) => {
    if (l.reason === 'pinned-digests-differ')
      return ` (tag ${l.tag} not written: other entries pin other digests under it)`;
    const writer = report.items.find((i) => i.source === l.writtenBy);
    const by = writer?.where ?? l.writtenBy ?? '';
    const moved =
      l.tagDigest !== undefined && l.tagDigest !== item.sourceDigest
        ? `, where it is ${l.tagDigest} upstream`
        : '';
    return ` (tag ${l.tag} written from ${by}${moved})`;
  });
  return `${item.where === undefined ? '' : `${item.where} `}${item.source} → ${item.reference}${digest}${filtered}${left.join('')}`;
}

export const imagesMirrorCommand: CommandSpec = {
  name: 'images mirror',
  usage:
    'airlock images mirror (--from-file images.txt | REF…) --to REGISTRY/PREFIX [--platform OS/ARCH]… [--verify-key PUB | --certificate-identity…] [--key KEY | --keyless] [--json]',
  description: [
    'Copies each image (one reference per line in images.txt, as images list prints them) to',
    '<PREFIX>/<registry host>/<repository> with its tag and digest: docker.io/library/nginx:1.27',
    'goes to registry.internal/mirror/docker.io/library/nginx:1.27, where the cache.yaml rule',
    '{upstream: docker.io, to: registry.internal/mirror/docker.io} sends pods (a port\'s ":"',
    'is written "_"). Indexes are copied with their children; a blob shared by several images is',
    'uploaded once and mounted into the other repositories. --platform keeps only those children',
    'of an index (a new index, listing them with their upstream digests); an image pinned by',
    'digest is copied whole. A tag is written once: when the list names it both unpinned and',
    'pinned (nginx:1.27 and nginx:1.27@sha256:…), the unpinned line writes it and the pinned',
    'digest is copied by digest only. Upstream signatures are checked before anything is written',
    '(--verify-key or the identity flags); --key or --keyless signs each mirrored digest.',
    'Exit 2 for an invalid reference (file:line), 3 when a signature is refused, 1 on failures.',
  ].join('\n'),
  examples: [
    'airlock images list --fleet fleet --cluster prod > images.txt',
    'airlock images mirror --from-file images.txt --to registry.internal/mirror --key cosign.key',
    'airlock images mirror --from-file images.txt --to registry.internal/mirror --platform linux/amd64 --platform linux/arm64 --json',
    'airlock images mirror ghcr.io/fluxcd/source-controller:v1.4.1 --to registry.internal/mirror --verify-key flux.pub --keyless',
  ],
  registry: true,
  options: {
    'from-file': {
      type: 'string',
      value: 'FILE',
      description: 'The images to mirror, one reference per line (# comments).',
    },
    to: {
      type: 'string',
      value: 'REGISTRY/PREFIX',
      env: true,
      description: 'Where the images go: <PREFIX>/<registry host>/<repository>.',
    },
    platform: {
      type: 'string',
      value: 'OS/ARCH[/VARIANT]',
      multiple: true,
      env: true,
      description: 'Keep only these platforms of an index (default every platform).',
    },
    ...verifyOptions('verify-key'),
    ...SIGNER_OPTIONS,
    'dry-run': { type: 'boolean', description: 'List what would be copied; write nothing.' },
    'fail-fast': { type: 'boolean', description: 'Stop at the first failure.' },
  },
  async run(context) {
    const { values, positionals, out } = context;
    const file = stringOption(values, 'from-file');
    if ((file === undefined) === (positionals.length === 0))
      throw new AirlockError('USAGE', 'images mirror takes --from-file FILE or REF arguments', {
        details: ['Run "airlock images mirror --help" for usage.'],
      });
    const to = stringOption(values, 'to');
    if (to === undefined || to === '')
      throw new AirlockError('USAGE', '--to is required', {
        details: ['Name the registry prefix the images go below: --to registry.internal/mirror.'],
      });
    const verifying =
      stringList(values, 'verify-key').length > 0 ||
      stringList(values, 'certificate-identity').length > 0 ||
      stringList(values, 'certificate-identity-regexp').length > 0;
    const verify = verifying ? await policyFrom(context, 'verify-key', 'images mirror') : undefined;
    const dryRun = values['dry-run'] === true;
    const signing = stringOption(values, 'key') !== undefined || values.keyless === true;
    const sign = signing && !dryRun ? await signerFrom(context) : undefined;
    if (!signing && !dryRun)
      out.info('airlock: warning: no --key or --keyless given: nothing will be signed');
    const session = await context.session();
    const platforms = stringList(values, 'platform');
    const report = await mirrorImages({
      session,
      ...(file === undefined ? { images: positionals } : { fromFile: file }),
      to,
      ...(platforms.length > 0 ? { platforms } : {}),
      ...(verify === undefined ? {} : { verify }),
      ...(sign === undefined ? {} : { sign }),
      dryRun,
      failFast: values['fail-fast'] === true,
      signal: context.signal,
      onEvent: (event) => {
        if (event.type === 'copied') out.progress(`mirroring ${event.done}/${event.total}`);
        else if (event.type === 'item')
          out.debug(`${event.item.outcome} ${event.item.source} -> ${event.item.reference}`);
      },
    });
    const s = report.summary;
    const mounted = report.items.reduce((n, i) => n + (i.blobs?.mounted ?? 0), 0);
    const counts = [
      dryRun ? `${s.skipped} to mirror` : `${s.done} mirrored${sign ? ' and signed' : ''}`,
      `${s.present} already present`,
      `${s.failed} failed`,
      ...(!dryRun && s.skipped > 0 ? [`${s.skipped} not started`] : []),
    ];
    return renderBatch(out, report, {
      line: (item) => mirrorLine(report, item),
      summary: `${counts.join(', ')}; ${formatBytes(s.bytes)} ${dryRun ? 'to upload' : 'uploaded'}, ${mounted} blobs mounted, in ${(s.durationMs / 1000).toFixed(1)} s`,
      showAll: dryRun,
    });
  },
};
