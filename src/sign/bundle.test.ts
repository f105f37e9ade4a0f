import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixturesSkipReason, SHARED_FIXTURES } from '../../test/harness/tools.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { cosignStatement, keyHint, preAuthEncoding, verifyBundleJSON } from './index.ts';

const dir = join(SHARED_FIXTURES, 'sigstore', 'cosign');

describe(
  "cosign's own v0.3 bundle verifies offline against its trusted root (signing.md §8.3)",
  { skip: fixturesSkipReason('sigstore/cosign/oci-attestation.sigstore.json') },
  () => {
    const load = (): {
      bundle: Record<string, unknown>;
      root: unknown;
      digest: `sha256:${string}`;
    } => {
      const bundle = JSON.parse(
        readFileSync(join(dir, 'oci-attestation.sigstore.json'), 'utf8'),
      ) as Record<string, unknown> & { dsseEnvelope: { payload: string } };
      const statement = JSON.parse(
        Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'),
      ) as { subject: { digest: { sha256: string } }[] };
      return {
        bundle,
        root: JSON.parse(readFileSync(join(dir, 'trusted_root_pgi.json'), 'utf8')),
        digest: `sha256:${statement.subject[0]?.digest.sha256 ?? ''}`,
      };
    };
    const identity = { subject: 'cody@soyland.com', issuer: 'https://github.com/login/oauth' };

    it('verifies with the matching identity, exact or by regular expression', () => {
      const { bundle, root, digest } = load();
      const result = verifyBundleJSON(bundle, digest, {
        identities: [identity],
        trustedRoot: root,
      });
      assert.deepEqual(result, {
        format: 'sigstore-bundle',
        subject: 'cody@soyland.com',
        issuer: 'https://github.com/login/oauth',
      });
      const ored = verifyBundleJSON(bundle, digest, {
        identities: [
          { subject: 'someone@else', issuer: identity.issuer },
          { subject: /@soyland\.com$/, issuer: /^https:\/\/github\.com\// },
        ],
        trustedRoot: root,
      });
      assert.equal(ored.subject, 'cody@soyland.com');
    });

    it('refuses a wrong identity, a wrong issuer, a wrong digest, a tampered payload, and a missing trusted root', () => {
      const { bundle, root, digest } = load();
      assertThrowsCode(
        () =>
          verifyBundleJSON(bundle, digest, {
            identities: [{ ...identity, subject: 'mallory@example.com' }],
            trustedRoot: root,
          }),
        'VERIFICATION_FAILED',
      );
      assertThrowsCode(
        () =>
          verifyBundleJSON(bundle, digest, {
            identities: [{ ...identity, issuer: 'https://accounts.google.com' }],
            trustedRoot: root,
          }),
        'VERIFICATION_FAILED',
      );
      assertThrowsCode(
        () =>
          verifyBundleJSON(bundle, `sha256:${'0'.repeat(64)}`, {
            identities: [identity],
            trustedRoot: root,
          }),
        'VERIFICATION_FAILED',
      );
      const envelope = bundle.dsseEnvelope as { payload: string };
      const payload = Buffer.from(envelope.payload, 'base64');
      payload[10] = (payload[10] ?? 0) ^ 1;
      const tampered = {
        ...bundle,
        dsseEnvelope: { ...envelope, payload: payload.toString('base64') },
      };
      assertThrowsCode(
        () => verifyBundleJSON(tampered, digest, { identities: [identity], trustedRoot: root }),
        'VERIFICATION_FAILED',
      );
      assertThrowsCode(
        () => verifyBundleJSON(bundle, digest, { identities: [identity] }),
        'TRUSTED_ROOT_REQUIRED',
      );
    });
  },
);

describe('key-signed bundles', () => {
  it('verify with the key when the transparency log is waived, and only then', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const digest = `sha256:${'ab'.repeat(32)}` as const;
    const statement = cosignStatement(digest);
    const signature = sign('sha256', preAuthEncoding('application/vnd.in-toto+json', statement), {
      key: privateKey,
      dsaEncoding: 'der',
    });
    const hint = keyHint(publicKey);
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint }, tlogEntries: [], timestampVerificationData: {} },
      dsseEnvelope: {
        payload: statement.toString('base64'),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: signature.toString('base64'), keyid: hint }],
      },
    };
    const keys = [{ name: 'cosign.pub', key: publicKey }];
    assert.equal(
      verifyBundleJSON(bundle, digest, { keys, ignoreTlog: true }).keyName,
      'cosign.pub',
    );
    const noTlog = assertThrowsCode(
      () => verifyBundleJSON(bundle, digest, { keys }),
      'VERIFICATION_FAILED',
    );
    assert.equal(noTlog.data.option, 'ignoreTlog', 'names the option that would accept it');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    assertThrowsCode(
      () =>
        verifyBundleJSON(bundle, digest, {
          keys: [{ name: 'other.pub', key: other }],
          ignoreTlog: true,
        }),
      'VERIFICATION_FAILED',
    );
  });
});
