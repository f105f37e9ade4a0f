// Image references as a container runtime reads them: Docker's and containerd's normalisation
// (github.com/distribution/reference, ParseNormalizedNamed followed by TagNameOnly), so the image
// airlock names is the image a kubelet pulls. It differs from src/oci's parseReference on purpose:
// no `oci://` or layout forms, uppercase registry hosts and any port number are accepted as the
// runtime accepts them, and a reference without tag or digest gets `:latest`. Two rules are
// stricter than distribution: a first component that looks like a host (it has "." or ":") but is
// not one (`a_b.com/x`) is refused, where distribution reads the whole name as a path with no
// registry at all; and digests are sha256 or sha512 only (OCI's registered algorithms).
//
//   reference  := name [":" tag] ["@" digest]
//   name       := [domain "/"] path; the first component is a domain only when it contains "."
//                 or ":", is "localhost", or has an upper-case letter; otherwise the name is on
//                 Docker Hub (docker.io), and a one-component Docker Hub path gets "library/"
//   domain     := host [":" digits]; host := dns-name | "[" ipv6 "]" (letters of either case)
//   path       := component ("/" component)*, at most 255 characters (the domain not counted)
//   component  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest     := sha256:<64 hex> | sha512:<128 hex>, lower-case hex
import { AirlockError } from '../errors.ts';
import { type Digest, escapeControl, isDigest } from '../core/index.ts';

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's other names: the legacy index, and the host its API is served from. */
export const DOCKER_HUB_ALIASES: readonly string[] = ['index.docker.io', 'registry-1.docker.io'];
export const DEFAULT_TAG = 'latest';
/** distribution's RepositoryNameTotalLengthMax: the path, without the domain. */
export const MAX_PATH_LENGTH = 255;

const LEGACY_DOCKER_HUB = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DNS_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^\w[\w.-]{0,127}$/;
/** distribution's digest grammar (any algorithm, 32+ hex); isDigest then says what is supported. */
const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** A bare image ID: distribution refuses it as a name. */
const IDENTIFIER = /^[a-f0-9]{64}$/;

/** An image reference, normalised as the container runtime normalises it. */
export interface ImageReference {
  /** The domain as written (`index.docker.io` becomes `docker.io`; no domain means `docker.io`). */
  readonly registry: string;
  /** The path in the registry: `library/nginx` for `nginx`. */
  readonly repository: string;
  /** The tag; `latest` when the reference has neither tag nor digest. */
  readonly tag?: string;
  readonly digest?: Digest;
  /** `registry/repository[:tag][@digest]`. */
  readonly normalized: string;
}

export type ImageReferenceProblem =
  | 'empty'
  | 'identifier'
  | 'bad-host'
  | 'bad-repository'
  | 'uppercase'
  | 'name-too-long'
  | 'bad-tag'
  | 'bad-digest';

/** REF_INVALID for an image reference, with where it was read from when the caller knows. */
export class ImageReferenceError extends AirlockError {
  readonly problem: ImageReferenceProblem;
  readonly input: string;
  readonly where: string | undefined;
  /** What is wrong, without the reference or where it was read. */
  readonly reason: string;

  constructor(
    input: string,
    problem: ImageReferenceProblem,
    message: string,
    where: string | undefined,
    hint?: string,
  ) {
    super(
      'REF_INVALID',
      `${where === undefined ? '' : `${where}: `}invalid image reference "${escapeControl(input)}": ${message}`,
      {
        details: hint === undefined ? [] : [hint],
        data: { reference: input, problem, ...(where === undefined ? {} : { where }) },
      },
    );
    this.name = 'ImageReferenceError';
    this.problem = problem;
    this.input = input;
    this.where = where;
    this.reason = message;
  }
}

/** Whether `domain` is a valid registry host[:port] (distribution's domainAndPort). */
export function isRegistryHost(domain: string): boolean {
  let host = domain;
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    if (close < 0) return false;
    host = domain.slice(0, close + 1);
    const rest = domain.slice(close + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return false;
    return IPV6.test(host);
  }
  const colon = domain.indexOf(':');
  if (colon >= 0) {
    if (!PORT.test(domain.slice(colon + 1))) return false;
    host = domain.slice(0, colon);
  }
  return host.split('.').every((part) => DNS_COMPONENT.test(part));
}

/**
 * Whether a reference's first component names a registry rather than a Docker Hub namespace:
 * it contains "." or ":", is "localhost", or has an upper-case letter (namespaces cannot).
 */
export function namesRegistry(component: string): boolean {
  return (
    component === 'localhost' ||
    component.includes('.') ||
    component.includes(':') ||
    component.toLowerCase() !== component
  );
}

/** Docker Hub under any of its names is `docker.io`; other hosts compare lower-cased. */
export function registryKey(registry: string): string {
  const host = registry.toLowerCase();
  return DOCKER_HUB_ALIASES.includes(host) ? DOCKER_HUB : host;
}

/** What is wrong with a repository path (`library/nginx`), or undefined when it is valid. */
function pathProblem(
  path: string,
): { problem: ImageReferenceProblem; message: string; hint?: string } | undefined {
  if (path === '') return { problem: 'bad-repository', message: 'the repository name is empty' };
  if (path.toLowerCase() !== path)
    return {
      problem: 'uppercase',
      message: `repository name "${escapeControl(path)}" must be lowercase`,
    };
  for (const component of path.split('/')) {
    if (component === '')
      return {
        problem: 'bad-repository',
        message: `repository "${escapeControl(path)}" has an empty path component`,
      };
    if (!COMPONENT.test(component))
      return {
        problem: 'bad-repository',
        message: `"${escapeControl(component)}" is not a valid repository path component`,
        hint: 'Components are lowercase letters and digits separated by ".", "_", "__" or "-".',
      };
  }
  if (path.length > MAX_PATH_LENGTH)
    return {
      problem: 'name-too-long',
      message: `the repository name is ${path.length} characters, longer than ${MAX_PATH_LENGTH}`,
    };
  return undefined;
}

/** What is wrong with a digest, or undefined when airlock supports it. */
function digestProblem(value: string): string | undefined {
  if (value === '') return 'the digest is empty';
  if (!DIGEST_SHAPE.test(value)) return `"${escapeControl(value)}" is not a digest`;
  if (isDigest(value)) return undefined;
  const [algorithm = '', hex = ''] = value.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512')
    return `digest algorithm "${escapeControl(algorithm)}" is not supported (sha256 or sha512)`;
  if (hex.toLowerCase() !== hex) return 'the digest must be lowercase hex';
  return `a ${algorithm} digest has ${algorithm === 'sha256' ? 64 : 128} hex characters, not ${hex.length}`;
}

/**
 * Normalises an image reference as Docker and containerd do: `nginx` →
 * `docker.io/library/nginx:latest`, `index.docker.io/x/y` → `docker.io/x/y:latest`,
 * `localhost:5000/x` keeps its host, a tag and a digest are both kept, and a digest alone gets no
 * tag. `where` (a file and field, `values.yaml:12:5 image`) starts the message of the REF_INVALID
 * thrown for an invalid reference.
 */
export function normalizeImage(ref: string, where?: string): ImageReference {
  const fail = (problem: ImageReferenceProblem, message: string, hint?: string): never => {
    throw new ImageReferenceError(ref, problem, message, where, hint);
  };
  if (ref === '') fail('empty', 'the reference is empty');
  if (IDENTIFIER.test(ref))
    fail(
      'identifier',
      'a 64-character hexadecimal string is an image ID, not a repository name',
      'Write REPOSITORY@sha256:<hex> to name an image by digest.',
    );

  // Where the domain ends: the first "/", when what precedes it names a registry.
  let registry = DOCKER_HUB;
  let remainder = ref;
  const slash = ref.indexOf('/');
  if (slash >= 0 && namesRegistry(ref.slice(0, slash))) {
    registry = ref.slice(0, slash);
    remainder = ref.slice(slash + 1);
    if (!isRegistryHost(registry))
      fail(
        'bad-host',
        `"${escapeControl(registry)}" is not a valid registry host`,
        'A registry is a host name or [IPv6] address, optionally with :PORT.',
      );
    if (registry === LEGACY_DOCKER_HUB) registry = DOCKER_HUB;
  }

  // name [":" tag] ["@" digest]: neither ":" nor "@" may appear in the path.
  let digest: Digest | undefined;
  const at = remainder.indexOf('@');
  let named = remainder;
  if (at >= 0) {
    const value = remainder.slice(at + 1);
    named = remainder.slice(0, at);
    const problem = digestProblem(value);
    if (problem !== undefined)
      fail('bad-digest', problem, 'A digest looks like sha256:<64 lowercase hex characters>.');
    digest = value as Digest;
  }
  let path = named;
  let tag: string | undefined;
  const colon = named.indexOf(':');
  if (colon >= 0) {
    tag = named.slice(colon + 1);
    path = named.slice(0, colon);
    if (!TAG.test(tag))
      fail(
        'bad-tag',
        tag === '' ? 'the tag is empty' : `"${escapeControl(tag)}" is not a valid tag`,
        'Tags are 1-128 letters, digits, "_", "." and "-", not starting with "." or "-".',
      );
  }
  if (registry === DOCKER_HUB && path !== '' && !path.includes('/'))
    path = `${OFFICIAL_PREFIX}${path}`;
  const problem = pathProblem(path);
  if (problem !== undefined) fail(problem.problem, problem.message, problem.hint);

  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return {
    registry,
    repository: path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
    normalized: formatImage(registry, path, tag, digest),
  };
}

/** `registry/repository[:tag][@digest]`. */
export function formatImage(
  registry: string,
  repository: string,
  tag: string | undefined,
  digest: string | undefined,
): string {
  return `${registry}/${repository}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
}

/** What is wrong with a repository path outside a reference (a cache rule's `to`), if anything. */
export function repositoryPathProblem(path: string): string | undefined {
  return pathProblem(path)?.message;
}
