import type { ErrorCode } from '../errors.ts';

// DESIGN.md "Conventions": 0 ok, 1 failure, 2 usage or invalid input, 3 verification or policy refused.
export const ExitCode = { ok: 0, failure: 1, invalidInput: 2, refused: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case 'USAGE':
    case 'REF_INVALID':
    case 'CONFIG_INVALID':
    case 'LAYOUT_INVALID':
    case 'MANIFEST_INVALID':
    case 'CREDENTIALS_INVALID':
    case 'KEY_INVALID':
    case 'KEY_DECRYPT_FAILED':
    case 'INPUT_INVALID':
    case 'FILE_UNREADABLE':
    case 'TAG_INVALID':
    case 'SIGNER_UNAVAILABLE':
    case 'TRUSTED_ROOT_REQUIRED':
    case 'PINS_NOT_FOUND':
    case 'TEMPLATE_INVALID':
    case 'TEMPLATE_FAILED':
    case 'RESOURCESET_INVALID':
      return ExitCode.invalidInput;
    case 'VERIFICATION_FAILED':
    case 'POLICY_VIOLATION':
    case 'UPSTREAM_SCHEME_REFUSED':
    case 'PATH_OUTSIDE_SOURCE':
    case 'BUNDLE_INVALID':
    case 'BASE_MISSING':
      return ExitCode.refused;
    case 'REGISTRY_AUTH':
    case 'REGISTRY_DENIED':
    case 'REGISTRY_NOT_FOUND':
    case 'REGISTRY_PROTOCOL':
    case 'REGISTRY_UNAVAILABLE':
    case 'REGISTRY_UNREACHABLE':
    case 'TLS_FAILED':
    case 'PROTOCOL_MISMATCH':
    case 'INSECURE_REFUSED':
    case 'DIGEST_MISMATCH':
    case 'SIZE_MISMATCH':
    case 'IO_FAILED':
    case 'LOCK_TIMEOUT':
    case 'CREDENTIAL_HELPER_FAILED':
    case 'COPY_FAILED':
    case 'UPSTREAM_NOT_FOUND':
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_INVALID':
    case 'GIT_FAILED':
    case 'FORGE_AUTH':
    case 'FORGE_CONFLICT':
    case 'FORGE_FAILED':
    case 'SIZE_LIMIT_EXCEEDED':
    case 'ABORTED':
    case 'CHUNK_MISSING':
    case 'INTERNAL':
      return ExitCode.failure;
  }
}
