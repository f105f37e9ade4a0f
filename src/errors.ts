// One error tree for the whole library (docs/architecture.md, "Errors"). Callers and tests match on
// `code`, never on message text; the CLI maps codes to exit statuses (src/cli/exit-codes.ts).

export type ErrorCode =
  // usage and input (exit 2)
  | 'USAGE'
  | 'REF_INVALID'
  | 'CONFIG_INVALID'
  | 'LAYOUT_INVALID'
  | 'MANIFEST_INVALID'
  | 'CREDENTIALS_INVALID'
  | 'KEY_INVALID'
  | 'KEY_DECRYPT_FAILED'
  /** An argument a library function was given is invalid (the CLI adds which flag it came from). */
  | 'INPUT_INVALID'
  /** A file the user named cannot be read: missing, not a regular file, permission denied. */
  | 'FILE_UNREADABLE'
  /** A tag that breaks the OCI tag grammar ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}). */
  | 'TAG_INVALID'
  /** No signer can be built from what was given: no OIDC token found, an empty token variable. */
  | 'SIGNER_UNAVAILABLE'
  /** Keyless (identity) verification was asked for without a trusted root to check it against. */
  | 'TRUSTED_ROOT_REQUIRED'
  /** A Go text/template that does not parse: file, resource and template position in the message. */
  | 'TEMPLATE_INVALID'
  /** A template that fails while executing (a missing map key, a failing function, fail). */
  | 'TEMPLATE_FAILED'
  /** A ResourceSet (or its inputs) the Flux Operator would refuse to build, with its message. */
  | 'RESOURCESET_INVALID'
  /** An environment of promotion.yaml whose paths hold no pin (no HelmRelease, OCIRepository or ResourceSet input). */
  | 'PINS_NOT_FOUND'
  // operational failures (exit 1)
  | 'REGISTRY_AUTH'
  | 'REGISTRY_DENIED'
  | 'REGISTRY_NOT_FOUND'
  | 'REGISTRY_PROTOCOL'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_UNREACHABLE'
  | 'TLS_FAILED'
  /**
   * The host speaks another protocol than it was reached with: HTTPS (TLS) where plain HTTP was
   * used (an insecure registry that has TLS), or plain HTTP where HTTPS was. `data` says which.
   */
  | 'PROTOCOL_MISMATCH'
  | 'INSECURE_REFUSED'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'IO_FAILED'
  | 'LOCK_TIMEOUT'
  | 'CREDENTIAL_HELPER_FAILED'
  | 'COPY_FAILED'
  | 'UPSTREAM_NOT_FOUND'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_INVALID'
  /** A git command failed (not a repository, no such remote, a rejected push). */
  | 'GIT_FAILED'
  /** The forge (GitLab, GitHub) refused the token: HTTP 401 or 403. The token is never printed. */
  | 'FORGE_AUTH'
  /** The forge refused the change as conflicting (HTTP 409, 422): a merge request that exists, a stale branch. */
  | 'FORGE_CONFLICT'
  /** The forge failed or answered something unexpected (HTTP 5xx, a malformed body, unreachable). */
  | 'FORGE_FAILED'
  /** Untrusted bytes (a body, a file, an archive) larger than the limit allowed for them. */
  | 'SIZE_LIMIT_EXCEEDED'
  /** The run was stopped (Ctrl-C, an AbortSignal) before this item finished. */
  | 'ABORTED'
  // verification or policy refused (exit 3)
  | 'VERIFICATION_FAILED'
  | 'POLICY_VIOLATION'
  /** A remote document (an index.yaml) pointed at a URL scheme airlock will not follow from it. */
  | 'UPSTREAM_SCHEME_REFUSED'
  /** A local source named a path outside the directory the inventory allows. */
  | 'PATH_OUTSIDE_SOURCE'
  /** A chunk of a packed bundle that has not arrived (yet): re-run when it is there. */
  | 'CHUNK_MISSING'
  /** A bundle that does not verify: signature, index, a blob's digest or size, a corrupt chunk. */
  | 'BUNDLE_INVALID'
  /** A delta bundle whose base the target registry does not hold. */
  | 'BASE_MISSING'
  | 'INTERNAL';

export interface ErrorOptions {
  readonly cause?: unknown;
  /** Extra lines: what to do, or every problem found when validation collected several. */
  readonly details?: readonly string[];
  /**
   * Machine-readable facts about the failure. `option` names the library option an invalid value
   * came from (`semverRange`, `tagPattern`, …): the CLI turns it into a flag hint; the library
   * never names flags itself.
   */
  readonly data?: Readonly<Record<string, unknown>>;
}

export class AirlockError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.details = options.details ?? [];
    this.data = options.data ?? {};
  }
}

/** One entry of a distribution-spec error body: {"errors":[{"code","message","detail"}]}. */
export interface RegistryErrorEntry {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

export class RegistryError extends AirlockError {
  readonly status: number | undefined;
  readonly url: string;
  readonly registryErrors: readonly RegistryErrorEntry[];

  constructor(
    code: ErrorCode,
    message: string,
    info: {
      status?: number;
      url: string;
      registryErrors?: readonly RegistryErrorEntry[];
    } & ErrorOptions,
  ) {
    super(code, message, info);
    this.name = 'RegistryError';
    this.status = info.status;
    this.url = info.url;
    this.registryErrors = info.registryErrors ?? [];
  }
}

export interface ConfigIssue {
  /** File, line and column or field path, e.g. `inventory.csv:4:2` or `refs.txt:3`. */
  readonly where: string;
  readonly message: string;
}

export class ConfigError extends AirlockError {
  readonly issues: readonly ConfigIssue[];

  constructor(message: string, issues: readonly ConfigIssue[], options: ErrorOptions = {}) {
    super('CONFIG_INVALID', message, {
      ...options,
      details: issues.map((i) => `${i.where}: ${i.message}`),
    });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function isAirlockError(value: unknown): value is AirlockError {
  return value instanceof AirlockError;
}

/** Wrap anything thrown into an AirlockError, keeping AirlockErrors as they are. */
export function toAirlockError(value: unknown, fallback: ErrorCode = 'INTERNAL'): AirlockError {
  if (value instanceof AirlockError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new AirlockError(fallback, message, { cause: value });
}
