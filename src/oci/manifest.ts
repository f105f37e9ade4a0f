import { AirlockError } from '../errors.ts';
import { type Digest, isDigest, isIndexMediaType, MediaType } from '../core/index.ts';

/** OCI image-spec descriptor.md. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
  readonly platform?: Readonly<Record<string, unknown>>;
  readonly urls?: readonly string[];
}

/** An image manifest (OCI or Docker v2 schema 2): config plus layers. */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** An image index (OCI) or manifest list (Docker): references to other manifests. */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type ParsedManifest =
  { kind: 'manifest'; value: ImageManifest } | { kind: 'index'; value: ImageIndex };

function checkDescriptor(value: unknown, where: string, problems: string[]): void {
  if (value === null || typeof value !== 'object') {
    problems.push(`${where} is not an object`);
    return;
  }
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') problems.push(`${where}.mediaType is missing`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest))
    problems.push(`${where}.digest is not a valid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    problems.push(`${where}.size is not a non-negative integer`);
}

/**
 * Parses manifest bytes, deciding between manifest and index by the media type the server declared
 * (or the one in the JSON, for servers that omit the header). Every problem is reported at once.
 */
export function parseManifest(
  bytes: Uint8Array,
  declaredMediaType: string | undefined,
  where: string,
): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new AirlockError('MANIFEST_INVALID', `${where}: manifest is not valid JSON`, {
      cause: error,
    });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new AirlockError('MANIFEST_INVALID', `${where}: manifest is not a JSON object`);
  }
  const m = json as Record<string, unknown>;
  const problems: string[] = [];
  if (m.schemaVersion !== 2)
    problems.push(`schemaVersion is ${JSON.stringify(m.schemaVersion)}, expected 2`);
  const inner = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const mediaType = inner ?? declaredMediaType;
  const isIndex =
    mediaType !== undefined ? isIndexMediaType(mediaType) : Array.isArray(m.manifests);
  if (isIndex) {
    if (!Array.isArray(m.manifests)) problems.push('manifests is missing');
    else
      m.manifests.forEach((d, i) => {
        checkDescriptor(d, `manifests[${i}]`, problems);
      });
  } else {
    checkDescriptor(m.config, 'config', problems);
    if (!Array.isArray(m.layers)) problems.push('layers is missing');
    else
      m.layers.forEach((d, i) => {
        checkDescriptor(d, `layers[${i}]`, problems);
      });
  }
  if (m.subject !== undefined) checkDescriptor(m.subject, 'subject', problems);
  if (problems.length > 0) {
    throw new AirlockError('MANIFEST_INVALID', `${where}: manifest is invalid`, {
      details: problems,
    });
  }
  return isIndex
    ? { kind: 'index', value: json as ImageIndex }
    : { kind: 'manifest', value: json as ImageManifest };
}

/** The media type to store a manifest under: its own field, else what the server said, else OCI. */
export function manifestMediaType(bytes: Uint8Array, declared: string | undefined): string {
  try {
    const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      mediaType?: unknown;
      manifests?: unknown;
    };
    if (typeof json.mediaType === 'string') return json.mediaType;
    if (declared && declared !== 'application/json' && declared !== 'text/plain') return declared;
    return Array.isArray(json.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  } catch {
    return declared ?? MediaType.ociManifest;
  }
}
