// Image discovery (issue 12 §1): every image a cluster will pull, normalised as the runtime reads
// it, each with where it came from. This file holds the shapes every discovery shares and the pod
// spec walk over Kubernetes objects; discover-chart.ts reads Helm charts (annotation, values,
// `helm template`) and the fleet module renders a cluster and walks its objects with
// workloadImages.
//
// Objects are the Go-shaped values the rest of airlock decodes Kubernetes YAML into (GoMap from
// src/goyaml: what `fleet render` produces and parseGoYAML returns), so a rendered fleet is read
// without conversion.
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import { type ImageReference, ImageReferenceError, normalizeImage } from './reference.ts';

/** Where an image reference was found. */
export type ImageSourceKind =
  /** Chart.yaml's `artifacthub.io/images` annotation. */
  | 'annotation'
  /** An image-shaped value of the chart's merged values (values.yaml and the values given). */
  | 'values'
  /** A pod spec in the chart's `helm template` output. */
  | 'template'
  /** A pod spec in a rendered object (a fleet's cluster, or objects given to workloadImages). */
  | 'object';

export interface ImageSource {
  readonly from: ImageSourceKind;
  /** The reference as written there (before normalisation). */
  readonly raw: string;
  /** The chart (name and version) it belongs to: for values, the (sub)chart whose values hold it. */
  readonly chart?: string;
  readonly version?: string;
  /**
   * The file: inside a chart archive `<chart>/values.yaml` (a packaged subchart as
   * `<chart>/charts/<sub>.tgz:<sub>/values.yaml`), a values file as given, the template helm
   * names in `# Source:`, or the fleet file an object came from.
   */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /**
   * The field: a values path in the top chart's coordinates (`server.image`,
   * `kube-state-metrics.image`: what a values file sets), an annotation entry
   * (`annotations["artifacthub.io/images"][0].image`), or an object's field
   * (`spec.template.spec.containers[0].image`).
   */
  readonly field: string;
  /** For template and object sources: Kind/namespace/name of the object. */
  readonly object?: string;
  /** For fleet objects: the Flux object that applies it (Kind/namespace/name). */
  readonly appliedBy?: string;
  /**
   * Set when the values gave no tag and the chart's appVersion stands in for it, as most charts'
   * templates do (`.Values.image.tag | default .Chart.AppVersion`). Some add a prefix ("v") in
   * the template: only `helm template` knows.
   */
  readonly tagFrom?: 'appVersion';
}

/** One image, by its normalised reference, with every place it was found. */
export interface DiscoveredImage {
  /** `registry/repository[:tag][@digest]`, as the runtime pulls it. */
  readonly reference: string;
  readonly image: ImageReference;
  readonly sources: readonly ImageSource[];
}

/** A reference that does not parse, with where it was found (the error is REF_INVALID). */
export interface InvalidImage {
  readonly source: ImageSource;
  readonly error: ImageReferenceError;
}

interface WorkloadImageBase {
  /** The reference as written in the object. */
  readonly raw: string;
  /** Kind/namespace/name (the namespace left out when empty). */
  readonly object: string;
  /** metadata.namespace as written ("" when unset). */
  readonly namespace: string;
  /** `spec.template.spec.containers[0].image`. */
  readonly field: string;
  /** The container's name, when it has one. */
  readonly container?: string;
  /** The Flux object that applies the object, when the caller knows it (fleet). */
  readonly appliedBy?: string;
}

/**
 * An image of one object's pod spec (workloadImages): normalised (`image`), or, when the
 * reference does not parse, the REF_INVALID `error` naming the object and field.
 */
export type WorkloadImage = WorkloadImageBase &
  (
    | { readonly image: ImageReference; readonly error?: undefined }
    | { readonly image?: undefined; readonly error: ImageReferenceError }
  );

/** Where the pod spec sits in each workload kind (API groups: core, apps, batch, extensions). */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const WORKLOAD_GROUPS = new Set(['', 'apps', 'batch', 'extensions']);
const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

/** Kind/namespace/name, the namespace left out when empty; control characters escaped. */
export function objectID(object: GoMap): string {
  const metadata = object.get('metadata');
  const namespace = str(field(metadata, 'namespace'));
  const name = str(field(metadata, 'name'));
  const kind = str(object.get('kind'));
  return escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);
}

/** The pod spec of a workload object and its field path, or undefined for other objects. */
function podSpec(object: GoMap): { spec: GoMap; path: string } | undefined {
  const kind = str(object.get('kind'));
  const path = Object.hasOwn(POD_SPEC_PATHS, kind) ? POD_SPEC_PATHS[kind] : undefined;
  if (path === undefined) return undefined;
  const apiVersion = str(object.get('apiVersion'));
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  if (!WORKLOAD_GROUPS.has(group)) return undefined;
  let current: GoValue | undefined = object;
  for (const key of path) current = field(current, key);
  return isGoMap(current) ? { spec: current, path: path.join('.') } : undefined;
}

/**
 * Every container image in the pod specs of `objects`: Pods, Deployments, StatefulSets,
 * DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs (spec.jobTemplate) and
 * PodTemplates, in their initContainers, containers and ephemeralContainers, in that order.
 * Each image is normalised (normalizeImage: `nginx` → `docker.io/library/nginx:latest`, digests
 * kept) and named by object and field; one that does not parse comes back with a REF_INVALID
 * `error` naming the object and field instead, never thrown. Other objects, and containers
 * without an image field, are skipped. Pure.
 */
export function workloadImages(objects: readonly GoValue[]): WorkloadImage[] {
  const images: WorkloadImage[] = [];
  for (const object of objects) {
    if (!isGoMap(object)) continue;
    const pod = podSpec(object);
    if (pod === undefined) continue;
    const id = objectID(object);
    const namespace = str(field(object.get('metadata'), 'namespace'));
    for (const list of CONTAINER_LISTS) {
      const containers = pod.spec.get(list);
      if (!Array.isArray(containers)) continue;
      containers.forEach((container, index) => {
        const raw = field(container, 'image');
        if (typeof raw !== 'string') return;
        const at = `${pod.path}.${list}[${index}].image`;
        const name = str(field(container, 'name'));
        const base = {
          raw,
          object: id,
          namespace,
          field: at,
          ...(name === '' ? {} : { container: name }),
        };
        try {
          images.push({ ...base, image: normalizeImage(raw, `${id} ${at}`) });
        } catch (error) {
          if (!(error instanceof ImageReferenceError)) throw error;
          images.push({ ...base, error });
        }
      });
    }
  }
  return images;
}

/**
 * Collects images by normalised reference, keeping every source in the order found; `list()`
 * returns them sorted bytewise by reference.
 */
export class ImageCollector {
  readonly #images = new Map<string, { image: ImageReference; sources: ImageSource[] }>();

  add(image: ImageReference, source: ImageSource): void {
    const known = this.#images.get(image.normalized);
    if (known === undefined) this.#images.set(image.normalized, { image, sources: [source] });
    else known.sources.push(source);
  }

  has(reference: string): boolean {
    return this.#images.has(reference);
  }

  /** Every image collected so far with this registry and repository. */
  withName(registry: string, repository: string): ImageReference[] {
    return [...this.#images.values()]
      .filter((i) => i.image.registry === registry && i.image.repository === repository)
      .map((i) => i.image);
  }

  list(): DiscoveredImage[] {
    return [...this.#images.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([reference, { image, sources }]) => ({ reference, image, sources }));
  }
}

/** One line per source, for messages and human output: `values prometheus/values.yaml:12:3 server.image`. */
export function describeSource(source: ImageSource): string {
  const position =
    source.file === undefined
      ? ''
      : `${source.file}${source.line === undefined ? '' : `:${source.line}:${source.column ?? 1}`} `;
  const chart =
    source.chart === undefined
      ? ''
      : ` (chart ${source.chart}${source.version === undefined ? '' : ` ${source.version}`})`;
  const object = source.object === undefined ? '' : `${source.object} `;
  const appliedBy = source.appliedBy === undefined ? '' : ` applied by ${source.appliedBy}`;
  const tagFrom = source.tagFrom === undefined ? '' : ', tag from appVersion';
  return escapeControl(
    `${source.from} ${object}${position}${source.field}${chart}${appliedBy}${tagFrom}`,
  );
}

/**
 * REF_INVALID for the invalid images found: the one error when there is one, else one error
 * listing each (object or file, and field) in its details.
 */
export function invalidImagesError(invalid: readonly InvalidImage[]): AirlockError {
  const [first, ...rest] = invalid;
  if (first === undefined) return new AirlockError('INTERNAL', 'no invalid image to report');
  if (rest.length === 0) return first.error;
  return new AirlockError('REF_INVALID', `${invalid.length} invalid image references`, {
    details: invalid.map((i) => i.error.message),
    data: { references: invalid.map((i) => i.error.input) },
  });
}
