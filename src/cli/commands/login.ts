import { AirlockError } from '../../errors.ts';
import { authFilePath, eraseCredential, loginRegistry, normaliseAuthKey } from '../../oci/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';

export const loginCommand: CommandSpec = {
  name: 'login',
  usage: 'airlock login REGISTRY --username USER --password-stdin',
  description:
    'Credentials are checked against the registry first, then written where docker, helm, flux,\ncosign and skopeo read them: the credential helper named in config.json, else its "auths".\nThe file is $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json.',
  examples: [
    'echo "$REGISTRY_PASSWORD" | airlock login registry.internal --username ci --password-stdin',
  ],
  registry: true,
  options: {},
  async run(context) {
    const { positionals, values, out, env } = context;
    const [registryText, ...extra] = positionals;
    if (registryText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'login takes exactly one REGISTRY');
    if (stringOption(values, 'username') === undefined || values['password-stdin'] !== true) {
      throw new AirlockError('USAGE', 'login needs --username and --password-stdin', {
        details: [
          'Passwords are never taken as arguments: they would show in the process list and shell history.',
        ],
      });
    }
    // The session is built like every command's (CA files, insecure hosts, the stdin password),
    // and the check is an authenticated GET /v2/ through it.
    const result = await loginRegistry(
      await context.session(),
      normaliseAuthKey(registryText),
      authFilePath(env),
    );
    out.result(
      `Login succeeded for ${result.registry} (stored in ${result.stored === 'helper' ? 'the credential helper' : result.path})`,
      result,
    );
    return ExitCode.ok;
  },
};

export const logoutCommand: CommandSpec = {
  name: 'logout',
  usage: 'airlock logout REGISTRY',
  examples: ['airlock logout registry.internal'],
  registry: false,
  options: {},
  async run({ positionals, out, env }) {
    const [registryText, ...extra] = positionals;
    if (registryText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'logout takes exactly one REGISTRY');
    const registry = normaliseAuthKey(registryText);
    const removed = await eraseCredential(authFilePath(env), registry);
    out.result(
      removed
        ? `Removed credentials for ${registry}`
        : `No credentials were stored for ${registry}`,
      { registry, removed },
    );
    return ExitCode.ok;
  },
};
