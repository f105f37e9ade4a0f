// The one place plain options become a Signer or a VerifyPolicy (DESIGN.md: "sign resolves one
// Signer and one verification policy from options"). Callers read files, environment and
// passwords; this module decrypts, parses and checks. Errors carry `data.option` (the option the
// value came from) so the CLI can name its flag; nothing here names one.
import { AirlockError } from '../errors.ts';
import { decryptPrivateKey, KeySigner, loadPublicKey, type Signer } from './keys.ts';
import { KeylessSigner, type KeylessSignerOptions } from './keyless.ts';
import {
  type IdentityPolicy,
  parseTrustedRoot,
  trustedRootRequired,
  type VerifyKey,
  type VerifyPolicy,
} from './bundle.ts';

/** A cosign private key file's text and its password (COSIGN_PASSWORD's role; may be empty). */
export interface KeySignerOptions {
  readonly pem: string;
  readonly password: string;
  /** Names the key in messages (the file path). */
  readonly name?: string;
}

/** Exactly one of `key` and `keyless`. */
export interface SignerOptions {
  readonly key?: KeySignerOptions;
  readonly keyless?: KeylessSignerOptions;
}

/** Builds the signer the options describe: a decrypted cosign key, or Fulcio/Rekor keyless. */
export function resolveSigner(options: { readonly key: KeySignerOptions }): KeySigner;
export function resolveSigner(options: SignerOptions): Signer;
export function resolveSigner(options: SignerOptions): Signer {
  if (options.key !== undefined && options.keyless !== undefined)
    throw new AirlockError('INPUT_INVALID', 'a signer is either a key or keyless, not both', {
      data: { option: 'keyless' },
    });
  if (options.key !== undefined) {
    const { pem, password, name } = options.key;
    return new KeySigner(decryptPrivateKey(pem, password, name ?? 'the signing key'));
  }
  if (options.keyless !== undefined) return new KeylessSigner(options.keyless);
  throw new AirlockError('SIGNER_UNAVAILABLE', 'no signer: give a key or keyless options', {
    data: { option: 'key' },
  });
}

/**
 * One accepted signer identity. Give exactly one of `subject` (exact) and `subjectRegExp`, and one
 * of `issuer` and `issuerRegExp` (cosign's certificate identity and OIDC issuer; Flux's
 * matchOIDCIdentity). Regular expressions are unanchored, as in Go's MatchString.
 */
export interface IdentityOptions {
  readonly subject?: string;
  readonly subjectRegExp?: string;
  readonly issuer?: string;
  readonly issuerRegExp?: string;
}

export interface VerifyPolicyOptions {
  /** Public keys in PEM, any of which may match (Flux tries every `.pub` entry). */
  readonly keys?: readonly { readonly name: string; readonly pem: string }[];
  /** Identity pairs, ORed. They need `trustedRoot`. */
  readonly identities?: readonly IdentityOptions[];
  /** trusted_root.json text: the Fulcio CAs, Rekor and CT log keys of the public or a private Sigstore. */
  readonly trustedRoot?: string;
  /** Do not require a transparency-log entry (key-signed bundles; offline key checks). */
  readonly ignoreTlog?: boolean;
}

function identityRule(
  exact: string | undefined,
  pattern: string | undefined,
  field: 'subject' | 'issuer',
  index: number,
): string | RegExp {
  const regexpField = `${field}RegExp`;
  if ((exact === undefined) === (pattern === undefined))
    throw new AirlockError(
      'INPUT_INVALID',
      `identity ${index + 1}: give exactly one of ${field} and ${regexpField}`,
      { data: { option: 'identities', index, field } },
    );
  if (exact !== undefined) return exact;
  try {
    return new RegExp(pattern ?? '');
  } catch (error) {
    throw new AirlockError(
      'INPUT_INVALID',
      `identity ${index + 1}: ${regexpField} "${pattern ?? ''}" is not a valid regular expression`,
      { cause: error, data: { option: 'identities', index, field: regexpField } },
    );
  }
}

/**
 * Builds and checks a verification policy: keys parsed, identity rules compiled, the trusted root
 * parsed. Identities without a trusted root fail (TRUSTED_ROOT_REQUIRED): there is no online default.
 */
export function resolveVerifyPolicy(options: VerifyPolicyOptions): VerifyPolicy {
  const keys: VerifyKey[] = (options.keys ?? []).map(({ name, pem }) => ({
    name,
    key: loadPublicKey(pem, name),
  }));
  const identities: IdentityPolicy[] = (options.identities ?? []).map((identity, index) => ({
    subject: identityRule(identity.subject, identity.subjectRegExp, 'subject', index),
    issuer: identityRule(identity.issuer, identity.issuerRegExp, 'issuer', index),
  }));
  if (keys.length === 0 && identities.length === 0)
    throw new AirlockError(
      'INPUT_INVALID',
      'a verification policy needs at least one public key or signer identity',
      { data: { option: 'keys' } },
    );
  let trustedRoot: unknown;
  if (options.trustedRoot !== undefined) {
    try {
      trustedRoot = JSON.parse(options.trustedRoot);
    } catch (error) {
      throw new AirlockError('INPUT_INVALID', 'the trusted root is not JSON', {
        cause: error,
        data: { option: 'trustedRoot' },
      });
    }
    parseTrustedRoot(trustedRoot);
  } else if (identities.length > 0) throw trustedRootRequired();
  return Object.freeze({
    keys,
    identities,
    ...(trustedRoot === undefined ? {} : { trustedRoot }),
    ignoreTlog: options.ignoreTlog === true,
  });
}
