import { type Digest, MediaType } from '../core/index.ts';
import { filterReferrers, referrersTag } from './client.ts';
import type { Descriptor, ImageIndex } from './manifest.ts';
import type { Repository } from './target.ts';

/**
 * Makes referrers of `subject` discoverable where the store has no referrers API (distribution
 * 2.8, OCI layouts): merges their descriptors into the index under the referrers tag schema
 * `sha256-<hex>` (distribution spec v1.1; go-containerregistry does the same read-modify-write).
 * Descriptors the store already lists are left alone. Returns how many were added.
 */
export async function addReferrers(
  repository: Repository,
  subject: Digest,
  referrers: readonly Descriptor[],
): Promise<number> {
  const listed = new Set((await repository.referrers(subject)).map((d) => d.digest));
  const missing = referrers.filter((d) => !listed.has(d.digest));
  if (missing.length === 0) return 0;
  const tag = referrersTag(subject);
  // Nothing listed by a store without the referrers API: referrers() just read the tag index and
  // found it absent or empty, so there is nothing to keep and asking again would be one more
  // request for the same answer. A registry with the API may still hold an older tag index.
  const hasAPI =
    'supportsReferrersAPI' in repository &&
    typeof repository.supportsReferrersAPI === 'function' &&
    (await (repository.supportsReferrersAPI as (d: Digest) => Promise<boolean>).call(
      repository,
      subject,
    ));
  const existing =
    (listed.size > 0 || hasAPI) && (await repository.resolve(tag))
      ? filterReferrers((await repository.fetchManifest(tag)).bytes)
      : [];
  const seen = new Set(existing.map((d) => d.digest));
  const merged = [...existing, ...missing.filter((d) => !seen.has(d.digest))].sort((a, b) =>
    a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
  );
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: merged };
  await repository.pushManifest(Buffer.from(JSON.stringify(index)), MediaType.ociIndex, tag);
  return missing.length;
}
