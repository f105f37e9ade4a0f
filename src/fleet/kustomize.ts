// Building a Flux Kustomization's spec.path with a real kustomize, as kustomize-controller does
// (../shared/reference/flux-oci.md §4): the source is extracted into a private directory, a
// kustomization.yaml is generated where none exists and the Kustomization's own fields are merged
// into it (fluxcd/pkg kustomize/kustomize_generator.go, Generator.WriteFile and
// generateKustomization), then the directory is built without load restrictions and without
// plugins (BuildKustomization: LoadRestrictionsNone, DisabledPluginConfig).
//
// Nothing is ever written into the user's directory: the source is copied once into a temporary
// "pristine" tree (regular files only, what `flux push artifact` would pack), and every build works
// in a fresh copy of that tree, as every reconciliation works in a fresh extraction.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import {
  access,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, posix } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl, FLUX_DEFAULT_IGNORE, IgnoreMatcher } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap, marshalGoYAML, parseGoYAML } from '../goyaml/index.ts';
import { readObjects } from './objects.ts';

/** How a kustomize build is run: the binary and the arguments before the directory. */
export interface KustomizeTool {
  readonly path: string;
  /** 'kustomize' runs `kustomize build DIR`, 'kubectl' runs `kubectl kustomize DIR`. */
  readonly flavour: 'kustomize' | 'kubectl';
  /** Milliseconds spent in the tool's processes, added up across builds (benchmarks report it). */
  readonly stats?: { ms: number };
}

/** kustomize's output is bounded: a fleet path that renders more than this is refused. */
export const MAX_KUSTOMIZE_OUTPUT = 64 * 1024 * 1024;
/** The source tree copied per render is bounded too (files and bytes). */
export const MAX_SOURCE_FILES = 20_000;
export const MAX_SOURCE_BYTES = 256 * 1024 * 1024;
/** A kustomize build that takes longer than this is stopped. */
const KUSTOMIZE_TIMEOUT_MS = 120_000;

// konfig.RecognizedKustomizationFileNames(), in kustomize's order.
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

const flavourOf = (path: string): 'kustomize' | 'kubectl' =>
  basename(path).startsWith('kubectl') ? 'kubectl' : 'kustomize';

export async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The kustomize to build with: `bin` when given (kubectl when its name starts with "kubectl",
 * kustomize otherwise), else `kustomize`, else `kubectl` from PATH. INPUT_INVALID (option
 * kustomizeBin) when there is none.
 */
export async function findKustomize(
  bin: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KustomizeTool> {
  if (bin !== undefined) {
    if (!(await executable(bin)))
      throw new AirlockError(
        'INPUT_INVALID',
        `${escapeControl(bin)} is not an executable kustomize or kubectl`,
        { data: { option: 'kustomizeBin' } },
      );
    return { path: bin, flavour: flavourOf(bin) };
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of ['kustomize', 'kubectl'] as const)
    for (const dir of dirs) {
      const path = join(dir, name);
      if (await executable(path)) return { path, flavour: name };
    }
  throw new AirlockError('INPUT_INVALID', 'no kustomize or kubectl found on PATH', {
    details: ['install kustomize (or kubectl, which embeds it), or name the binary to use'],
    data: { option: 'kustomizeBin' },
  });
}

/** A private copy of a source tree; `dispose` removes it. */
export interface SourceCopy {
  readonly root: string;
  dispose(): Promise<void>;
}

/**
 * Copies `dir` into a new temporary directory as a Flux artifact would hold it: regular files and
 * directories only (symlinks are skipped, so a build cannot read outside the copy through one),
 * the paths `flux push artifact` leaves out by default skipped, and the size bounded.
 */
export async function copySource(dir: string): Promise<SourceCopy> {
  const base = await mkdtemp(join(tmpdir(), 'airlock-render-'));
  const root = join(base, 'source');
  const dispose = (): Promise<void> => rm(base, { recursive: true, force: true });
  const ignore = new IgnoreMatcher(FLUX_DEFAULT_IGNORE);
  let files = 0;
  let bytes = 0;
  const walk = async (from: string, to: string, relative: string): Promise<void> => {
    await mkdir(to, { recursive: true });
    const entries = await readdir(from, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if (ignore.ignores(rel, true)) continue;
        await walk(join(from, entry.name), join(to, entry.name), rel);
      } else if (entry.isFile()) {
        if (ignore.ignores(rel, false)) continue;
        const size = (await lstat(join(from, entry.name))).size;
        files += 1;
        bytes += size;
        if (files > MAX_SOURCE_FILES || bytes > MAX_SOURCE_BYTES)
          throw new AirlockError(
            'SIZE_LIMIT_EXCEEDED',
            `${escapeControl(dir)} holds more than ${MAX_SOURCE_FILES} files or ${MAX_SOURCE_BYTES} bytes`,
            { details: ['render a fleet directory, not a larger tree around it'] },
          );
        await cp(join(from, entry.name), join(to, entry.name));
      }
    }
  };
  try {
    await walk(dir, root, '');
  } catch (error) {
    await dispose();
    if (error instanceof AirlockError) throw error;
    throw new AirlockError('IO_FAILED', `${escapeControl(dir)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { root, dispose };
}

/**
 * The working copy builds of one source share (copied once, removed with it): each build writes
 * its kustomization file there and puts the original back afterwards, so every build still sees
 * the pristine tree plus its own kustomization, as a fresh extraction would, without copying the
 * tree per build. Builds of one render run one at a time.
 */
const workCopies = new WeakMap<SourceCopy, Promise<string>>();
function workCopy(source: SourceCopy): Promise<string> {
  let work = workCopies.get(source);
  if (work === undefined) {
    // Beside the pristine copy, inside the same temporary directory its dispose() removes.
    const root = join(dirname(source.root), 'work');
    work = cp(source.root, root, { recursive: true }).then(() => root);
    workCopies.set(source, work);
  }
  return work;
}

/** Remembers a directory's kustomization file (or its absence) and returns how to put it back. */
async function keepKustomization(dir: string): Promise<() => Promise<void>> {
  const name = await existingKustomizationFile(dir);
  if (name === undefined) return () => rm(join(dir, 'kustomization.yaml'), { force: true });
  const original = await readFile(join(dir, name));
  return () => writeFile(join(dir, name), original);
}

async function existingKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (info?.isFile() === true) return name;
  }
  return undefined;
}

/**
 * generateKustomization: the resources of a directory without a kustomization file. filepath.Walk
 * order (names sorted per directory); a sub-directory holding a kustomization file is listed as a
 * resource and not descended into; other sub-directories are descended into; files ending in
 * .yaml or .yml are listed as `./relative/path`. (The generator also decodes each file and fails
 * on one that is not Kubernetes YAML; kustomize fails on the same file when it loads it.)
 */
async function scanResources(root: string): Promise<string[]> {
  const resources: string[] = [];
  const walk = async (dir: string, relative: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        if ((await existingKustomizationFile(join(dir, entry.name))) !== undefined)
          resources.push(rel);
        else await walk(join(dir, entry.name), rel);
      } else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) resources.push(rel);
    }
  };
  await walk(root, '.');
  return resources;
}

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;

/**
 * Generator.WriteFile: the kustomization file of `dir` (generated when missing) with the Flux
 * Kustomization's spec.targetNamespace as `namespace`, spec.patches appended to `patches`, and
 * spec.images merged into `images` by name (name, newName and newTag, as the generator copies
 * them). The v1beta2 patchesStrategicMerge/patchesJson6902 fields are gone from the v1 API.
 */
export async function writeKustomization(
  dir: string,
  spec: GoMap,
  options: { origins?: boolean } = {},
): Promise<{ addedOrigins: boolean }> {
  let name = await existingKustomizationFile(dir);
  let kustomization: GoMap;
  if (name === undefined) {
    name = 'kustomization.yaml';
    kustomization = new Map<string, GoValue>([
      ['apiVersion', 'kustomize.config.k8s.io/v1beta1'],
      ['kind', 'Kustomization'],
      ['resources', await scanResources(dir)],
    ]);
  } else {
    const targetNamespace = spec.get('targetNamespace');
    const patches = spec.get('patches');
    const images = spec.get('images');
    const nothingToAdd =
      (typeof targetNamespace !== 'string' || targetNamespace === '') &&
      !(Array.isArray(patches) && patches.length > 0) &&
      !(Array.isArray(images) && images.length > 0);
    // The file is used as it is when the Kustomization adds nothing to it.
    if (nothingToAdd && options.origins !== true) return { addedOrigins: false };
    const text = await readFile(join(dir, name), 'utf8');
    let parsed: GoValue;
    try {
      parsed = parseGoYAML(text, name);
    } catch (error) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `${name}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    kustomization = isGoMap(parsed) ? parsed : new Map<string, GoValue>();
  }
  const targetNamespace = spec.get('targetNamespace');
  if (typeof targetNamespace === 'string' && targetNamespace !== '')
    kustomization.set('namespace', targetNamespace);
  const patches = spec.get('patches');
  if (Array.isArray(patches) && patches.length > 0) {
    const existing = kustomization.get('patches');
    kustomization.set('patches', [...(Array.isArray(existing) ? existing : []), ...patches]);
  }
  const images = spec.get('images');
  if (Array.isArray(images) && images.length > 0) {
    const existing = kustomization.get('images');
    const merged: GoValue[] = Array.isArray(existing) ? [...existing] : [];
    for (const image of images) {
      const entry = new Map<string, GoValue>();
      for (const key of ['name', 'newName', 'newTag']) {
        const value = field(image, key);
        if (typeof value === 'string' && value !== '') entry.set(key, value);
      }
      const at = merged.findIndex((m) => field(m, 'name') === entry.get('name'));
      if (at >= 0) merged[at] = entry;
      else merged.push(entry);
    }
    kustomization.set('images', merged);
  }
  // kustomize's origin annotations say which file each object came from (for findings); they
  // are removed again after the build unless the fleet asked for them itself.
  let addedOrigins = false;
  if (options.origins === true) {
    const metadata = kustomization.get('buildMetadata');
    const list = Array.isArray(metadata) ? metadata : [];
    if (!list.includes(ORIGIN_OPTION)) {
      kustomization.set('buildMetadata', [...list, ORIGIN_OPTION]);
      addedOrigins = true;
    }
  }
  await writeFile(join(dir, name), marshalGoYAML(kustomization));
  return { addedOrigins };
}

const ORIGIN_OPTION = 'originAnnotations';
const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

/**
 * The file an object came from, relative to the source root, from kustomize's origin annotation
 * (`path:` for a resource, `configuredIn:` for a generated one; relative to the built directory);
 * the annotation is removed when airlock added it.
 */
function takeOrigin(object: GoMap, builtDir: string, remove: boolean): string | undefined {
  const annotations = field(object.get('metadata'), 'annotations');
  if (!isGoMap(annotations)) return undefined;
  const origin = annotations.get(ORIGIN_ANNOTATION);
  if (remove) {
    annotations.delete(ORIGIN_ANNOTATION);
    const metadata = object.get('metadata');
    if (annotations.size === 0 && isGoMap(metadata)) metadata.delete('annotations');
  }
  if (typeof origin !== 'string') return undefined;
  let parsed: GoValue;
  try {
    parsed = parseGoYAML(origin);
  } catch {
    return undefined;
  }
  const path = field(parsed, 'path') ?? field(parsed, 'configuredIn');
  if (typeof path !== 'string' || path === '') return undefined;
  return posix.normalize(posix.join(builtDir === '' ? '.' : builtDir, path));
}

/** What a build printed: the objects, and per object the file it came from (when known). */
export interface KustomizeBuild {
  readonly objects: GoMap[];
  readonly files: (string | undefined)[];
}

/**
 * securejoin.SecureJoin(root, path), as kustomize-controller resolves spec.path: `..` cannot
 * climb above the root (it is clamped there, not refused). Returns the relative path, "" for the root.
 */
export function securePath(path: string): string {
  return posix.normalize(`/${path}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

const REMOTE =
  /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/|gitlab\.com\/|bitbucket\.org\/)|\?ref=/i;

/** The file paths a kustomization names: resources, patches, generator inputs and the rest. */
function referencedPaths(k: GoMap): { field: string; path: string }[] {
  const out: { field: string; path: string }[] = [];
  const strings = (field: string, value: GoValue | undefined): void => {
    if (Array.isArray(value))
      for (const v of value) if (typeof v === 'string') out.push({ field, path: v });
  };
  for (const field of [
    'resources',
    'bases',
    'components',
    'crds',
    'patchesStrategicMerge',
    'generators',
    'transformers',
    'validators',
    'configurations',
  ])
    strings(field, k.get(field));
  for (const field of ['patches', 'patchesJson6902', 'replacements']) {
    const list = k.get(field);
    if (Array.isArray(list))
      for (const item of list)
        if (isGoMap(item) && typeof item.get('path') === 'string')
          out.push({ field: `${field}[].path`, path: item.get('path') as string });
  }
  for (const field of ['configMapGenerator', 'secretGenerator']) {
    const list = k.get(field);
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (!isGoMap(item)) continue;
      const files = item.get('files');
      if (Array.isArray(files))
        for (const f of files)
          if (typeof f === 'string')
            out.push({
              field: `${field}[].files`,
              path: f.includes('=') ? f.slice(f.indexOf('=') + 1) : f,
            });
      strings(`${field}[].envs`, item.get('envs'));
      const env = item.get('env');
      if (typeof env === 'string') out.push({ field: `${field}[].env`, path: env });
    }
  }
  const openapi = k.get('openapi');
  if (isGoMap(openapi) && typeof openapi.get('path') === 'string')
    out.push({ field: 'openapi.path', path: openapi.get('path') as string });
  return out;
}

/**
 * Builds run without kustomize's load restrictions, as kustomize-controller builds (fleets refer
 * to `../base`); so before a build every kustomization in the copy is checked: a local path that
 * leaves the source, or a remote base or Helm chart (the network, and for a multitenant instance
 * forbidden: --no-remote-bases), is refused. A fleet repository must not make airlock read the
 * machine's files into its output, nor fetch from the network while rendering offline.
 */
async function checkKustomizationReferences(root: string, where: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
        continue;
      }
      if (!entry.isFile() || !KUSTOMIZATION_FILES.includes(entry.name)) continue;
      const file = full.slice(root.length + 1);
      let parsed: GoValue;
      try {
        parsed = parseGoYAML(await readFile(full, 'utf8'), file);
      } catch {
        continue; // kustomize reports the syntax error itself, with its own message
      }
      if (!isGoMap(parsed)) continue;
      if (parsed.has('helmCharts') || parsed.has('helmChartInflationGenerator'))
        throw new AirlockError(
          'PATH_OUTSIDE_SOURCE',
          `${where}: ${escapeControl(file)}: helmCharts inflate charts from the network; render HelmReleases through Flux instead`,
          { data: { file, field: 'helmCharts' } },
        );
      for (const { field, path } of referencedPaths(parsed)) {
        const resolved = posix.normalize(posix.join(posix.dirname(file), path));
        if (REMOTE.test(path))
          throw new AirlockError(
            'PATH_OUTSIDE_SOURCE',
            `${where}: ${escapeControl(file)}: ${field} ${escapeControl(path)} is a remote base: offline rendering fetches nothing (and multitenant Flux forbids remote bases)`,
            { data: { file, field } },
          );
        if (posix.isAbsolute(path) || resolved === '..' || resolved.startsWith('../'))
          throw new AirlockError(
            'PATH_OUTSIDE_SOURCE',
            `${where}: ${escapeControl(file)}: ${field} ${escapeControl(path)} leaves the source`,
            { data: { file, field } },
          );
      }
    }
  };
  await walk(root);
}

/** The outcome of one build, for error messages. */
export interface KustomizeBuildContext {
  /** Kind/namespace/name of the Flux Kustomization being built. */
  readonly kustomization: string;
  /** spec.path as written. */
  readonly path: string;
}

function run(tool: KustomizeTool, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  // BuildKustomization's LoadRestrictionsNone, spelled as kustomize's (not airlock's) flag.
  // eslint-disable-next-line no-restricted-syntax -- kustomize's own command-line flag
  const restrictor = ['--load-restrictor', 'LoadRestrictionsNone'];
  const args =
    tool.flavour === 'kubectl' ? ['kustomize', dir, ...restrictor] : ['build', dir, ...restrictor];
  const started = performance.now();
  return new Promise<string>((resolve, reject) => {
    execFile(
      tool.path,
      args,
      {
        encoding: 'utf8',
        maxBuffer: MAX_KUSTOMIZE_OUTPUT,
        timeout: KUSTOMIZE_TIMEOUT_MS,
        env,
        cwd: dir,
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (tool.stats) tool.stats.ms += performance.now() - started;
        if (error) reject(Object.assign(error as Error, { stderr }));
        else resolve(stdout);
      },
    );
  });
}

/**
 * Builds `spec.path` of a Flux Kustomization inside a fresh copy of `source` and returns the
 * objects kustomize printed. CONFIG_INVALID names the Kustomization and its path: a path that
 * does not exist, or kustomize's own error (its stderr, control characters escaped).
 */
export async function buildKustomization(
  tool: KustomizeTool,
  source: SourceCopy,
  spec: GoMap,
  context: KustomizeBuildContext,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KustomizeBuild> {
  const where = `${context.kustomization} (path ${JSON.stringify(escapeControl(context.path))})`;
  const workRoot = await workCopy(source);
  const work = { root: workRoot };
  let restore: (() => Promise<void>) | undefined;
  try {
    const dir = join(work.root, securePath(context.path));
    const info = await lstat(dir).catch(() => undefined);
    if (info?.isDirectory() !== true)
      throw new AirlockError(
        'CONFIG_INVALID',
        `${where}: kustomization path not found: ${escapeControl(securePath(context.path) || '.')}`,
        {
          details: [
            'spec.path is relative to the root of the source artifact (the fleet directory)',
          ],
          data: { object: context.kustomization, field: 'spec.path' },
        },
      );
    restore = await keepKustomization(dir);
    const { addedOrigins } = await writeKustomization(dir, spec, { origins: true });
    await checkKustomizationReferences(work.root, where);
    let output: string;
    try {
      output = await run(tool, dir, env);
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
      if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
        throw new AirlockError(
          'SIZE_LIMIT_EXCEEDED',
          `${where}: kustomize printed more than ${MAX_KUSTOMIZE_OUTPUT} bytes`,
          { data: { object: context.kustomization } },
        );
      if (failure.code === 'ENOENT' || failure.code === 'EACCES')
        throw new AirlockError('INPUT_INVALID', `${escapeControl(tool.path)}: ${failure.message}`, {
          data: { option: 'kustomizeBin' },
        });
      const stderr = (failure.stderr ?? '').trim() || failure.message;
      // kustomize names files by their path in the private copy; the user knows them from the root.
      const message = escapeControl(
        stderr.split(`${work.root}/`).join('').split(work.root).join('.'),
      );
      throw new AirlockError('CONFIG_INVALID', `${where}: kustomize build failed: ${message}`, {
        cause: error,
        data: { object: context.kustomization, field: 'spec.path' },
      });
    }
    try {
      const objects = readObjects(output);
      const builtDir = securePath(context.path);
      return { objects, files: objects.map((o) => takeOrigin(o, builtDir, addedOrigins)) };
    } catch (error) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `${where}: kustomize output does not decode: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, data: { object: context.kustomization } },
      );
    }
  } finally {
    await restore?.();
  }
}
