// `release COMPONENT/VERSION`: Flux D2's release-artifact job as one call (issue 9 §3). D2 pushes
// the component again from the git tag's checkout; here the tested `latest` is promoted by digest
// to VERSION and `latest-stable`, and only if its content equals the tag's checkout of the
// component's directory (flux-d2-reference-architecture, "release-artifact").
import { resolve } from 'node:path';
import { AirlockError } from '../errors.ts';
import { type BatchReport, escapeControl } from '../core/index.ts';
import { checkTags, parseReference, type RepositoryOpener } from '../oci/index.ts';
import { promoteTag, type PromoteTagOptions, type PromotionItem } from './tag.ts';

export interface ReleaseTag {
  readonly component: string;
  readonly version: string;
}

// D2 tags a release `<component>/<version>` (e.g. monitoring/v0.0.2); a component is a directory
// name under components/, so one path segment of DNS-ish characters.
const RELEASE_TAG = /^([a-z0-9]([a-z0-9._-]*[a-z0-9])?)\/([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/;

/** Splits a release git tag; `refs/tags/` is accepted and dropped. */
export function parseReleaseTag(tag: string): ReleaseTag {
  const name = tag.startsWith('refs/tags/') ? tag.slice('refs/tags/'.length) : tag;
  const match = RELEASE_TAG.exec(name);
  if (!match)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(tag)} is not a release tag of the form COMPONENT/VERSION (e.g. monitoring/v1.4.2)`,
      { data: { option: 'tag' } },
    );
  return { component: match[1] ?? '', version: match[3] ?? '' };
}

export interface ReleaseOptions extends Omit<PromoteTagOptions, 'matchDir'> {
  /** `registry/path`: the component's artifact is `<prefix>/<component>`. */
  readonly repositoryPrefix: string;
  /** The checkout of the release tag (default: the current directory). */
  readonly checkout?: string;
  /** Where components live in the checkout (D2: components). */
  readonly componentsDir?: string;
  /** The tag staging follows and that is promoted (default latest). */
  readonly fromTag?: string;
  /** The tag production follows (default latest-stable). */
  readonly stableTag?: string;
  /** Compare the content with the checkout (default true). */
  readonly matchContent?: boolean;
}

/**
 * The release tag a CI job runs for: GitLab's CI_COMMIT_TAG, or GitHub's GITHUB_REF when it is a
 * tag ref (docs.github.com "Store information in variables"; GitLab "Predefined CI/CD variables").
 */
export function releaseTagFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  if (env.CI_COMMIT_TAG) return env.CI_COMMIT_TAG;
  if (env.GITHUB_REF?.startsWith('refs/tags/')) return env.GITHUB_REF;
  throw new AirlockError(
    'INPUT_INVALID',
    'no release tag: give COMPONENT/VERSION, or run in a CI job started by a tag (CI_COMMIT_TAG, GITHUB_REF=refs/tags/…)',
    { data: { option: 'tag' } },
  );
}

/**
 * Promotes `<prefix>/<component>:latest` to VERSION and latest-stable, content-checked. Without a
 * tag, the CI job's tag (options.ciEnv) is released.
 */
export async function release(
  opener: RepositoryOpener,
  tag: ReleaseTag | string | undefined,
  options: ReleaseOptions,
): Promise<BatchReport<PromotionItem>> {
  const { component, version } =
    typeof tag === 'object' ? tag : parseReleaseTag(tag ?? releaseTagFromEnv(options.ciEnv ?? {}));
  const prefix = options.repositoryPrefix.replace(/^oci:\/\//, '').replace(/\/+$/, '');
  if (prefix === '')
    throw new AirlockError('INPUT_INVALID', 'a repository prefix (registry/path) is required', {
      data: { option: 'repositoryPrefix' },
    });
  const fromTag = options.fromTag ?? 'latest';
  const tags = [version, options.stableTag ?? 'latest-stable'];
  checkTags([fromTag, ...tags]);
  const source = parseReference(`${prefix}/${component}:${fromTag}`, { requireTagOrDigest: true });
  const matchDir = resolve(
    options.checkout ?? '.',
    options.componentsDir ?? 'components',
    component,
  );
  const report = await promoteTag(opener, source, tags, {
    ...options,
    ...(options.matchContent === false ? {} : { matchDir }),
  });
  return { ...report, operation: 'release' };
}
