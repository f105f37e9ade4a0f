import { AirlockError } from '../../errors.ts';
import { parseAnnotations } from '../../core/index.ts';
import { promoteLog, promoteTag } from '../../promote/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { SIGNER_OPTIONS, signerFrom } from '../keys.ts';
import { renderBatch } from '../render.ts';
import { promotedLine, promotionSummary } from '../promotion.ts';
import { explainFailures, policyFrom, verifyOptions } from '../verify-options.ts';
import { BUILD_OPTIONS, buildOptions } from '../artifact-options.ts';

export const promoteTagCommand: CommandSpec = {
  name: 'promote tag',
  usage:
    'airlock promote tag SRC_REF TAG… (--verify-key PUB | --certificate-identity[-regexp] ID --certificate-oidc-issuer[-regexp] URL --trusted-root FILE) (--key KEY | --keyless)',
  description: [
    'Resolves SRC_REF to its digest once and promotes exactly that digest: its signature must pass',
    'the policy (same flags and meaning as verify, with --verify-key for keys); with --match-dir its',
    'content must equal DIR, with --require-annotation it must carry K=V. Then the digest is signed',
    'by the release signer (--key or --keyless, as in sign), a promotion attestation is attached',
    '(in-toto, predicate https://airlock.dev/promotion/v1), and every TAG is pointed at the digest,',
    'last. A refusal exits 3 with nothing written. --json prints the batch report (docs/json.md).',
  ].join('\n'),
  examples: [
    'airlock promote tag registry.internal/apps/web:latest 1.0.0 latest-stable --verify-key staging.pub --key release.key',
    'airlock promote tag registry.internal/apps/web:latest 1.4.2 latest-stable --certificate-identity-regexp "^https://github.com/org/apps/.github/workflows/push-artifact.yml@refs/heads/main$" --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json --keyless',
    'airlock promote tag registry.internal/apps/web:latest 1.4.2 --verify-key staging.pub --key release.key --match-dir components/web',
  ],
  registry: true,
  options: {
    ...verifyOptions('verify-key'),
    ...SIGNER_OPTIONS,
    'match-dir': {
      type: 'string',
      value: 'DIR',
      description: "Require the artifact's files to equal DIR (the release tag's checkout).",
    },
    ...BUILD_OPTIONS,
    'require-annotation': {
      type: 'string',
      multiple: true,
      value: 'K=V',
      description: 'Require the source manifest to carry this annotation value.',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [source, ...tags] = positionals;
    if (source === undefined || tags.length === 0)
      throw new AirlockError('USAGE', 'promote tag takes SRC_REF and at least one TAG');
    const policy = await policyFrom(context, 'verify-key', 'promote tag');
    const signer = await signerFrom(context);
    const matchDir = stringOption(values, 'match-dir');
    const required = stringList(values, 'require-annotation');
    const report = await promoteTag(await context.session(), source, tags, {
      policy,
      signer,
      ...(matchDir === undefined ? {} : { matchDir, matchDirOptions: buildOptions(values) }),
      ...(required.length === 0 ? {} : { requireAnnotations: parseAnnotations(required) }),
      ciEnv: context.env,
      signal: context.signal,
    });
    const status = renderBatch(out, report, {
      line: promotedLine,
      summary: promotionSummary(report, 'promoted'),
      showAll: true,
    });
    explainFailures(out, report);
    return status;
  },
};

export const promoteLogCommand: CommandSpec = {
  name: 'promote log',
  usage:
    'airlock promote log REF (--key PUB | --certificate-identity[-regexp] ID --certificate-oidc-issuer[-regexp] URL --trusted-root FILE)',
  description: [
    'Lists the promotions of the artifact REF names, read from its promotion attestations. Each',
    'attestation is verified as verify does (key or identity and trusted root); one that does not',
    'verify is listed as failed with the reason, and never trusted. --json prints the batch report.',
  ].join('\n'),
  examples: [
    'airlock promote log registry.internal/apps/web:latest-stable --key release.pub',
    'airlock promote log registry.internal/apps/web:1.4.2 --certificate-identity-regexp "^https://github.com/org/apps/" --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json --json',
  ],
  registry: true,
  options: verifyOptions('key'),
  async run(context) {
    const { positionals, out } = context;
    const [reference, ...extra] = positionals;
    if (reference === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'promote log takes one REF');
    const policy = await policyFrom(context, 'key', 'promote log');
    const report = await promoteLog(await context.session(), reference, policy, {
      signal: context.signal,
    });
    const status = renderBatch(out, report, {
      line: (item) =>
        item.promotedAt === undefined
          ? `${item.reference} (attestation ${item.attestationDigest})`
          : `${item.promotedAt} ${item.source ?? '?'} → ${item.tags.join(', ')}${item.signedBy ? ` signed by ${item.signedBy}` : ''}${item.actor ? ` (actor ${item.actor})` : ''}`,
      summary: `${report.summary.done} verified promotions, ${report.summary.failed} attestations that do not verify`,
      showAll: true,
    });
    explainFailures(out, report);
    return status;
  },
};
