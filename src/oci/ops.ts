import { AirlockError } from '../errors.ts';
import { type Digest, isValidRange, tagsInRange } from '../core/index.ts';
import {
  type Descriptor,
  type ImageManifest,
  parseManifest,
  type ParsedManifest,
} from './manifest.ts';
import { isValidTag } from './reference.ts';
import type { Repository } from './target.ts';

export interface TagResult {
  readonly digest: Digest;
  readonly tags: readonly string[];
}

/** Points more tags at the manifest a tag or digest names (re-PUTs the exact manifest bytes). */
export async function tagManifest(
  repository: Repository,
  reference: string,
  tags: readonly string[],
): Promise<TagResult> {
  const invalid = tags.filter((t) => !isValidTag(t));
  if (invalid.length > 0) {
    throw new AirlockError('REF_INVALID', `invalid tag(s): ${invalid.join(', ')}`, {
      details: [
        'Tags are 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-".',
      ],
    });
  }
  if (tags.length === 0) throw new AirlockError('USAGE', 'name at least one tag to add');
  const manifest = await repository.fetchManifest(reference);
  for (const tag of tags)
    await repository.pushManifest(manifest.bytes, manifest.descriptor.mediaType, tag);
  return { digest: manifest.descriptor.digest, tags };
}

/** Lists tags: sorted by name, or newest first when filtered by a semver range. */
export async function listTags(
  repository: Repository,
  options: { semverRange?: string; pattern?: RegExp } = {},
): Promise<string[]> {
  if (options.semverRange !== undefined && !isValidRange(options.semverRange)) {
    throw new AirlockError('USAGE', `"${options.semverRange}" is not a valid semver range`, {
      details: ['Examples: ">=1.2 <2", "^3", "~1.4", "*".'],
    });
  }
  let tags = await repository.listTags();
  if (options.pattern) {
    const pattern = options.pattern;
    tags = tags.filter((t) => pattern.test(t));
  }
  return options.semverRange === undefined ? tags.sort() : tagsInRange(tags, options.semverRange);
}

export interface Inspection {
  readonly reference: string;
  readonly descriptor: Descriptor;
  readonly manifest: ParsedManifest;
  readonly raw: string;
}

export async function inspectReference(
  repository: Repository,
  reference: string,
): Promise<Inspection> {
  const fetched = await repository.fetchManifest(reference);
  return {
    reference: `${repository.name}@${fetched.descriptor.digest}`,
    descriptor: fetched.descriptor,
    manifest: parseManifest(fetched.bytes, fetched.descriptor.mediaType, repository.name),
    raw: fetched.bytes.toString('utf8'),
  };
}

/** Reads an image manifest (not an index) by tag or digest; MANIFEST_INVALID for an index. */
export async function fetchImageManifest(
  repository: Repository,
  reference: string,
): Promise<{ descriptor: Descriptor; bytes: Buffer; manifest: ImageManifest }> {
  const fetched = await repository.fetchManifest(reference);
  const where = `${repository.name}${reference.includes(':') ? '@' : ':'}${reference}`;
  const parsed = parseManifest(fetched.bytes, fetched.descriptor.mediaType, where);
  if (parsed.kind !== 'manifest')
    throw new AirlockError('MANIFEST_INVALID', `${where} is an index, not a single artifact`, {
      details: ['Name one of its manifests by digest.'],
    });
  return { descriptor: fetched.descriptor, bytes: fetched.bytes, manifest: parsed.value };
}
