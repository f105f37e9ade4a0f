// Flags the fleet commands that render a cluster share (render, check, graph): one spelling and
// one meaning, as verify's policy flags are shared (verify-options.ts).
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { type FleetSourceOptions, parseRegistryMappings } from '../fleet/index.ts';
import { type CommandContext, type OptionSpec, stringList, stringOption } from './command.ts';
import { readKeyFile } from './keys.ts';

export const KUSTOMIZE_BIN_OPTION: OptionSpec = {
  type: 'string',
  value: 'PATH',
  env: true,
  description:
    'The kustomize (or kubectl, for "kubectl kustomize") to build with (default: kustomize, else kubectl, on PATH).',
};

/** The flags of online rendering and checking: how sources are reached and verified. */
export const FLEET_SOURCE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  offline: {
    type: 'boolean',
    description:
      'Use the fleet directory only: no registry is touched; sources outside it are listed as unresolved.',
  },
  'registry-map': {
    type: 'string',
    value: 'FROM=TO',
    multiple: true,
    description:
      'Read sources under FROM (registry[/path] in the fleet) from TO (a mirror, or oci-layout:PATH).',
  },
  'key-secret': {
    type: 'string',
    value: 'NAME=FILE',
    multiple: true,
    description:
      'The public key the cluster holds in the Secret a verify.secretRef names ([NAMESPACE/]NAME).',
  },
  'trusted-root': {
    type: 'string',
    value: 'FILE',
    env: true,
    description:
      'trusted_root.json for keyless (matchOIDCIdentity) verification, when the fleet names none.',
  },
  'helm-bin': {
    type: 'string',
    value: 'PATH',
    env: true,
    description:
      'The helm that renders HelmReleases (default: helm on PATH; without one they are listed, not rendered).',
  },
};

/**
 * The source options the flags describe (undefined with --offline): the session, the registry
 * map, the key Secrets' files read, the trusted root. None of them can widen a fleet's policy.
 */
export async function fleetSourceOptions(
  context: CommandContext,
): Promise<FleetSourceOptions | undefined> {
  const { values } = context;
  if (values.offline === true) {
    // Only flags without an environment default: AIRLOCK_TRUSTED_ROOT or AIRLOCK_HELM_BIN set for
    // online runs must not break an offline one.
    for (const flag of ['registry-map', 'key-secret'])
      if (values[flag] !== undefined && !(Array.isArray(values[flag]) && values[flag].length === 0))
        throw new AirlockError('USAGE', `--${flag} has no meaning with --offline`, {
          details: ['--offline touches no registry and renders no chart'],
        });
    return undefined;
  }
  const keySecrets = new Map<string, string>();
  for (const value of stringList(values, 'key-secret')) {
    const eq = value.indexOf('=');
    const name = eq < 0 ? '' : value.slice(0, eq);
    const file = eq < 0 ? '' : value.slice(eq + 1);
    if (!/^([a-z0-9][a-z0-9.-]*\/)?[a-z0-9][a-z0-9.-]*$/.test(name) || file === '')
      throw new AirlockError(
        'USAGE',
        `--key-secret ${JSON.stringify(escapeControl(value))} is not [NAMESPACE/]NAME=FILE`,
        { details: ['e.g. --key-secret flux-system/cosign-pub=cosign.pub'] },
      );
    keySecrets.set(name, await readKeyFile(file, 'the public key'));
  }
  const rootPath = stringOption(values, 'trusted-root');
  return {
    session: await context.session(),
    registryMap: parseRegistryMappings(stringList(values, 'registry-map')),
    keySecrets,
    ...(rootPath === undefined
      ? {}
      : { trustedRoot: await readKeyFile(rootPath, 'the trusted root') }),
    signal: context.signal,
  };
}

/** What render, check and graph pass the library from the shared flags. */
export async function fleetRenderOptions(context: CommandContext): Promise<{
  offline: boolean;
  sources?: FleetSourceOptions;
  helmBin?: string;
  kustomizeBin?: string;
  env: NodeJS.ProcessEnv;
}> {
  const sources = await fleetSourceOptions(context);
  const helmBin = stringOption(context.values, 'helm-bin');
  const kustomizeBin = stringOption(context.values, 'kustomize-bin');
  return {
    offline: sources === undefined,
    ...(sources === undefined ? {} : { sources }),
    ...(helmBin === undefined ? {} : { helmBin }),
    ...(kustomizeBin === undefined ? {} : { kustomizeBin }),
    env: context.env,
  };
}
