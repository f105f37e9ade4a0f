import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/oci/index.ts';
import {
  BUNDLE_ANNOTATION,
  CERTIFICATE_ANNOTATION,
  CHAIN_ANNOTATION,
  oidcToken,
  readSignatures,
  resolveSigner,
  resolveVerifyPolicy,
  signLegacy,
  verifyArtifact,
} from '../../src/sign/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertRejectsCode } from '../helpers/assert-code.ts';

const skip = missingTools(['docker-registry']);
const IDENTITY = 'https://gitlab.internal/platform/charts//.gitlab-ci.yml@refs/heads/main';
const ISSUER = 'https://gitlab.internal';

describe(
  'keyless signing against a private Sigstore (mock Fulcio and Rekor over HTTP)',
  { skip },
  () => {
    let registry: RegistryServer;
    let sigstore: MockSigstore;
    let client: RegistryClient;
    before(async () => {
      [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
      client = new RegistryClient({ insecureRegistries: [registry.host] });
    });
    after(async () => {
      client.close();
      await Promise.all([registry.stop(), sigstore.stop()]);
    });

    it('signs with a Fulcio certificate and a Rekor entry, and verifies with an identity policy that matches', async () => {
      const repo = client.repository(registry.host, 'keyless/app');
      const artifact = makeArtifact();
      await pushArtifact(repo, artifact, 'v1');
      const token = await oidcToken({
        env: { CI_JOB_JWT_V2: sigstore.token(IDENTITY, ISSUER) },
        identityTokenEnv: 'CI_JOB_JWT_V2',
      });
      const signer = resolveSigner({
        keyless: { token, fulcioURL: sigstore.fulcioURL, rekorURL: sigstore.rekorURL },
      });
      assert.equal(signer.kind, 'keyless');
      const signed = await signLegacy(repo, 'v1', signer);
      assert.equal(signed.added, true);
      assert.ok(
        sigstore.requests.includes('POST /api/v2/signingCert') &&
          sigstore.requests.includes('POST /api/v1/log/entries'),
      );
      const [layer] = await readSignatures(repo, artifact.digest);
      const annotations = layer?.descriptor.annotations ?? {};
      assert.match(annotations[CERTIFICATE_ANNOTATION] ?? '', /^-----BEGIN CERTIFICATE-----/);
      assert.ok(
        annotations[CHAIN_ANNOTATION] === undefined ||
          annotations[CHAIN_ANNOTATION].startsWith('-----BEGIN CERTIFICATE-----'),
      );
      const rekor = JSON.parse(annotations[BUNDLE_ANNOTATION] ?? '{}') as {
        SignedEntryTimestamp?: string;
        Payload?: { logIndex?: number; logID?: string };
      };
      assert.ok(
        rekor.SignedEntryTimestamp &&
          typeof rekor.Payload?.logIndex === 'number' &&
          /^[0-9a-f]{64}$/.test(rekor.Payload.logID ?? ''),
      );
      // As the inventory's verify_identity/verify_issuer columns ask: an exact pair, and the
      // trusted_root.json text of the private Sigstore.
      const policy = resolveVerifyPolicy({
        identities: [{ subject: IDENTITY, issuer: ISSUER }],
        trustedRoot: JSON.stringify(sigstore.trustedRoot),
      });
      const verified = await verifyArtifact(repo, 'v1', policy);
      assert.equal(verified.format, 'cosign-legacy');
      assert.deepEqual(
        { ...verified, reference: undefined, digest: undefined },
        {
          format: 'cosign-legacy',
          keyName: '',
          subject: IDENTITY,
          issuer: ISSUER,
          reference: undefined,
          digest: undefined,
        },
      );
      const byRegex = await verifyArtifact(repo, 'v1', {
        identities: [
          { subject: 'nobody', issuer: ISSUER },
          {
            subject: /^https:\/\/gitlab\.internal\/platform\//,
            issuer: /^https:\/\/gitlab\.internal$/,
          },
        ],
        trustedRoot: sigstore.trustedRoot,
      });
      assert.ok('subject' in byRegex && byRegex.subject === IDENTITY);
    });

    it('refuses an identity or issuer that does not match, and a trusted root that does not cover the CA', async () => {
      const repo = client.repository(registry.host, 'keyless/app');
      await assertRejectsCode(
        () =>
          verifyArtifact(repo, 'v1', {
            identities: [{ subject: 'https://gitlab.internal/other', issuer: ISSUER }],
            trustedRoot: sigstore.trustedRoot,
          }),
        'VERIFICATION_FAILED',
      );
      await assertRejectsCode(
        () =>
          verifyArtifact(repo, 'v1', {
            identities: [
              { subject: IDENTITY, issuer: 'https://token.actions.githubusercontent.com' },
            ],
            trustedRoot: sigstore.trustedRoot,
          }),
        'VERIFICATION_FAILED',
      );
      // No trusted root: the policy cannot check an identity at all, which is not a bad signature.
      const noRoot = await assertRejectsCode(
        () => verifyArtifact(repo, 'v1', { identities: [{ subject: IDENTITY, issuer: ISSUER }] }),
        'TRUSTED_ROOT_REQUIRED',
      );
      assert.equal(noRoot.data.option, 'trustedRoot');
      const other = await startMockSigstore();
      try {
        await assertRejectsCode(
          () =>
            verifyArtifact(repo, 'v1', {
              identities: [{ subject: IDENTITY, issuer: ISSUER }],
              trustedRoot: other.trustedRoot,
            }),
          'VERIFICATION_FAILED',
        );
      } finally {
        await other.stop();
      }
    });

    it('CLI: sign --keyless, then verify with an identity pair and --trusted-root (exit 0), a wrong one (exit 3)', async () => {
      const repo = client.repository(registry.host, 'keyless/cli');
      await pushArtifact(repo, makeArtifact(), 'v1');
      const work = await tempDir();
      try {
        const rootPath = join(work.path, 'trusted_root.json');
        await writeFile(rootPath, JSON.stringify(sigstore.trustedRoot));
        const env = { HOME: work.path, GITLAB_OIDC_TOKEN: sigstore.token(IDENTITY, ISSUER) };
        const ref = `${registry.host}/keyless/cli:v1`;
        const flags = ['--insecure-registry', registry.host];
        const signed = await airlock(
          [
            'sign',
            ref,
            '--keyless',
            '--identity-token-env',
            'GITLAB_OIDC_TOKEN',
            '--fulcio-url',
            sigstore.fulcioURL,
            '--rekor-url',
            sigstore.rekorURL,
            ...flags,
          ],
          { env },
        );
        assert.equal(signed.code, 0, signed.stderr);
        const ok = await airlock(
          [
            'verify',
            ref,
            '--certificate-identity-regexp',
            '^https://gitlab\\.internal/',
            '--certificate-oidc-issuer',
            ISSUER,
            '--trusted-root',
            rootPath,
            '--json',
            ...flags,
          ],
          { env },
        );
        assert.equal(ok.code, 0, ok.stderr);
        assert.equal(ok.json<{ items: { subject?: string }[] }>().items[0]?.subject, IDENTITY);
        const wrong = await airlock(
          [
            'verify',
            ref,
            '--certificate-identity',
            'https://gitlab.internal/someone-else',
            '--certificate-oidc-issuer',
            ISSUER,
            '--trusted-root',
            rootPath,
            '--json',
            ...flags,
          ],
          { env },
        );
        assert.equal(wrong.code, 3);
        const noRoot = await airlock(
          [
            'verify',
            ref,
            '--certificate-identity',
            IDENTITY,
            '--certificate-oidc-issuer',
            ISSUER,
            '--json',
            ...flags,
          ],
          { env },
        );
        assert.equal(noRoot.code, 2);
        assert.equal(
          noRoot.json<{ error: { code: string } }>().error.code,
          'TRUSTED_ROOT_REQUIRED',
        );
        assert.equal(
          wrong.json<{ items: { error?: { code: string } }[] }>().items[0]?.error?.code,
          'VERIFICATION_FAILED',
        );
        assert.ok(
          ![signed, ok, wrong].some((r) =>
            `${r.stdout}${r.stderr}`.includes(env.GITLAB_OIDC_TOKEN),
          ),
          'the token never appears',
        );
      } finally {
        await work.remove();
      }
    });

    it('finds the OIDC token where CI systems put it', async () => {
      assert.equal(await oidcToken({ env: { SIGSTORE_ID_TOKEN: 'tok' } }), 'tok');
      const seen: string[] = [];
      const fakeFetch = ((url: URL, init?: RequestInit) => {
        seen.push(`${url.toString()} ${JSON.stringify(init?.headers)}`);
        return Promise.resolve(
          new Response(JSON.stringify({ value: 'gh-token' }), { status: 200 }),
        );
      }) as typeof fetch;
      assert.equal(
        await oidcToken({
          env: {
            ACTIONS_ID_TOKEN_REQUEST_URL: 'https://actions.example/token?x=1',
            ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req',
          },
          fetch: fakeFetch,
        }),
        'gh-token',
      );
      assert.match(seen[0] ?? '', /audience=sigstore/);
      assert.match(seen[0] ?? '', /Bearer req/);
      await assertRejectsCode(() => oidcToken({ env: {} }), 'SIGNER_UNAVAILABLE');
      const missing = await assertRejectsCode(
        () => oidcToken({ env: {}, identityTokenEnv: 'MISSING' }),
        'SIGNER_UNAVAILABLE',
      );
      assert.equal(missing.data.option, 'identityTokenEnv');
    });
  },
);
