// The bundle manifest (issue 11 §1): one signed document that lists everything an air-gap bundle
// holds, so one signature covers the whole bundle. It lives in the bundle's own OCI layout as an
// artifact (ref.name `dev.airlock.bundle:manifest`), signed with cosign's signature format, so the
// same verification that checks any artifact checks the bundle (src/sign verifyArtifact).
//
// It lists: every artifact with its source reference and digest; every index.json entry as
// written (an edited index is caught); every blob file with its size (a flipped byte, a missing
// or an extra blob is caught); and, for a delta, what the bundle references but the base holds.
import { AirlockError } from '../errors.ts';
import { type Digest, escapeControl, isDigest } from '../core/index.ts';
import { isValidTag } from '../oci/index.ts';

// distribution's repository grammar: path components, lowercase, no "..", no empty parts. The
// manifest is untrusted on the isolated side: a repository it names becomes a registry path.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const isRepository = (name: string): boolean =>
  name.length <= 255 && name.split('/').every((part) => COMPONENT.test(part));

export const BUNDLE_NAMESPACE = 'dev.airlock.bundle';
export const BUNDLE_TAG = 'manifest';
export const BUNDLE_MANIFEST_MEDIA_TYPE = 'application/vnd.airlock.bundle.manifest.v1+json';
/** The artifactType of the OCI manifest that carries the bundle manifest. */
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.airlock.bundle.v1';
/** index.json annotation: the full reference an artifact was taken from. */
export const SOURCE_ANNOTATION = 'dev.airlock.bundle.source';

/** One artifact the bundle carries, as the user named it. */
export interface BundleArtifact {
  /** The repository path it is restored under (`charts/podinfo`), the ref.name's first part. */
  readonly repository: string;
  readonly tag?: string;
  /** The full source reference (`registry.example/charts/podinfo:6.5.0`). */
  readonly source: string;
  readonly digest: Digest;
  readonly mediaType: string;
}

/** One index.json descriptor, as written (signatures, referrer indexes and children included). */
export interface BundleEntry {
  readonly name?: string;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

export interface BundleBlob {
  readonly digest: Digest;
  readonly size: number;
  /**
   * The repositories whose artifacts reference it: a registry links blobs per repository, so a
   * delta may leave a blob to its base only where the base brought it.
   */
  readonly repositories?: readonly string[];
}

/** What a delta references but leaves to its base: where (repository) and what (kind). */
export interface BaseContent extends BundleBlob {
  readonly repository: string;
  readonly kind: 'manifest' | 'blob';
  /**
   * A blob the base brought to another repository, not to `repository`: the import mounts it
   * from there (`POST ?mount=&from=`), as registries link blobs per repository.
   */
  readonly from?: string;
}

export interface BundleManifest {
  readonly schemaVersion: 1;
  readonly mediaType: typeof BUNDLE_MANIFEST_MEDIA_TYPE;
  readonly tool: { readonly name: string; readonly version: string };
  /** RFC 3339, UTC. */
  readonly created: string;
  /** A delta's base: the sha256 of the base's bundle manifest document. */
  readonly base?: { readonly digest: Digest; readonly created: string };
  readonly artifacts: readonly BundleArtifact[];
  readonly entries: readonly BundleEntry[];
  /** Every blob file of the layout (manifests and layers), the bundle's own excepted. */
  readonly contents: readonly BundleBlob[];
  /** A delta's references into its base (empty for a full bundle). */
  readonly fromBase: readonly BaseContent[];
  /** A delta's artifacts left out because the base holds them unchanged (import checks them). */
  readonly unchanged: readonly BundleArtifact[];
}

const fail = (where: string, why: string): never => {
  throw new AirlockError('BUNDLE_INVALID', `${where}: ${why}`, {
    details: ['the bundle manifest is not one airlock wrote: re-create the bundle'],
  });
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function digestField(where: string, value: unknown): Digest {
  if (typeof value !== 'string' || !isDigest(value)) fail(where, 'a digest is malformed');
  return value as Digest;
}

function sizeField(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    fail(where, 'a size is malformed');
  return value as number;
}

function stringField(where: string, value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') fail(where, `${name} is missing`);
  return value as string;
}

function list(where: string, value: unknown, name: string): unknown[] {
  if (!Array.isArray(value)) fail(where, `${name} is not a list`);
  return value as unknown[];
}

/** Parses and checks a bundle manifest document (BUNDLE_INVALID when it is not one). */
export function parseBundleManifest(bytes: Buffer, where: string): BundleManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail(where, 'not JSON');
  }
  if (!isObject(json)) return fail(where, 'not an object');
  if (json.schemaVersion !== 1 || json.mediaType !== BUNDLE_MANIFEST_MEDIA_TYPE)
    fail(
      where,
      `not an airlock bundle manifest (mediaType ${escapeControl(String(json.mediaType))})`,
    );
  const tool = isObject(json.tool) ? json.tool : fail(where, 'tool is missing');
  const base =
    json.base === undefined
      ? undefined
      : isObject(json.base)
        ? json.base
        : fail(where, 'base is malformed');
  const artifact = (a: unknown): BundleArtifact => {
    if (!isObject(a)) return fail(where, 'an artifact is malformed');
    const repository = stringField(where, a.repository, 'an artifact repository');
    if (!isRepository(repository) || repository === BUNDLE_NAMESPACE)
      fail(
        where,
        `artifact repository ${JSON.stringify(escapeControl(repository))} is not a repository name`,
      );
    const tag = a.tag === undefined ? undefined : stringField(where, a.tag, 'an artifact tag');
    if (tag !== undefined && !isValidTag(tag))
      fail(where, `artifact tag ${JSON.stringify(escapeControl(tag))} is not a tag`);
    return {
      repository,
      ...(tag === undefined ? {} : { tag }),
      source: stringField(where, a.source, 'an artifact source'),
      digest: digestField(where, a.digest),
      mediaType: stringField(where, a.mediaType, 'an artifact media type'),
    };
  };
  const artifacts = list(where, json.artifacts, 'artifacts').map(artifact);
  const unchanged =
    json.unchanged === undefined ? [] : list(where, json.unchanged, 'unchanged').map(artifact);
  const entries = list(where, json.entries, 'entries').map((e): BundleEntry => {
    if (!isObject(e)) return fail(where, 'an entry is malformed');
    return {
      ...(e.name === undefined ? {} : { name: stringField(where, e.name, 'an entry name') }),
      digest: digestField(where, e.digest),
      mediaType: stringField(where, e.mediaType, 'an entry media type'),
      size: sizeField(where, e.size),
    };
  });
  const blob = (b: unknown): BundleBlob => {
    if (!isObject(b)) return fail(where, 'a blob is malformed');
    const repositories =
      b.repositories === undefined
        ? undefined
        : list(where, b.repositories, 'repositories').map((r) =>
            stringField(where, r, 'a repository'),
          );
    return {
      digest: digestField(where, b.digest),
      size: sizeField(where, b.size),
      ...(repositories === undefined ? {} : { repositories }),
    };
  };
  const contents = list(where, json.contents, 'contents').map(blob);
  const baseRepository = (value: unknown, name: string): string => {
    const r = stringField(where, value, name);
    if (!isRepository(r))
      fail(where, `base repository ${JSON.stringify(escapeControl(r))} is not a repository name`);
    return r;
  };
  const fromBase = list(where, json.fromBase, 'fromBase').map((b): BaseContent => {
    if (!isObject(b)) return fail(where, 'a base reference is malformed');
    const kind =
      b.kind === 'manifest' || b.kind === 'blob' ? b.kind : fail(where, 'a base kind is malformed');
    if (b.from !== undefined && kind !== 'blob')
      fail(where, 'only a blob is mounted from the base');
    return {
      digest: digestField(where, b.digest),
      size: sizeField(where, b.size),
      repository: baseRepository(b.repository, 'a base repository'),
      kind,
      ...(b.from === undefined ? {} : { from: baseRepository(b.from, 'a base mount repository') }),
    };
  });
  return {
    schemaVersion: 1,
    mediaType: BUNDLE_MANIFEST_MEDIA_TYPE,
    tool: {
      name: stringField(where, tool.name, 'tool.name'),
      version: stringField(where, tool.version, 'tool.version'),
    },
    created: stringField(where, json.created, 'created'),
    ...(base === undefined
      ? {}
      : {
          base: {
            digest: digestField(where, base.digest),
            created: stringField(where, base.created, 'base.created'),
          },
        }),
    artifacts,
    entries,
    contents,
    fromBase,
    unchanged,
  };
}
