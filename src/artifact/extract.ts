import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { AirlockError } from '../errors.ts';
import {
  DEFAULT_MAX_SIZE,
  escapeControl,
  gunzipLimited,
  isGzip,
  readTar,
  type TarReadEntry,
} from '../core/index.ts';

export interface ExtractOptions {
  /** Most bytes the archive may decompress to (default 256 MiB). */
  readonly maxSize?: number;
}

export interface ExtractResult {
  readonly files: readonly string[];
  readonly skippedSymlinks: readonly string[];
}

const DEFAULT_MAX = DEFAULT_MAX_SIZE;

/** Why an entry name is refused, or undefined when it is safe (source-controller pkg tar/untar.go). */
export function unsafeName(name: string): string | undefined {
  if (name === '') return 'an empty name';
  if (name.includes('\\')) return 'a backslash';
  if (name.startsWith('/')) return 'an absolute path';
  if (name.split('/').includes('..')) return 'a ".." component';
  if (name.includes('\0')) return 'a NUL byte';
  return undefined;
}

/** Reads a gzip'd tar into entries, refusing non-gzip input and oversize output. */
export function readLayer(layer: Buffer, where: string, maxSize = DEFAULT_MAX): TarReadEntry[] {
  if (!isGzip(layer))
    throw new AirlockError('MANIFEST_INVALID', `${where}: the layer is not gzip-compressed`);
  return readTar(gunzipLimited(layer, maxSize, where), where, maxSize);
}

/**
 * Extracts a Flux artifact layer into `outputDir` accepting exactly what Flux's source-controller
 * accepts (flux-oci.md §2.3): regular files and directories only; symlinks skipped; names that are
 * empty, absolute, contain "\" or ".." refused; hard links, devices, FIFOs and PAX global headers
 * refused; a size limit against decompression bombs. Every path is checked to stay inside the
 * output directory, also through symlinks that were already there.
 */
export async function extractLayer(
  layer: Buffer,
  outputDir: string,
  where: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const entries = readLayer(layer, where, options.maxSize ?? DEFAULT_MAX);
  const problems: string[] = [];
  for (const entry of entries) {
    const why = unsafeName(entry.name);
    if (why) problems.push(`"${escapeControl(entry.name)}" has ${why}`);
    if (
      entry.type === 'hardlink' ||
      entry.type === 'char' ||
      entry.type === 'block' ||
      entry.type === 'fifo' ||
      entry.type === 'pax-global' ||
      entry.type === 'other'
    ) {
      problems.push(
        `"${escapeControl(entry.name)}" is a ${entry.type} entry (type ${JSON.stringify(entry.typeflag)}), which Flux does not accept`,
      );
    }
  }
  if (problems.length > 0) {
    throw new AirlockError('MANIFEST_INVALID', `${where}: refusing to extract an unsafe archive`, {
      details: problems,
    });
  }
  await mkdir(outputDir, { recursive: true });
  const root = await realpath(outputDir);
  const files: string[] = [];
  const skippedSymlinks: string[] = [];
  const inside = async (path: string): Promise<void> => {
    // The deepest existing ancestor must resolve inside the root (no escape through a symlink).
    let probe = path;
    for (;;) {
      try {
        await lstat(probe);
        break;
      } catch {
        probe = dirname(probe);
      }
    }
    const real = await realpath(probe);
    if (real !== root && !real.startsWith(root + sep)) {
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: "${escapeControl(path)}" would be written outside ${outputDir}`,
      );
    }
  };
  for (const entry of entries) {
    const target = resolve(root, entry.name);
    if (target !== root && !target.startsWith(root + sep))
      throw new AirlockError(
        'MANIFEST_INVALID',
        `${where}: "${escapeControl(entry.name)}" escapes the output directory`,
      );
    if (entry.type === 'symlink') {
      skippedSymlinks.push(entry.name);
      continue;
    }
    await inside(target);
    if (entry.type === 'dir') {
      await mkdir(target, { recursive: true, mode: (entry.mode & 0o777) | 0o700 });
      continue;
    }
    await mkdir(dirname(target), { recursive: true, mode: 0o750 });
    await inside(dirname(target));
    try {
      const existing = await lstat(target);
      if (existing.isSymbolicLink())
        throw new AirlockError(
          'MANIFEST_INVALID',
          `${where}: "${escapeControl(entry.name)}" is a symlink in the output directory; refusing to write through it`,
        );
    } catch (error) {
      if (error instanceof AirlockError) throw error;
    }
    const handle = await open(target, 'w', entry.mode & 0o777);
    try {
      await handle.writeFile(entry.data);
      await handle.chmod(entry.mode & 0o777);
    } finally {
      await handle.close();
    }
    files.push(join(entry.name));
  }
  return { files, skippedSymlinks };
}
