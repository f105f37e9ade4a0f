// A pin: one place in an environment's Flux objects that fixes which version (and maybe digest) of
// a chart or artifact the environment runs. Components are matched across environments by
// `repository` (issue 9 §4: "by its chart or artifact repository, and the match is shown").

export type PinKind = 'HelmRelease' | 'OCIRepository' | 'ResourceSet';

/** A path into one YAML document of a file: `['spec', 'ref', 'tag']`, `['spec', 'inputs', 0, 'version']`. */
export type YAMLPath = readonly (string | number)[];

export interface Pin {
  readonly environment: string;
  /** Repository-relative POSIX path of the file. */
  readonly file: string;
  /** Index of the YAML document in a multi-document file. */
  readonly document: number;
  /** 1-based line of the pinned value, for messages (`file:line`). */
  readonly line: number;
  readonly kind: PinKind;
  /** `namespace/name` of the object that holds the pin. */
  readonly object: string;
  /** The chart or artifact name: the repository's last path segment. */
  readonly component: string;
  /**
   * The match key across environments: `oci://host/path/name` for OCI (HelmRepository type oci
   * + chart, OCIRepository url, ResourceSet input), `https://repo/index|chart` for an HTTP Helm repo.
   */
  readonly repository: string;
  /** The exact version or tag pinned; absent when the object follows a range (`semver`). */
  readonly version?: string;
  readonly digest?: string;
  readonly semver?: string;
  /** Where the version is written; where a digest is (or would be) written, when the kind has one. */
  readonly versionPath: YAMLPath;
  readonly digestPath?: YAMLPath;
  /** How the pin was found, e.g. `HelmRelease apps/web → OCIRepository apps/web-chart`. */
  readonly via: string;
  /**
   * ResourceSet pins: the input fields (repository, chart) that identify the entry, so other
   * versions of the file find the same input even when inputs were reordered (history.ts).
   */
  readonly inputKey?: Readonly<Record<string, string>>;
}
