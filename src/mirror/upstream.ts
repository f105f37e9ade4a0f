import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYAML } from 'yaml';
import { AirlockError, ConfigError, RegistryError } from '../errors.ts';
import {
  DEFAULT_MAX_SIZE,
  escapeControl,
  hasControl,
  readAll,
  readUserFile,
  sha256,
  sizeLimitError,
  tagVersion,
} from '../core/index.ts';
import { type HTTPTransport, isValidTag, type Repository } from '../oci/index.ts';
import {
  type ChartArchive,
  chartTag,
  packageChartBytes,
  readChartArchive,
} from '../artifact/index.ts';
import { parseHelmIndex } from './helm-index.ts';
import type { InventoryRow } from './inventory.ts';
import type { UpstreamVersion } from './plan.ts';

// Upstreams are untrusted (docs/inventory.md, "Security"): an index.yaml decides nothing about the
// local disk, every byte read from an upstream is bounded by one limit, and every version is
// checked before anything is uploaded for it.

export interface UpstreamContext {
  readonly transport: HTTPTransport;
  /** Basic-auth credentials for an HTTP repository host (docker config.json, or given ones). */
  readonly credentials?: (
    host: string,
  ) => Promise<{ username: string; password: string } | undefined>;
  /** index.yaml fetches shared by every row that names the same repository. */
  readonly indexCache?: Map<string, Promise<ParsedIndex>>;
  /** Opens `host/path` of an oci:// source. */
  readonly openOCI: (reference: string) => Repository;
  /** Directory relative local sources are resolved against (the inventory's). */
  readonly baseDir: string;
  /**
   * Bytes at most read from an upstream, per document: an index.yaml, a chart body, an OCI chart
   * blob, a local file or packaged chart directory (default DEFAULT_MAX_SIZE).
   */
  readonly maxSize?: number;
}

function maxSizeOf(context: UpstreamContext): number {
  return context.maxSize ?? DEFAULT_MAX_SIZE;
}

/** Quotes remote text for a message: control characters escaped, so no upstream forges a line. */
function quote(text: string): string {
  return `"${escapeControl(text)}"`;
}

// ---------------------------------------------------------------------------------------------
// URLs: Helm's rules, http(s) only.

/** A scheme, as Go's url.Parse finds one (RFC 3986 §3.1): the reference is absolute. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Helm's ResolveReferenceURL (helm pkg/repo/chartrepo.go): an absolute reference is taken as it is;
 * a relative one is resolved against the repository URL with one trailing slash, and keeps the
 * repository URL's query. Backslashes stay path characters, as in Go (WHATWG URL would read them
 * as slashes and could change the host).
 */
export function resolveReferenceURL(base: string, ref: string): URL {
  if (SCHEME.test(ref)) return new URL(ref);
  const baseURL = new URL(base);
  baseURL.pathname = `${baseURL.pathname.replace(/\/+$/, '')}/`;
  const resolved = new URL(ref.replaceAll('\\', '%5C'), baseURL);
  resolved.search = baseURL.search;
  return resolved;
}

function indexURL(source: string): string {
  return resolveReferenceURL(source, 'index.yaml').toString();
}

function isHTTP(url: URL): boolean {
  return url.protocol === 'http:' || url.protocol === 'https:';
}

function schemeRefused(where: string, chart: string, version: string, what: string): AirlockError {
  return new AirlockError(
    'UPSTREAM_SCHEME_REFUSED',
    `${where}: ${chart} ${quote(version)}: ${what}; only http and https are followed`,
    {
      details: [
        'A chart repository index decides nothing about the local disk: nothing was read for this chart.',
      ],
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Bounded reads.

/** Reads a stream into memory, stopping (and destroying it) past `limit` bytes. */
/** An untrusted upstream body or file, bounded by the limit (core readAll). */
function readLimited(
  stream: Readable,
  limit: number,
  what: string,
  declared = NaN,
): Promise<Buffer> {
  return readAll(stream, limit, {
    what,
    // With a declared length a 44 MB index is held once, not as chunks plus their concatenation.
    ...(Number.isNaN(declared) ? {} : { declared }),
    tooLarge: (max) => sizeLimitError(what, max),
    // The connection broke mid-body (reset, truncation): transient.
    broken: (error) =>
      new AirlockError(
        'UPSTREAM_UNAVAILABLE',
        `${what}: the connection broke while reading it: ${error.message}`,
        { cause: error },
      ),
  });
}

/** Maps transport failures of an upstream to upstream codes, so reports tell them from target failures. */
function upstreamError(error: unknown, what: string): AirlockError {
  if (error instanceof RegistryError && error.status === 404)
    return new AirlockError('UPSTREAM_NOT_FOUND', `${what}: not found (HTTP 404)`, {
      cause: error,
    });
  if (
    error instanceof AirlockError &&
    (error.code === 'REGISTRY_UNREACHABLE' || error.code === 'REGISTRY_UNAVAILABLE')
  ) {
    return new AirlockError('UPSTREAM_UNAVAILABLE', `${what}: ${error.message}`, {
      cause: error,
      details: error.details,
    });
  }
  if (error instanceof AirlockError) return error;
  return new AirlockError('UPSTREAM_UNAVAILABLE', `${what}: ${(error as Error).message}`, {
    cause: error,
  });
}

/**
 * GET of an index or a chart, at most `limit` bytes. `subject` names what is fetched for messages
 * (index, chart, version), so a refused redirect says which entry led to it.
 */
async function httpGet(
  context: UpstreamContext,
  url: string,
  limit: number,
  subject: { where: string; chart: string; version: string } | undefined,
): Promise<Buffer> {
  try {
    const credential = await context.credentials?.(new URL(url).host);
    // Sent to this origin only: the transport drops Authorization on a cross-origin redirect.
    const headers: Record<string, string> = credential
      ? {
          authorization: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`,
        }
      : {};
    const res = await context.transport.request({ method: 'GET', url, headers });
    if (res.status === 401 || res.status === 403) {
      res.body.resume();
      throw new AirlockError('REGISTRY_AUTH', `${url}: HTTP ${res.status}`, {
        details: [
          credential
            ? 'The repository refused the credentials.'
            : `The repository needs credentials: airlock login ${new URL(url).host}, or give a username and password.`,
        ],
        data: { option: 'credentials' },
      });
    }
    if (res.status === 404) {
      res.body.resume();
      throw new AirlockError('UPSTREAM_NOT_FOUND', `${url}: not found (HTTP 404)`);
    }
    if (res.status !== 200) {
      res.body.resume();
      throw new AirlockError(
        res.status >= 500 || res.status === 429 ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_INVALID',
        `${url}: HTTP ${res.status}`,
      );
    }
    // A declared length over the limit is refused before a byte is read.
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      res.body.destroy();
      throw sizeLimitError(url, limit);
    }
    return await readLimited(res.body, limit, url, declared);
  } catch (error) {
    const scheme = error instanceof AirlockError ? error.data.redirectScheme : undefined;
    if (typeof scheme === 'string') {
      throw subject
        ? schemeRefused(
            subject.where,
            subject.chart,
            subject.version,
            `${url} redirects to a ${scheme}: URL`,
          )
        : new AirlockError(
            'UPSTREAM_SCHEME_REFUSED',
            `${url} redirects to a ${scheme}: URL; only http and https are followed`,
            { cause: error },
          );
    }
    throw upstreamError(error, url);
  }
}

// ---------------------------------------------------------------------------------------------
// Local sources: reads stay inside the directory the inventory names.

interface SourceRoot {
  /** The directory as the inventory names it (resolved against the inventory's directory). */
  readonly dir: string;
  /** Its real path: symlinks are followed only when their target is inside it. */
  readonly real: string;
}

function localPath(source: string, baseDir: string): string {
  if (source.startsWith('file://')) {
    try {
      return fileURLToPath(source);
    } catch (error) {
      throw new AirlockError('UPSTREAM_NOT_FOUND', `${source} is not a local file:// URL`, {
        cause: error,
      });
    }
  }
  return isAbsolute(source) ? source : resolve(baseDir, source);
}

async function sourceRoot(row: InventoryRow, context: UpstreamContext): Promise<SourceRoot> {
  const dir = localPath(row.source, context.baseDir);
  try {
    const real = await realpath(dir);
    if (!(await stat(real)).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return { dir, real };
  } catch (error) {
    throw new AirlockError(
      'UPSTREAM_NOT_FOUND',
      `${row.where}: local source ${dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function outside(root: SourceRoot, path: string, how: string): AirlockError {
  return new AirlockError(
    'PATH_OUTSIDE_SOURCE',
    `${path} ${how} outside the local source ${root.dir}`,
    {
      details: ['A local source reads files only under the directory the inventory names.'],
    },
  );
}

/**
 * The real path of `path` after checking it stays under the source: lexically (no `..`, no
 * absolute path elsewhere) and after symlinks. A missing file gives undefined.
 */
async function insideSource(root: SourceRoot, path: string): Promise<string | undefined> {
  const absolute = resolve(root.dir, path);
  if (!within(root.dir, absolute) && !within(root.real, absolute))
    throw outside(root, absolute, 'is');
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError(
      'FILE_UNREADABLE',
      `${absolute}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
  if (!within(root.real, real))
    throw outside(root, absolute, `leads (through a symlink) to ${real},`);
  return real;
}

/**
 * Reads a file of a local source: inside it, a regular file (a FIFO or device is refused before it
 * is opened, so nothing blocks or streams forever), at most `limit` bytes. Missing: undefined.
 */
async function readSourceFile(
  root: SourceRoot,
  path: string,
  limit: number,
  what: string,
): Promise<Buffer | undefined> {
  const real = await checkSourceFile(root, path, limit, what);
  return real === undefined ? undefined : readUserFile(real, { what, maxSize: limit });
}

async function checkSourceFile(
  root: SourceRoot,
  path: string,
  limit: number,
  what: string,
): Promise<string | undefined> {
  const real = await insideSource(root, path);
  if (real === undefined) return undefined;
  const info = await stat(real);
  if (!info.isFile())
    throw new AirlockError('FILE_UNREADABLE', `${path}: cannot read ${what}: not a regular file`);
  if (info.size > limit) throw sizeLimitError(path, limit);
  return real;
}

// ---------------------------------------------------------------------------------------------
// Listing.

/** A chart archive from an upstream: a broken one is the upstream's fault, not the inventory's. */
function readUpstreamChart(tgz: Buffer, where: string): ChartArchive {
  try {
    return readChartArchive(tgz, where);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new AirlockError('UPSTREAM_INVALID', `${where}: not a valid Helm chart archive`, {
      cause: error,
      details: error.details,
    });
  }
}

interface IndexEntry {
  version?: unknown;
  urls?: unknown;
  digest?: unknown;
  created?: unknown;
}

type ParsedIndex = { entries?: Record<string, unknown> };

function parseIndex(bytes: Buffer, where: string): ParsedIndex {
  let parsed: unknown;
  try {
    // A fast scanner of the bytes for the shape Helm writes; anything else goes to the YAML parser.
    parsed = parseHelmIndex(bytes);
  } catch (error) {
    throw new AirlockError('UPSTREAM_INVALID', `${where}: index.yaml is not valid YAML`, {
      cause: error,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new AirlockError('UPSTREAM_INVALID', `${where}: index.yaml is not a Helm index`);
  return parsed;
}

/**
 * Refuses a version that could forge output or cannot become a tag, before anything is uploaded:
 * remote text with control characters is refused (UPSTREAM_INVALID), not carried escaped; a version
 * whose tag (Helm's + → _) breaks the OCI tag grammar fails with TAG_INVALID.
 */
function checkVersion(version: string, chart: string, where: string): void {
  if (hasControl(version))
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${where}: ${chart} lists version ${quote(version)}, which holds control characters`,
      { details: ['Nothing was mirrored for this chart: the upstream index is not trustworthy.'] },
    );
  const tag = chartTag(version);
  if (!isValidTag(tag))
    throw new AirlockError(
      'TAG_INVALID',
      `${where}: ${chart} version ${quote(version.length > 80 ? `${version.slice(0, 80)}…` : version)} (${version.length} characters) cannot be an OCI tag`,
      {
        details: [
          'An OCI tag is [A-Za-z0-9_][A-Za-z0-9._-]{0,127} (the version with + written as _); nothing was pushed for this chart.',
        ],
      },
    );
}

/** Where an index lives: an HTTP repository, or a local source directory. */
type IndexOrigin =
  | { readonly kind: 'http'; readonly base: string; readonly where: string }
  | { readonly kind: 'local'; readonly root: SourceRoot; readonly where: string };

/** A chart URL from an index, resolved and checked: http(s), or a file inside a local source. */
function chartLocation(origin: IndexOrigin, ref: string, chart: string, version: string): string {
  if (hasControl(ref))
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${origin.where}: ${chart} ${quote(version)}: the chart URL ${quote(ref)} holds control characters`,
    );
  let url: URL;
  try {
    url =
      origin.kind === 'http'
        ? resolveReferenceURL(origin.base, ref)
        : resolveReferenceURL(pathToFileURL(`${origin.root.dir}/`).toString(), ref);
  } catch (error) {
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${origin.where}: ${chart} ${quote(version)}: the chart URL ${quote(ref)} is not a URL`,
      { cause: error },
    );
  }
  if (isHTTP(url)) return url.toString();
  if (origin.kind === 'local' && url.protocol === 'file:') {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw outside(origin.root, url.toString(), 'is');
    }
    // Lexical check now; symlinks are checked when the file is read.
    if (!within(origin.root.dir, path) && !within(origin.root.real, path))
      throw outside(
        origin.root,
        path,
        `(listed for ${chart} ${quote(version)} in ${origin.where}) is`,
      );
    return url.toString();
  }
  throw schemeRefused(
    origin.where,
    chart,
    version,
    `the chart URL ${quote(ref)} is a ${url.protocol} URL`,
  );
}

function versionsFromIndex(
  index: ParsedIndex,
  chart: string,
  origin: IndexOrigin,
): UpstreamVersion[] {
  const entries = index.entries?.[chart];
  if (!Array.isArray(entries))
    throw new AirlockError(
      'UPSTREAM_NOT_FOUND',
      `${origin.where}: the index has no chart "${chart}"`,
    );
  // Every entry of the chart is checked, not only those the row asks for: one hostile entry makes
  // the whole index untrustworthy for this chart.
  return (entries as unknown[]).flatMap((raw): UpstreamVersion[] => {
    if (raw === null || typeof raw !== 'object') return [];
    const e = raw as IndexEntry;
    const url = Array.isArray(e.urls) && typeof e.urls[0] === 'string' ? e.urls[0] : undefined;
    if (typeof e.version !== 'string' || url === undefined) return [];
    checkVersion(e.version, chart, origin.where);
    const location = chartLocation(origin, url, chart, e.version);
    let digest: string | undefined;
    if (typeof e.digest === 'string' && e.digest !== '') {
      if (!/^[a-fA-F0-9]{64}$/.test(e.digest))
        throw new AirlockError(
          'UPSTREAM_INVALID',
          `${origin.where}: ${chart} ${quote(e.version)}: digest ${quote(e.digest)} is not a sha256 hex digest`,
        );
      digest = e.digest.toLowerCase();
    }
    const time = typeof e.created === 'string' ? Date.parse(e.created) : NaN;
    const created = Number.isNaN(time)
      ? undefined
      : `${new Date(time).toISOString().slice(0, 19)}Z`;
    return [
      {
        version: e.version,
        location,
        ...(digest ? { digest } : {}),
        ...(created ? { created } : {}),
      },
    ];
  });
}

/** The versions an upstream offers for a row's chart. */
export async function listUpstream(
  row: InventoryRow,
  context: UpstreamContext,
): Promise<UpstreamVersion[]> {
  const limit = maxSizeOf(context);
  if (row.sourceKind === 'http') {
    const url = indexURL(row.source);
    // Fetched and parsed once per repository, however many rows name it.
    let pending = context.indexCache?.get(url);
    if (!pending) {
      pending = httpGet(context, url, limit, undefined).then((b) => parseIndex(b, url));
      context.indexCache?.set(url, pending);
    }
    return versionsFromIndex(await pending, row.chart, {
      kind: 'http',
      base: row.source,
      where: url,
    });
  }
  if (row.sourceKind === 'oci') {
    const base = row.source.replace(/^oci:\/\//, '').replace(/\/+$/, '');
    let tags: string[];
    try {
      tags = await context.openOCI(`${base}/${row.chart}`).listTags();
    } catch (error) {
      throw upstreamError(error, `${row.source}/${row.chart}`);
    }
    return tags.flatMap((tag) => {
      const version = tagVersion(tag);
      // Helm's Tags(): only strict semver tags (no "v"), "_" read as "+".
      if (version === undefined || tag.startsWith('v')) return [];
      checkVersion(version, row.chart, `${row.source}/${row.chart}`);
      return [{ version, location: `${base}/${row.chart}:${tag}` }];
    });
  }
  const root = await sourceRoot(row, context);
  const indexPath = join(root.dir, 'index.yaml');
  const index = await readSourceFile(root, indexPath, limit, 'the index');
  if (index !== undefined)
    return versionsFromIndex(parseIndex(index, indexPath), row.chart, {
      kind: 'local',
      root,
      where: indexPath,
    });
  let names: string[];
  try {
    names = await readdir(root.dir);
  } catch (error) {
    throw new AirlockError(
      'UPSTREAM_NOT_FOUND',
      `${row.where}: local source ${root.dir} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
  const found: UpstreamVersion[] = [];
  for (const name of names.sort()) {
    const path = join(root.dir, name);
    if (name.endsWith('.tgz')) {
      const tgz = await readSourceFile(root, path, limit, 'a packaged chart');
      if (tgz === undefined) continue; // a dangling symlink
      const chart = readUpstreamChart(tgz, path);
      if (chart.metadata.name !== row.chart) continue;
      checkVersion(chart.metadata.version, row.chart, path);
      found.push({ version: chart.metadata.version, location: pathToFileURL(path).toString() });
    } else if (await isSourceDirectory(root, path)) {
      const text = await readSourceFile(root, join(path, 'Chart.yaml'), limit, 'Chart.yaml');
      if (text === undefined) continue; // not a chart directory
      let meta: { name?: unknown; version?: unknown } | undefined;
      try {
        meta = parseYAML(text.toString('utf8')) as typeof meta;
      } catch {
        continue; // not a chart directory
      }
      if (meta?.name !== row.chart || typeof meta.version !== 'string') continue;
      checkVersion(meta.version, row.chart, join(path, 'Chart.yaml'));
      found.push({ version: meta.version, location: `dir://${path}` });
    }
  }
  // Like an HTTP index without the chart: a typo in the inventory is a failure, not silence.
  if (found.length === 0)
    throw new AirlockError(
      'UPSTREAM_NOT_FOUND',
      `${row.where}: local source ${root.dir} has no chart "${row.chart}" (no index.yaml, no packaged chart or chart directory of that name)`,
    );
  return found;
}

/** Whether an entry of a local source is a directory; a symlink to one must stay inside it. */
async function isSourceDirectory(root: SourceRoot, path: string): Promise<boolean> {
  const info = await lstat(path);
  if (info.isDirectory()) return true;
  if (!info.isSymbolicLink()) return false;
  let target;
  try {
    target = await stat(path);
  } catch {
    return false; // a dangling symlink
  }
  if (!target.isDirectory()) return false;
  await insideSource(root, path);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fetching.

/** A local chart directory, packaged: Chart.yaml and .helmignore checked first (packaging reads them). */
async function packageSourceDirectory(
  root: SourceRoot,
  path: string,
  limit: number,
): Promise<Buffer> {
  const real = await insideSource(root, path);
  if (real === undefined)
    throw new AirlockError('UPSTREAM_NOT_FOUND', `${path}: the chart directory is gone`);
  if ((await checkSourceFile(root, join(path, 'Chart.yaml'), limit, 'Chart.yaml')) === undefined)
    throw new AirlockError('UPSTREAM_NOT_FOUND', `${path} has no Chart.yaml`);
  await checkSourceFile(root, join(path, '.helmignore'), limit, '.helmignore');
  // The walk reads regular files only and skips symlinks (artifact collectEntries); their sizes
  // are added up first, so a huge (or sparse, highly compressible) file is refused before it is
  // read into memory, not after it has been packaged.
  const unpacked = await regularFilesSize(real, limit);
  if (unpacked > limit) throw sizeLimitError(`the chart directory ${path}`, limit);
  const { tgz } = await packageChartBytes(real);
  if (tgz.length > limit) throw sizeLimitError(`the packaged chart ${path}`, limit);
  return tgz;
}

/** The total size of the regular files below `dir` (symlinks not followed), stopping past `limit`. */
async function regularFilesSize(dir: string, limit: number): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += (await lstat(join(entry.parentPath, entry.name))).size;
    if (total > limit) break;
  }
  return total;
}

async function fetchOCIChart(
  location: string,
  limit: number,
  context: UpstreamContext,
): Promise<Buffer> {
  const [repository, tag] = [
    location.slice(0, location.lastIndexOf(':')),
    location.slice(location.lastIndexOf(':') + 1),
  ];
  try {
    const repo = context.openOCI(repository);
    const manifest = JSON.parse((await repo.fetchManifest(tag)).bytes.toString('utf8')) as {
      layers?: { mediaType: string; digest: `sha256:${string}`; size: number }[];
    };
    const layer = manifest.layers?.find(
      (l) => l.mediaType === 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
    );
    if (!layer) throw new AirlockError('UPSTREAM_INVALID', `${location} is not a Helm chart`);
    // The declared size is refused before the blob is requested; the read is bounded as well.
    if (typeof layer.size !== 'number' || layer.size > limit)
      throw sizeLimitError(`${location} (chart layer of ${String(layer.size)} bytes)`, limit);
    return await readLimited(await repo.fetchBlob(layer), limit, location);
  } catch (error) {
    throw upstreamError(error, location);
  }
}

/** Fetches a version's .tgz, checking it against the index digest when the index states one. */
export async function fetchChart(
  row: InventoryRow,
  version: UpstreamVersion,
  context: UpstreamContext,
): Promise<Buffer> {
  const limit = maxSizeOf(context);
  const where = `${row.where}: ${row.chart} ${quote(version.version)}`;
  let tgz: Buffer;
  // The row's kind decides what a location may be, whatever the listing produced.
  if (row.sourceKind === 'oci') tgz = await fetchOCIChart(version.location, limit, context);
  else if (row.sourceKind === 'local' && version.location.startsWith('dir://')) {
    const root = await sourceRoot(row, context);
    tgz = await packageSourceDirectory(root, version.location.slice('dir://'.length), limit);
  } else {
    let url: URL;
    try {
      url = new URL(version.location);
    } catch (error) {
      throw new AirlockError(
        'UPSTREAM_INVALID',
        `${where}: ${quote(version.location)} is not a URL`,
        {
          cause: error,
        },
      );
    }
    if (isHTTP(url))
      tgz = await httpGet(context, url.toString(), limit, {
        where: row.where,
        chart: row.chart,
        version: version.version,
      });
    else if (row.sourceKind === 'local' && url.protocol === 'file:') {
      const root = await sourceRoot(row, context);
      const path = fileURLToPath(url);
      const bytes = await readSourceFile(root, path, limit, 'the chart');
      if (bytes === undefined)
        throw new AirlockError('UPSTREAM_NOT_FOUND', `${where}: ${path}: no such file`);
      tgz = bytes;
    } else
      throw schemeRefused(
        row.where,
        row.chart,
        version.version,
        `its location is a ${url.protocol} URL`,
      );
  }
  if (version.digest !== undefined && sha256(tgz) !== `sha256:${version.digest}`) {
    throw new AirlockError(
      'DIGEST_MISMATCH',
      `${version.location}: the chart's digest ${sha256(tgz)} is not the index's sha256:${version.digest}`,
      {
        details: [
          'The upstream served different bytes than its index lists; nothing was mirrored for it.',
        ],
      },
    );
  }
  const chart = readUpstreamChart(tgz, version.location);
  if (chart.metadata.name !== row.chart || chart.metadata.version !== version.version) {
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${version.location} holds ${quote(chart.metadata.name)} ${quote(chart.metadata.version)}, not ${row.chart} ${quote(version.version)}`,
    );
  }
  return tgz;
}
