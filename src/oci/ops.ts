import { AirlockError } from '../errors.ts';
import { checkSemverRange, type Digest, tagsInRange } from '../core/index.ts';
import { type Credential, type CredentialStore, storeCredential } from './auth.ts';
import type { RegistryClient } from './client.ts';
import { LayoutRepository } from './layout.ts';
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

/** Refuses tags outside the OCI tag grammar (distribution spec: [A-Za-z0-9_][A-Za-z0-9._-]{0,127}). */
export function checkTags(tags: readonly string[], option = 'tags'): void {
  const invalid = tags.filter((t) => !isValidTag(t));
  if (invalid.length > 0)
    throw new AirlockError('TAG_INVALID', `invalid tag(s): ${invalid.join(', ')}`, {
      details: [
        'Tags are 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-".',
      ],
      data: { option },
    });
}

/** Points more tags at the manifest a tag or digest names (re-PUTs the exact manifest bytes). */
export async function tagManifest(
  repository: Repository,
  reference: string,
  tags: readonly string[],
): Promise<TagResult> {
  if (tags.length === 0)
    throw new AirlockError('INPUT_INVALID', 'name at least one tag to add', {
      data: { option: 'tags' },
    });
  checkTags(tags);
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
  if (options.semverRange !== undefined) checkSemverRange(options.semverRange);
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

export interface LoginResult {
  readonly registry: string;
  /** Where the credential went: the credential helper config.json names, or its `auths`. */
  readonly stored: 'helper' | 'file';
  readonly path: string;
}

/**
 * `docker login`: checks the credential the client uses for `registry` with an authenticated
 * GET /v2/, then stores it where docker, helm, flux, cosign and skopeo read it (`authFile`).
 */
export async function loginRegistry(
  connection: { readonly client: RegistryClient; readonly credentials: CredentialStore },
  registry: string,
  authFile: string,
): Promise<LoginResult> {
  const credential: Credential | undefined = await connection.credentials.get(registry);
  if (credential === undefined)
    throw new AirlockError('INPUT_INVALID', `no credentials given for ${registry}`, {
      data: { option: 'credentials' },
    });
  await connection.client.ping(registry);
  const stored = await storeCredential(authFile, registry, credential);
  return { registry, stored, path: authFile };
}

/** Garbage-collects an OCI layout; registries collect their own garbage, so they are refused. */
export async function collectGarbage(
  repository: Repository,
): Promise<{ removed: Digest[]; bytes: number }> {
  if (!(repository instanceof LayoutRepository))
    throw new AirlockError(
      'INPUT_INVALID',
      `${repository.name}: garbage collection works on OCI layouts; registries collect garbage themselves`,
      { data: { option: 'layout' } },
    );
  return repository.garbageCollect();
}
