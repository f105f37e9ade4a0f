import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYAML } from 'yaml';
import { AirlockError, RegistryError } from '../errors.ts';
import { readAll, sha256, tagVersion } from '../core/index.ts';
import { type HTTPTransport, readBody, type Repository } from '../oci/index.ts';
import { packageChartBytes, readChartArchive } from '../artifact/index.ts';
import type { InventoryRow } from './inventory.ts';
import type { UpstreamVersion } from './plan.ts';

const MAX_INDEX = 64 * 1024 * 1024;
const MAX_CHART = 256 * 1024 * 1024;

export interface UpstreamContext {
  readonly transport: HTTPTransport;
  /** Basic-auth credentials for an HTTP repository host (docker config.json, or --username). */
  readonly credentials?: (
    host: string,
  ) => Promise<{ username: string; password: string } | undefined>;
  /** index.yaml fetches shared by every row that names the same repository. */
  readonly indexCache?: Map<string, Promise<ParsedIndex>>;
  /** Opens `host/path` of an oci:// source. */
  readonly openOCI: (reference: string) => Repository;
  /** Directory relative local sources are resolved against (the inventory's). */
  readonly baseDir: string;
}

function localPath(source: string, baseDir: string): string {
  if (source.startsWith('file://')) return fileURLToPath(source);
  return isAbsolute(source) ? source : resolve(baseDir, source);
}

function indexURL(source: string): string {
  return `${source.replace(/\/+$/, '')}/index.yaml`;
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

async function httpGet(context: UpstreamContext, url: string, limit: number): Promise<Buffer> {
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
            : `The repository needs credentials: airlock login ${new URL(url).host}, or --username with --password-stdin.`,
        ],
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
    return await readBody(res.body, limit);
  } catch (error) {
    throw upstreamError(error, url);
  }
}

interface IndexEntry {
  version?: unknown;
  urls?: unknown;
  digest?: unknown;
  created?: unknown;
}

type ParsedIndex = { entries?: Record<string, IndexEntry[] | undefined> };

function parseIndex(text: string, where: string): ParsedIndex {
  try {
    return parseYAML(text) as ParsedIndex;
  } catch (error) {
    throw new AirlockError('UPSTREAM_INVALID', `${where}: index.yaml is not valid YAML`, {
      cause: error,
    });
  }
}

function versionsFromIndex(
  index: ParsedIndex,
  chart: string,
  base: string,
  where: string,
): UpstreamVersion[] {
  const entries = index.entries?.[chart];
  if (!Array.isArray(entries))
    throw new AirlockError('UPSTREAM_NOT_FOUND', `${where}: the index has no chart "${chart}"`);
  return entries.flatMap((e): UpstreamVersion[] => {
    const url = Array.isArray(e.urls) && typeof e.urls[0] === 'string' ? e.urls[0] : undefined;
    if (typeof e.version !== 'string' || url === undefined) return [];
    const time = typeof e.created === 'string' ? Date.parse(e.created) : NaN;
    const created = Number.isNaN(time)
      ? undefined
      : `${new Date(time).toISOString().slice(0, 19)}Z`;
    return [
      {
        version: e.version,
        location: new URL(url, base.endsWith('/') ? base : `${base}/`).toString(),
        ...(typeof e.digest === 'string' ? { digest: e.digest } : {}),
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
  if (row.sourceKind === 'http') {
    const url = indexURL(row.source);
    // Fetched and parsed once per repository, however many rows name it.
    let pending = context.indexCache?.get(url);
    if (!pending) {
      pending = httpGet(context, url, MAX_INDEX).then((b) => parseIndex(b.toString('utf8'), url));
      context.indexCache?.set(url, pending);
    }
    return versionsFromIndex(await pending, row.chart, row.source, url);
  }
  if (row.sourceKind === 'oci') {
    const base = row.source.replace(/^oci:\/\//, '').replace(/\/+$/, '');
    try {
      const tags = await context.openOCI(`${base}/${row.chart}`).listTags();
      return tags.flatMap((tag) => {
        const version = tagVersion(tag);
        // Helm's Tags(): only strict semver tags (no "v"), "_" read as "+".
        return version === undefined || tag.startsWith('v')
          ? []
          : [{ version, location: `${base}/${row.chart}:${tag}` }];
      });
    } catch (error) {
      throw upstreamError(error, `${row.source}/${row.chart}`);
    }
  }
  const dir = localPath(row.source, context.baseDir);
  try {
    const index = await readFile(join(dir, 'index.yaml'), 'utf8');
    return versionsFromIndex(
      parseIndex(index, join(dir, 'index.yaml')),
      row.chart,
      `file://${dir}/`,
      join(dir, 'index.yaml'),
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new AirlockError(
      'UPSTREAM_NOT_FOUND',
      `${row.where}: local source ${dir} cannot be read`,
      { cause: error },
    );
  }
  const found: UpstreamVersion[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (name.endsWith('.tgz')) {
      const chart = readChartArchive(await readFile(path), path);
      if (chart.metadata.name === row.chart)
        found.push({ version: chart.metadata.version, location: `file://${path}` });
    } else if ((await stat(path)).isDirectory()) {
      try {
        const text = await readFile(join(path, 'Chart.yaml'), 'utf8');
        const meta = parseYAML(text) as { name?: unknown; version?: unknown };
        if (meta.name === row.chart && typeof meta.version === 'string')
          found.push({ version: meta.version, location: `dir://${path}` });
      } catch {
        // not a chart directory
      }
    }
  }
  return found;
}

/** Fetches a version's .tgz, checking it against the index digest when the index states one. */
export async function fetchChart(
  row: InventoryRow,
  version: UpstreamVersion,
  context: UpstreamContext,
): Promise<Buffer> {
  let tgz: Buffer;
  if (version.location.startsWith('dir://'))
    tgz = (await packageChartBytes(version.location.slice('dir://'.length))).tgz;
  else if (version.location.startsWith('file://'))
    tgz = await readFile(fileURLToPath(version.location));
  else if (row.sourceKind === 'oci') {
    const [repository, tag] = [
      version.location.slice(0, version.location.lastIndexOf(':')),
      version.location.slice(version.location.lastIndexOf(':') + 1),
    ];
    try {
      const repo = context.openOCI(repository);
      const manifest = JSON.parse((await repo.fetchManifest(tag)).bytes.toString('utf8')) as {
        layers?: { mediaType: string; digest: `sha256:${string}`; size: number }[];
      };
      const layer = manifest.layers?.find(
        (l) => l.mediaType === 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
      );
      if (!layer)
        throw new AirlockError('UPSTREAM_INVALID', `${version.location} is not a Helm chart`);
      tgz = await readAll(await repo.fetchBlob(layer), MAX_CHART);
    } catch (error) {
      throw upstreamError(error, version.location);
    }
  } else tgz = await httpGet(context, version.location, MAX_CHART);
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
  const chart = readChartArchive(tgz, version.location);
  if (chart.metadata.name !== row.chart || chart.metadata.version !== version.version) {
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${version.location} holds ${chart.metadata.name} ${chart.metadata.version}, not ${row.chart} ${version.version}`,
    );
  }
  return tgz;
}
