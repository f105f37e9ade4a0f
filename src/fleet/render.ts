// `fleet render --offline`: what one cluster of a fleet would end up with, grouped by the Flux
// object that applies it (issue 10 §5), as the Flux Operator and kustomize-controller produce it:
//
// 1. The cluster's FluxInstance (../shared/reference/resourceset.md §3) generates the root
//    Kustomization from spec.sync: named spec.sync.name (default: the instance's namespace), in the
//    instance's namespace, path spec.sync.path, source spec.sync.kind of the same name, and no
//    postBuild. Offline, that source's artifact IS the fleet directory (the fleet repository is
//    what is pushed as the sync artifact, §5.1). Without a FluxInstance (a `flux bootstrap` fleet)
//    the root is flux-system/flux-system with path clusters/NAME.
// 2. A Kustomization's spec.path is built with a real kustomize (./kustomize.ts), then
//    spec.postBuild substitution runs over the result (./substitute.ts; flux-oci.md §4).
// 3. Each ResourceSet in the result is built as the operator builds it (./resourceset.ts, with the
//    provider input key and owner labels), its Static ResourceSetInputProviders taken from the
//    rendered set, and its copyFrom ConfigMaps and Secrets filled from the rendered set
//    (resourceset.md §1.7).
// 4. Every Kustomization whose sourceRef is the fleet's own source is rendered the same way;
//    anything else (another OCIRepository, a GitRepository, HelmRelease charts, providers that
//    need a cluster) is listed as unresolved: offline these are not errors.
import { lstat, mkdir, mkdtemp, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl, Limiter, readUserFile } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap, marshalGoYAML } from '../goyaml/index.ts';
import {
  buildKustomization,
  copySource,
  findKustomize,
  type KustomizeTool,
  type SourceCopy,
} from './kustomize.ts';
import {
  nestedString,
  nestedStringMap,
  objectName,
  objectNamespace,
  readObjects,
} from './objects.ts';
import { buildResourceSet, marshalObject } from './resourceset.ts';
import { findHelm, type HelmTool, releaseValues, templateRelease } from './helm.ts';
import type { FleetSources, FleetSourceOptions, ResolvedSource } from './sources.ts';
import { ociRepositorySource, type SourceSpec } from './source-spec.ts';
import { compileLabelSelector } from './selector.ts';
import { readInputProviderDoc, readResourceSetDoc } from './spec.ts';
import { type SubstituteSource, substituteObjects } from './substitute.ts';

export interface RenderFleetOptions {
  /** The fleet repository (the directory that is pushed as the sync artifact). */
  readonly dir: string;
  /** The cluster: its directory is clusters/NAME. */
  readonly cluster: string;
  /** A kustomize or kubectl binary (kubectl when its name starts with "kubectl"); default: PATH. */
  readonly kustomizeBin?: string;
  /**
   * Render the fleet directory only: no registry is touched, sources outside the fleet are
   * listed as unresolved. Otherwise `sources` is required and every OCI source is followed.
   */
  readonly offline?: boolean;
  /** How OCI sources are reached and verified (online rendering). */
  readonly sources?: FleetSourceOptions;
  /**
   * What a source that is missing or fails verification does: `throw` (default) stops the
   * render with its code; `report` records it in `sources` (fleet check turns it into a
   * finding) and lists what needed it as unresolved.
   */
  readonly sourceFailures?: 'throw' | 'report';
  /** A helm binary for HelmReleases (default: helm on PATH; without one they are not rendered). */
  readonly helmBin?: string;
  /** The environment for finding and running kustomize (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** How deep Kustomizations and ResourceSets may nest (default 16). */
  readonly maxDepth?: number;
}

export interface FleetRenderGroup {
  /** The Flux object that applies these objects: Kind/namespace/name. */
  readonly appliedBy: string;
  /** For a Kustomization: its spec.path inside its source. */
  readonly path?: string;
  /** The artifact the objects' files are in (registry/repository@digest), when not the fleet. */
  readonly source?: string;
  readonly objects: GoMap[];
  /**
   * Per object (same order), the file it came from, relative to its source's root: from
   * kustomize's origin annotations, or the ResourceSet's own file; undefined when unknown (Helm).
   */
  readonly files?: readonly (string | undefined)[];
}

export interface UnresolvedSource {
  /** The object that could not be followed: Kind/namespace/name. */
  readonly object: string;
  /** What it needs: Kind/namespace/name of the source, provider or chart. */
  readonly source: string;
  readonly reason: string;
}

export interface FleetRender {
  readonly cluster: string;
  readonly groups: FleetRenderGroup[];
  readonly unresolved: UnresolvedSource[];
  /** The number of objects over all groups. */
  readonly objects: number;
  /** Every OCI source followed (online): what it selected and how it verified, or why not. */
  readonly sources: ResolvedSource[];
  /** Milliseconds spent in kustomize and helm processes (the rest is airlock's own time). */
  readonly toolMs: number;
}

const DEFAULT_MAX_DEPTH = 16;
/** Sources resolved at once in the background (each a few registry round trips). */
const MAX_INFLIGHT_SOURCES = 8;
/** A cluster renders at most this many objects (a runaway ResourceSet stops here). */
const MAX_OBJECTS = 200_000;
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
};
const isKind = (o: GoMap, group: string, kind: string): boolean =>
  nestedString(o, 'kind') === kind && groupOf(nestedString(o, 'apiVersion')) === group;

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

/** Kind/namespace/name, the namespace left out when empty; control characters escaped. */
const ref = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);

interface FluxInstanceInfo {
  readonly file: string;
  readonly object: GoMap;
}

async function yamlFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.isDirectory()) await walk(join(at, entry.name));
      else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) found.push(join(at, entry.name));
    }
  };
  await walk(dir);
  return found;
}

async function fluxInstancesIn(file: string): Promise<GoMap[]> {
  try {
    const text = (await readUserFile(file, { what: 'manifest' })).toString('utf8');
    return readObjects(text).filter((o) => isKind(o, 'fluxcd.controlplane.io', 'FluxInstance'));
  } catch {
    // A file that is not YAML is kustomize's to report when it is built, not discovery's.
    return [];
  }
}

/** clusters/NAME/flux-system/flux-instance.yaml, else the one FluxInstance under clusters/NAME. */
async function findFluxInstance(clusterDir: string): Promise<FluxInstanceInfo | undefined> {
  const usual = join(clusterDir, 'flux-system', 'flux-instance.yaml');
  const [first] = await fluxInstancesIn(usual);
  if (first !== undefined) return { file: usual, object: first };
  const found: FluxInstanceInfo[] = [];
  for (const file of await yamlFiles(clusterDir))
    for (const object of await fluxInstancesIn(file)) found.push({ file, object });
  if (found.length > 1)
    throw new AirlockError(
      'CONFIG_INVALID',
      `${escapeControl(clusterDir)} holds ${found.length} FluxInstances: ${found.map((f) => escapeControl(f.file)).join(', ')}`,
      { details: ['a cluster has one FluxInstance (named flux)'] },
    );
  return found[0];
}

/** A Kustomization to build: where it comes from and its spec. */
interface KustomizationTask {
  readonly type: 'kustomization';
  readonly appliedBy: string;
  readonly namespace: string;
  readonly spec: GoMap;
  readonly chain: readonly string[];
  /** Online: the OCIRepository (Kind/namespace/name) it builds from; absent: the fleet. */
  readonly source?: string;
}

interface ResourceSetTask {
  readonly type: 'resourceset';
  readonly appliedBy: string;
  readonly object: GoMap;
  readonly chain: readonly string[];
}

/** Online: an OCIRepository to resolve and verify. */
interface SourceTask {
  readonly type: 'source';
  readonly appliedBy: string;
  readonly spec: SourceSpec;
  readonly chain: readonly string[];
}

/** Online: a HelmRelease whose chart is resolved, verified and (with helm) rendered. */
interface HelmReleaseTask {
  readonly type: 'helmrelease';
  readonly appliedBy: string;
  readonly object: GoMap;
  readonly chain: readonly string[];
}

type Task = KustomizationTask | ResourceSetTask | SourceTask | HelmReleaseTask;

function withPrefix(error: unknown, prefix: string, object: string): AirlockError {
  if (!(error instanceof AirlockError)) throw error;
  if (error.message.startsWith(prefix)) return error;
  return new AirlockError(error.code, `${prefix}: ${error.message}`, {
    cause: error,
    details: error.details,
    data: { ...error.data, object },
  });
}

function substituteSources(spec: GoMap): SubstituteSource[] {
  const list = field(spec.get('postBuild'), 'substituteFrom');
  if (!Array.isArray(list)) return [];
  return list.flatMap((entry): SubstituteSource[] => {
    const kind = str(field(entry, 'kind'));
    if (kind !== 'ConfigMap' && kind !== 'Secret') return [];
    return [{ kind, name: str(field(entry, 'name')), optional: field(entry, 'optional') === true }];
  });
}

function inlineSubstitute(spec: GoMap): Record<string, string> | undefined {
  const map = field(spec.get('postBuild'), 'substitute');
  if (!isGoMap(map)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of map) {
    // The CRD types postBuild.substitute as map[string]string: the API server refuses others.
    if (typeof v !== 'string')
      throw new AirlockError('CONFIG_INVALID', `postBuild.substitute.${k} is not a string`, {
        details: ['quote the value'],
        data: { field: `spec.postBuild.substitute.${k}` },
      });
    out[k] = v;
  }
  return out;
}

const findObject = (
  available: readonly GoMap[],
  kind: string,
  namespace: string,
  name: string,
): GoMap | undefined =>
  available.findLast(
    (o) =>
      nestedString(o, 'apiVersion') === 'v1' &&
      nestedString(o, 'kind') === kind &&
      objectName(o) === name &&
      (objectNamespace(o) === '' || objectNamespace(o) === namespace),
  );

const COPY_FROM = 'fluxcd.controlplane.io/copyFrom';

/**
 * The operator's copyFrom (resourceset.md §1.7), from the rendered set instead of the cluster:
 * for v1 ConfigMaps, `data` (and `binaryData`) replaced by the source's; for v1 Secrets, the
 * source's values written into `stringData` and its type copied when the object sets none. A
 * source that is not rendered (created outside the fleet) leaves the object as written.
 */
function applyCopyFrom(objects: GoMap[], available: readonly GoMap[]): void {
  for (const object of objects) {
    if (nestedString(object, 'apiVersion') !== 'v1') continue;
    const from = nestedStringMap(object, 'metadata', 'annotations')?.get(COPY_FROM);
    const parts = from?.split('/');
    if (parts?.length !== 2) continue;
    const [namespace = '', name = ''] = parts;
    const kind = nestedString(object, 'kind');
    if (kind !== 'ConfigMap' && kind !== 'Secret') continue;
    const source = findObject(available, kind, namespace, name);
    if (source === undefined) continue;
    if (kind === 'ConfigMap') {
      for (const key of ['data', 'binaryData']) {
        const value = source.get(key);
        if (value === undefined || value === null) object.delete(key);
        else object.set(key, value);
      }
      continue;
    }
    const values = new Map<string, GoValue>();
    const data = source.get('data');
    if (isGoMap(data))
      for (const [k, v] of data)
        values.set(k, Buffer.from(str(v).replace(/[\r\n]/g, ''), 'base64').toString('utf8'));
    const stringData = source.get('stringData');
    if (isGoMap(stringData)) for (const [k, v] of stringData) values.set(k, v);
    object.delete('data');
    object.set('stringData', values);
    if (str(object.get('type')) === '') object.set('type', str(source.get('type')) || 'Opaque');
  }
}

/** Online following: the sources, the helm binary, and what a failing source does. */
interface Online {
  readonly sources: FleetSources;
  readonly helm: HelmTool | undefined;
  readonly failures: 'throw' | 'report';
}

class Renderer {
  readonly groups: FleetRenderGroup[] = [];
  readonly unresolved: UnresolvedSource[] = [];
  readonly #available: GoMap[] = [];
  readonly #queue: Task[] = [];
  readonly #seen = new Set<string>();
  readonly #tool: KustomizeTool;
  readonly #source: SourceCopy;
  readonly #fleetSources: ReadonlySet<string>;
  readonly #multitenant: boolean;
  readonly #maxDepth: number;
  readonly #env: NodeJS.ProcessEnv;
  readonly #online: Online | undefined;
  readonly #keySecrets: ReadonlyMap<string, string>;
  /** Where each rendered object came from: its file and the artifact that file is in. */
  readonly #origins = new WeakMap<GoMap, { file?: string; source?: string }>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #limiter = new Limiter(MAX_INFLIGHT_SOURCES);
  /** Sources being (or done) resolving, by OCIRepository id, and their start order. */
  readonly #resolving = new Map<string, Promise<void>>();
  readonly #order: string[] = [];
  readonly #errors = new Map<string, unknown>();

  #count = 0;

  constructor(options: {
    tool: KustomizeTool;
    source: SourceCopy;
    fleetSources: ReadonlySet<string>;
    multitenant: boolean;
    maxDepth: number;
    env: NodeJS.ProcessEnv;
    online: Online | undefined;
    keySecrets: ReadonlyMap<string, string>;
  }) {
    this.#tool = options.tool;
    this.#source = options.source;
    this.#fleetSources = options.fleetSources;
    this.#multitenant = options.multitenant;
    this.#maxDepth = options.maxDepth;
    this.#env = options.env;
    this.#online = options.online;
    this.#keySecrets = options.keySecrets;
  }

  enqueue(task: Task): void {
    if (this.#seen.has(task.appliedBy)) return;
    if (task.chain.length > this.#maxDepth)
      throw new AirlockError(
        'CONFIG_INVALID',
        `${task.appliedBy} is nested more than ${this.#maxDepth} deep: ${[...task.chain, task.appliedBy].join(' → ')}`,
        { data: { object: task.appliedBy } },
      );
    this.#seen.add(task.appliedBy);
    // A source that needs nothing more starts resolving now, in the background: its registry
    // round trips and signature checks overlap the builds still queued before its dependants.
    if (task.type === 'source' && !this.#waiting(task)) this.#startSource(task);
    else this.#queue.push(task);
  }

  #has(kind: string, namespace: string, name: string): boolean {
    return findObject(this.#available, kind, namespace, name) !== undefined;
  }

  /** Whether an online source is still to be resolved (it is queued, or not rendered yet). */
  #sourcePending(id: string): boolean {
    return this.#online !== undefined && this.#online.sources.result(id) === undefined;
  }

  /**
   * A task waits while something it needs may still be rendered: a Kustomization its
   * substituteFrom ConfigMaps and Secrets and (online) its source, a source its key Secret, a
   * HelmRelease its chart source and valuesFrom. In a cluster these retry until they appear.
   */
  #waiting(task: Task): boolean {
    if (task.type === 'kustomization')
      return (
        substituteSources(task.spec).some(
          (s) => s.optional !== true && !this.#has(s.kind, task.namespace, s.name),
        ) ||
        (task.source !== undefined && this.#sourcePending(task.source))
      );
    if (task.type === 'source') {
      const name = str(field(field(task.spec.verify, 'secretRef'), 'name'));
      const root = str(field(field(task.spec.verify, 'trustedRootSecretRef'), 'name'));
      return (
        (name !== '' &&
          !this.#keySecrets.has(`${task.spec.namespace}/${name}`) &&
          !this.#keySecrets.has(name) &&
          !this.#has('Secret', task.spec.namespace, name)) ||
        (root !== '' && !this.#has('Secret', task.spec.namespace, root))
      );
    }
    if (task.type === 'helmrelease') {
      const namespace = objectNamespace(task.object) || 'default';
      const refs = field(task.object.get('spec'), 'valuesFrom');
      const chart = this.#chartSourceId(task.object);
      return (
        (Array.isArray(refs) &&
          refs.some(
            (r) =>
              field(r, 'optional') !== true &&
              !this.#has(str(field(r, 'kind')), namespace, str(field(r, 'name'))),
          )) ||
        (chart !== undefined && this.#sourcePending(chart))
      );
    }
    return false;
  }

  async run(): Promise<void> {
    try {
      await this.#drain();
    } catch (error) {
      // Nothing keeps running once the render stops (no extraction after the trees are removed),
      // and a source that failed earlier in discovery order is the error reported.
      await Promise.allSettled(this.#inflight);
      const first = this.#order.find((id) => this.#errors.has(id));
      throw first === undefined ? error : this.#errors.get(first);
    }
  }

  async #drain(): Promise<void> {
    let deferred = 0;
    for (;;) {
      await this.#throwIfFailed();
      const task = this.#queue.shift();
      if (task === undefined) {
        if (this.#inflight.size === 0) return;
        await this.#settle();
        continue;
      }
      // What a task builds from is awaited before anything else is decided about it, so the
      // order of the groups never depends on how fast the registry answers.
      await this.#sourceOf(task);
      // Ordered by discovery, as far as dependencies allow: a task whose ConfigMap, Secret or
      // source comes from a later group waits (in a cluster it retries); when nothing else can
      // progress it runs, and reports what is missing.
      if (this.#waiting(task) && deferred < this.#queue.length) {
        this.#queue.push(task);
        deferred += 1;
        continue;
      }
      deferred = 0;
      if (task.type === 'kustomization') await this.#kustomization(task);
      else if (task.type === 'source') this.#startSource(task);
      else if (task.type === 'helmrelease') await this.#helmRelease(task);
      else this.#resourceSet(task);
    }
  }

  /** Waits for the source a Kustomization or HelmRelease builds from, if it is being resolved. */
  async #sourceOf(task: Task): Promise<void> {
    const id =
      task.type === 'kustomization'
        ? task.source
        : task.type === 'helmrelease'
          ? this.#chartSourceId(task.object)
          : undefined;
    const pending = id === undefined ? undefined : this.#resolving.get(id);
    if (pending !== undefined) await pending;
    await this.#throwIfFailed();
  }

  /** Starts resolving a source in the background (at most MAX_INFLIGHT_SOURCES at once). */
  #startSource(task: SourceTask): void {
    // Results are listed in discovery order, whichever finishes first.
    this.#online?.sources.reserve(task.spec.object);
    // The objects it may read (its key Secret) as they are now: the same whatever the timing.
    const available = [...this.#available];
    const pending: Promise<void> = this.#limiter
      .run(() => this.#resolveSource(task, available))
      .catch((error: unknown) => {
        this.#errors.set(task.appliedBy, error);
      })
      .finally(() => this.#inflight.delete(pending));
    this.#order.push(task.appliedBy);
    this.#inflight.add(pending);
    this.#resolving.set(task.appliedBy, pending);
  }

  /** Waits for every source in flight, then throws the first failure (in discovery order). */
  async #settle(): Promise<void> {
    await Promise.all(this.#inflight);
    await this.#throwIfFailed();
  }

  async #throwIfFailed(): Promise<void> {
    if (this.#errors.size === 0) return;
    await Promise.all(this.#inflight);
    const first = this.#order.find((id) => this.#errors.has(id));
    if (first !== undefined) throw this.#errors.get(first);
  }

  #add(group: FleetRenderGroup, chain: readonly string[]): void {
    this.#count += group.objects.length;
    if (this.#count > MAX_OBJECTS)
      throw new AirlockError(
        'SIZE_LIMIT_EXCEEDED',
        `the cluster renders more than ${MAX_OBJECTS} objects (at ${group.appliedBy})`,
        { data: { object: group.appliedBy } },
      );
    this.groups.push(group);
    this.#available.push(...group.objects);
    group.objects.forEach((object, index) => {
      const file = group.files?.[index];
      this.#origins.set(object, {
        ...(file === undefined ? {} : { file }),
        ...(group.source === undefined ? {} : { source: group.source }),
      });
    });
    const next = [...chain, group.appliedBy];
    for (const object of group.objects) this.#follow(object, next);
  }

  /** A source that failed: thrown (render), or left recorded for the check (report). */
  #failed(result: ResolvedSource): void {
    const failure = result.failure;
    if (failure === undefined) return;
    // A missing trusted root is the caller's to give, not a property of the fleet: never a finding.
    if (this.#online?.failures === 'report' && failure.code !== 'TRUSTED_ROOT_REQUIRED') return;
    const code = failure.code as ConstructorParameters<typeof AirlockError>[0];
    throw new AirlockError(code, `${result.object}: ${failure.message}`, {
      details: failure.details,
      data: {
        object: result.object,
        field: failure.field,
        ...(failure.option === undefined ? {} : { option: failure.option }),
      },
    });
  }

  async #resolveSource(task: SourceTask, available: readonly GoMap[]): Promise<void> {
    const online = this.#online;
    if (online === undefined) return;
    const result = await online.sources.resolve(task.spec, available);
    this.#failed(result);
    if (result.failure === undefined) online.sources.prefetch(task.spec);
  }

  /** The usable source an object builds from, or undefined with the reason listed. */
  #usableSource(object: string, sourceId: string): SourceSpec | undefined {
    const online = this.#online;
    const result = online?.sources.result(sourceId);
    if (result === undefined) {
      this.unresolved.push({
        object,
        source: sourceId,
        reason: 'the source is not among the rendered objects',
      });
      return undefined;
    }
    if (result.failure !== undefined) {
      this.unresolved.push({
        object,
        source: sourceId,
        reason: `its source is not usable: ${result.failure.message}`,
      });
      return undefined;
    }
    const [kind = '', namespace = '', name = ''] = sourceId.split('/');
    const found = this.#available.findLast(
      (o) =>
        isKind(o, 'source.toolkit.fluxcd.io', kind) &&
        objectName(o) === name &&
        (objectNamespace(o) || 'default') === namespace,
    );
    return found === undefined ? undefined : ociRepositorySource(found);
  }

  async #kustomization(task: KustomizationTask): Promise<void> {
    const path = str(task.spec.get('path'));
    let objects: GoMap[];
    let files: (string | undefined)[];
    let tree = this.#source;
    let pulled: string | undefined;
    const online = this.#online;
    if (task.source !== undefined && online !== undefined) {
      const spec = this.#usableSource(task.appliedBy, task.source);
      if (spec === undefined) return;
      try {
        tree = await online.sources.tree(spec);
      } catch (error) {
        throw withPrefix(error, task.appliedBy, task.appliedBy);
      }
      pulled = online.sources.result(task.source)?.pulledFrom;
    }
    try {
      const built = await buildKustomization(
        this.#tool,
        tree,
        task.spec,
        { kustomization: task.appliedBy, path },
        this.#env,
      );
      objects = built.objects;
      files = built.files;
      const substitute = inlineSubstitute(task.spec);
      const strategy = str(field(task.spec.get('postBuild'), 'substituteStrategy'));
      objects = substituteObjects(objects, {
        namespace: task.namespace,
        substituteFrom: substituteSources(task.spec),
        ...(substitute === undefined ? {} : { substitute }),
        ...(strategy === 'Always' ? { strategy: 'Always' as const } : {}),
        available: this.#available,
        strict: true,
      });
    } catch (error) {
      throw withPrefix(error, task.appliedBy, task.appliedBy);
    }
    this.#add(
      {
        appliedBy: task.appliedBy,
        path,
        ...(pulled === undefined ? {} : { source: pulled }),
        objects,
        files,
      },
      task.chain,
    );
  }

  /** The source id of a HelmRelease's chartRef OCIRepository or its OCI HelmRepository chart. */
  #chartSourceId(release: GoMap): string | undefined {
    const spec = release.get('spec');
    const namespace = objectNamespace(release) || 'default';
    const chartRef = field(spec, 'chartRef');
    if (isGoMap(chartRef))
      return str(chartRef.get('kind')) === 'OCIRepository'
        ? ref(
            'OCIRepository',
            str(chartRef.get('namespace')) || namespace,
            str(chartRef.get('name')),
          )
        : undefined;
    // chart.spec charts are resolved inline by the release itself (see #helmRepositoryChart).
    return undefined;
  }

  /** chart.spec → a HelmRepository of type oci: the chart as a source of its own. */
  #helmRepositoryChart(
    task: HelmReleaseTask,
  ): { spec: SourceSpec } | { unresolved: UnresolvedSource } {
    const namespace = objectNamespace(task.object) || 'default';
    const chart = field(field(task.object.get('spec'), 'chart'), 'spec');
    const sourceRef = field(chart, 'sourceRef');
    const kind = str(field(sourceRef, 'kind'));
    const repoNamespace = str(field(sourceRef, 'namespace')) || namespace;
    const repoId = ref(kind, repoNamespace, str(field(sourceRef, 'name')));
    const chartName = str(field(chart, 'chart'));
    const unresolved = (reason: string): { unresolved: UnresolvedSource } => ({
      unresolved: {
        object: task.appliedBy,
        source: `${repoId} chart ${escapeControl(chartName)}`,
        reason,
      },
    });
    if (kind !== 'HelmRepository')
      return unresolved(`charts from a ${escapeControl(kind)} are not followed`);
    const repository = this.#available.findLast(
      (o) =>
        isKind(o, 'source.toolkit.fluxcd.io', 'HelmRepository') &&
        objectName(o) === str(field(sourceRef, 'name')) &&
        (objectNamespace(o) || 'default') === repoNamespace,
    );
    if (repository === undefined)
      return unresolved('the HelmRepository is not among the rendered objects');
    const repoSpec = repository.get('spec');
    if (str(field(repoSpec, 'type')) !== 'oci')
      return unresolved('an HTTP Helm repository: only OCI Helm repositories are followed');
    const version = str(field(chart, 'version')) || '*';
    return {
      spec: {
        object: task.appliedBy,
        // helm-controller creates the HelmChart in the HelmRepository's namespace: its verify
        // Secret is read there.
        namespace: repoNamespace,
        url: `${str(field(repoSpec, 'url')).replace(/\/+$/, '')}/${chartName}`,
        ref: /^v?\d+\.\d+\.\d+([-+].*)?$/.test(version)
          ? { tag: version.replaceAll('+', '_') }
          : { semver: version },
        verify: field(chart, 'verify'),
        fieldPrefix: 'spec.chart.spec',
        chart: true,
      },
    };
  }

  async #helmRelease(task: HelmReleaseTask): Promise<void> {
    const online = this.#online;
    if (online === undefined) return;
    const spec = task.object.get('spec');
    let source: SourceSpec | undefined;
    if (isGoMap(field(spec, 'chartRef'))) {
      const id = this.#chartSourceId(task.object);
      if (id === undefined) {
        this.unresolved.push({
          object: task.appliedBy,
          source: ref(
            str(field(field(spec, 'chartRef'), 'kind')),
            '',
            str(field(field(spec, 'chartRef'), 'name')),
          ),
          reason: 'only chartRef to an OCIRepository is followed',
        });
        return;
      }
      source = this.#usableSource(task.appliedBy, id);
    } else {
      const found = this.#helmRepositoryChart(task);
      if ('unresolved' in found) {
        this.unresolved.push(found.unresolved);
        return;
      }
      const resolved = await online.sources.resolve(found.spec, this.#available);
      this.#failed(resolved);
      if (resolved.failure !== undefined) {
        this.unresolved.push({
          object: task.appliedBy,
          source: found.spec.url,
          reason: `its chart is not usable: ${resolved.failure.message}`,
        });
        return;
      }
      source = found.spec;
    }
    if (source === undefined) return;
    const result = online.sources.result(source.object);
    if (online.helm === undefined) {
      this.unresolved.push({
        object: task.appliedBy,
        source: `${source.object} ${result?.pulledFrom ?? ''}`.trim(),
        reason: 'the chart was resolved and verified; no helm binary was found to render it',
      });
      return;
    }
    let objects: GoMap[];
    try {
      const chart = await online.sources.chart(source);
      const values = releaseValues(task.object, this.#available, task.appliedBy);
      objects = await templateRelease(online.helm, chart, task.object, values, task.appliedBy);
    } catch (error) {
      throw withPrefix(error, task.appliedBy, task.appliedBy);
    }
    this.#add(
      {
        appliedBy: task.appliedBy,
        ...(result === undefined ? {} : { source: result.pulledFrom }),
        objects,
      },
      task.chain,
    );
  }

  #resourceSet(task: ResourceSetTask): void {
    const namespace = objectNamespace(task.object);
    let providers: GoMap[] | undefined;
    try {
      const doc = readResourceSetDoc(task.object);
      if (doc.spec.inputsFrom.length > 0) {
        providers = this.#providers(task, doc.spec.inputsFrom, namespace);
        if (providers === undefined) return;
      }
    } catch (error) {
      throw withPrefix(error, task.appliedBy, task.appliedBy);
    }
    let objects: GoMap[];
    try {
      objects = buildResourceSet(task.object, {
        cli: true,
        namespace: namespace === '' ? 'default' : namespace,
        ...(providers === undefined ? {} : { providers }),
      }).objects;
    } catch (error) {
      // The operator applies an empty set where its CLI refuses to print nothing.
      if (
        error instanceof AirlockError &&
        error.code === 'RESOURCESET_INVALID' &&
        error.message === 'no objects were generated'
      )
        objects = [];
      else throw withPrefix(error, task.appliedBy, task.appliedBy);
    }
    applyCopyFrom(objects, this.#available);
    // Generated objects come from the ResourceSet's own file (and the artifact it is in).
    const origin = this.#origins.get(task.object);
    this.#add(
      {
        appliedBy: task.appliedBy,
        ...(origin?.source === undefined ? {} : { source: origin.source }),
        objects,
        files: objects.map(() => origin?.file),
      },
      task.chain,
    );
  }

  /**
   * The Static providers in the rendered set that spec.inputsFrom may select; undefined (and the
   * ResourceSet listed as unresolved) when it names one that is not rendered, or selects one of
   * another type, whose inputs exist only in a cluster.
   */
  #providers(
    task: ResourceSetTask,
    inputsFrom: ReturnType<typeof readResourceSetDoc>['spec']['inputsFrom'],
    namespace: string,
  ): GoMap[] | undefined {
    const candidates = this.#available.filter(
      (o) =>
        isKind(o, 'fluxcd.controlplane.io', 'ResourceSetInputProvider') &&
        (objectNamespace(o) === '' || objectNamespace(o) === namespace),
    );
    const docs = candidates.map((o) => ({ object: o, doc: readInputProviderDoc(o) }));
    const missing: UnresolvedSource[] = [];
    for (const entry of inputsFrom) {
      const { selector } = entry;
      let selected: typeof docs = [];
      if (entry.name !== '') selected = docs.filter((d) => d.doc.metadata.name === entry.name);
      else if (selector !== undefined) {
        const all = selector.matchLabels.size + selector.matchExpressions.length === 0;
        const matches = all ? () => true : compileLabelSelector(selector);
        selected = docs.filter((d) => matches(d.doc.metadata.labels));
      }
      if (entry.name !== '' && selected.length === 0)
        missing.push({
          object: task.appliedBy,
          source: ref('ResourceSetInputProvider', namespace, entry.name),
          reason: 'the input provider is not among the rendered objects',
        });
      for (const d of selected)
        if (d.doc.type !== 'Static')
          missing.push({
            object: task.appliedBy,
            source: ref('ResourceSetInputProvider', namespace, d.doc.metadata.name),
            reason: `offline: a provider of type ${escapeControl(d.doc.type)} exports its inputs only in a cluster`,
          });
    }
    if (missing.length > 0) {
      this.unresolved.push(...missing);
      return undefined;
    }
    return docs.filter((d) => d.doc.type === 'Static').map((d) => d.object);
  }

  /** What an object leads to: a ResourceSet to build, a source, a Kustomization or a release. */
  #follow(object: GoMap, chain: readonly string[]): void {
    const namespace = objectNamespace(object) || 'default';
    const self = ref(nestedString(object, 'kind'), namespace, objectName(object));
    if (isKind(object, 'fluxcd.controlplane.io', 'ResourceSet')) {
      this.enqueue({ type: 'resourceset', appliedBy: self, object, chain });
      return;
    }
    if (isKind(object, 'source.toolkit.fluxcd.io', 'OCIRepository')) {
      if (this.#online !== undefined && !this.#fleetSources.has(self))
        this.enqueue({ type: 'source', appliedBy: self, spec: ociRepositorySource(object), chain });
      return;
    }
    if (isKind(object, 'helm.toolkit.fluxcd.io', 'HelmRelease')) {
      const spec = object.get('spec');
      if (spec !== undefined && field(spec, 'suspend') === true) {
        this.unresolved.push({
          object: self,
          source: 'none',
          reason: 'suspended: it is not reconciled',
        });
        return;
      }
      const chartRef = field(spec, 'chartRef');
      const sourceRef = field(field(field(spec, 'chart'), 'spec'), 'sourceRef');
      const source = isGoMap(chartRef)
        ? ref(
            str(chartRef.get('kind')),
            str(chartRef.get('namespace')) || namespace,
            str(chartRef.get('name')),
          )
        : isGoMap(sourceRef)
          ? `${ref(str(sourceRef.get('kind')), str(sourceRef.get('namespace')) || namespace, str(sourceRef.get('name')))} chart ${escapeControl(str(field(field(field(spec, 'chart'), 'spec'), 'chart')))}`
          : 'none';
      const sourceNamespace = isGoMap(chartRef)
        ? str(chartRef.get('namespace')) || namespace
        : str(field(sourceRef, 'namespace')) || namespace;
      if (this.#online === undefined) {
        this.unresolved.push({
          object: self,
          source,
          reason: 'offline: Helm charts are not pulled or rendered',
        });
        return;
      }
      if (this.#multitenant && sourceNamespace !== namespace) {
        this.unresolved.push({
          object: self,
          source,
          reason: 'the multitenant FluxInstance denies sources in another namespace',
        });
        return;
      }
      this.enqueue({ type: 'helmrelease', appliedBy: self, object, chain });
      return;
    }
    if (!isKind(object, 'kustomize.toolkit.fluxcd.io', 'Kustomization')) return;
    const spec = object.get('spec');
    if (!isGoMap(spec)) return;
    const sourceRef = spec.get('sourceRef');
    const sourceKind = str(field(sourceRef, 'kind'));
    const sourceNamespace = str(field(sourceRef, 'namespace')) || namespace;
    const source = ref(sourceKind, sourceNamespace, str(field(sourceRef, 'name')));
    if (spec.get('suspend') === true) {
      this.unresolved.push({ object: self, source, reason: 'suspended: it is not reconciled' });
      return;
    }
    const own = this.#fleetSources.has(source);
    if (!own && (this.#online === undefined || sourceKind !== 'OCIRepository')) {
      if (!this.#seen.has(self))
        this.unresolved.push({
          object: self,
          source,
          reason:
            this.#online === undefined
              ? "offline: only the fleet's own source is rendered; this artifact is not pulled"
              : `a ${escapeControl(sourceKind)} source: only OCIRepositories are followed`,
        });
      this.#seen.add(self);
      return;
    }
    if (this.#multitenant && sourceNamespace !== namespace) {
      // kustomize-controller --no-cross-namespace-refs=true, set by multitenant FluxInstances.
      this.unresolved.push({
        object: self,
        source,
        reason: 'the multitenant FluxInstance denies sources in another namespace',
      });
      return;
    }
    this.enqueue({
      type: 'kustomization',
      appliedBy: self,
      namespace,
      spec,
      chain,
      ...(own ? {} : { source }),
    });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined))?.isDirectory() === true;
}

/** The root Kustomization and the fleet's own source(s), from the FluxInstance when there is one. */
function rootOf(
  cluster: string,
  instance: FluxInstanceInfo | undefined,
): { task: KustomizationTask; fleetSources: Set<string>; multitenant: boolean } {
  if (instance === undefined) {
    const appliedBy = 'Kustomization/flux-system/flux-system';
    return {
      task: {
        type: 'kustomization',
        appliedBy,
        namespace: 'flux-system',
        spec: new Map<string, GoValue>([['path', `clusters/${cluster}`]]),
        chain: [],
      },
      // A bootstrapped fleet syncs from a GitRepository or an OCIRepository named flux-system.
      fleetSources: new Set([
        'OCIRepository/flux-system/flux-system',
        'GitRepository/flux-system/flux-system',
      ]),
      multitenant: false,
    };
  }
  const where = `FluxInstance ${escapeControl(instance.file)}`;
  const namespace = objectNamespace(instance.object) || 'flux-system';
  const sync = field(instance.object.get('spec'), 'sync');
  if (!isGoMap(sync))
    throw new AirlockError('CONFIG_INVALID', `${where}: spec.sync is missing`, {
      details: [
        'the FluxInstance syncs the cluster from the fleet: set spec.sync (kind, url, ref, path)',
      ],
      data: { file: instance.file, field: 'spec.sync' },
    });
  const kind = str(sync.get('kind'));
  if (!['OCIRepository', 'GitRepository', 'Bucket'].includes(kind))
    throw new AirlockError(
      'CONFIG_INVALID',
      `${where}: spec.sync.kind ${JSON.stringify(escapeControl(kind))} is not OCIRepository, GitRepository or Bucket`,
      { data: { file: instance.file, field: 'spec.sync.kind' } },
    );
  const path = sync.get('path');
  if (typeof path !== 'string')
    throw new AirlockError('CONFIG_INVALID', `${where}: spec.sync.path is missing`, {
      data: { file: instance.file, field: 'spec.sync.path' },
    });
  const name = str(sync.get('name')) || namespace;
  const appliedBy = ref('Kustomization', namespace, name);
  return {
    task: {
      type: 'kustomization',
      appliedBy,
      namespace,
      // syncTmpl: path and sourceRef only, no postBuild, no targetNamespace.
      spec: new Map<string, GoValue>([['path', path]]),
      chain: [],
    },
    fleetSources: new Set([ref(kind, namespace, name)]),
    multitenant: field(field(instance.object.get('spec'), 'cluster'), 'multitenant') === true,
  };
}

/** Renders one cluster of a fleet offline: every object it would end up with, by applier. */
export async function renderFleet(options: RenderFleetOptions): Promise<FleetRender> {
  const offline = options.offline === true;
  if (!offline && options.sources === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      'rendering online follows sources into the registry: it needs a registry session',
      {
        details: ['render offline, or give the registry session and policies'],
        data: { option: 'offline' },
      },
    );
  const dir = resolve(options.dir);
  if (!(await isDirectory(dir)))
    throw new AirlockError('INPUT_INVALID', `${escapeControl(options.dir)} is not a directory`, {
      data: { option: 'dir' },
    });
  if (!CLUSTER_NAME.test(options.cluster))
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(options.cluster)} is not a cluster name (a directory under clusters/)`,
      { data: { option: 'cluster' } },
    );
  const clusterDir = join(dir, 'clusters', options.cluster);
  if (!(await isDirectory(clusterDir))) {
    const known = await readdir(join(dir, 'clusters'), { withFileTypes: true }).catch(() => []);
    const names = known.filter((e) => e.isDirectory()).map((e) => escapeControl(e.name));
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(options.dir)} has no cluster ${escapeControl(options.cluster)} (no clusters/${escapeControl(options.cluster)}/)`,
      {
        details: [
          names.length > 0
            ? `clusters: ${names.join(', ')}`
            : 'the fleet has no clusters/ directory',
        ],
        data: { option: 'cluster' },
      },
    );
  }
  const env = options.env ?? process.env;
  const stats = { ms: 0 };
  const tool = { ...(await findKustomize(options.kustomizeBin, env)), stats };
  const helm = offline ? undefined : await findHelm(options.helmBin, env);
  const instance = await findFluxInstance(clusterDir);
  const root = rootOf(options.cluster, instance);
  // The registry and signature code is loaded only for an online render.
  const online =
    offline || options.sources === undefined ? undefined : await import('./sources.ts');
  const sources =
    online === undefined || options.sources === undefined
      ? undefined
      : new online.FleetSources(options.sources);
  const source = await copySource(dir);
  try {
    const renderer = new Renderer({
      tool,
      source,
      fleetSources: root.fleetSources,
      multitenant: root.multitenant,
      maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
      env,
      online:
        sources === undefined
          ? undefined
          : {
              sources,
              helm: helm === undefined ? undefined : { ...helm, stats },
              failures: options.sourceFailures ?? 'throw',
            },
      keySecrets: options.sources?.keySecrets ?? new Map(),
    });
    renderer.enqueue(root.task);
    await renderer.run();
    return {
      cluster: options.cluster,
      groups: renderer.groups,
      unresolved: renderer.unresolved,
      objects: renderer.groups.reduce((n, g) => n + g.objects.length, 0),
      sources: sources?.results ?? [],
      toolMs: Math.round(stats.ms),
    };
  } finally {
    await Promise.all([source.dispose(), sources?.dispose()]);
  }
}

/**
 * The YAML stream of a render: per group a `# applied by Kind/namespace/name` line, then `---`
 * and each object as sigs.k8s.io/yaml prints it; the unresolved sources as comment lines at the end.
 */
export function renderFleetYAML(render: FleetRender): string {
  let out = '';
  for (const group of render.groups) {
    out += `# applied by ${escapeControl(group.appliedBy)}\n`;
    for (const object of group.objects) out += `---\n${marshalObject(object)}`;
  }
  for (const u of render.unresolved)
    out += `# unresolved: ${escapeControl(u.object)} needs ${escapeControl(u.source)}: ${escapeControl(u.reason)}\n`;
  return out;
}

/** A path segment from an object's kind, namespace or name; anything odd is made safe. */
const segment = (text: string): string => {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? `_${safe}` : safe;
};

/** The files of a render as a tree: Kind/namespace/name.yaml per group, unresolved.yaml. */
export function fleetRenderFiles(render: FleetRender): Map<string, string> {
  const files = new Map<string, string>();
  for (const group of render.groups) {
    const parts = group.appliedBy.split('/');
    const kind = parts[0] ?? '';
    const name = parts[parts.length - 1] ?? '';
    const namespace = parts.length > 2 ? parts.slice(1, -1).join('/') : '_cluster';
    let path = `${segment(kind)}/${segment(namespace)}/${segment(name)}.yaml`;
    for (let n = 2; files.has(path); n++)
      path = `${segment(kind)}/${segment(namespace)}/${segment(name)}-${n}.yaml`;
    let text = `# applied by ${escapeControl(group.appliedBy)}\n`;
    for (const object of group.objects) text += `---\n${marshalObject(object)}`;
    files.set(path, text);
  }
  if (render.unresolved.length > 0)
    files.set(
      'unresolved.yaml',
      marshalGoYAML(
        render.unresolved.map(
          (u) =>
            new Map<string, GoValue>([
              ['object', u.object],
              ['source', u.source],
              ['reason', u.reason],
            ]),
        ),
      ),
    );
  return files;
}

/**
 * Writes a render as a directory tree into `outDir`, which must not exist or be empty: into a
 * sibling temporary directory first, renamed into place, so a failure leaves nothing behind.
 */
export async function writeFleetRender(render: FleetRender, outDir: string): Promise<string[]> {
  const target = resolve(outDir);
  const entries = await readdir(target).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError('IO_FAILED', `${escapeControl(target)}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  if (entries !== undefined && entries.length > 0)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(target)} is not empty: a render is written into a new directory only`,
      { data: { option: 'outDir' } },
    );
  const files = fleetRenderFiles(render);
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.airlock-render-`));
  try {
    for (const [path, text] of files) {
      await mkdir(dirname(join(staging, path)), { recursive: true });
      await writeFile(join(staging, path), text);
    }
    // rmdir, not rm -r: if anything appeared in the directory meanwhile, fail rather than delete it.
    if (entries !== undefined) await rmdir(target);
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error instanceof AirlockError
      ? error
      : new AirlockError('IO_FAILED', `${escapeControl(target)}: ${(error as Error).message}`, {
          cause: error,
        });
  }
  return [...files.keys()];
}
