// The verification-policy flags, one spelling for every command that checks signatures: verify,
// promote tag / promote log / release (issue 9 §2: "with the same meaning as in verify").
import { AirlockError } from '../errors.ts';
import { type BatchReport, escapeControl } from '../core/index.ts';
import { type IdentityOptions, resolveVerifyPolicy, type VerifyPolicy } from '../sign/index.ts';
import {
  type CommandContext,
  type OptionSpec,
  type OptionValues,
  stringList,
  stringOption,
} from './command.ts';
import { FLAG_FOR_OPTION } from './flags.ts';
import { readKeyFile } from './keys.ts';
import type { Output } from './output.ts';

const text = (description: string, value: string, multiple = true): OptionSpec => ({
  type: 'string',
  value,
  description,
  ...(multiple ? { multiple: true } : {}),
});

/**
 * The policy flags. `keyFlag` names the public-key flag: `key` in verify and promote log,
 * `verify-key` where `--key` is the release signer's private key (promote tag, release).
 */
export function verifyOptions(keyFlag: 'key' | 'verify-key'): Record<string, OptionSpec> {
  return {
    [keyFlag]: { ...text('Accepted public key (any of several may match).', 'FILE'), env: true },
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
  };
}

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

/** The policy the flags describe; at least one key or identity is required. */
export async function policyFrom(
  context: CommandContext,
  keyFlag: 'key' | 'verify-key',
  command: string,
): Promise<VerifyPolicy> {
  const { values } = context;
  const keys = await Promise.all(
    stringList(values, keyFlag).map(async (name) => ({
      name,
      pem: await readKeyFile(name, 'the public key'),
    })),
  );
  const identities = identitiesFrom(values);
  if (keys.length === 0 && identities.length === 0)
    throw new AirlockError(
      'USAGE',
      `${command} needs --${keyFlag}, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp]`,
    );
  const rootPath = stringOption(values, 'trusted-root');
  return resolveVerifyPolicy({
    keys,
    identities,
    ...(rootPath === undefined
      ? {}
      : { trustedRoot: await readKeyFile(rootPath, 'the trusted root') }),
    ignoreTlog: values['insecure-ignore-tlog'] === true,
  });
}

/** Why each item failed (every reason), and which flag would change it: after the batch lines. */
export function explainFailures(out: Output, report: BatchReport): void {
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
