// One finding of `fleet check`: which rule, which object (and the Flux object that applies it),
// which field, and what is wrong. Any error-severity finding makes the check exit 3.
export interface FleetFinding {
  /** Stable rule id: `verify-missing`, `depends-on-missing`, `depends-on-cycle`, … */
  readonly rule: string;
  /** Kind/namespace/name (Kind/name for cluster-scoped objects). */
  readonly object: string;
  /** The Flux object that applies it (`Kustomization/flux-system/platform`), when known. */
  readonly appliedBy?: string;
  /**
   * The file the object came from, relative to the root of its source: the fleet directory, or
   * the artifact named in `source` (from kustomize's origin annotations; a ResourceSet's objects
   * come from the ResourceSet's file). Absent when unknown (objects rendered by helm).
   */
  readonly file?: string;
  /** The artifact `file` is in (registry/repository@digest); absent for the fleet itself. */
  readonly source?: string;
  /** The field the finding is about, as a path: `spec.verify`, `spec.dependsOn[0]`. */
  readonly field: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}
