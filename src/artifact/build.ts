import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AirlockError } from '../errors.ts';
import {
  type Digest,
  fileProblem,
  FLUX_DEFAULT_IGNORE,
  gzipDeterministic,
  IgnoreMatcher,
  mapLimit,
  readUserFile,
  sha256,
  TAR_TRAILER,
  tarHeader,
  tarPadding,
} from '../core/index.ts';

/** One entry of a layer, in archive order. */
export interface LayerEntry {
  readonly name: string;
  readonly type: 'file' | 'dir';
  readonly mode: number;
  readonly data?: Buffer;
}

export interface BuildOptions {
  /** Replaces the default ignore list (Flux --ignore-paths). */
  readonly ignorePaths?: readonly string[];
  /** Appended to the ignore list (Flux 2.9 --add-ignore-paths). */
  readonly addIgnorePaths?: readonly string[];
  /** Follow symlinks (Flux copies the tree first); by default they are skipped, as Flux does. */
  readonly resolveSymlinks?: boolean;
}

export interface BuiltLayer {
  readonly entries: readonly LayerEntry[];
  /** The uncompressed tar; its digest is the layer's diffID. */
  readonly tar: Buffer;
  /** The gzip layer, deterministic for the same tar. */
  readonly tgz: Buffer;
  readonly diffID: Digest;
  readonly digest: Digest;
}

function unreadable(path: string, error: unknown): AirlockError {
  return new AirlockError('FILE_UNREADABLE', `${path}: cannot read it: ${fileProblem(error)}`, {
    cause: error,
  });
}

function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Permission bits plus setuid/setgid/sticky, as Go's FileInfoHeader keeps them. */
function modeBits(mode: number): number {
  return mode & 0o7777;
}

/**
 * Walks a directory the way Flux builds an artifact (flux-oci.md §1.4): pre-order, each
 * directory's entries sorted bytewise by name, a "." root entry, directory names without a
 * trailing slash, on-disk permission bits, symlinks and special files skipped (or followed with
 * `resolveSymlinks`), ignore rules with go-git semantics and excluded directories not pruned.
 */
export async function collectEntries(
  root: string,
  options: BuildOptions = {},
): Promise<LayerEntry[]> {
  let rootInfo;
  try {
    rootInfo = await stat(root);
  } catch (error) {
    throw unreadable(root, error);
  }
  const patterns = [
    ...(options.ignorePaths ?? FLUX_DEFAULT_IGNORE),
    ...(options.addIgnorePaths ?? []),
  ];
  const matcher = new IgnoreMatcher(patterns);
  if (rootInfo.isFile()) {
    // Flux 2.9: a single file is copied into a fresh temp dir, so the root entry has mode 0700.
    return [
      { name: '.', type: 'dir', mode: 0o700 },
      {
        name: basename(root),
        type: 'file',
        mode: modeBits(rootInfo.mode),
        data: await readUserFile(root, { what: 'the file' }),
      },
    ];
  }
  // First the walk (lstat of a directory's entries in parallel), then the file reads in parallel:
  // sequential awaits on thousands of small files would leave the disk idle between them.
  const planned: { name: string; type: 'file' | 'dir'; mode: number; path?: string }[] = [
    { name: '.', type: 'dir', mode: modeBits(rootInfo.mode) },
  ];
  const visiting = new Set<string>([await realpath(root)]);
  const walk = async (dir: string, relative: string): Promise<void> => {
    const names = (
      await readdir(dir).catch((error: unknown) => {
        throw unreadable(dir, error);
      })
    ).sort(byName);
    const infos = await Promise.all(
      names.map(async (name) => {
        const path = join(dir, name);
        let info = await lstat(path);
        if (info.isSymbolicLink()) {
          if (!options.resolveSymlinks) return undefined;
          try {
            info = await stat(path);
          } catch {
            return undefined; // a dangling link
          }
        }
        return { name, path, info };
      }),
    );
    for (const item of infos) {
      if (!item) continue;
      const { name, path, info } = item;
      const rel = relative === '' ? name : `${relative}/${name}`;
      if (info.isDirectory()) {
        const real = await realpath(path);
        if (visiting.has(real)) continue; // a symlink loop
        if (!matcher.ignores(rel, true))
          planned.push({ name: rel, type: 'dir', mode: modeBits(info.mode) });
        visiting.add(real);
        await walk(path, rel);
        visiting.delete(real);
      } else if (info.isFile() && !matcher.ignores(rel, false)) {
        planned.push({ name: rel, type: 'file', mode: modeBits(info.mode), path });
      }
    }
  };
  await walk(root, '');
  return mapLimit(planned, 32, async (entry): Promise<LayerEntry> => {
    if (entry.path === undefined) return { name: entry.name, type: entry.type, mode: entry.mode };
    const path = entry.path;
    const data = await readFile(path).catch((error: unknown) => {
      throw unreadable(path, error);
    });
    return { name: entry.name, type: entry.type, mode: entry.mode, data };
  });
}

/** Serialises entries as a tar archive with Go's header layout and gzips it deterministically. */
export function packLayer(entries: readonly LayerEntry[]): BuiltLayer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const size = entry.type === 'file' ? (entry.data?.length ?? 0) : 0;
    parts.push(tarHeader({ name: entry.name, type: entry.type, mode: entry.mode, size }));
    if (entry.type === 'file' && entry.data) parts.push(entry.data, tarPadding(size));
  }
  parts.push(TAR_TRAILER);
  const tar = Buffer.concat(parts);
  const tgz = gzipDeterministic(tar);
  return { entries, tar, tgz, diffID: sha256(tar), digest: sha256(tgz) };
}

export async function buildLayer(root: string, options: BuildOptions = {}): Promise<BuiltLayer> {
  return packLayer(await collectEntries(root, options));
}

/**
 * Manifests read from stdin: trailing newlines trimmed as Flux does, stored under a stable name
 * (Flux uses a random temp-file name, which makes its digest irreproducible; airlock's is not).
 */
export function stdinEntries(content: string): LayerEntry[] {
  return [
    { name: '.', type: 'dir', mode: 0o700 },
    {
      name: 'stdin.yaml',
      type: 'file',
      mode: 0o600,
      data: Buffer.from(content.replace(/[\r\n]+$/, '')),
    },
  ];
}

/**
 * Entries for in-memory files, in the order Flux's walk would write them if the files were on
 * disk (pre-order, names sorted bytewise per directory), with a "." root; dirs 0755, files 0644.
 */
export function entriesFromFiles(files: ReadonlyMap<string, Buffer>): LayerEntry[] {
  interface Node {
    readonly dirs: Map<string, Node>;
    readonly files: Map<string, Buffer>;
  }
  const root: Node = { dirs: new Map(), files: new Map() };
  for (const [path, data] of files) {
    const parts = path.split('/').filter((p) => p !== '');
    const file = parts.pop();
    if (file === undefined) continue;
    let node = root;
    for (const part of parts) {
      let next = node.dirs.get(part);
      if (!next) {
        next = { dirs: new Map(), files: new Map() };
        node.dirs.set(part, next);
      }
      node = next;
    }
    node.files.set(file, data);
  }
  const entries: LayerEntry[] = [{ name: '.', type: 'dir', mode: 0o755 }];
  const walk = (node: Node, prefix: string): void => {
    const names = [...new Set([...node.dirs.keys(), ...node.files.keys()])].sort(byName);
    for (const name of names) {
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const dir = node.dirs.get(name);
      if (dir) {
        entries.push({ name: rel, type: 'dir', mode: 0o755 });
        walk(dir, rel);
      }
      const data = node.files.get(name);
      if (data) entries.push({ name: rel, type: 'file', mode: 0o644, data });
    }
  };
  walk(root, '');
  return entries;
}
