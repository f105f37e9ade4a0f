import { open, rename, rm, writeFile } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';

/** The default limit on untrusted bytes read into memory: HTTP bodies, charts, local files. */
export const DEFAULT_MAX_SIZE = 256 * 1024 * 1024;

/** A reason a person understands for a failed file operation (ENOENT → "no such file"). */
export function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'a parent of it is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return code !== '' ? code : error instanceof Error ? error.message : String(error);
  }
}

export interface ReadFileOptions {
  /** What the file is, for the message: "the inventory", "the signing key". */
  readonly what?: string;
  /** Bytes at most (default DEFAULT_MAX_SIZE): a device or a huge file is refused, not buffered. */
  readonly maxSize?: number;
}

/**
 * Reads a file the user named: only a regular file, at most `maxSize` bytes, failing with
 * FILE_UNREADABLE (or SIZE_LIMIT_EXCEEDED) and a reason instead of an errno. The size is checked on
 * the open handle and again while reading, so a file that grows (or /dev/zero behind a symlink)
 * cannot make memory grow without bound.
 */
export async function readUserFile(path: string, options: ReadFileOptions = {}): Promise<Buffer> {
  const what = options.what ?? 'file';
  const limit = options.maxSize ?? DEFAULT_MAX_SIZE;
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new AirlockError(
      'FILE_UNREADABLE',
      `${path}: cannot read ${what}: ${fileProblem(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile())
      throw new AirlockError('FILE_UNREADABLE', `${path}: cannot read ${what}: not a regular file`);
    if (info.size > limit) throw sizeLimitError(path, limit);
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, limit + 1 - size));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > limit) throw sizeLimitError(path, limit);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, size);
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    throw new AirlockError(
      'FILE_UNREADABLE',
      `${path}: cannot read ${what}: ${fileProblem(error)}`,
      {
        cause: error,
      },
    );
  } finally {
    await handle.close();
  }
}

export function sizeLimitError(what: string, limit: number): AirlockError {
  return new AirlockError('SIZE_LIMIT_EXCEEDED', `${what} is larger than the ${limit}-byte limit`, {
    details: ['Raise the size limit if this size is expected.'],
    data: { option: 'maxSize', limit },
  });
}

/**
 * Writes a file atomically: a temporary sibling, then a rename, so a reader (or a crash) never
 * sees half a file. `exclusive` refuses to replace an existing file (keys are never overwritten).
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: { mode?: number; exclusive?: boolean } = {},
): Promise<void> {
  if (options.exclusive) {
    // wx on the final name claims it; the content still goes through a temporary file.
    try {
      await writeFile(path, '', { flag: 'wx', mode: options.mode ?? 0o644 });
    } catch (error) {
      throw new AirlockError('IO_FAILED', `${path}: cannot create it: ${fileProblem(error)}`, {
        cause: error,
        details:
          (error as NodeJS.ErrnoException).code === 'EEXIST'
            ? ['The file exists already; remove it or choose another name.']
            : [],
      });
    }
  }
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, content, { mode: options.mode ?? 0o644, flag: 'wx' });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new AirlockError('IO_FAILED', `${path}: cannot write it: ${fileProblem(error)}`, {
      cause: error,
    });
  }
}
