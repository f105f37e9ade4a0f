import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import type { ErrorCode } from '../errors.ts';
import {
  generateKeyPair,
  resolveSigner,
  resolveVerifyPolicy,
  verifySignatureBytes,
} from './index.ts';

const EMPTY_ROOT = JSON.stringify({
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
});

describe('resolveSigner: plain options to one Signer', () => {
  it('decrypts a cosign key into a key signer whose signatures its public key verifies', async () => {
    const pair = generateKeyPair('pw');
    const signer = resolveSigner({ key: { pem: pair.privateKeyPEM, password: 'pw', name: 'k' } });
    assert.equal(signer.kind, 'key');
    assert.equal(signer.publicKeyPEM, pair.publicKeyPEM);
    const payload = Buffer.from('payload');
    const { signature, annotations } = await signer.sign(payload);
    assert.equal(verifySignatureBytes(signer.publicKey, payload, signature), true);
    assert.deepEqual(annotations, {});
    assertThrowsCode(
      () => resolveSigner({ key: { pem: pair.privateKeyPEM, password: 'wrong' } }),
      'KEY_DECRYPT_FAILED',
    );
  });

  it('builds a keyless signer with no public key (nothing to deduplicate), and refuses both or neither', () => {
    const keyless = resolveSigner({ keyless: { token: 'a.b.c' } });
    assert.equal(keyless.kind, 'keyless');
    assert.equal(keyless.publicKey, undefined);
    const pair = generateKeyPair('');
    const both = assertThrowsCode(
      () =>
        resolveSigner({
          key: { pem: pair.privateKeyPEM, password: '' },
          keyless: { token: 'a.b.c' },
        }),
      'INPUT_INVALID',
    );
    assert.equal(both.data.option, 'keyless');
    assertThrowsCode(() => resolveSigner({}), 'SIGNER_UNAVAILABLE');
    assertThrowsCode(() => resolveSigner({ keyless: { token: '' } }), 'SIGNER_UNAVAILABLE');
  });
});

describe('resolveVerifyPolicy: plain options to one checked policy', () => {
  const pub = generateKeyPair('').publicKeyPEM;

  it('parses keys, compiles identity rules, and keeps the trusted root', () => {
    const policy = resolveVerifyPolicy({
      keys: [{ name: 'team.pub', pem: pub }],
      identities: [
        { subject: 'https://ci/x', issuer: 'https://issuer' },
        { subjectRegExp: '^https://ci/', issuerRegExp: 'issuer$' },
      ],
      trustedRoot: EMPTY_ROOT,
      ignoreTlog: true,
    });
    const [key] = policy.keys ?? [];
    assert.equal(key?.name, 'team.pub');
    assert.equal(key.key.type, 'public');
    const [exact, pattern] = policy.identities ?? [];
    assert.deepEqual(exact, { subject: 'https://ci/x', issuer: 'https://issuer' });
    assert.ok(
      pattern && pattern.subject instanceof RegExp && pattern.subject.test('https://ci/job'),
    );
    assert.deepEqual(policy.trustedRoot, JSON.parse(EMPTY_ROOT));
    assert.equal(policy.ignoreTlog, true);
  });

  it('refuses identities without a trusted root, naming the option', () => {
    const error = assertThrowsCode(
      () => resolveVerifyPolicy({ identities: [{ subject: 's', issuer: 'i' }] }),
      'TRUSTED_ROOT_REQUIRED',
    );
    assert.equal(error.data.option, 'trustedRoot');
  });

  it('refuses bad input with INPUT_INVALID or KEY_INVALID and the option it came from', () => {
    const cases: [Parameters<typeof resolveVerifyPolicy>[0], ErrorCode, string][] = [
      [{}, 'INPUT_INVALID', 'keys'],
      [
        { keys: [{ name: 'k', pem: pub }], trustedRoot: '{not json' },
        'INPUT_INVALID',
        'trustedRoot',
      ],
      [
        { identities: [{ subjectRegExp: '(', issuer: 'i' }], trustedRoot: EMPTY_ROOT },
        'INPUT_INVALID',
        'identities',
      ],
      [
        {
          identities: [{ subject: 's', subjectRegExp: 's', issuer: 'i' }],
          trustedRoot: EMPTY_ROOT,
        },
        'INPUT_INVALID',
        'identities',
      ],
      [{ identities: [{ subject: 's' }], trustedRoot: EMPTY_ROOT }, 'INPUT_INVALID', 'identities'],
    ];
    for (const [options, code, option] of cases) {
      const error = assertThrowsCode(() => resolveVerifyPolicy(options), code);
      assert.equal(error.data.option, option, JSON.stringify(options));
    }
    assertThrowsCode(
      () => resolveVerifyPolicy({ keys: [{ name: 'k', pem: 'not a key' }] }),
      'KEY_INVALID',
    );
  });
});
