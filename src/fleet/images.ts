// The images one cluster of a fleet will pull (issue 12 §1, `airlock images list --fleet DIR
// --cluster NAME`): the cluster rendered exactly as `fleet render` renders it (render.ts:
// Kustomizations built and substituted, ResourceSets expanded, and online every OCI source
// verified and pulled and every HelmRelease rendered by helm template with the values it
// declares, valuesFrom and values), then the pod specs of every rendered object
// (images/workloadImages). So the list is what that environment pulls with its own values.
import {
  type DiscoveredImage,
  ImageCollector,
  type InvalidImage,
  workloadImages,
} from '../images/index.ts';
import { renderFleet, type RenderFleetOptions, type UnresolvedSource } from './render.ts';
import type { ResolvedSource } from './sources.ts';

export type ListFleetImagesOptions = RenderFleetOptions;

export interface FleetImages {
  readonly cluster: string;
  /**
   * Deduplicated by normalised reference, sorted; each source (`from: object`) names the object,
   * its field, the Flux object that applies it and, when known, the file it came from.
   */
  readonly images: readonly DiscoveredImage[];
  /** References that do not parse, each with object and field and a REF_INVALID error. */
  readonly invalid: readonly InvalidImage[];
  /** What the render could not follow (offline, or without helm): its images are not listed. */
  readonly unresolved: readonly UnresolvedSource[];
  /** The OCI sources followed (online). */
  readonly sources: readonly ResolvedSource[];
  /** Objects rendered. */
  readonly objects: number;
}

/**
 * Renders the cluster (renderFleet, same options and errors) and lists the images of every
 * rendered object's pod spec. An image that does not parse is returned in `invalid`, not thrown,
 * so a check can report it among its findings.
 */
export async function listFleetImages(options: ListFleetImagesOptions): Promise<FleetImages> {
  const render = await renderFleet(options);
  const collector = new ImageCollector();
  const invalid: InvalidImage[] = [];
  for (const group of render.groups)
    group.objects.forEach((object, index) => {
      const file = group.files?.[index];
      for (const found of workloadImages([object])) {
        const source = {
          from: 'object' as const,
          raw: found.raw,
          ...(file === undefined ? {} : { file }),
          field: found.field,
          object: found.object,
          appliedBy: group.appliedBy,
        };
        if (found.image === undefined) invalid.push({ source, error: found.error });
        else collector.add(found.image, source);
      }
    });
  return {
    cluster: render.cluster,
    images: collector.list(),
    invalid,
    unresolved: render.unresolved,
    sources: render.sources,
    objects: render.objects,
  };
}
