import { AirlockError } from '../../errors.ts';
import { type RewriteResult, rewriteImages } from '../../images/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

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
