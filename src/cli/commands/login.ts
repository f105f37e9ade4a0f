import { AirlockError } from '../../errors.ts';
import {
  authFilePath,
  eraseCredential,
  normaliseAuthKey,
  RegistryClient,
  StaticCredentials,
  storeCredential,
} from '../../oci/index.ts';
import { type CommandSpec, passwordFromStdin, stringList, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { readFile } from 'node:fs/promises';

export const loginCommand: CommandSpec = {
  name: 'login',
  summary: 'Check and store registry credentials (docker config.json format)',
  usage: 'airlock login REGISTRY --username USER --password-stdin',
  description:
    'Credentials are checked against the registry first, then written where docker, helm, flux,\ncosign and skopeo read them: the credential helper named in config.json, else its "auths".\nThe file is $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json.',
  examples: [
    'echo "$REGISTRY_PASSWORD" | airlock login registry.internal --username ci --password-stdin',
  ],
  registry: true,
  options: {},
  async run({ positionals, values, out, env, stdin }) {
    const [registryText, ...extra] = positionals;
    if (registryText === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'login takes exactly one REGISTRY');
    const username = stringOption(values, 'username');
    if (username === undefined || values['password-stdin'] !== true) {
      throw new AirlockError('USAGE', 'login needs --username and --password-stdin', {
        details: [
          'Passwords are never taken as arguments: they would show in the process list and shell history.',
        ],
      });
    }
    const registry = normaliseAuthKey(registryText);
    const password = await passwordFromStdin(stdin);
    const caCertificates = await Promise.all(
      stringList(values, 'ca-file').map((f) => readFile(f, 'utf8')),
    );
    const client = new RegistryClient({
      insecureRegistries: stringList(values, 'insecure-registry'),
      caCertificates,
      credentials: new StaticCredentials({ username, password }),
    });
    try {
      // Force an authenticated request: /v2/ with a scope-less token, or basic auth.
      await client.ping(registry);
    } finally {
      client.close();
    }
    const path = authFilePath(env);
    const where = await storeCredential(path, registry, { username, password });
    out.result(
      `Login succeeded for ${registry} (stored in ${where === 'helper' ? 'the credential helper' : path})`,
      { registry, stored: where, path },
    );
    return ExitCode.ok;
  },
};

export const logoutCommand: CommandSpec = {
  name: 'logout',
  summary: 'Remove stored registry credentials',
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
