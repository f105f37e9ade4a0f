// What the signing commands (sign, sbom, mirror) share in the CLI: the key password as cosign
// reads it, key files read with a reason, and the signer flags turned into resolveSigner options.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import { readUserFile } from '../core/index.ts';
import { type KeySigner, oidcToken, resolveSigner, type Signer } from '../sign/index.ts';
import { type CommandContext, type OptionSpec, readStdin, stringOption } from './command.ts';

/** Key files and trusted roots are small; a larger file is a mistake, not a key. */
const KEY_FILE_LIMIT = 1024 * 1024;

/**
 * The private-key password, as cosign reads it (signing.md §3): COSIGN_PASSWORD if set (it may be
 * empty), else a prompt on a terminal (asked twice with `confirm`), else all of standard input.
 */
export async function keyPassword(context: CommandContext, confirm = false): Promise<string> {
  const fromEnv = context.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  const stdin = context.stdin as Readable & { isTTY?: boolean };
  if (stdin.isTTY !== true) return (await readStdin(stdin)).replace(/\r?\n$/, '');
  const ask = (question: string): Promise<string> =>
    new Promise((resolve) => {
      const rl = createInterface({ input: stdin, terminal: true });
      process.stderr.write(question);
      // Keep the typed password off the screen.
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
      rl.question('', (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
    });
  const first = await ask('Enter password for private key: ');
  if (confirm && (await ask('Enter password for private key again: ')) !== first)
    throw new AirlockError('USAGE', 'the passwords do not match');
  return first;
}

/** A key, public key or trusted root file's text: a regular file, at most 1 MiB, with a reason. */
export async function readKeyFile(path: string, what: string): Promise<string> {
  return (await readUserFile(path, { what, maxSize: KEY_FILE_LIMIT })).toString('utf8');
}

/** The cosign key --key names, decrypted with the password from keyPassword. */
export async function keySignerFrom(context: CommandContext, path: string): Promise<KeySigner> {
  const pem = await readKeyFile(path, 'the signing key');
  return resolveSigner({ key: { pem, password: await keyPassword(context), name: path } });
}

export const SIGNER_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  key: {
    type: 'string',
    value: 'FILE',
    env: true,
    description: 'cosign private key (encrypted PEM; password from COSIGN_PASSWORD).',
  },
  keyless: {
    type: 'boolean',
    description: "Sign with a Fulcio certificate for the CI job's OIDC identity, logged in Rekor.",
  },
  'identity-token-env': {
    type: 'string',
    value: 'NAME',
    description:
      'Variable holding the OIDC token (GitLab id_tokens); else SIGSTORE_ID_TOKEN or GitHub Actions.',
  },
  'fulcio-url': {
    type: 'string',
    value: 'URL',
    env: true,
    description: 'Fulcio of a private Sigstore (default the public one).',
  },
  'rekor-url': {
    type: 'string',
    value: 'URL',
    env: true,
    description: 'Rekor of a private Sigstore (default the public one).',
  },
};

/** --key FILE or --keyless (with its token and Sigstore URLs) as one Signer; exactly one of them. */
export async function signerFrom(context: CommandContext): Promise<Signer> {
  const { values, env } = context;
  const keyPath = stringOption(values, 'key');
  if ((keyPath === undefined) === (values.keyless !== true))
    throw new AirlockError('USAGE', 'give exactly one of --key FILE and --keyless');
  if (keyPath !== undefined) return keySignerFrom(context, keyPath);
  const identityTokenEnv = stringOption(values, 'identity-token-env');
  const fulcioURL = stringOption(values, 'fulcio-url');
  const rekorURL = stringOption(values, 'rekor-url');
  return resolveSigner({
    keyless: {
      token: await oidcToken({
        env,
        ...(identityTokenEnv === undefined ? {} : { identityTokenEnv }),
      }),
      ...(fulcioURL === undefined ? {} : { fulcioURL }),
      ...(rekorURL === undefined ? {} : { rekorURL }),
    },
  });
}
