import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scryptSync,
  sign as cryptoSign,
} from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { secretbox } from '@noble/ciphers/salsa.js';
import { AirlockError } from '../errors.ts';
import { goJSON, writeFileAtomic } from '../core/index.ts';

// cosign's key files (shared/reference/signing.md §3; cosign pkg/cosign/keys.go and
// secure-systems-lab encrypted.go): PKCS#8 DER, encrypted with nacl secretbox (XSalsa20-Poly1305)
// under scrypt(password, salt, N, r, p, 32), as JSON in a PEM block.
export const SIGSTORE_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';
/** The scrypt parameter sets cosign's decrypt accepts (CheckParams): a guard against DoS keys. */
const ALLOWED_SCRYPT = [32768, 65536, 131072];
const NEW_KEY_N = 65536;

interface PEMBlock {
  readonly type: string;
  readonly der: Buffer;
}

export function parsePEM(text: string, where: string): PEMBlock {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (!match?.[1] || match[2] === undefined) {
    throw new AirlockError('KEY_INVALID', `${where} is not a PEM file`, {
      details: [
        'Expected a cosign key (-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----) or a PEM public key.',
      ],
    });
  }
  return { type: match[1], der: Buffer.from(match[2].replace(/\s+/g, ''), 'base64') };
}

export function toPEM(type: string, der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${type}-----\n${b64}\n-----END ${type}-----\n`;
}

interface EncryptedKeyJSON {
  kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  cipher?: { name?: unknown; nonce?: unknown };
  ciphertext?: unknown;
}

/** Encrypts PKCS#8 DER the way `cosign generate-key-pair` does (scrypt N=65536, r=8, p=1). */
export function encryptPrivateKey(pkcs8: Buffer, password: string): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 32, {
    N: NEW_KEY_N,
    r: 8,
    p: 1,
    maxmem: 256 * 1024 * 1024,
  });
  const ciphertext = Buffer.from(secretbox(key, nonce).seal(pkcs8));
  const json = goJSON({
    kdf: { name: 'scrypt', params: { N: NEW_KEY_N, r: 8, p: 1 }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: ciphertext.toString('base64'),
  });
  return toPEM(SIGSTORE_PEM_TYPE, Buffer.from(json));
}

/**
 * Loads a cosign private key: either encrypted PEM type, with one of the scrypt parameter sets
 * cosign accepts; the plaintext must be PKCS#8 (cosign refuses SEC1 inside an encrypted key).
 */
export function decryptPrivateKey(pemText: string, password: string, where: string): KeyObject {
  const block = parsePEM(pemText, where);
  if (block.type !== SIGSTORE_PEM_TYPE && block.type !== COSIGN_PEM_TYPE) {
    throw new AirlockError(
      'KEY_INVALID',
      `${where}: PEM type "${block.type}" is not a cosign private key`,
      {
        details: [
          `Expected ${SIGSTORE_PEM_TYPE} or ${COSIGN_PEM_TYPE}; import plain keys with "airlock key import".`,
        ],
      },
    );
  }
  let doc: EncryptedKeyJSON;
  try {
    doc = JSON.parse(block.der.toString('utf8')) as EncryptedKeyJSON;
  } catch (error) {
    throw new AirlockError('KEY_INVALID', `${where}: the encrypted key is not valid JSON`, {
      cause: error,
    });
  }
  const N = doc.kdf?.params?.N;
  const r = doc.kdf?.params?.r;
  const p = doc.kdf?.params?.p;
  if (
    doc.kdf?.name !== 'scrypt' ||
    doc.cipher?.name !== 'nacl/secretbox' ||
    typeof doc.kdf.salt !== 'string' ||
    typeof doc.cipher.nonce !== 'string' ||
    typeof doc.ciphertext !== 'string'
  ) {
    throw new AirlockError(
      'KEY_INVALID',
      `${where}: unsupported key encryption (expected scrypt + nacl/secretbox)`,
    );
  }
  if (typeof N !== 'number' || !ALLOWED_SCRYPT.includes(N) || r !== 8 || p !== 1) {
    throw new AirlockError(
      'KEY_INVALID',
      `${where}: scrypt parameters N=${String(N)} r=${String(r)} p=${String(p)} are not ones cosign accepts`,
      {
        details: ['cosign accepts N=32768, 65536 or 131072 with r=8 and p=1.'],
      },
    );
  }
  const key = scryptSync(Buffer.from(password, 'utf8'), Buffer.from(doc.kdf.salt, 'base64'), 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 256 * 1024 * 1024,
  });
  let plaintext: Uint8Array;
  try {
    plaintext = secretbox(key, Buffer.from(doc.cipher.nonce, 'base64')).open(
      Buffer.from(doc.ciphertext, 'base64'),
    );
  } catch {
    throw new AirlockError(
      'KEY_DECRYPT_FAILED',
      `${where}: cannot decrypt the private key: wrong password?`,
      {
        details: ['The password comes from COSIGN_PASSWORD (it may be empty) or the prompt.'],
      },
    );
  }
  try {
    return createPrivateKey({ key: Buffer.from(plaintext), format: 'der', type: 'pkcs8' });
  } catch (error) {
    throw new AirlockError(
      'KEY_INVALID',
      `${where}: the decrypted key is not PKCS#8 (cosign refuses SEC1 "EC PRIVATE KEY" inside an encrypted key)`,
      {
        cause: error,
        details: [
          'Re-create the key with "airlock key generate", or import the plain key with "airlock key import".',
        ],
      },
    );
  }
}

/** Reads an unencrypted private key for import: PKCS#8 "PRIVATE KEY", SEC1 "EC PRIVATE KEY", "RSA PRIVATE KEY". */
export function importPrivateKey(pemText: string, where: string): KeyObject {
  const block = parsePEM(pemText, where);
  const types: Record<string, 'pkcs8' | 'sec1' | 'pkcs1'> = {
    'PRIVATE KEY': 'pkcs8',
    'EC PRIVATE KEY': 'sec1',
    'RSA PRIVATE KEY': 'pkcs1',
  };
  const type = types[block.type];
  if (!type)
    throw new AirlockError('KEY_INVALID', `${where}: PEM type "${block.type}" cannot be imported`, {
      details: ['Import takes PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY.'],
    });
  try {
    return createPrivateKey({ key: block.der, format: 'der', type });
  } catch (error) {
    throw new AirlockError('KEY_INVALID', `${where}: the key cannot be parsed`, { cause: error });
  }
}

export function loadPublicKey(pemText: string, where: string): KeyObject {
  const block = parsePEM(pemText, where);
  if (block.type !== 'PUBLIC KEY')
    throw new AirlockError('KEY_INVALID', `${where}: PEM type "${block.type}" is not a PUBLIC KEY`);
  try {
    return createPublicKey({ key: block.der, format: 'der', type: 'spki' });
  } catch (error) {
    throw new AirlockError('KEY_INVALID', `${where}: the public key cannot be parsed`, {
      cause: error,
    });
  }
}

export function publicKeyPEM(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return toPEM('PUBLIC KEY', pub.export({ format: 'der', type: 'spki' }));
}

export interface KeyPair {
  readonly privateKeyPEM: string;
  readonly publicKeyPEM: string;
}

/** A new ECDSA P-256 key pair in cosign's file formats. */
export function generateKeyPair(password: string): KeyPair {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return encryptKeyPair(privateKey, password);
}

export function encryptKeyPair(privateKey: KeyObject, password: string): KeyPair {
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privateKeyPEM: encryptPrivateKey(pkcs8, password),
    publicKeyPEM: publicKeyPEM(privateKey),
  };
}

/** A signature over payload bytes, and the annotations cosign stores beside it on the layer. */
export interface SignedPayload {
  readonly signature: Buffer;
  /** Keyless: the certificate, chain and Rekor bundle (signing.md §1.4); keys: none. */
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * Anything that signs payload bytes, key or keyless alike (a KMS or HSM key implements the same
 * members). A signer with a `publicKey` is deterministic in who signed: signLegacy then skips a
 * payload this key already signed (cosign's dedupe). A keyless signer has none: every signature
 * carries a fresh certificate, so there is nothing to deduplicate.
 */
export interface Signer {
  readonly kind: 'key' | 'keyless';
  /** The key's public half, when the signer is a long-lived key. */
  readonly publicKey?: KeyObject;
  readonly publicKeyPEM?: string;
  sign(payload: Buffer): Promise<SignedPayload>;
}

/** What a key-signed Sigstore bundle needs: the signature and the public key its hint names. */
export interface BundleSigner {
  readonly publicKey: KeyObject;
  sign(payload: Buffer): Promise<SignedPayload>;
}

/** A signer over an in-memory private key: ECDSA with SHA-256, ASN.1 DER signatures (cosign's default). */
export class KeySigner implements Signer, BundleSigner {
  readonly kind = 'key' as const;
  readonly publicKeyPEM: string;
  readonly publicKey: KeyObject;
  readonly #key: KeyObject;

  constructor(key: KeyObject) {
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
      throw new AirlockError(
        'KEY_INVALID',
        `unsupported key type ${String(key.asymmetricKeyType)}: use ECDSA P-256 (or RSA)`,
      );
    }
    this.#key = key;
    this.publicKey = createPublicKey(key);
    this.publicKeyPEM = publicKeyPEM(key);
  }

  sign(payload: Buffer): Promise<SignedPayload> {
    return Promise.resolve({
      signature: cryptoSign('sha256', payload, { key: this.#key, dsaEncoding: 'der' }),
      annotations: {},
    });
  }
}

/** The Kubernetes Secret Flux's `verify.secretRef` reads: public keys in entries ending in `.pub`. */
export function keySecretYAML(namespace: string, name: string, publicKey: string): string {
  // Kubernetes name rules: a namespace is a DNS label (RFC 1123), a Secret a DNS subdomain.
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63)
    throw new AirlockError('INPUT_INVALID', `"${namespace}" is not a valid Kubernetes namespace`, {
      data: { option: 'namespace' },
    });
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253)
    throw new AirlockError('INPUT_INVALID', `"${name}" is not a valid Secret name`, {
      data: { option: 'name' },
    });
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'type: Opaque',
    'data:',
    `  cosign.pub: ${Buffer.from(publicKey).toString('base64')}`,
    '',
  ].join('\n');
}

/**
 * Writes `<prefix>.key` (mode 0600, the encrypted private key) and `<prefix>.pub`, creating the
 * folder, as `cosign generate-key-pair --output-key-prefix` names them. Both names are checked
 * before either is written, so a refusal (without `overwrite`) leaves no half pair behind.
 */
export async function writeKeyPairFiles(
  prefix: string,
  pair: KeyPair,
  options: { overwrite?: boolean } = {},
): Promise<{ privateKey: string; publicKey: string }> {
  const files = [
    { path: `${prefix}.key`, content: pair.privateKeyPEM, mode: 0o600 },
    { path: `${prefix}.pub`, content: pair.publicKeyPEM, mode: 0o644 },
  ];
  if (options.overwrite !== true) {
    const existing = files.filter((f) => existsSync(f.path));
    if (existing.length > 0)
      throw new AirlockError(
        'INPUT_INVALID',
        `${existing.map((f) => f.path).join(' and ')} already exist`,
        {
          details: ['Choose another prefix, or overwrite them.'],
          data: { option: 'overwrite' },
        },
      );
  }
  await mkdir(dirname(prefix), { recursive: true });
  for (const f of files)
    await writeFileAtomic(f.path, f.content, {
      mode: f.mode,
      exclusive: options.overwrite !== true,
    });
  return { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` };
}
