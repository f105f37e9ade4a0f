// Where a mirrored image lives, and which platforms a filter names (issue 12 §2). Pure: the
// inventory parser and mirrorImages share these, so a row and a list line map to the same path.
//
//   docker.io/library/nginx:1.27   →  <prefix>/docker.io/library/nginx:1.27
//   quay.io/prometheus/node-exporter@sha256:…  →  <prefix>/quay.io/prometheus/node-exporter@sha256:…
//   localhost:5000/team/app:1  →  <prefix>/localhost_5000/team/app:1
//
// The registry becomes the first path component below the prefix, so the cache.yaml rule
// `{upstream: docker.io, to: registry.internal/mirror/docker.io}` rewrites a pod's image onto
// exactly the repository the mirror wrote. Docker Hub under any of its names is `docker.io`
// (registryKey), hosts are lower-cased, and a port's ":" becomes "_" (a repository path has no
// ":"; no DNS name has "_", so two hosts never share a path).
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import {
  type ImageReference,
  ImageReferenceError,
  MAX_PATH_LENGTH,
  registryKey,
  repositoryPathProblem,
} from './reference.ts';

/** The repository path below the mirror prefix: `<registry host>/<repository>`. */
export function mirrorPath(image: ImageReference, where?: string): string {
  const host = registryKey(image.registry);
  if (host.startsWith('['))
    throw new ImageReferenceError(
      image.normalized,
      'bad-host',
      `the registry ${host} is an IPv6 address, which cannot be written as a repository path`,
      where,
      'Name the registry by a host name to mirror it.',
    );
  const path = `${host.replace(':', '_')}/${image.repository}`;
  const problem = repositoryPathProblem(path);
  if (problem !== undefined)
    throw new ImageReferenceError(image.normalized, 'bad-repository', problem, where);
  return path;
}

/** Checks that `prefix/path` stays within distribution's repository name limit. */
export function mirrorRepositoryProblem(prefixPath: string, path: string): string | undefined {
  const full = prefixPath === '' ? path : `${prefixPath}/${path}`;
  return full.length > MAX_PATH_LENGTH
    ? `the mirrored repository ${full} is ${full.length} characters, longer than ${MAX_PATH_LENGTH}`
    : undefined;
}

/** An OCI platform as an index entry states it (image-spec image-index.md `platform`). */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  /** Absent in a filter: any variant of the architecture. */
  readonly variant?: string;
}

const PLATFORM_PART = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Parses `os/arch[/variant]` (`linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`), as
 * `docker --platform`, `crane --platform` and `skopeo --override-*` name platforms.
 * INPUT_INVALID with `data.option` "platforms" (and `where`, when given) otherwise.
 */
export function parsePlatform(text: string, where?: string): Platform {
  const parts = text.split('/');
  const [os = '', architecture = '', variant] = parts;
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    !PLATFORM_PART.test(os) ||
    !PLATFORM_PART.test(architecture) ||
    (variant !== undefined && !PLATFORM_PART.test(variant))
  )
    throw new AirlockError(
      'INPUT_INVALID',
      `${where === undefined ? '' : `${where}: `}"${escapeControl(text)}" is not a platform (os/arch or os/arch/variant, lowercase)`,
      {
        details: ['Examples: linux/amd64, linux/arm64, linux/arm/v7.'],
        data: { option: 'platforms', ...(where === undefined ? {} : { where }) },
      },
    );
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant === undefined ? '' : `/${platform.variant}`}`;
}

/** arm64's variant is v8 when an index leaves it out (containerd's platforms.Normalize). */
function variantOf(platform: { architecture: string; variant?: string }): string | undefined {
  return platform.variant ?? (platform.architecture === 'arm64' ? 'v8' : undefined);
}

/**
 * Whether an index entry's platform is one the filter asks for: same os and architecture, and
 * the same variant when the filter names one (`linux/arm64` takes any arm64; `linux/arm/v7` only
 * v7; an arm64 entry without a variant is v8). `os.version` and `os.features` are not compared.
 */
export function platformMatches(entry: Platform, filter: Platform): boolean {
  if (entry.os !== filter.os || entry.architecture !== filter.architecture) return false;
  return filter.variant === undefined || variantOf(entry) === variantOf(filter);
}
