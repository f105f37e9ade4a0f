import { AirlockError } from '../../errors.ts';
import { release } from '../../promote/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { renderBatch } from '../render.ts';
import { promotedLine, promotionSummary } from '../promotion.ts';
import { explainFailures, policyFrom, verifyOptions } from '../verify-options.ts';
import { BUILD_OPTIONS, buildOptions } from '../artifact-options.ts';

export const releaseCommand: CommandSpec = {
  name: 'release',
  usage:
    'airlock release [COMPONENT/VERSION] --repository-prefix REGISTRY/PATH (--verify-key PUB | --certificate-identity[-regexp] ID --certificate-oidc-issuer[-regexp] URL --trusted-root FILE) (--key KEY | --keyless)',
  description: [
    "Flux D2's release-artifact job in one step: the git tag COMPONENT/VERSION (default: the CI",
    "job's tag, CI_COMMIT_TAG or GITHUB_REF) names the component; REGISTRY/PATH/COMPONENT:latest,",
    'the digest staging tested, is promoted to VERSION and latest-stable as "promote tag" does,',
    "and only if its files equal the tag's checkout of components/COMPONENT (--components-dir).",
  ].join('\n'),
  examples: [
    'airlock release monitoring/v1.4.2 --repository-prefix registry.internal/d2-infra --verify-key staging.pub --key release.key',
    'airlock release --repository-prefix ghcr.io/org/d2-infra --certificate-identity-regexp "^https://github.com/org/d2-infra/.github/workflows/push-artifact.yml@refs/heads/main$" --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json --keyless',
  ],
  registry: true,
  options: {
    tag: {
      type: 'string',
      value: 'COMPONENT/VERSION',
      description: 'The release git tag (instead of the positional argument).',
    },
    'repository-prefix': {
      type: 'string',
      value: 'REGISTRY/PATH',
      env: true,
      description: 'Where components live: the artifact is REGISTRY/PATH/COMPONENT.',
    },
    'components-dir': {
      type: 'string',
      value: 'DIR',
      description: 'Directory of the components in the checkout (default components).',
    },
    'from-tag': {
      type: 'string',
      value: 'TAG',
      description: 'The tag staging follows, promoted (default latest).',
    },
    'stable-tag': {
      type: 'string',
      value: 'TAG',
      description: 'The tag production follows (default latest-stable).',
    },
    ...BUILD_OPTIONS,
    ...verifyOptions('verify-key'),
    ...SIGNER_OPTIONS,
  },
  async run(context) {
    const { positionals, values, out } = context;
    if (positionals.length > 1)
      throw new AirlockError('USAGE', 'release takes one COMPONENT/VERSION');
    const given = positionals[0] ?? stringOption(values, 'tag');
    if (positionals[0] !== undefined && stringOption(values, 'tag') !== undefined)
      throw new AirlockError('USAGE', 'give the release tag once: as COMPONENT/VERSION or --tag');
    const prefix = stringOption(values, 'repository-prefix');
    if (prefix === undefined)
      throw new AirlockError('USAGE', 'release needs --repository-prefix REGISTRY/PATH');
    const policy = await policyFrom(context, 'verify-key', 'release');
    const signer = await signerFrom(context);
    const componentsDir = stringOption(values, 'components-dir');
    const fromTag = stringOption(values, 'from-tag');
    const stableTag = stringOption(values, 'stable-tag');
    const report = await release(await context.session(), given, {
      repositoryPrefix: prefix,
      policy,
      signer,
      ciEnv: context.env,
      matchDirOptions: buildOptions(values),
      ...(componentsDir === undefined ? {} : { componentsDir }),
      ...(fromTag === undefined ? {} : { fromTag }),
      ...(stableTag === undefined ? {} : { stableTag }),
      signal: context.signal,
    });
    const status = renderBatch(out, report, {
      line: promotedLine,
      summary: promotionSummary(report, 'released'),
      showAll: true,
    });
    explainFailures(out, report);
    return status;
  },
};
