import { AirlockError } from '../../errors.ts';
import { type ArtifactContent, REPRODUCIBLE_CREATED } from '../../artifact/index.ts';
import { parseAnnotations } from '../../core/index.ts';
import { resolveProvenance } from '../../provenance/index.ts';
import { publishArtifact } from '../../sbom/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { SIGNER_OPTIONS } from '../keys.ts';
import { renderBatch } from '../render.ts';
import { BUILD_OPTIONS, contentFrom, provenanceDir, pushSignerFrom } from '../artifact-options.ts';

export const artifactPushCommand: CommandSpec = {
  name: 'artifact push',
  usage:
    'airlock artifact push DIR|FILE|- REF [--source URL --revision REF@sha1:SHA] [--sign (--key FILE | --keyless) [--sbom]] [flags]\n       airlock artifact push --crds-from CHART.tgz REF [--source URL --revision REF@sha1:SHA]',
  description: [
    'REF is registry/repo:tag (oci:// accepted; the tag defaults to "latest"). Prints the pushed',
    'REPO:TAG@sha256:…; --json prints the batch report, whose item carries the url, repository,',
    'tag and digest of "flux push artifact -o json". With --diff-tag, nothing is pushed when the',
    'content equals what that tag holds (outcome "present").',
    'Without --source/--revision they come from the CI job (GitHub Actions, GitLab CI), else from',
    'the git checkout of DIR; a CI job also records its run as dev.airlock.ci.* annotations.',
    '--sign signs the pushed digest as "airlock sign" does; --sbom attaches its SBOM attestation.',
  ].join('\n'),
  examples: [
    'airlock artifact push components/web registry.internal/apps/web:latest --sign --keyless',
    'airlock artifact push ./deploy registry.internal/apps/web:latest --sign --key cosign.key --sbom',
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
      description:
        'org.opencontainers.image.source: where the content comes from (default: CI job, git origin).',
    },
    revision: {
      type: 'string',
      value: 'REV',
      env: true,
      description:
        'org.opencontainers.image.revision: <branch|tag>@sha1:<commit> (default: CI job, git HEAD).',
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
    sign: {
      type: 'boolean',
      description: 'Sign the pushed digest with --key FILE or --keyless (as "airlock sign").',
    },
    sbom: {
      type: 'boolean',
      description: 'Attach the CycloneDX SBOM as a referrer, attested by the --sign signer.',
    },
    ...SIGNER_OPTIONS,
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
    const signer = await pushSignerFrom(context);
    const annotations = parseAnnotations(stringList(values, 'annotation'));
    const content: ArtifactContent =
      crdsFrom === undefined
        ? await contentFrom(positionals[0] ?? '', values, stdin)
        : { kind: 'chart-crds', chart: crdsFrom };
    const source = stringOption(values, 'source');
    const revision = stringOption(values, 'revision');
    const provenance = await resolveProvenance({
      ...(source === undefined ? {} : { source }),
      ...(revision === undefined ? {} : { revision }),
      env: context.env,
      dir: await provenanceDir(content),
    });
    if (provenance.from !== 'flags')
      out.info(
        `airlock: source ${provenance.source}, revision ${provenance.revision} (from ${provenance.from})`,
      );
    const diffTag = stringOption(values, 'diff-tag');
    const report = await publishArtifact(
      await context.session(),
      {
        content,
        destination: positionals[expected - 1] ?? '',
        meta: {
          source: provenance.source,
          revision: provenance.revision,
          // The CI run first, so an explicit -a overrides a key of the same name.
          annotations: { ...provenance.annotations, ...annotations },
          ...(values.reproducible === true ? { created: REPRODUCIBLE_CREATED } : {}),
        },
        ...(diffTag === undefined ? {} : { diffTag }),
        tags: stringList(values, 'tag'),
      },
      { signal: context.signal, ...(signer ? { signer } : {}), sbom: values.sbom === true },
    );
    const { done, present, failed } = report.summary;
    return renderBatch(out, report, {
      line: (item) =>
        [
          `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}`,
          item.tags.length > 1 ? ` (tags ${item.tags.join(', ')})` : '',
          item.signatureTag === undefined ? '' : `, signed (${item.signatureTag})`,
          item.sbomDigest === undefined ? '' : `, SBOM ${item.sbomDigest}`,
        ].join(''),
      summary: `${done} pushed${signer ? ' or signed' : ''}, ${present} unchanged (nothing pushed), ${failed} failed`,
      showAll: true,
    });
  },
};
