import semver from 'semver';

/**
 * The semver version a tag stands for: Helm writes `+` as `_` in tags (helm pkg/registry
 * reference.go), so `1.2.3_build.1` is 1.2.3+build.1. A leading "v" is accepted, as
 * Flux's OCIRepository semver filter accepts it. Non-semver tags give undefined.
 */
export function tagVersion(tag: string): string | undefined {
  const candidate = tag.replaceAll('_', '+');
  // Keep build metadata in the answer: semver.valid() would drop it.
  return semver.valid(candidate) === null ? undefined : candidate;
}

export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

/**
 * Tags whose version satisfies `range`, newest first. Prereleases match only when the range names
 * a prerelease on the same version tuple (node-semver's default, as Helm and Flux use it).
 */
export function tagsInRange(tags: readonly string[], range: string): string[] {
  return tags
    .map((tag) => ({ tag, version: tagVersion(tag) }))
    .filter(
      (t): t is { tag: string; version: string } =>
        t.version !== undefined && semver.satisfies(t.version, range),
    )
    .sort((a, b) => semver.rcompare(a.version, b.version))
    .map((t) => t.tag);
}
