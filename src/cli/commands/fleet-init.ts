import { AirlockError } from '../../errors.ts';
import { escapeControl } from '../../core/index.ts';
import { initFleet } from '../../fleet/index.ts';
import { type CommandSpec, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

export const fleetInitCommand: CommandSpec = {
  name: 'fleet init',
  usage:
    'airlock fleet init DIR [--registry HOST[:PORT][/PATH]] [--environment NAME…] [--keyless --certificate-oidc-issuer-regexp RE --certificate-identity-regexp RE]',
  description: [
    'Writes a new fleet repository for the isolated architecture into DIR (which must not exist or',
    'be empty): per environment (dev, test, prod) a cluster directory with a multitenant FluxInstance',
    'synced from the private registry and its flux-runtime-info; the platform in four phases',
    '(core → security → network and certificates → observability) as ResourceSets chained by',
    'dependsOn; every OCIRepository verified with the cosign key Secret copied into its namespace (or',
    'a keyless identity); the allowlist admission policy for tenant sources. See docs/fleet.md.',
  ].join('\n'),
  examples: [
    'airlock fleet init ./fleet --registry registry.internal',
    'airlock fleet init ./fleet --registry registry.internal:5000/platform --environment staging --environment production',
    'airlock fleet init ./fleet --keyless --certificate-oidc-issuer-regexp "^https://gitlab.internal$" --certificate-identity-regexp "^https://gitlab.internal/platform/"',
  ],
  registry: false,
  options: {
    registry: {
      type: 'string',
      value: 'HOST[:PORT][/PATH]',
      env: true,
      description:
        'The private registry the fleet, Flux and the platform come from (default registry.internal).',
    },
    environment: {
      type: 'string',
      multiple: true,
      value: 'NAME',
      description:
        'An environment (a cluster directory), in promotion order (default dev, test, prod).',
    },
    keyless: {
      type: 'boolean',
      description:
        'Verify OCIRepositories by keyless identity instead of a cosign public key Secret.',
    },
    'certificate-oidc-issuer-regexp': {
      type: 'string',
      value: 'REGEX',
      description: 'With --keyless: the OIDC issuer Flux accepts (matchOIDCIdentity issuer).',
    },
    'certificate-identity-regexp': {
      type: 'string',
      value: 'REGEX',
      description: 'With --keyless: the signer identity Flux accepts (matchOIDCIdentity subject).',
    },
  },
  async run(context) {
    const { positionals, values, out } = context;
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'fleet init takes one DIR');
    const issuer = stringOption(values, 'certificate-oidc-issuer-regexp');
    const subject = stringOption(values, 'certificate-identity-regexp');
    if (values.keyless === true && (issuer === undefined || subject === undefined))
      throw new AirlockError(
        'USAGE',
        '--keyless needs --certificate-oidc-issuer-regexp and --certificate-identity-regexp',
      );
    const registry = stringOption(values, 'registry');
    const environments = stringList(values, 'environment');
    const files = await initFleet(dir, {
      ...(registry === undefined ? {} : { registry }),
      ...(environments.length === 0 ? {} : { environments }),
      ...(values.keyless === true && issuer !== undefined && subject !== undefined
        ? { verify: { kind: 'keyless' as const, issuer, subject } }
        : {}),
    });
    out.result(
      [
        `fleet written to ${escapeControl(dir)}: ${files.length} files`,
        ...files.map((f) => `  ${f}`),
      ],
      {
        dir,
        files,
      },
    );
    return ExitCode.ok;
  },
};
