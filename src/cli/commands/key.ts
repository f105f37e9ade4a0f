import { AirlockError } from '../../errors.ts';
import {
  encryptKeyPair,
  generateKeyPair,
  importPrivateKey,
  type KeyPair,
  keySecretYAML,
  loadPublicKey,
  writeKeyPairFiles,
} from '../../sign/index.ts';
import { type CommandContext, type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { keyPassword, readKeyFile } from '../keys.ts';

/** Writes the pair through the library and prints where it went. */
async function writeKeyPair(
  context: CommandContext,
  prefix: string,
  pair: KeyPair,
): Promise<number> {
  const written = await writeKeyPairFiles(prefix, pair, {
    overwrite: context.values.force === true,
  });
  context.out.result(
    [`Private key written to ${written.privateKey}`, `Public key written to ${written.publicKey}`],
    written,
  );
  return ExitCode.ok;
}

const prefixOptions = (fallback: string): CommandSpec['options'] => ({
  'output-key-prefix': {
    type: 'string',
    value: 'PREFIX',
    description: `File name prefix (default ${fallback}).`,
  },
  force: { type: 'boolean', description: 'Overwrite existing files.' },
});

export const keyGenerate: CommandSpec = {
  name: 'key generate',
  usage: 'airlock key generate [--output-key-prefix cosign] [--force]',
  description:
    'Writes <prefix>.key (mode 0600, encrypted exactly like "cosign generate-key-pair") and\n<prefix>.pub. The password comes from COSIGN_PASSWORD, a prompt, or standard input.',
  examples: [
    'COSIGN_PASSWORD="$(cat /run/secrets/pw)" airlock key generate',
    'airlock key generate --output-key-prefix release',
  ],
  registry: false,
  options: prefixOptions('cosign'),
  async run(context) {
    if (context.positionals.length > 0)
      throw new AirlockError('USAGE', 'key generate takes no arguments');
    const prefix = stringOption(context.values, 'output-key-prefix') ?? 'cosign';
    return writeKeyPair(context, prefix, generateKeyPair(await keyPassword(context, true)));
  },
};

export const keyImport: CommandSpec = {
  name: 'key import',
  usage: 'airlock key import KEY.pem [--output-key-prefix import-cosign] [--force]',
  examples: ['COSIGN_PASSWORD=... airlock key import ec-key.pem'],
  registry: false,
  options: prefixOptions('import-cosign'),
  async run(context) {
    const [path, ...extra] = context.positionals;
    if (path === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'key import takes one KEY.pem');
    const key = importPrivateKey(await readKeyFile(path, 'the key to import'), path);
    const pair = encryptKeyPair(key, await keyPassword(context, true));
    const prefix = stringOption(context.values, 'output-key-prefix') ?? 'import-cosign';
    return writeKeyPair(context, prefix, pair);
  },
};

export const keySecret: CommandSpec = {
  name: 'key secret',
  usage: 'airlock key secret --namespace NS [--name cosign-pub] [--key cosign.pub]',
  examples: ['airlock key secret --namespace flux-system > cosign-pub.yaml'],
  registry: false,
  options: {
    namespace: { type: 'string', value: 'NS', description: 'Namespace of the OCIRepository.' },
    name: { type: 'string', value: 'NAME', description: 'Secret name (default cosign-pub).' },
    key: { type: 'string', value: 'FILE', description: 'Public key file (default cosign.pub).' },
  },
  async run({ values, out }) {
    const namespace = stringOption(values, 'namespace');
    if (namespace === undefined) throw new AirlockError('USAGE', 'key secret needs --namespace');
    const path = stringOption(values, 'key') ?? 'cosign.pub';
    const pem = await readKeyFile(path, 'the public key');
    loadPublicKey(pem, path);
    const name = stringOption(values, 'name') ?? 'cosign-pub';
    let yaml: string;
    try {
      yaml = keySecretYAML(namespace, name, pem);
    } catch (error) {
      // The library names the option; here it is a flag of this command.
      if (error instanceof AirlockError && typeof error.data.option === 'string')
        throw new AirlockError('USAGE', `--${error.data.option}: ${error.message}`, {
          cause: error,
        });
      throw error;
    }
    out.result(yaml.trimEnd(), { yaml });
    return ExitCode.ok;
  },
};

export const keyCommands: readonly CommandSpec[] = [keyGenerate, keyImport, keySecret];
