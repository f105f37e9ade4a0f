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
  keys: '--key (--verify-key in promote tag and release)',
  key: '--key',
  keyless: '--keyless',
  matchDir: '--match-dir',
  kustomizeBin: '--kustomize-bin',
  helmBin: '--helm-bin',
  since: '--since',
  requireSigned: '--require-signed',
  map: '--map',
  force: '--force',
  chunkSize: '--chunk-size',
  references: '--from-file',
  fromFile: '--from-file',
  inventory: '--inventory',
  registryMap: '--registry-map',
  keySecrets: '--key-secret',
  cluster: '--cluster',
  all: '--all',
  outDir: '--output',
  offline: '--offline',
  maxSize: '--max-size',
  environment: '--to',
  repositoryPrefix: '--repository-prefix',
  requireAnnotations: '--require-annotation',
  tag: '--tag (or COMPONENT/VERSION)',
  promotionConfig: '--config',
  root: '--repo',
  overwrite: '--force',
  strict: '--strict',
  revision: '--revision',
  sbom: '--sbom',
  registry: '--registry',
  plainHTTP: '--insecure-registry',
  platforms: '--platform (the platforms column in an inventory)',
  to: '--to',
  policyName: '--name',
  row: '--row',
  from: '--from',
  forgeURL: '--forge-url',
  apiURL: '--forge-url',
  forgeToken: 'the GITLAB_TOKEN or GITHUB_TOKEN environment variable',
  remote: '--remote',
  base: '--base',
  semverRange: '--semver',
  shard: '--shard',
  source: '--source',
  tagPattern: '--tags',
  tags: '--tag (or a TAG argument)',
  timeoutMs: '--timeout',
  token: '--identity-token-env (or SIGSTORE_ID_TOKEN)',
  trustedRoot: '--trusted-root',
};

/**
 * Hint lines from an error's data: the flag an invalid option came from ("(from --semver)"), or
 * what to do about how a host was reached (the library states the facts, the CLI names the flag).
 */
export function flagHint(error: Pick<AirlockError, 'data'>): string[] {
  const { option, host } = error.data;
  if (typeof host === 'string') {
    if (error.data.speaksTLS === true)
      return [
        `${host} speaks HTTPS: drop it from --insecure-registry (and AIRLOCK_INSECURE_REGISTRY).`,
      ];
    if (error.data.speaksPlainHTTP === true)
      return [`If ${host} is meant to be plain HTTP, name it with --insecure-registry ${host}.`];
    if (error.data.plainHTTPRefused === true)
      return [`Pass --insecure-registry ${host} only if plain HTTP to that host is intended.`];
    if (error.data.caRequired === true)
      return ['Pass --ca-file with the CA that signed the registry certificate.'];
  }
  if (typeof option !== 'string') return [];
  const flag = FLAG_FOR_OPTION[option];
  return flag === undefined ? [] : [`(from ${flag})`];
}
