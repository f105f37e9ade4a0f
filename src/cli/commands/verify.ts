import { AirlockError } from '../../errors.ts';
import { verifyArtifacts } from '../../sign/index.ts';
import { type CommandSpec, concurrencyOption } from '../command.ts';
import { renderBatch } from '../render.ts';
import { explainFailures, policyFrom, verifyOptions } from '../verify-options.ts';

export const verifyCommand: CommandSpec = {
  name: 'verify',
  usage:
    'airlock verify REF… (--key cosign.pub… | --certificate-identity ID --certificate-oidc-issuer URL --trusted-root FILE)',
  description: [
    'Bundles attached as referrers are read first and, when any exists, only they count (cosign v3,',
    'Flux 2.8); otherwise the legacy sha256-<hex>.sig signatures. Any of several keys, or any of',
    'several identity pairs, may match. Stricter than Flux: the signed payload must name this',
    "artifact's digest, so a signature copied from another artifact is refused.",
  ].join('\n'),
  examples: [
    'airlock verify registry.internal/charts/podinfo:6.5.0 --key cosign.pub',
    'airlock verify registry.internal/apps/web:latest --key team-a.pub --key team-b.pub --json',
    'airlock verify registry.internal/apps/web:latest --certificate-identity-regexp "^https://gitlab.internal/platform/" --certificate-oidc-issuer https://gitlab.internal --trusted-root trusted_root.json',
  ],
  registry: true,
  options: verifyOptions('key'),
  async run(context) {
    const { positionals, values, out } = context;
    if (positionals.length === 0) throw new AirlockError('USAGE', 'verify takes at least one REF');
    const policy = await policyFrom(context, 'key', 'verify');
    const session = await context.session();
    const report = await verifyArtifacts(session, positionals, policy, {
      concurrency: concurrencyOption(values) ?? session.concurrency,
      signal: context.signal,
      onEvent: ({ done, total }) => out.progress(`verifying ${done}/${total}`),
    });
    const status = renderBatch(out, report, {
      line: (item) =>
        `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}${item.format === undefined ? '' : ` (${item.format}${item.keyName ? `, key ${item.keyName}` : ''}${item.subject ? `, signed by ${item.subject}` : ''})`}`,
      summary: `${report.summary.done} verified, ${report.summary.failed} failed`,
      showAll: true,
    });
    explainFailures(out, report);
    return status;
  },
};
