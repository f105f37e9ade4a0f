import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AirlockError } from '../errors.ts';

// OCI image-spec descriptor.md: digest = algorithm ":" encoded. Only sha256 is produced; sha512 is
// accepted on read because the spec registers it.
const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export type Digest = `sha256:${string}` | `sha512:${string}`;

export function isDigest(value: string): value is Digest {
  return DIGEST_PATTERN.test(value);
}

export function parseDigest(value: string, where = 'digest'): Digest {
  if (!isDigest(value)) {
    throw new AirlockError('REF_INVALID', `${where}: "${value}" is not a valid digest`, {
      details: ['A digest looks like sha256:<64 lowercase hex characters>.'],
    });
  }
  return value;
}

export function digestAlgorithm(digest: Digest): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/**
 * Checks bytes against a descriptor's digest and size; throws DIGEST_MISMATCH / SIZE_MISMATCH.
 * Every read from an untrusted target passes through this or through VerifyingStream.
 */
export function verifyBytes(
  data: Uint8Array,
  expected: { digest: Digest; size?: number },
  where: string,
): void {
  if (expected.size !== undefined && data.byteLength !== expected.size) {
    throw new AirlockError(
      'SIZE_MISMATCH',
      `${where}: expected ${expected.size} bytes for ${expected.digest}, got ${data.byteLength}`,
    );
  }
  const actual = digestOf(data, digestAlgorithm(expected.digest));
  if (actual !== expected.digest) {
    throw new AirlockError(
      'DIGEST_MISMATCH',
      `${where}: content digest ${actual} does not match ${expected.digest}`,
      {
        details: [
          'The source served different bytes than it advertised; nothing was written for it.',
        ],
      },
    );
  }
}

/**
 * A pass-through stream that hashes and counts what flows through it and fails the stream at its end
 * when the digest or size does not match, so a consumer never commits unverified content.
 */
export class VerifyingStream extends Transform {
  readonly #hash: Hash;
  readonly #expected: { digest: Digest; size: number };
  readonly #where: string;
  #seen = 0;

  constructor(expected: { digest: Digest; size: number }, where: string) {
    super();
    this.#expected = expected;
    this.#where = where;
    this.#hash = createHash(digestAlgorithm(expected.digest));
  }

  /** Whether this stream checks exactly `expected` (digest and size): no second hash is needed. */
  verifies(expected: { digest: Digest; size: number }): boolean {
    return expected.digest === this.#expected.digest && expected.size === this.#expected.size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.byteLength;
    if (this.#seen > this.#expected.size) {
      callback(
        new AirlockError(
          'SIZE_MISMATCH',
          `${this.#where}: more than the expected ${this.#expected.size} bytes for ${this.#expected.digest}`,
        ),
      );
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#expected.size) {
      callback(
        new AirlockError(
          'SIZE_MISMATCH',
          `${this.#where}: expected ${this.#expected.size} bytes for ${this.#expected.digest}, got ${this.#seen}`,
        ),
      );
      return;
    }
    const actual = `${digestAlgorithm(this.#expected.digest)}:${this.#hash.digest('hex')}`;
    if (actual !== this.#expected.digest) {
      callback(
        new AirlockError(
          'DIGEST_MISMATCH',
          `${this.#where}: content digest ${actual} does not match ${this.#expected.digest}`,
          {
            details: [
              'The source served different bytes than it advertised; nothing was written for it.',
            ],
          },
        ),
      );
      return;
    }
    callback();
  }
}
