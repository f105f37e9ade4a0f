// The pull-through cache mapping (issue 12 §3), the one place it is computed: `images rewrite`
// prints it, and the Kyverno policy and the fleet checks are to apply the same rules.
//
//   docker.io/library/nginx:latest  →  registry.internal/dockerhub/library/nginx:latest
//   quay.io/prometheus/prometheus@sha256:…  →  registry.internal/quay/prometheus/prometheus@sha256:…
//
// The repository path is kept as the runtime asks for it (Docker Hub's `library/` included), so
// the cache asks its upstream for exactly what the pod would have pulled.
import { type CacheConfig, type CacheRule, isUnder, readCacheConfig } from './cache.ts';
import {
  formatImage,
  type ImageReference,
  ImageReferenceError,
  normalizeImage,
  registryKey,
} from './reference.ts';

/** `rewritten`: a rule maps it; `private`: already under a rule's `to`; `no-rule`: no rule covers it. */
export type RewriteOutcome = 'rewritten' | 'private' | 'no-rule';

export interface RewriteResult {
  readonly image: ImageReference;
  readonly outcome: RewriteOutcome;
  /** The reference to pull instead (outcome `rewritten`). */
  readonly rewritten?: string;
  /** The rule that rewrote it, or (outcome `private`) the rule whose `to` already holds it. */
  readonly rule?: CacheRule;
}

/**
 * Rewrites one image reference by the cache rules: normalised first (normalizeImage, so `nginx`
 * and `index.docker.io/library/nginx:latest` are the same image), then the rule whose upstream
 * is the image's registry (Docker Hub under any of its names) gives `<to>/<repository>[:tag]
 * [@digest]`. An image already under some rule's `to` is left as it is, and an image no rule
 * covers has no `rewritten`. REF_INVALID (naming `where` when given) for an invalid reference,
 * or one whose rewritten name would break the grammar (a path over 255 characters).
 */
export function rewriteImage(ref: string, config: CacheConfig, where?: string): RewriteResult {
  const image = normalizeImage(ref, where);
  const registry = registryKey(image.registry);
  const name = `${registry}/${image.repository}`;
  const holder = config.rules.find((rule) => isUnder(name, rule.to));
  if (holder !== undefined) return { image, outcome: 'private', rule: holder };
  const rule = config.rules.find((r) => r.upstream === registry);
  if (rule === undefined) return { image, outcome: 'no-rule' };
  const slash = rule.to.indexOf('/');
  const host = slash < 0 ? rule.to : rule.to.slice(0, slash);
  const path = slash < 0 ? image.repository : `${rule.to.slice(slash + 1)}/${image.repository}`;
  const candidate = formatImage(host, path, image.tag, image.digest);
  let rewritten: string;
  try {
    rewritten = normalizeImage(candidate).normalized;
  } catch (error) {
    if (!(error instanceof ImageReferenceError)) throw error;
    throw new ImageReferenceError(
      ref,
      error.problem,
      `the rule at ${rule.where} rewrites it to ${candidate}: ${error.reason}`,
      where,
    );
  }
  return { image, outcome: 'rewritten', rewritten, rule };
}

export interface RewriteImagesOptions {
  readonly references: readonly string[];
  /** cache.yaml to read the rules from. */
  readonly cacheFile: string;
}

/** Reads cache.yaml and rewrites each reference (`images rewrite`). */
export async function rewriteImages(
  options: RewriteImagesOptions,
): Promise<{ readonly config: CacheConfig; readonly results: readonly RewriteResult[] }> {
  const config = await readCacheConfig(options.cacheFile);
  return { config, results: options.references.map((ref) => rewriteImage(ref, config)) };
}
