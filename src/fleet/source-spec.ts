// What an OCIRepository (or a HelmRelease's OCI chart) says to pull and how to verify it, read
// from the rendered object: pure, so the renderer can plan without loading registry code.
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import { nestedString, objectName, objectNamespace } from './objects.ts';

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

/** Kind/namespace/name of an object, control characters escaped. */
const idOf = (object: GoMap): string =>
  escapeControl(
    `${nestedString(object, 'kind')}/${objectNamespace(object) || 'default'}/${objectName(object)}`,
  );

/** The part of an OCIRepository (or HelmChart) spec that says what to pull and how to verify it. */
export interface SourceSpec {
  readonly object: string;
  readonly namespace: string;
  readonly url: string;
  readonly ref: {
    readonly digest?: string;
    readonly semver?: string;
    readonly semverFilter?: string;
    readonly tag?: string;
  };
  readonly verify: GoValue | undefined;
  /** Where ref and verify live in the object, for findings: spec or spec.chart.spec. */
  readonly fieldPrefix: string;
  /** HelmChart sources: the chart is pulled whole (operation copy, Helm's layer). */
  readonly chart?: boolean;
  readonly layerSelector?: { readonly mediaType?: string; readonly operation?: string };
}

/** The source spec of a rendered OCIRepository. */
export function ociRepositorySource(object: GoMap): SourceSpec {
  const spec = object.get('spec');
  const ref = field(spec, 'ref');
  const selector = field(spec, 'layerSelector');
  const optional = (value: GoValue | undefined): string | undefined =>
    typeof value === 'string' && value !== '' ? value : undefined;
  const digest = optional(field(ref, 'digest'));
  const semver = optional(field(ref, 'semver'));
  const semverFilter = optional(field(ref, 'semverFilter'));
  const tag = optional(field(ref, 'tag'));
  const mediaType = optional(field(selector, 'mediaType'));
  const operation = optional(field(selector, 'operation'));
  return {
    object: idOf(object),
    namespace: objectNamespace(object) || 'default',
    url: str(field(spec, 'url')),
    ref: {
      ...(digest === undefined ? {} : { digest }),
      ...(semver === undefined ? {} : { semver }),
      ...(semverFilter === undefined ? {} : { semverFilter }),
      ...(tag === undefined ? {} : { tag }),
    },
    verify: field(spec, 'verify'),
    fieldPrefix: 'spec',
    layerSelector: {
      ...(mediaType === undefined ? {} : { mediaType }),
      ...(operation === undefined ? {} : { operation }),
    },
  };
}
