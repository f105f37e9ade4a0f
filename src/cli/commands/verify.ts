import { AirlockError } from '../../errors.ts';
import { type BatchReport, escapeControl } from '../../core/index.ts';
import {
  type IdentityOptions,
  resolveVerifyPolicy,
  verifyArtifacts,
  type VerifyItem,
} from '../../sign/index.ts';
import {
  type CommandSpec,
  concurrencyOption,
  type OptionValues,
  stringList,
  stringOption,
} from '../command.ts';
import { FLAG_FOR_OPTION } from '../flags.ts';
import { readKeyFile } from '../keys.ts';
import type { Output } from '../output.ts';
import { renderBatch } from '../render.ts';

/** Identity flags, paired in order: the Nth identity[-regexp] with the Nth issuer[-regexp]. */
function identitiesFrom(values: OptionValues): IdentityOptions[] {
  const subjects: IdentityOptions[] = [
    ...stringList(values, 'certificate-identity').map((subject) => ({ subject })),
    ...stringList(values, 'certificate-identity-regexp').map((subjectRegExp) => ({
      subjectRegExp,
    })),
  ];
  const issuers: IdentityOptions[] = [
    ...stringList(values, 'certificate-oidc-issuer').map((issuer) => ({ issuer })),
    ...stringList(values, 'certificate-oidc-issuer-regexp').map((issuerRegExp) => ({
      issuerRegExp,
    })),
  ];
  if (subjects.length !== issuers.length)
    throw new AirlockError(
      'USAGE',
      'give one --certificate-oidc-issuer[-regexp] for each --certificate-identity[-regexp]',
      { details: ['Pairs are matched in order; any pair may match (Flux matchOIDCIdentity).'] },
    );
  return subjects.map((subject, i) => ({ ...subject, ...issuers[i] }));
}

/** Why each artifact failed (one reason per signature), and which flag would change it. */
function explainFailures(out: Output, report: BatchReport<VerifyItem>): void {
  if (out.json) return;
  for (const item of report.items) {
    const error = item.error;
    if (error === undefined) continue;
    const option = error.data?.option;
    const flag = typeof option === 'string' ? FLAG_FOR_OPTION[option] : undefined;
    const lines = [...error.details, ...(flag === undefined ? [] : [`(from ${flag})`])];
    if (lines.length === 0) continue;
    out.info(`airlock: ${escapeControl(item.reference)}:`);
    for (const line of lines) out.info(`  ${escapeControl(line)}`);
  }
}

const text = (
  description: string,
  value: string,
  multiple = true,
): CommandSpec['options'][string] => ({
  type: 'string',
  value,
  description,
  ...(multiple ? { multiple: true } : {}),
});

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
  options: {
    key: { ...text('Public key.', 'FILE'), env: true },
    'certificate-identity': text('Accepted signer identity (certificate SAN), exact.', 'ID'),
    'certificate-identity-regexp': text(
      'Accepted signer identity as a regular expression.',
      'REGEX',
    ),
    'certificate-oidc-issuer': text('OIDC issuer paired with an identity, exact.', 'URL'),
    'certificate-oidc-issuer-regexp': text('OIDC issuer as a regular expression.', 'REGEX'),
    'trusted-root': {
      ...text(
        'trusted_root.json with Fulcio, Rekor and CT keys (offline or private Sigstore).',
        'FILE',
        false,
      ),
      env: true,
    },
    'insecure-ignore-tlog': {
      type: 'boolean',
      description: 'Do not require a transparency-log entry (key-only offline checks).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    if (positionals.length === 0) throw new AirlockError('USAGE', 'verify takes at least one REF');
    const keys = await Promise.all(
      stringList(values, 'key').map(async (name) => ({
        name,
        pem: await readKeyFile(name, 'the public key'),
      })),
    );
    const identities = identitiesFrom(values);
    if (keys.length === 0 && identities.length === 0)
      throw new AirlockError(
        'USAGE',
        'verify needs --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]',
      );
    const rootPath = stringOption(values, 'trusted-root');
    const policy = resolveVerifyPolicy({
      keys,
      identities,
      ...(rootPath === undefined
        ? {}
        : { trustedRoot: await readKeyFile(rootPath, 'the trusted root') }),
      ignoreTlog: values['insecure-ignore-tlog'] === true,
    });
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
