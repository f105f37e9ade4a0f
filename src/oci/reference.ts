import { AirlockError } from '../errors.ts';
import { type Digest, isDigest } from '../core/index.ts';

// Reference grammar from distribution/reference (reference.go), which Docker, Helm, Flux, cosign and
// skopeo all share:
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [domain "/"] component ("/" component)*
//   component  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//   tag        := [\w][\w.-]{0,127}
//   domain     := host [":" port]; the first path element is a domain only when it contains "." or
//                 ":" or is "localhost" (otherwise it is a Docker Hub path).
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::([0-9]+))?$/;
const MAX_NAME_LENGTH = 255;

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's API really lives (distribution's DefaultRegistryHost handling). */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export type ReferenceProblem =
  | 'empty'
  | 'bad-scheme'
  | 'bad-host'
  | 'bad-port'
  | 'bad-repository'
  | 'uppercase'
  | 'name-too-long'
  | 'bad-tag'
  | 'bad-digest'
  | 'missing-path';

export class ReferenceError extends AirlockError {
  readonly problem: ReferenceProblem;
  readonly input: string;

  constructor(input: string, problem: ReferenceProblem, message: string, hint?: string) {
    super('REF_INVALID', `invalid reference "${input}": ${message}`, {
      details: hint === undefined ? [] : [hint],
    });
    this.name = 'ReferenceError';
    this.problem = problem;
    this.input = input;
  }
}

/** A repository in a registry, possibly with a tag and/or digest. */
export interface RegistryReference {
  readonly kind: 'registry';
  /** host[:port] as named by the user, normalised (`docker.io` for Docker Hub). */
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

/** An OCI image-layout directory (`oci-layout:PATH[:tag|@digest]`). */
export interface LayoutReference {
  readonly kind: 'layout';
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export type Reference = RegistryReference | LayoutReference;

export const LAYOUT_PREFIX = 'oci-layout:';

export interface ParseOptions {
  /** Reject a reference that has neither tag nor digest (default false: the caller decides). */
  readonly requireTagOrDigest?: boolean;
  /** Reject a tag or digest: the reference must name a repository only. */
  readonly repositoryOnly?: boolean;
}

/**
 * Parses `host[:port]/path[:tag][@digest]`, with or without the `oci://` prefix Helm and Flux use,
 * Docker Hub short names (`nginx` → `docker.io/library/nginx`), and `oci-layout:PATH[:tag|@digest]`.
 */
export function parseReference(input: string, options: ParseOptions = {}): Reference {
  const ref = input.startsWith(LAYOUT_PREFIX) ? parseLayout(input) : parseRegistry(input);
  if (options.repositoryOnly && (ref.tag !== undefined || ref.digest !== undefined)) {
    throw new ReferenceError(
      input,
      'bad-repository',
      'expected a repository without tag or digest',
      `Drop the ":${ref.tag ?? ''}" or "@…" part.`,
    );
  }
  if (options.requireTagOrDigest && ref.tag === undefined && ref.digest === undefined) {
    throw new ReferenceError(
      input,
      'bad-tag',
      'a tag or digest is required',
      'Add ":<tag>" or "@sha256:<digest>".',
    );
  }
  return ref;
}

function splitDigest(input: string, body: string): { rest: string; digest?: Digest } {
  const at = body.lastIndexOf('@');
  if (at < 0) return { rest: body };
  const digest = body.slice(at + 1);
  if (!isDigest(digest)) {
    throw new ReferenceError(
      input,
      'bad-digest',
      `"${digest}" is not a digest`,
      'A digest looks like sha256:<64 lowercase hex characters>.',
    );
  }
  return { rest: body.slice(0, at), digest };
}

function checkTag(input: string, tag: string): void {
  if (!TAG.test(tag)) {
    throw new ReferenceError(
      input,
      'bad-tag',
      `"${tag}" is not a valid tag`,
      'Tags are 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-". Helm maps "+" in versions to "_".',
    );
  }
}

function parseRegistry(input: string): RegistryReference {
  let body = input.trim();
  if (body === '') throw new ReferenceError(input, 'empty', 'the reference is empty');
  if (body.startsWith('oci://')) body = body.slice('oci://'.length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(body)) {
    throw new ReferenceError(
      input,
      'bad-scheme',
      `scheme "${body.split(':')[0] ?? ''}://" is not an OCI reference`,
      'Use host/path:tag, oci://host/path:tag or oci-layout:PATH.',
    );
  }
  const { rest, digest } = splitDigest(input, body);
  let name = rest;
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    name = rest.slice(0, colon);
    checkTag(input, tag);
  }
  if (name === '') throw new ReferenceError(input, 'empty', 'the repository name is empty');

  const slash = name.indexOf('/');
  let registry = DOCKER_HUB;
  let path = name;
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (
    slash >= 0 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))
  ) {
    registry = first;
    path = name.slice(slash + 1);
    const match = HOST.exec(registry);
    if (!match)
      throw new ReferenceError(input, 'bad-host', `"${registry}" is not a valid registry host`);
    const port = match[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      throw new ReferenceError(input, 'bad-port', `port ${port} is out of range`);
    }
    registry = registry.toLowerCase();
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API_HOST) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;

  if (path === '' || path.split('/').some((c) => c === '')) {
    throw new ReferenceError(input, 'bad-repository', `"${path}" has an empty path component`);
  }
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      if (COMPONENT.test(component.toLowerCase())) {
        throw new ReferenceError(
          input,
          'uppercase',
          `repository "${path}" must be lowercase`,
          `Use "${path.toLowerCase()}".`,
        );
      }
      throw new ReferenceError(
        input,
        'bad-repository',
        `"${component}" is not a valid repository path component`,
        'Components are lowercase letters and digits separated by ".", "_", "__" or "-".',
      );
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw new ReferenceError(
      input,
      'name-too-long',
      `the name is longer than ${MAX_NAME_LENGTH} characters`,
    );
  }
  return {
    kind: 'registry',
    registry,
    repository: path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function parseLayout(input: string): LayoutReference {
  const body = input.slice(LAYOUT_PREFIX.length);
  const { rest, digest } = splitDigest(input, body);
  let path = rest;
  let tag: string | undefined;
  // A tag is the part after the last ":" that follows the last path separator, as skopeo's oci:
  // transport reads it. (PATH itself may not then contain ":" in its final element.)
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    path = rest.slice(0, colon);
    checkTag(input, tag);
  }
  if (path === '')
    throw new ReferenceError(
      input,
      'missing-path',
      'the layout path is empty',
      'Write oci-layout:./store or oci-layout:/abs/path[:tag].',
    );
  return {
    kind: 'layout',
    path,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** The canonical string form: `host/repo[:tag][@digest]` or `oci-layout:PATH[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  const base =
    ref.kind === 'layout' ? `${LAYOUT_PREFIX}${ref.path}` : `${ref.registry}/${ref.repository}`;
  return `${base}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** The repository part only (`host/repo` or `oci-layout:PATH`). */
export function formatRepository(ref: Reference): string {
  return ref.kind === 'layout'
    ? `${LAYOUT_PREFIX}${ref.path}`
    : `${ref.registry}/${ref.repository}`;
}

export function withTagOrDigest(
  ref: Reference,
  change: { tag?: string; digest?: Digest },
): Reference {
  const { tag: _t, digest: _d, ...base } = ref;
  const next = {
    ...base,
    ...(change.tag === undefined ? {} : { tag: change.tag }),
    ...(change.digest === undefined ? {} : { digest: change.digest }),
  };
  return next;
}

/** The API host for a registry name (`docker.io` is served from registry-1.docker.io). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
