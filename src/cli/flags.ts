import type { AirlockError } from '../errors.ts';

/**
 * Library option names → the flags that set them. The library never names a flag; when it refuses
 * a value it names the option in `error.data.option`, and the CLI adds which flag that was.
 */
export const FLAG_FOR_OPTION: Readonly<Record<string, string>> = {
  annotations: '--annotation',
  caCertificates: '--ca-file',
  concurrency: '--concurrency',
  credentials: '--username / --password-stdin',
  diffTag: '--diff-tag',
  identities: '--certificate-identity / --certificate-oidc-issuer',
  identityTokenEnv: '--identity-token-env',
  ignoreTlog: '--insecure-ignore-tlog',
  insecureRegistries: '--insecure-registry',
  keys: '--key',
  key: '--key',
  keyless: '--keyless',
  maxSize: '--max-size',
  revision: '--revision',
  semverRange: '--semver',
  shard: '--shard',
  source: '--source',
  tagPattern: '--tags',
  tags: '--tag (or a TAG argument)',
  timeoutMs: '--timeout',
  token: '--identity-token-env (or SIGSTORE_ID_TOKEN)',
  trustedRoot: '--trusted-root',
};

/** The hint line for an error whose data names an option, e.g. "(set by --semver)". */
export function flagHint(error: AirlockError): string[] {
  const option = error.data.option;
  if (typeof option !== 'string') return [];
  const flag = FLAG_FOR_OPTION[option];
  return flag === undefined ? [] : [`(from ${flag})`];
}
