import { AirlockError } from '../../errors.ts';
import { type ArtifactContent, pushArtifacts, REPRODUCIBLE_CREATED } from '../../artifact/index.ts';
import { parseAnnotations } from '../../core/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { renderBatch } from '../render.ts';
import { BUILD_OPTIONS, contentFrom } from '../artifact-options.ts';

export const artifactPushCommand: CommandSpec = {
  name: 'artifact push',
  usage:
    'airlock artifact push DIR|FILE|- REF --source URL --revision REF@sha1:SHA [flags]\n       airlock artifact push --crds-from CHART.tgz REF --source URL --revision REF@sha1:SHA',
  description: [
    'REF is registry/repo:tag (oci:// accepted; the tag defaults to "latest"). Prints the pushed',
    'REPO:TAG@sha256:…; --json prints the batch report, whose item carries the url, repository,',
    'tag and digest of "flux push artifact -o json". With --diff-tag, nothing is pushed when the',
    'content equals what that tag holds (outcome "present").',
  ].join('\n'),
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
    if (positionals.length !== expected)
      throw new AirlockError(
        'USAGE',
        crdsFrom === undefined
          ? 'artifact push takes DIR and REF'
          : 'with --crds-from, artifact push takes only REF',
      );
    const source = stringOption(values, 'source');
    const revision = stringOption(values, 'revision');
    if (source === undefined || revision === undefined)
      throw new AirlockError('USAGE', 'artifact push needs --source and --revision', {
        details: ['Example: --source https://git.internal/apps/web --revision main@sha1:<commit>'],
      });
    const annotations = parseAnnotations(stringList(values, 'annotation'));
    const content: ArtifactContent =
      crdsFrom === undefined
        ? await contentFrom(positionals[0] ?? '', values, stdin)
        : { kind: 'chart-crds', chart: crdsFrom };
    const diffTag = stringOption(values, 'diff-tag');
    const report = await pushArtifacts(
      await context.session(),
      [
        {
          content,
          destination: positionals[expected - 1] ?? '',
          meta: {
            source,
            revision,
            annotations,
            ...(values.reproducible === true ? { created: REPRODUCIBLE_CREATED } : {}),
          },
          ...(diffTag === undefined ? {} : { diffTag }),
          tags: stringList(values, 'tag'),
        },
      ],
      { signal: context.signal },
    );
    const { done, present, failed } = report.summary;
    return renderBatch(out, report, {
      line: (item) =>
        `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}${item.tags.length > 1 ? ` (tags ${item.tags.join(', ')})` : ''}`,
      summary: `${done} pushed, ${present} unchanged (nothing pushed), ${failed} failed`,
      showAll: true,
    });
  },
};
