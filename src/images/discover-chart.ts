// The images of a Helm chart (issue 12 §1, `airlock images list CHART`): from its
// `artifacthub.io/images` annotation, its image-shaped values (discover-values.ts: values.yaml with
// the values files given, merged as Helm merges them, subcharts included), and — when a Helm
// binary is available — the pod specs of `helm template` with the same values.
//
// A chart archive is untrusted input: it is read in memory only (nothing is extracted to disk but
// the archive itself, handed to helm as given), every gzip stream and tar is bounded by one size
// budget shared with the subchart archives inside it, entry names that could escape a directory
// are refused, and subcharts nest at most MAX_DEPTH deep.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, posix, resolve } from 'node:path';
import semver from 'semver';
import { parse as parseYAML } from 'yaml';
import { AirlockError } from '../errors.ts';
import {
  DEFAULT_MAX_SIZE,
  escapeControl,
  gunzipLimited,
  isGzip,
  MediaType,
  readAll,
  readTar,
  readUserFile,
} from '../core/index.ts';
import { type GoValue, isGoMap, parseGoYAML, splitGoYAMLDocuments } from '../goyaml/index.ts';
import { fetchImageManifest, referenceTarget } from '../oci/index.ts';
import {
  type ChartMetadata,
  parseChartReference,
  parseChartYAML,
  unsafeName,
} from '../artifact/index.ts';
import type { Session } from '../session/index.ts';
import {
  type DiscoveredImage,
  ImageCollector,
  type ImageSource,
  type InvalidImage,
  invalidImagesError,
  workloadImages,
} from './discover.ts';
import {
  coalesceValues,
  formatPath,
  isValueMap,
  mergeValues,
  parseValues,
  positionIn,
  type Segment,
  valueAt,
  type ValueMap,
  type ValuesLayer,
  valuesImages,
} from './discover-values.ts';
import { type ImageReference, ImageReferenceError, normalizeImage } from './reference.ts';

export const ARTIFACTHUB_IMAGES = 'artifacthub.io/images';
/** Subcharts inside subcharts, at most this deep. */
const MAX_DEPTH = 10;
/** A values file is text a person writes: anything this large is not one. */
const MAX_VALUES_SIZE = 16 * 1024 * 1024;
const MAX_HELM_OUTPUT = 64 * 1024 * 1024;
const HELM_TIMEOUT_MS = 120_000;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const empty = (): ValueMap => new Map();

type ChartDependency = NonNullable<ChartMetadata['dependencies']>[number];

export interface ListChartImagesOptions {
  /**
   * The chart: a path to a packaged chart (.tgz), its bytes, or a chart in a registry
   * (`oci://host/repo/chart:version`, `host/repo/chart:version`, `…@sha256:…`,
   * `oci-layout:PATH:TAG`), pulled through `session`. Several charts give one list.
   */
  readonly chart: string | Buffer | readonly (string | Buffer)[];
  /** Values files, merged in order over each chart's values.yaml (later files win), as helm -f. */
  readonly values?: readonly string[];
  /** Run `helm template` when a helm binary is found (default true). */
  readonly helm?: boolean;
  /** The helm binary (default: helm on PATH; INPUT_INVALID when it is not executable). */
  readonly helmBin?: string;
  /** The environment PATH is searched in for helm (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** For charts in a registry. */
  readonly session?: Session;
  /** `helm template` release name (default: the chart's name) and namespace (default). */
  readonly releaseName?: string;
  readonly namespace?: string;
  /** `helm template --kube-version`. */
  readonly kubeVersion?: string;
  /** Bytes a chart may decompress to, its subcharts included (default 256 MiB). */
  readonly maxSize?: number;
}

/** A subchart as Helm would install it with the values given. */
export interface ListedSubchart {
  /** Its values key: the name or alias, dotted below the top chart (`kube-state-metrics`). */
  readonly key: string;
  readonly name: string;
  readonly version: string;
  /** False when its condition or tags disable it (its images are then not listed). */
  readonly enabled: boolean;
}

/** A dependency Chart.yaml declares that is not in the archive (helm template refuses it). */
export interface MissingDependency {
  /** The (sub)chart that declares it, by values key (empty for the top chart). */
  readonly in: string;
  readonly name: string;
  readonly version?: string;
}

export interface ListedChart {
  /** The chart as given: path or reference (`<bytes>` for bytes). */
  readonly input: string;
  readonly name: string;
  readonly version: string;
  readonly appVersion?: string;
  /** The manifest digest, for a chart read from a registry. */
  readonly digest?: string;
  readonly subcharts: readonly ListedSubchart[];
  readonly missingDependencies: readonly MissingDependency[];
  /** Whether `helm template` rendered it. */
  readonly rendered: boolean;
}

export interface ChartImages {
  readonly charts: readonly ListedChart[];
  /** Deduplicated by normalised reference, sorted; each with every source. */
  readonly images: readonly DiscoveredImage[];
  /** The helm binary that rendered the templates, when one ran. */
  readonly helm?: string;
}

interface LoadedChart {
  readonly metadata: ChartMetadata;
  readonly dependencies: readonly ChartDependency[];
  /** Files by path below the chart's root directory. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** How its files are named in sources: `prometheus/`, `prometheus/charts/x-1.0.0.tgz:x/`. */
  readonly display: string;
  readonly subcharts: readonly LoadedChart[];
}

interface Budget {
  remaining: number;
}

function invalidChart(where: string, message: string): AirlockError {
  return new AirlockError('CONFIG_INVALID', `${escapeControl(where)}: ${message}`, {
    data: { file: where },
  });
}

/** Reads a .tgz into files below its root directory, as Helm's archive loader names them. */
function readArchive(
  tgz: Buffer,
  origin: string,
  display: string,
  budget: Budget,
  depth: number,
): LoadedChart {
  const where = `${origin}${display === '' ? '' : `:${display.replace(/\/$/, '')}`}`;
  if (!isGzip(tgz)) throw invalidChart(where, 'is not a gzip-compressed chart archive');
  const tar = gunzipLimited(tgz, budget.remaining, where);
  budget.remaining -= tar.length;
  const files = new Map<string, Buffer>();
  let root: string | undefined;
  for (const entry of readTar(tar, where, tar.length)) {
    if (entry.type !== 'file') continue;
    const why = unsafeName(entry.name);
    if (why !== undefined)
      throw invalidChart(where, `entry "${escapeControl(entry.name)}" has ${why}`);
    const slash = entry.name.indexOf('/');
    if (slash < 0) continue;
    root ??= entry.name.slice(0, slash);
    const name = posix.normalize(entry.name.slice(slash + 1));
    if (name !== '' && name !== '.') files.set(name, entry.data);
  }
  if (root === undefined || !files.has('Chart.yaml'))
    throw invalidChart(where, 'has no <chart>/Chart.yaml');
  return loadFiles(files, origin, `${display}${root}/`, budget, depth);
}

function dependenciesOf(
  metadata: ChartMetadata,
  files: ReadonlyMap<string, Buffer>,
  where: string,
): readonly ChartDependency[] {
  if (metadata.dependencies !== undefined && metadata.dependencies.length > 0)
    return metadata.dependencies;
  // apiVersion v1 charts declare them in requirements.yaml.
  const requirements = files.get('requirements.yaml');
  if (requirements === undefined) return [];
  let parsed: unknown;
  try {
    parsed = parseYAML(requirements.toString('utf8'), { version: '1.1' });
  } catch (error) {
    throw invalidChart(`${where}requirements.yaml`, (error as Error).message.split('\n')[0] ?? '');
  }
  const list = (parsed as { dependencies?: unknown } | null)?.dependencies;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (d): d is ChartDependency => d !== null && typeof d === 'object' && !Array.isArray(d),
  );
}

/** A chart from its files: Chart.yaml validated as Helm loads it, subcharts loaded in turn. */
function loadFiles(
  files: ReadonlyMap<string, Buffer>,
  origin: string,
  display: string,
  budget: Budget,
  depth: number,
): LoadedChart {
  const chartYAML = files.get('Chart.yaml');
  if (chartYAML === undefined) throw invalidChart(`${origin}:${display}`, 'has no Chart.yaml');
  const metadata = parseChartYAML(chartYAML.toString('utf8'), `${origin}:${display}Chart.yaml`);
  const dependencies = dependenciesOf(metadata, files, `${origin}:${display}`);
  // helm pkg/chart/loader LoadFiles: charts/<x>.tgz is an archive, charts/<dir>/ a chart; names
  // starting with "." or "_" are ignored, and so are provenance files.
  const groups = new Map<string, Map<string, Buffer>>();
  for (const [name, data] of files) {
    if (!name.startsWith('charts/') || name.endsWith('.prov')) continue;
    const rest = name.slice('charts/'.length);
    if (rest.startsWith('.') || rest.startsWith('_')) continue;
    const slash = rest.indexOf('/');
    const group = slash < 0 ? rest : rest.slice(0, slash);
    let members = groups.get(group);
    if (members === undefined) groups.set(group, (members = new Map<string, Buffer>()));
    members.set(slash < 0 ? '' : rest.slice(slash + 1), data);
  }
  const subcharts: LoadedChart[] = [];
  for (const [group, members] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const archive = members.get('');
    const isArchive = archive !== undefined && group.endsWith('.tgz');
    if (!isArchive && !members.has('Chart.yaml')) continue;
    if (depth >= MAX_DEPTH)
      throw invalidChart(
        `${origin}:${display}charts/${group}`,
        `subcharts nest more than ${MAX_DEPTH} deep`,
      );
    subcharts.push(
      isArchive
        ? readArchive(archive, origin, `${display}charts/${group}:`, budget, depth + 1)
        : loadFiles(members, origin, `${display}charts/${group}/`, budget, depth + 1),
    );
  }
  return { metadata, dependencies, files, display, subcharts };
}

/** Masterminds semver's Check as Helm's IsCompatibleRange uses it: an invalid range matches nothing. */
function compatible(range: string | undefined, version: string): boolean {
  if (range === undefined || range === '' || semver.validRange(range) === null) return false;
  return semver.satisfies(version, range);
}

/** One chart as installed: where its values sit below the top chart and what they are. */
interface Instance {
  readonly chart: LoadedChart;
  readonly chain: readonly string[];
  readonly values: ValueMap;
  /** Values files by priority, highest first, each rebased onto this chart's values. */
  readonly layers: readonly ValuesLayer[];
  /** The parents' layers in their own coordinates, for `global` (the parents' globals win). */
  readonly globalLayers: readonly ValuesLayer[];
}

interface Discovery {
  readonly origin: string;
  readonly annotation: { image: ImageReference; source: ImageSource }[];
  readonly values: { image: ImageReference; source: ImageSource }[];
  readonly invalid: InvalidImage[];
  readonly subcharts: ListedSubchart[];
  readonly missing: MissingDependency[];
  /** Values key chain (`a/b`) → the chart installed there, for helm's `# Source:` paths. */
  readonly byChain: Map<string, ChartMetadata>;
}

function chartValues(chart: LoadedChart, origin: string): ValuesLayer {
  const file = `${chart.display}values.yaml`;
  const bytes = chart.files.get('values.yaml');
  if (bytes === undefined) return parseValues('', file, `${origin}:${file}`);
  return parseValues(bytes.toString('utf8'), file, `${origin}:${file}`);
}

/** Helm's PathValue: a dotted path of tables; the value at its end. */
function pathValue(values: ValueMap, path: string): unknown {
  return valueAt(values, path.split('.'));
}

function record(
  discovery: Discovery,
  into: 'annotation' | 'values',
  raw: string,
  source: ImageSource,
): void {
  const position =
    source.file === undefined
      ? ''
      : `:${source.file}${source.line === undefined ? '' : `:${source.line}:${source.column ?? 1}`}`;
  const where = `${discovery.origin}${position} ${source.field}`;
  try {
    discovery[into].push({ image: normalizeImage(raw, where), source });
  } catch (error) {
    if (!(error instanceof ImageReferenceError)) throw error;
    discovery.invalid.push({ source, error });
  }
}

function annotationImages(instance: Instance, discovery: Discovery): void {
  const { metadata, display } = instance.chart;
  const text = metadata.annotations?.[ARTIFACTHUB_IMAGES];
  if (text === undefined || text.trim() === '') return;
  const file = `${display}Chart.yaml`;
  const field = `annotations[${JSON.stringify(ARTIFACTHUB_IMAGES)}]`;
  let list: unknown;
  try {
    list = parseYAML(text, { version: '1.1' });
  } catch (error) {
    throw invalidChart(
      `${discovery.origin}:${file} ${field}`,
      `is not YAML: ${(error as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  if (!Array.isArray(list))
    throw invalidChart(
      `${discovery.origin}:${file} ${field}`,
      'must be a YAML list of {name, image}',
    );
  list.forEach((entry: unknown, index) => {
    const image = (entry as { image?: unknown } | null)?.image;
    if (typeof image !== 'string') return;
    record(discovery, 'annotation', image, {
      from: 'annotation',
      raw: image,
      chart: metadata.name,
      version: metadata.version,
      file,
      field: `${field}[${index}].image`,
    });
  });
}

/** The layer (highest priority first) that writes a leaf, and the leaf. */
function writer(
  instance: Instance,
  leaves: readonly (readonly Segment[])[],
): { layer: ValuesLayer; leaf: readonly Segment[] } | undefined {
  let best: { layer: ValuesLayer; leaf: readonly Segment[]; rank: number } | undefined;
  for (const leaf of leaves) {
    const layers =
      leaf[0] === 'global' ? [...instance.globalLayers, ...instance.layers] : instance.layers;
    const rank = layers.findIndex((layer) => {
      const value = valueAt(layer.value, [...layer.prefix, ...leaf]);
      return value !== undefined && value !== null;
    });
    const layer = layers[rank];
    if (layer !== undefined && (best === undefined || rank < best.rank))
      best = { layer, leaf, rank };
  }
  return best;
}

function imagesOfValues(
  instance: Instance,
  subchartKeys: ReadonlySet<string>,
  discovery: Discovery,
): void {
  const { metadata } = instance.chart;
  for (const found of valuesImages(instance.values, metadata.appVersion, subchartKeys)) {
    const written = writer(instance, found.leaves);
    const position = written === undefined ? undefined : positionIn(written.layer, written.leaf);
    record(discovery, 'values', found.raw, {
      from: 'values',
      raw: found.raw,
      chart: metadata.name,
      version: metadata.version,
      ...(written === undefined ? {} : { file: written.layer.file }),
      ...(position === undefined ? {} : { line: position.line, column: position.column }),
      field: formatPath([...instance.chain, ...found.path]),
      ...(found.tagFrom === undefined ? {} : { tagFrom: found.tagFrom }),
    });
  }
}

/**
 * One chart as Helm installs it (chartutil processDependencyEnabled): its annotation and values
 * images, then each subchart Chart.yaml enables (matched by name and version range; charts in
 * charts/ that Chart.yaml does not list are always installed), its values the parent's under
 * its name or alias over its own values.yaml, `global` from the parent.
 */
function discover(instance: Instance, tags: ValueMap | undefined, discovery: Discovery): void {
  const { chart } = instance;
  discovery.byChain.set(instance.chain.join('/'), chart.metadata);
  annotationImages(instance, discovery);
  const keyOf = (d: ChartDependency): string =>
    d.alias !== undefined && d.alias !== '' ? d.alias : (d.name ?? '');
  const installs: { chart: LoadedChart; key: string }[] = [];
  const listed = (sub: LoadedChart): boolean =>
    chart.dependencies.some(
      (d) => d.name === sub.metadata.name && compatible(d.version, sub.metadata.version),
    );
  for (const sub of chart.subcharts)
    if (!listed(sub)) installs.push({ chart: sub, key: sub.metadata.name });
  for (const dependency of chart.dependencies) {
    const sub = chart.subcharts.find(
      (s) =>
        s.metadata.name === dependency.name && compatible(dependency.version, s.metadata.version),
    );
    if (sub !== undefined) installs.push({ chart: sub, key: keyOf(dependency) });
    // helm's CheckDependencies matches by name only (a version mismatch installs the vendored
    // chart as one Chart.yaml does not list).
    else if (!chart.subcharts.some((s) => s.metadata.name === dependency.name))
      discovery.missing.push({
        in: instance.chain.join('.'),
        name: dependency.name ?? '',
        ...(dependency.version === undefined ? {} : { version: dependency.version }),
      });
  }
  // The values under a subchart's key are the subchart's: read with it, or not at all when it is
  // disabled. Those of a dependency missing from the archive are read as the parent's.
  imagesOfValues(instance, new Set(installs.map((i) => i.key)), discovery);
  // Each subchart's values first: conditions are read from the values with them coalesced in.
  const parentGlobal = instance.values.get('global');
  const prepared = installs.map((install) => {
    const defaults = chartValues(install.chart, discovery.origin);
    const section = instance.values.get(install.key);
    let values = coalesceValues(isValueMap(section) ? section : empty(), defaults.value);
    if (isValueMap(parentGlobal)) {
      const own = values.get('global');
      values = new Map(values).set(
        'global',
        coalesceValues(parentGlobal, isValueMap(own) ? own : empty()),
      );
    }
    return { ...install, defaults, values };
  });
  const view: ValueMap = new Map(instance.values);
  for (const p of prepared) view.set(p.key, p.values);
  // processDependencyTags, then processDependencyConditions (the first bool wins), for every
  // dependency Chart.yaml lists; a disabled one removes every installed chart of its name or alias.
  const disabled = new Set<string>();
  for (const dependency of chart.dependencies) {
    let enabled = true;
    if (dependency.tags !== undefined && dependency.tags.length > 0 && tags !== undefined) {
      const states = dependency.tags.map((t) => tags.get(t)).filter((v) => typeof v === 'boolean');
      enabled = states.includes(true) || !states.includes(false);
    }
    for (const condition of (dependency.condition ?? '').trim().split(',')) {
      if (condition === '') continue;
      const value = pathValue(view, condition);
      if (typeof value === 'boolean') {
        enabled = value;
        break;
      }
    }
    if (!enabled) disabled.add(keyOf(dependency));
  }
  for (const p of prepared) {
    const enabled = !disabled.has(p.key);
    const chain = [...instance.chain, p.key];
    discovery.subcharts.push({
      key: chain.join('.'),
      name: p.chart.metadata.name,
      version: p.chart.metadata.version,
      enabled,
    });
    if (!enabled) continue;
    discover(
      {
        chart: p.chart,
        chain,
        values: p.values,
        layers: [
          ...instance.layers.map((layer) => ({ ...layer, prefix: [...layer.prefix, p.key] })),
          p.defaults,
        ],
        globalLayers: [...instance.globalLayers, ...instance.layers],
      },
      tags,
      discovery,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// helm template

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** `bin` when given (INPUT_INVALID, option helmBin, when not executable), else helm on PATH. */
async function findHelm(
  bin: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  if (bin !== undefined) {
    if (!(await executable(bin)))
      throw new AirlockError('INPUT_INVALID', `${escapeControl(bin)} is not an executable helm`, {
        data: { option: 'helmBin' },
      });
    // helm runs in a private working directory: a relative path must not change meaning there.
    return resolve(bin);
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter((d) => d !== '')) {
    const path = join(dir, 'helm');
    if (await executable(path)) return path;
  }
  return undefined;
}

interface HelmRun {
  readonly helm: string;
  readonly tgz: Buffer;
  readonly values: readonly Buffer[];
  readonly release: string;
  readonly namespace: string;
  readonly kubeVersion?: string;
  readonly origin: string;
}

/** `helm template` with a private HOME (no repositories, plugins or kubeconfig of the machine). */
async function helmTemplate(run: HelmRun): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-images-'));
  try {
    const chart = join(work, 'chart.tgz');
    await writeFile(chart, run.tgz);
    const valueFiles: string[] = [];
    for (const [index, bytes] of run.values.entries()) {
      const file = join(work, `values-${index}.yaml`);
      await writeFile(file, bytes);
      valueFiles.push(file);
    }
    /* eslint-disable no-restricted-syntax -- helm's own command-line flags */
    const args = [
      'template',
      run.release,
      chart,
      '--namespace',
      run.namespace,
      ...valueFiles.flatMap((file) => ['--values', file]),
      // Test hooks run only on `helm test`; helm-controller does not install them either.
      '--skip-tests',
      ...(run.kubeVersion === undefined ? [] : ['--kube-version', run.kubeVersion]),
    ];
    /* eslint-enable no-restricted-syntax */
    const home = join(work, 'home');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      KUBECONFIG: join(home, 'no-kubeconfig'),
    };
    return await new Promise<string>((done, reject) => {
      execFile(
        run.helm,
        args,
        { encoding: 'utf8', maxBuffer: MAX_HELM_OUTPUT, timeout: HELM_TIMEOUT_MS, env, cwd: work },
        (error, stdout, stderr) => {
          if (!error) {
            done(stdout);
            return;
          }
          const failure = error as NodeJS.ErrnoException;
          if (failure.code === 'ENOENT' || failure.code === 'EACCES') {
            reject(
              new AirlockError('INPUT_INVALID', `${escapeControl(run.helm)}: ${failure.message}`, {
                data: { option: 'helmBin' },
              }),
            );
            return;
          }
          const message = (stderr.trim() || failure.message).split(`${work}/`).join('');
          reject(
            new AirlockError(
              'CONFIG_INVALID',
              `${escapeControl(run.origin)}: helm template failed: ${escapeControl(message)}`,
              {
                cause: error,
                details: [
                  'Without helm template, the images come from the annotation and the values only.',
                ],
                data: { file: run.origin, helmFailed: true },
              },
            ),
          );
        },
      );
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The chart installed at a `# Source:` path (`prometheus/charts/kube-state-metrics/templates/…`). */
function chartOfSource(
  path: string,
  byChain: Map<string, ChartMetadata>,
): ChartMetadata | undefined {
  const parts = path.split('/').slice(1);
  const chain: string[] = [];
  while (parts[0] === 'charts' && parts[1] !== undefined) {
    chain.push(parts[1]);
    parts.splice(0, 2);
  }
  return byChain.get(chain.join('/')) ?? byChain.get('');
}

function templateImages(
  output: string,
  discovery: Discovery,
): { image: ImageReference; source: ImageSource }[] {
  const found: { image: ImageReference; source: ImageSource }[] = [];
  for (const chunk of splitGoYAMLDocuments(output)) {
    const file = /^# Source: (.+)$/m.exec(chunk)?.[1];
    let object: GoValue;
    try {
      object = parseGoYAML(chunk);
    } catch (error) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `${escapeControl(discovery.origin)}: helm template output${file === undefined ? '' : ` (${escapeControl(file)})`} does not decode: ${(error as Error).message}`,
        { cause: error, data: { file: discovery.origin } },
      );
    }
    if (!isGoMap(object)) continue;
    const chart =
      file === undefined ? discovery.byChain.get('') : chartOfSource(file, discovery.byChain);
    for (const w of workloadImages([object])) {
      // Fields in ImageSource's order, so every source prints alike.
      const source: ImageSource = {
        from: 'template',
        raw: w.raw,
        ...(chart === undefined ? {} : { chart: chart.name, version: chart.version }),
        ...(file === undefined ? {} : { file }),
        field: w.field,
        object: w.object,
      };
      if (w.image !== undefined) {
        found.push({ image: w.image, source });
        continue;
      }
      discovery.invalid.push({
        source,
        error: new ImageReferenceError(
          w.error.input,
          w.error.problem,
          w.error.reason,
          `${discovery.origin}${file === undefined ? '' : `:${file}`} ${w.object} ${w.field}`,
        ),
      });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Inputs

const displayName = (input: string | Buffer): string =>
  typeof input === 'string' ? input : '<bytes>';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The chart's bytes: a file, or a Helm chart artifact pulled through the session. */
async function chartBytes(
  input: string | Buffer,
  options: ListChartImagesOptions,
  maxSize: number,
): Promise<{ tgz: Buffer; digest?: string }> {
  if (typeof input !== 'string') return { tgz: input };
  const remote =
    input.startsWith('oci://') ||
    input.startsWith('oci-layout:') ||
    (!(await isFile(input)) && /^[^/]+[.:][^/]*\/.+(?::[^/]+|@sha256:[0-9a-f]{64})$/.test(input));
  if (!remote) return { tgz: await readUserFile(input, { what: 'the chart', maxSize }) };
  if (options.session === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(input)} is a chart in a registry: a session is needed to pull it`,
      { data: { option: 'session' } },
    );
  const ref = parseChartReference(input);
  const repository = options.session.open(ref);
  const { descriptor, manifest } = await fetchImageManifest(repository, referenceTarget(ref) ?? '');
  if (manifest.config.mediaType !== MediaType.helmConfig)
    throw new AirlockError(
      'MANIFEST_INVALID',
      `${escapeControl(input)} is not a Helm chart (config media type ${escapeControl(manifest.config.mediaType)})`,
    );
  const layer = manifest.layers.find(
    (l) => l.mediaType === MediaType.helmChart || l.mediaType === 'application/tar+gzip',
  );
  if (layer === undefined)
    throw new AirlockError('MANIFEST_INVALID', `${escapeControl(input)} has no chart layer`);
  const tgz = await readAll(await repository.fetchBlob(layer), maxSize, {
    what: `${escapeControl(input)} chart layer`,
  });
  return { tgz, digest: descriptor.digest };
}

/**
 * Every image a chart (or several) will pull: the `artifacthub.io/images` annotation of each
 * enabled (sub)chart, the image-shaped values of each (discover-values.ts) with the values files
 * merged in, and, when a helm binary is found (and `helm` is not false), the pod specs of
 * `helm template` with the same values (test hooks skipped). Images are deduplicated by normalised
 * reference with every source kept; a values image whose tag only came from appVersion, or whose
 * digest helm rendered without the tag beside it, yields to the images helm rendered for the same
 * repository (its source is kept with them), since the template may spell the tag differently
 * (`v` + appVersion) or pull by digest alone.
 *
 * Errors: a values file or chart values.yaml that is not YAML (CONFIG_INVALID, file:line:col); a
 * chart that is not a valid archive (CONFIG_INVALID); helm template failing (CONFIG_INVALID, with
 * helm's message: a chart whose dependencies are not in charts/, for one); an image reference
 * that does not parse (REF_INVALID, naming the chart, file and field; all of them when several).
 */
export async function listChartImages(options: ListChartImagesOptions): Promise<ChartImages> {
  const inputs: readonly (string | Buffer)[] =
    typeof options.chart === 'string' || Buffer.isBuffer(options.chart)
      ? [options.chart]
      : options.chart;
  const maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
  const userLayers: ValuesLayer[] = [];
  const userBytes: Buffer[] = [];
  for (const file of options.values ?? []) {
    const bytes = await readUserFile(file, { what: 'the values file', maxSize: MAX_VALUES_SIZE });
    userBytes.push(bytes);
    userLayers.push(parseValues(bytes.toString('utf8'), file));
  }
  const helm =
    options.helm === false
      ? undefined
      : await findHelm(options.helmBin, options.env ?? process.env);
  const collector = new ImageCollector();
  const charts: ListedChart[] = [];
  const invalid: InvalidImage[] = [];
  for (const input of inputs) {
    const origin = displayName(input);
    const { tgz, digest } = await chartBytes(input, options, maxSize);
    const chart = readArchive(tgz, origin, '', { remaining: maxSize }, 0);
    const defaults = chartValues(chart, origin);
    // helm -f a -f b: the files merged in order, then coalesced over the chart's values.
    const given = userLayers.reduce<ValueMap>(
      (all, layer) => mergeValues(all, layer.value),
      new Map(),
    );
    const values = coalesceValues(given, defaults.value);
    const tags = values.get('tags');
    const discovery: Discovery = {
      origin,
      annotation: [],
      values: [],
      invalid,
      subcharts: [],
      missing: [],
      byChain: new Map(),
    };
    discover(
      {
        chart,
        chain: [],
        values,
        layers: [...[...userLayers].reverse(), defaults],
        globalLayers: [],
      },
      isValueMap(tags) ? tags : undefined,
      discovery,
    );
    let rendered: { image: ImageReference; source: ImageSource }[] = [];
    if (helm !== undefined) {
      const name = options.releaseName ?? chart.metadata.name;
      const output = await helmTemplate({
        helm,
        tgz,
        values: userBytes,
        release: DNS_LABEL.test(name) && name.length <= 53 ? name : 'release',
        namespace: options.namespace ?? 'default',
        ...(options.kubeVersion === undefined ? {} : { kubeVersion: options.kubeVersion }),
        origin,
      });
      rendered = templateImages(output, discovery);
    }
    const renderedNames = new ImageCollector();
    for (const r of rendered) renderedNames.add(r.image, r.source);
    for (const found of [...discovery.annotation, ...discovery.values]) {
      const { image, source } = found;
      // What helm rendered for the same repository stands in for a reference the values only
      // approximate: a tag taken from appVersion, or a tag beside the digest that is pulled.
      const standIns = renderedNames.has(image.normalized)
        ? []
        : renderedNames
            .withName(image.registry, image.repository)
            .filter(
              (r) =>
                source.tagFrom === 'appVersion' ||
                (image.digest !== undefined && r.digest === image.digest),
            );
      if (standIns.length === 0) collector.add(image, source);
      else for (const standIn of standIns) collector.add(standIn, source);
    }
    for (const r of rendered) collector.add(r.image, r.source);
    charts.push({
      input: origin,
      name: chart.metadata.name,
      version: chart.metadata.version,
      ...(chart.metadata.appVersion === undefined ? {} : { appVersion: chart.metadata.appVersion }),
      ...(digest === undefined ? {} : { digest }),
      subcharts: discovery.subcharts,
      missingDependencies: discovery.missing,
      rendered: helm !== undefined,
    });
  }
  if (invalid.length > 0) throw invalidImagesError(invalid);
  return { charts, images: collector.list(), ...(helm === undefined ? {} : { helm }) };
}
