import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import semver from 'semver';
import { parse as parseYAML } from 'yaml';
import { ConfigError, AirlockError, type ConfigIssue } from '../errors.ts';
import {
  type Digest,
  gunzipLimited,
  GoMap,
  goJSON,
  isGzip,
  MediaType,
  readAll,
  readTar,
  sha256,
  type TarReadEntry,
} from '../core/index.ts';
import { parseManifest, type Repository } from '../oci/index.ts';
import { ANNOTATION } from './flux.ts';
import { collectEntries, entriesFromFiles, type LayerEntry, packLayer } from './build.ts';

/** Chart.yaml as Helm models it (helm pkg/chart Metadata); only the fields Helm serialises. */
export interface ChartMetadata {
  readonly name: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly [key: string]: unknown;
}

export interface ChartArchive {
  readonly metadata: ChartMetadata;
  readonly entries: readonly TarReadEntry[];
  /** Top-level directory inside the archive (normally the chart name). */
  readonly root: string;
}

const MAX_CHART_SIZE = 256 * 1024 * 1024;

/** Helm's version rule: strict semver (Masterminds StrictNewVersion), no "v" prefix. */
function isStrictSemver(version: string): boolean {
  return semver.valid(version) !== null && !/^v/i.test(version) && /^\d+\.\d+\.\d+/.test(version);
}

/** Validates Chart.yaml text; every problem at once, each with the file and field. */
export function parseChartYAML(text: string, where: string): ChartMetadata {
  let doc: unknown;
  try {
    doc = parseYAML(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`${where} is not valid YAML`, [
      { where, message: (error as Error).message.split('\n')[0] ?? 'parse error' },
    ]);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError(`${where} is not a YAML mapping`, [
      { where, message: 'expected a mapping of Chart.yaml fields' },
    ]);
  const m = doc as Record<string, unknown>;
  const issues: ConfigIssue[] = [];
  for (const field of ['apiVersion', 'name', 'version'] as const) {
    if (typeof m[field] !== 'string' || m[field] === '')
      issues.push({
        where: `${where}: ${field}`,
        message: `"${field}" is required and must be a string`,
      });
  }
  if (typeof m.version === 'string' && m.version !== '' && !isStrictSemver(m.version)) {
    issues.push({
      where: `${where}: version`,
      message: `"${m.version}" is not a semantic version (MAJOR.MINOR.PATCH, no "v")`,
    });
  }
  if (typeof m.name === 'string' && !/^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i.test(m.name))
    issues.push({ where: `${where}: name`, message: `"${m.name}" is not a valid chart name` });
  if (issues.length > 0) throw new ConfigError(`${where} is invalid`, issues);
  // Helm reads appVersion as a string even when YAML types it as a number.
  if (typeof m.appVersion === 'number') m.appVersion = String(m.appVersion);
  return m as ChartMetadata;
}

/** Reads a packaged chart (.tgz): its Chart.yaml under `<name>/`, validated. */
export function readChartArchive(tgz: Buffer, where: string): ChartArchive {
  if (!isGzip(tgz))
    throw new ConfigError(`${where} is not a gzip-compressed chart`, [
      { where, message: 'expected a .tgz made by helm package or airlock chart package' },
    ]);
  const entries = readTar(gunzipLimited(tgz, MAX_CHART_SIZE, where), where, MAX_CHART_SIZE);
  const chartYAML = entries.find((e) => e.type === 'file' && /^[^/]+\/Chart\.yaml$/.test(e.name));
  if (!chartYAML)
    throw new ConfigError(`${where} has no Chart.yaml`, [
      { where, message: 'expected <chart-name>/Chart.yaml inside the archive' },
    ]);
  const root = chartYAML.name.split('/')[0] ?? '';
  return {
    metadata: parseChartYAML(chartYAML.data.toString('utf8'), `${where}:${chartYAML.name}`),
    entries,
    root,
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const list = (v: unknown): unknown[] | undefined =>
  Array.isArray(v) && v.length > 0 ? v : undefined;

/**
 * The Helm config blob: json.Marshal(chart.Metadata), fields in Helm's struct order, all omitempty
 * (flux-oci.md §3.1; helm pkg/chart/metadata.go, dependency.go).
 */
export function helmConfig(m: ChartMetadata): Buffer {
  const maintainers = list(m.maintainers)?.map((x) => {
    const o = (x ?? {}) as Record<string, unknown>;
    return { name: str(o.name), email: str(o.email), url: str(o.url) };
  });
  const dependencies = list(m.dependencies)?.map((x) => {
    const o = (x ?? {}) as Record<string, unknown>;
    return {
      name: typeof o.name === 'string' ? o.name : '',
      version: str(o.version),
      repository: typeof o.repository === 'string' ? o.repository : '',
      condition: str(o.condition),
      tags: list(o.tags),
      enabled: o.enabled === true ? true : undefined,
      'import-values': list(o['import-values']),
      alias: str(o.alias),
    };
  });
  const annotations =
    m.annotations !== null &&
    typeof m.annotations === 'object' &&
    Object.keys(m.annotations).length > 0
      ? new GoMap(m.annotations as Record<string, string>)
      : undefined;
  return Buffer.from(
    goJSON({
      name: str(m.name),
      home: str(m.home),
      sources: list(m.sources),
      version: str(m.version),
      description: str(m.description),
      keywords: list(m.keywords),
      maintainers,
      icon: str(m.icon),
      apiVersion: str(m.apiVersion),
      condition: str(m.condition),
      tags: str(m.tags),
      appVersion: str(m.appVersion),
      deprecated: m.deprecated === true ? true : undefined,
      annotations,
      kubeVersion: str(m.kubeVersion),
      dependencies,
      type: str(m.type),
    }),
  );
}

/** Helm's manifest annotations (helm pkg/registry generateChartOCIAnnotations). */
export function helmAnnotations(m: ChartMetadata, created: string): Record<string, string> {
  const out: Record<string, string> = {};
  const description = str(m.description);
  const home = str(m.home);
  const source = str(list(m.sources)?.[0]);
  const authors = (list(m.maintainers) ?? [])
    .map((x) => {
      const o = (x ?? {}) as Record<string, unknown>;
      const name = str(o.name) ?? '';
      const email = str(o.email);
      return email ? `${name} (${email})` : name;
    })
    .filter((a) => a !== '')
    .join(', ');
  if (description) out[ANNOTATION.description] = description;
  if (home) out[ANNOTATION.url] = home;
  if (source) out[ANNOTATION.source] = source;
  if (authors) out[ANNOTATION.authors] = authors;
  out[ANNOTATION.created] = created;
  if (m.annotations !== null && typeof m.annotations === 'object') {
    for (const [k, v] of Object.entries(m.annotations as Record<string, unknown>))
      if (typeof v === 'string') out[k] = v;
  }
  out[ANNOTATION.title] = m.name;
  out[ANNOTATION.version] = m.version;
  return out;
}

/** Helm writes `+` in versions as `_` in tags (helm pkg/registry reference.go). */
export function chartTag(version: string): string {
  return version.replaceAll('+', '_');
}

export interface ChartPushResult {
  readonly name: string;
  readonly version: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: Digest;
  readonly provenance: boolean;
}

/**
 * Pushes a packaged chart as Helm does: repository `<prefix>/<name>`, tag = version (+ → _), the
 * Chart.yaml metadata as config, the exact .tgz bytes as the chart layer, a `.prov` file beside it
 * as the provenance layer, layers sorted by digest, Helm's annotations.
 */
export async function pushChart(
  open: (repository: string) => Repository,
  chartPath: string,
  prefix: string,
  options: { created?: string } = {},
): Promise<ChartPushResult> {
  let tgz: Buffer;
  try {
    tgz = await readFile(chartPath);
  } catch (error) {
    throw new AirlockError(
      'USAGE',
      `${chartPath}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
  let prov: Buffer | undefined;
  try {
    prov = await readFile(`${chartPath}.prov`);
  } catch {
    prov = undefined;
  }
  const created = options.created ?? `${(await stat(chartPath)).mtime.toISOString().slice(0, 19)}Z`;
  const chart = readChartArchive(tgz, chartPath);
  const repository = open(`${prefix.replace(/\/+$/, '')}/${chart.metadata.name}`);
  return pushChartArchive(repository, tgz, {
    created,
    ...(prov ? { provenance: prov } : {}),
    where: chartPath,
  });
}

/** Pushes chart bytes to a given repository (the step `pushChart` and the mirror share). */
export async function pushChartArchive(
  repository: Repository,
  tgz: Buffer,
  options: { created: string; provenance?: Buffer; where?: string },
): Promise<ChartPushResult> {
  const chart = readChartArchive(tgz, options.where ?? repository.name);
  const prov = options.provenance;
  const created = options.created;
  const config = helmConfig(chart.metadata);
  const configDescriptor = {
    mediaType: MediaType.helmConfig,
    digest: sha256(config),
    size: config.length,
  };
  const layers: { mediaType: string; digest: Digest; size: number; bytes: Buffer }[] = [
    { mediaType: MediaType.helmChart, digest: sha256(tgz), size: tgz.length, bytes: tgz },
  ];
  if (prov)
    layers.push({
      mediaType: MediaType.helmProvenance,
      digest: sha256(prov),
      size: prov.length,
      bytes: prov,
    });
  layers.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const mount = repository.mountName ? { mountFrom: repository.mountName } : {};
  await repository.pushBlob(
    configDescriptor,
    () => Promise.resolve(Readable.from([config])),
    mount,
  );
  for (const layer of layers)
    await repository.pushBlob(layer, () => Promise.resolve(Readable.from([layer.bytes])), mount);
  const manifest = Buffer.from(
    goJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: {
        mediaType: configDescriptor.mediaType,
        digest: configDescriptor.digest,
        size: configDescriptor.size,
      },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      annotations: new GoMap(helmAnnotations(chart.metadata, created)),
    }),
  );
  const tag = chartTag(chart.metadata.version);
  const pushed = await repository.pushManifest(manifest, MediaType.ociManifest, tag);
  return {
    name: chart.metadata.name,
    version: chart.metadata.version,
    repository: repository.name,
    tag,
    digest: pushed.digest,
    provenance: prov !== undefined,
  };
}

export interface ChartPullResult {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly digest: Digest;
}

/** Pulls a chart's exact .tgz (verified against the layer digest) as `<name>-<version>.tgz`. */
export async function pullChart(
  repository: Repository,
  reference: string,
  outputDir: string,
): Promise<ChartPullResult> {
  const fetched = await repository.fetchManifest(reference);
  const parsed = parseManifest(
    fetched.bytes,
    fetched.descriptor.mediaType,
    `${repository.name}:${reference}`,
  );
  if (parsed.kind !== 'manifest' || parsed.value.config.mediaType !== MediaType.helmConfig) {
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${reference} is not a Helm chart (config media type ${parsed.kind === 'manifest' ? parsed.value.config.mediaType : 'index'})`,
    );
  }
  const layer = parsed.value.layers.find(
    (l) => l.mediaType === MediaType.helmChart || l.mediaType === 'application/tar+gzip',
  );
  if (!layer)
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${repository.name}:${reference} has no chart layer`,
    );
  const tgz = await readAll(await repository.fetchBlob(layer));
  const chart = readChartArchive(tgz, `${repository.name}@${fetched.descriptor.digest}`);
  await mkdir(outputDir, { recursive: true });
  const path = join(outputDir, `${chart.metadata.name}-${chart.metadata.version}.tgz`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, tgz);
  await rename(tmp, path);
  return {
    path,
    name: chart.metadata.name,
    version: chart.metadata.version,
    digest: fetched.descriptor.digest,
  };
}

/**
 * CRDs of a chart as Flux artifact entries: the files of every `crds/` folder Helm would install
 * (the chart's own as `crds/<file>`, a subchart's as `crds/<subchart>/<file>`), plus plain
 * (untemplated) YAML documents of kind CustomResourceDefinition elsewhere in the chart. Templated
 * CRDs need rendering and are not taken.
 */
export function chartCRDEntries(chart: ChartArchive): LayerEntry[] {
  const files = new Map<string, Buffer>();
  let templated = 0;
  for (const entry of chart.entries) {
    if (entry.type !== 'file') continue;
    const relative = entry.name.slice(chart.root.length + 1);
    const crdFolder = /^((?:charts\/[^/]+\/)*)crds\/(.+)$/.exec(relative);
    if (crdFolder) {
      const subcharts = (crdFolder[1] ?? '').split('/').filter((p, i) => p !== '' && i % 2 === 1);
      files.set(['crds', ...subcharts, crdFolder[2] ?? ''].join('/'), entry.data);
      continue;
    }
    if (!/\.ya?ml$/.test(relative)) continue;
    const text = entry.data.toString('utf8');
    if (!/^kind:\s*CustomResourceDefinition\s*$/m.test(text)) continue;
    if (text.includes('{{')) {
      templated++;
      continue;
    }
    files.set(`crds/${basename(relative)}`, entry.data);
  }
  if (files.size === 0) {
    throw new AirlockError(
      'USAGE',
      `chart ${chart.metadata.name} ${chart.metadata.version} has no CRDs to push`,
      {
        details: [
          templated > 0
            ? `${templated} CRD manifest(s) are Helm templates: render the chart first (helm template) and push the output directory.`
            : 'The chart has no crds/ folder and no plain CustomResourceDefinition manifests.',
        ],
      },
    );
  }
  return entriesFromFiles(files);
}

export interface PackageResult {
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly digest: Digest;
}

/** The deterministic .tgz of a chart directory, in memory. */
export async function packageChartBytes(
  dir: string,
): Promise<{ tgz: Buffer; digest: Digest; metadata: ChartMetadata }> {
  const chartYAMLPath = join(dir, 'Chart.yaml');
  let text: string;
  try {
    text = await readFile(chartYAMLPath, 'utf8');
  } catch (error) {
    throw new ConfigError(`${chartYAMLPath} is missing`, [
      {
        where: chartYAMLPath,
        message: `cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); a chart directory needs a Chart.yaml`,
      },
    ]);
  }
  const metadata = parseChartYAML(text, chartYAMLPath);
  let ignore: string[] = [];
  try {
    ignore = (await readFile(join(dir, '.helmignore'), 'utf8')).split(/\r?\n/);
  } catch {
    ignore = [];
  }
  const entries = (await collectEntries(dir, { ignorePaths: ignore }))
    .filter((e) => e.type === 'file')
    .map((e): LayerEntry => ({ ...e, name: `${metadata.name}/${e.name}` }));
  const { tgz, digest } = packLayer(entries);
  return { tgz, digest, metadata };
}

/**
 * Packages a chart directory as a deterministic .tgz: files only, under `<name>/`, in sorted
 * pre-order, permission bits from disk, uid/gid 0, mtime 0, `.helmignore` honoured. The same tree
 * gives the same bytes on every machine.
 */
export async function packageChart(dir: string, outputDir: string): Promise<PackageResult> {
  const { tgz, digest, metadata } = await packageChartBytes(dir);
  await mkdir(outputDir, { recursive: true });
  const path = join(outputDir, `${metadata.name}-${metadata.version}.tgz`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, tgz);
  await rename(tmp, path);
  return { path, name: metadata.name, version: metadata.version, digest };
}

/**
 * Adds test manifests to a packaged chart under `<name>/templates/tests/` and repacks it
 * deterministically. The result's digest differs from upstream's; whoever signs it vouches for it.
 */
export async function injectTests(tgz: Buffer, testsDir: string, where: string): Promise<Buffer> {
  const chart = readChartArchive(tgz, where);
  let names: string[];
  try {
    names = (await readdir(testsDir)).filter((n) => /\.(ya?ml|tpl)$/.test(n)).sort();
  } catch (error) {
    throw new AirlockError('USAGE', `tests directory ${testsDir} cannot be read`, { cause: error });
  }
  if (names.length === 0)
    throw new AirlockError('USAGE', `tests directory ${testsDir} has no .yaml files`);
  const added = new Map<string, Buffer>();
  for (const name of names)
    added.set(`${chart.root}/templates/tests/${name}`, await readFile(join(testsDir, name)));
  const entries: LayerEntry[] = chart.entries
    .filter((e) => (e.type === 'file' || e.type === 'dir') && !added.has(e.name))
    .map((e) =>
      e.type === 'file'
        ? { name: e.name, type: 'file' as const, mode: e.mode, data: e.data }
        : { name: e.name, type: 'dir' as const, mode: e.mode },
    );
  for (const [name, data] of added) entries.push({ name, type: 'file', mode: 0o644, data });
  return packLayer(entries).tgz;
}
