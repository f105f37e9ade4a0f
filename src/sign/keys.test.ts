import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { fixturesSkipReason, SHARED_FIXTURES } from '../../test/harness/tools.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import {
  decryptPrivateKey,
  encryptKeyPair,
  generateKeyPair,
  importPrivateKey,
  keySecretYAML,
  loadPublicKey,
  parsePEM,
  publicKeyPEM,
  simpleSigningPayload,
  verifySignatureBytes,
} from './index.ts';

const vectors = join(SHARED_FIXTURES, 'sigstore');
const read = (path: string): string => readFileSync(join(vectors, path), 'utf8');

describe(
  'cosign key files (public test vectors, signing.md §8.1)',
  { skip: fixturesSkipReason('sigstore/README.md') },
  () => {
    const cases: [string, string, string][] = [
      [
        'cosign/cosign-encrypted-cosign-type.key',
        'hello',
        'cosign/cosign-encrypted-cosign-type.pub',
      ],
      [
        'cosign/cosign-encrypted-sigstore-type.key',
        'hello',
        'cosign/cosign-encrypted-sigstore-type.pub',
      ],
      ['sigstore-rs/ecdsa_encrypted_private.key', '123', 'sigstore-rs/ecdsa_encrypted_private.pub'],
      ['sigstore-rs/rsa_encrypted_private.key', '123', 'sigstore-rs/rsa_encrypted_private.pub'],
      [
        'sigstore-rs/cosign_generated_encrypted_empty_private.key',
        '',
        'sigstore-rs/cosign_generated_encrypted_empty_private.pub',
      ],
    ];
    for (const [key, password, pub] of cases) {
      it(`decrypts ${key} to the expected public key`, () => {
        const privateKey = decryptPrivateKey(read(key), password, key);
        assert.deepEqual(
          parsePEM(publicKeyPEM(privateKey), 'derived').der,
          parsePEM(read(pub), pub).der,
        );
      });
    }

    it('refuses a wrong password with KEY_DECRYPT_FAILED', () => {
      assertThrowsCode(
        () => decryptPrivateKey(read('cosign/cosign-encrypted-sigstore-type.key'), 'wrong', 'k'),
        'KEY_DECRYPT_FAILED',
      );
    });

    it('refuses the SEC1-inside-encrypted fixture, as cosign does', () => {
      assertThrowsCode(
        () => decryptPrivateKey(read('cosign/cosign-encrypted-sec1.key'), 'hello', 'sec1'),
        'KEY_INVALID',
      );
    });

    it('verifies the sigstore-rs legacy signature, and refuses it once any byte changes', () => {
      const payload = Buffer.from(read('sigstore-rs/legacy-signature.payload.json'));
      const signature = Buffer.from(read('sigstore-rs/legacy-signature.sig.b64').trim(), 'base64');
      const key = loadPublicKey(read('sigstore-rs/legacy-signature.pub'), 'legacy.pub');
      assert.equal(verifySignatureBytes(key, payload, signature), true);
      for (const at of [0, Math.floor(payload.length / 2), payload.length - 1]) {
        const tampered = Buffer.from(payload);
        tampered[at] = (tampered[at] ?? 0) ^ 1;
        assert.equal(verifySignatureBytes(key, tampered, signature), false, `payload byte ${at}`);
      }
      for (const at of [8, Math.floor(signature.length / 2), signature.length - 1]) {
        const tampered = Buffer.from(signature);
        tampered[at] = (tampered[at] ?? 0) ^ 1;
        assert.equal(verifySignatureBytes(key, payload, tampered), false, `signature byte ${at}`);
      }
    });
  },
);

describe('key generation and import', () => {
  it('generates an encrypted P-256 key that round-trips with its password only', () => {
    const pair = generateKeyPair('s3cret');
    assert.match(pair.privateKeyPEM, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    const json = JSON.parse(parsePEM(pair.privateKeyPEM, 'k').der.toString('utf8')) as {
      kdf: { name: string; params: { N: number; r: number; p: number } };
      cipher: { name: string };
    };
    assert.deepEqual(json.kdf.params, { N: 65536, r: 8, p: 1 });
    assert.equal(json.cipher.name, 'nacl/secretbox');
    assert.ok(!pair.privateKeyPEM.includes('PRIVATE KEY-----\nMIG'), 'never the plain PKCS#8');
    const key = decryptPrivateKey(pair.privateKeyPEM, 's3cret', 'k');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(publicKeyPEM(key), pair.publicKeyPEM);
    assertThrowsCode(
      () => decryptPrivateKey(pair.privateKeyPEM, 'other', 'k'),
      'KEY_DECRYPT_FAILED',
    );
  });

  it('imports unencrypted PKCS#8 and SEC1 keys and refuses others', () => {
    const pair = generateKeyPair('');
    const key = decryptPrivateKey(pair.privateKeyPEM, '', 'k');
    const pkcs8 = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    const sec1 = key.export({ format: 'pem', type: 'sec1' }).toString();
    assert.equal(publicKeyPEM(importPrivateKey(pkcs8, 'p8')), pair.publicKeyPEM);
    assert.equal(publicKeyPEM(importPrivateKey(sec1, 'sec1')), pair.publicKeyPEM);
    assert.equal(
      encryptKeyPair(importPrivateKey(sec1, 'sec1'), 'x').publicKeyPEM,
      pair.publicKeyPEM,
    );
    assertThrowsCode(() => importPrivateKey(pair.publicKeyPEM, 'pub'), 'KEY_INVALID');
    assertThrowsCode(() => importPrivateKey('not pem', 'junk'), 'KEY_INVALID');
  });

  it('writes the Secret Flux verify.secretRef reads', () => {
    const pair = generateKeyPair('');
    const secret = parse(keySecretYAML('flux-system', 'cosign-pub', pair.publicKeyPEM)) as {
      kind: string;
      metadata: { name: string; namespace: string };
      data: Record<string, string>;
    };
    assert.equal(secret.kind, 'Secret');
    assert.deepEqual(secret.metadata, { name: 'cosign-pub', namespace: 'flux-system' });
    assert.equal(
      Buffer.from(secret.data['cosign.pub'] ?? '', 'base64').toString(),
      pair.publicKeyPEM,
    );
    const bad = assertThrowsCode(
      () => keySecretYAML('Bad_NS', 'x', pair.publicKeyPEM),
      'INPUT_INVALID',
    );
    assert.equal(bad.data.option, 'namespace');
  });

  it('writes the simple-signing payload byte for byte as cosign does', () => {
    const digest = `sha256:${'a'.repeat(64)}` as const;
    assert.equal(
      simpleSigningPayload('registry.internal/charts/podinfo', digest).toString(),
      `{"critical":{"identity":{"docker-reference":"registry.internal/charts/podinfo"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
    );
    assert.equal(
      simpleSigningPayload('r/x', digest, { team: 'platform', env: 'prod' }).toString(),
      `{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":{"env":"prod","team":"platform"}}`,
    );
  });
});
