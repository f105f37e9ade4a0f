import { createRequire } from 'node:module';
import type SemVer from 'semver';

// node-semver is loaded on first use (it is CommonJS, so a synchronous require works): most
// commands never compare versions, and importing it costs every start-up ~30 ms.
const require = createRequire(import.meta.url);
let loaded: typeof SemVer | undefined;
function semverLib(): typeof SemVer {
  loaded ??= require('semver') as typeof SemVer;
  return loaded;
}

/**
 * The semver version a tag stands for: Helm writes `+` as `_` in tags (helm pkg/registry
 * reference.go), so `1.2.3_build.1` is 1.2.3+build.1. A leading "v" is accepted, as
 * Flux's OCIRepository semver filter accepts it. Non-semver tags give undefined.
 */
export function tagVersion(tag: string): string | undefined {
  const candidate = tag.replaceAll('_', '+');
  // Keep build metadata in the answer: semverLib().valid() would drop it.
  return semverLib().valid(candidate) === null ? undefined : candidate;
}

export function isValidRange(range: string): boolean {
  return semverLib().validRange(range) !== null;
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
        t.version !== undefined && semverLib().satisfies(t.version, range),
    )
    .sort((a, b) => semverLib().rcompare(a.version, b.version))
    .map((t) => t.tag);
}

/**
 * How `from` → `to` moves in semver terms: the highest component that changes (a prerelease step
 * counts as a patch, premajor as major …), `same`, `downgrade`, or undefined when either is not
 * semver (then only a digest comparison can say what changed).
 */
export function versionChange(
  from: string,
  to: string,
): 'major' | 'minor' | 'patch' | 'same' | 'downgrade' | undefined {
  const a = tagVersion(from);
  const b = tagVersion(to);
  if (a === undefined || b === undefined) return undefined;
  const lib = semverLib();
  const order = lib.compare(a, b);
  if (order === 0) return 'same';
  if (order > 0) return 'downgrade';
  const diff = lib.diff(a, b);
  if (diff === 'major' || diff === 'premajor') return 'major';
  if (diff === 'minor' || diff === 'preminor') return 'minor';
  return 'patch';
}
