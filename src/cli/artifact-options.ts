// Flags the artifact commands share (build, push, diff): how a directory becomes a Flux layer.
// A helper module, not a command: command files import it, never each other.
import type { Readable } from 'node:stream';
import type { ArtifactContent, BuildOptions } from '../artifact/index.ts';
import { type OptionSpec, type OptionValues, readStdin, stringOption } from './command.ts';

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
