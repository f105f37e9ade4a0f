// Flags the artifact commands share (build, push, diff): how a directory becomes a Flux layer;
// and push's own helpers (where provenance is read, which signer signs).
// A helper module, not a command: command files import it, never each other.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { AirlockError } from '../errors.ts';
import type { ArtifactContent, BuildOptions } from '../artifact/index.ts';
import type { Signer } from '../sign/index.ts';
import {
  type CommandContext,
  envName,
  type OptionSpec,
  type OptionValues,
  readStdin,
  stringOption,
} from './command.ts';
import { signerFrom } from './keys.ts';

export const BUILD_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'ignore-paths': {
    type: 'string',
    value: 'LIST',
    description:
      'Comma-separated gitignore patterns replacing the default list (.git/, images, archives).',
  },
  'add-ignore-paths': {
    type: 'string',
    value: 'LIST',
    description: 'Comma-separated gitignore patterns added to the list.',
  },
  'resolve-symlinks': { type: 'boolean', description: 'Follow symlinks instead of skipping them.' },
};

function csv(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function buildOptions(values: OptionValues): BuildOptions {
  const ignore = csv(stringOption(values, 'ignore-paths'));
  const add = csv(stringOption(values, 'add-ignore-paths'));
  return {
    ...(ignore ? { ignorePaths: ignore } : {}),
    ...(add ? { addIgnorePaths: add } : {}),
    resolveSymlinks: values['resolve-symlinks'] === true,
  };
}

/** DIR, a single file, or "-" for manifests on standard input. */
export async function contentFrom(
  path: string,
  values: OptionValues,
  stdin: Readable,
): Promise<ArtifactContent> {
  if (path === '-') return { kind: 'manifests', text: await readStdin(stdin) };
  return { kind: 'path', path, build: buildOptions(values) };
}

/**
 * The directory whose git checkout records a push's provenance when neither flags nor CI say:
 * the pushed directory, a pushed file's folder, else (standard input, a chart's CRDs) the
 * working directory.
 */
export async function provenanceDir(content: ArtifactContent): Promise<string> {
  if (content.kind !== 'path') return process.cwd();
  const info = await stat(content.path).catch(() => undefined);
  return info?.isDirectory() === true ? content.path : dirname(content.path);
}

/** What `artifact push` signs with: nothing, or the --key / --keyless signer of `airlock sign`. */
export async function pushSignerFrom(context: CommandContext): Promise<Signer | undefined> {
  const { values, env } = context;
  // A key from AIRLOCK_KEY alone does not sign: only --sign does, so a CI variable meant for
  // another step never signs a push by surprise.
  const keyFlag = stringOption(values, 'key') !== undefined && env[envName('key')] === undefined;
  if (values.sign !== true) {
    if (keyFlag || values.keyless === true)
      throw new AirlockError(
        'USAGE',
        '--key and --keyless choose the signer of --sign: add --sign',
      );
    if (values.sbom === true)
      throw new AirlockError('USAGE', '--sbom attaches a signed attestation: add --sign');
    return undefined;
  }
  return signerFrom(context);
}
