// Tag promotion (issue 9 §2, §3): the commands as written in the issue, against a real registry
// and a private Sigstore (mock Fulcio and Rekor over HTTP).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/oci/index.ts';
import { promoteTag } from '../../src/promote/index.ts';
import { openSession } from '../../src/session/index.ts';
import { resolveSigner, resolveVerifyPolicy } from '../../src/sign/index.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { assertBatchReport } from '../helpers/report-schema.ts';

const skip = missingTools(['docker-registry', 'git']);

/** The CLI, with every batch report it prints checked against the one report schema. */
async function cli(...args: Parameters<typeof airlock>): ReturnType<typeof airlock> {
  const result = await airlock(...args);
  if (args[0].includes('--json') && result.stdout.includes('"items"'))
    assertBatchReport(result.json());
  return result;
}
const ISSUER = 'https://token.actions.githubusercontent.com';
const PUSH_IDENTITY =
  'https://github.com/org/d2-infra/.github/workflows/push-artifact.yml@refs/heads/main';
const RELEASE_IDENTITY =
  'https://github.com/org/d2-infra/.github/workflows/release-artifact.yml@refs/tags/web/1.0.0';

interface Item {
  outcome: string;
  digest?: string;
  tags?: string[];
  error?: { code: string };
  signedBy?: string;
  source?: string;
  verification?: { subject?: string; key?: string };
  run?: Record<string, string>;
  attestationDigest?: string;
  bundleDigest?: string;
}
interface Report {
  operation: string;
  items: Item[];
}

describe('promote tag, promote log and release against a real registry', { skip }, () => {
  let registry: RegistryServer;
  let sigstore: MockSigstore;
  let client: RegistryClient;
  let work: { path: string; remove(): Promise<void> };
  let root: string;
  let flags: string[];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    HOME: work.path,
    COSIGN_PASSWORD: 'promotion-test',
    ...extra,
  });
  const sigstoreFlags = (): string[] => [
    '--fulcio-url',
    sigstore.fulcioURL,
    '--rekor-url',
    sigstore.rekorURL,
  ];

  /** Pushes components/<name> as a Flux artifact tagged latest, signed as `how` says. */
  async function pushLatest(
    repo: string,
    dir: string,
    how: { key?: string; identity?: string } | undefined,
  ): Promise<string> {
    const ref = `${registry.host}/${repo}:latest`;
    const pushed = await cli(
      [
        'artifact',
        'push',
        dir,
        ref,
        '--source',
        'https://github.com/org/d2-infra',
        '--revision',
        'main@sha1:0123456789abcdef0123456789abcdef01234567',
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = pushed.json<Report>().items[0]?.digest ?? '';
    if (how?.key !== undefined) {
      const signed = await cli(['sign', ref, '--key', how.key, ...flags], { env: env() });
      assert.equal(signed.code, 0, signed.stderr);
    }
    if (how?.identity !== undefined) {
      const signed = await cli(['sign', ref, '--keyless', ...sigstoreFlags(), ...flags], {
        env: env({ SIGSTORE_ID_TOKEN: sigstore.token(how.identity, ISSUER) }),
      });
      assert.equal(signed.code, 0, signed.stderr);
    }
    return digest;
  }

  /** promote tag REPO:latest → 1.0.0, latest-stable, signed keylessly as the release workflow. */
  const promoteKeyless = (repo: string, policy: readonly string[]) =>
    cli(
      [
        'promote',
        'tag',
        `${registry.host}/${repo}:latest`,
        '1.0.0',
        'latest-stable',
        ...policy,
        '--keyless',
        ...sigstoreFlags(),
        '--json',
        ...flags,
      ],
      { env: env({ SIGSTORE_ID_TOKEN: sigstore.token(RELEASE_IDENTITY, ISSUER) }) },
    );

  async function component(name: string, content: string): Promise<string> {
    const dir = join(root, 'components', name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'deployment.yaml'), content);
    return dir;
  }

  async function digestOf(repo: string, tag: string): Promise<string | undefined> {
    return (await client.repository(registry.host, repo).resolve(tag))?.digest;
  }

  before(async () => {
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    work = await tempDir('airlock-promote-tag-');
    root = work.path;
    flags = ['--insecure-registry', registry.host];
    await writeFile(join(root, 'trusted_root.json'), JSON.stringify(sigstore.trustedRoot));
    for (const name of ['staging', 'release'])
      assert.equal(
        (
          await cli(['key', 'generate', '--output-key-prefix', join(root, name)], {
            env: env(),
          })
        ).code,
        0,
      );
  });
  after(async () => {
    client.close();
    await Promise.all([registry.stop(), sigstore.stop()]);
    await work.remove();
  });

  it('key form: promote tag --verify-key a.pub --key b.key, then promote log --key b.pub', async () => {
    const logWithKey = (key: string) =>
      cli(
        [
          'promote',
          'log',
          `${registry.host}/apps/keyed:latest-stable`,
          '--key',
          join(root, key),
          '--json',
          ...flags,
        ],
        { env: env() },
      );
    const dir = await component('keyed', 'kind: ConfigMap\n');
    const digest = await pushLatest('apps/keyed', dir, { key: join(root, 'staging.key') });
    const promoted = await cli(
      [
        'promote',
        'tag',
        `${registry.host}/apps/keyed:latest`,
        '1.0.0',
        'latest-stable',
        '--verify-key',
        join(root, 'staging.pub'),
        '--key',
        join(root, 'release.key'),
        '--json',
        ...flags,
      ],
      {
        env: env({
          GITHUB_ACTIONS: 'true',
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_REPOSITORY: 'org/d2-infra',
          GITHUB_REF_NAME: 'keyed/1.0.0',
          GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
          GITHUB_RUN_ID: '42',
          GITHUB_ACTOR: 'release-bot',
          GITHUB_WORKFLOW: 'release-artifact',
        }),
      },
    );
    assert.equal(promoted.code, 0, promoted.stderr);
    const report = promoted.json<Report>();
    assert.equal(report.operation, 'promote tag');
    assert.equal(report.items[0]?.digest, digest);
    assert.equal(report.items[0].verification?.key, join(root, 'staging.pub'));
    assert.equal(await digestOf('apps/keyed', '1.0.0'), digest);
    assert.equal(await digestOf('apps/keyed', 'latest-stable'), digest);
    // Production's policy (the release key) passes on latest-stable; staging's still passes on latest.
    const prod = await cli(
      [
        'verify',
        `${registry.host}/apps/keyed:latest-stable`,
        '--key',
        join(root, 'release.pub'),
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(prod.code, 0, prod.stderr);
    const staging = await cli(
      [
        'verify',
        `${registry.host}/apps/keyed:latest`,
        '--key',
        join(root, 'staging.pub'),
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(staging.code, 0, staging.stderr);
    const log = await logWithKey('release.pub');
    assert.equal(log.code, 0, log.stderr);
    const [record] = log.json<Report>().items;
    assert.equal(record?.outcome, 'done');
    assert.deepEqual(record.tags, ['1.0.0', 'latest-stable']);
    assert.equal(record.source, `${registry.host}/apps/keyed:latest`);
    assert.equal(record.signedBy, join(root, 'release.pub'));
    assert.equal(record.run?.['dev.airlock.ci.run.id'], '42');
    // The attestation does not verify with a key that did not sign it: listed as failed, exit 3.
    const forged = await logWithKey('staging.pub');
    assert.equal(forged.code, 3);
    assert.equal(forged.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
  });

  it('identity form: latest signed by the push workflow is promoted and signed by the release workflow', async () => {
    const dir = await component('web', 'kind: Deployment\n');
    const digest = await pushLatest('apps/web', dir, { identity: PUSH_IDENTITY });
    const policy = [
      '--certificate-identity',
      PUSH_IDENTITY,
      '--certificate-oidc-issuer',
      ISSUER,
      '--trusted-root',
      join(root, 'trusted_root.json'),
    ];
    const promoted = await promoteKeyless('apps/web', policy);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(promoted.json<Report>().items[0]?.verification?.subject, PUSH_IDENTITY);
    assert.equal(await digestOf('apps/web', 'latest-stable'), digest);
    const releasePolicy = [
      '--certificate-identity-regexp',
      '^https://github.com/org/d2-infra/.github/workflows/release-artifact.yml@refs/tags/.*$',
      '--certificate-oidc-issuer',
      ISSUER,
      '--trusted-root',
      join(root, 'trusted_root.json'),
    ];
    const prod = await cli(
      ['verify', `${registry.host}/apps/web:latest-stable`, ...releasePolicy, ...flags],
      {
        env: env(),
      },
    );
    assert.equal(prod.code, 0, prod.stderr);
    const log = await cli(
      ['promote', 'log', `${registry.host}/apps/web:1.0.0`, ...releasePolicy, '--json', ...flags],
      {
        env: env(),
      },
    );
    assert.equal(log.code, 0, log.stderr);
    assert.equal(log.json<Report>().items[0]?.signedBy, RELEASE_IDENTITY);
    // The wrong identity is refused with nothing tagged.
    await pushLatest('apps/web2', dir, {
      identity: 'https://github.com/org/d2-infra/.github/workflows/other.yml@refs/heads/dev',
    });
    const wrong = await promoteKeyless('apps/web2', policy);
    assert.equal(wrong.code, 3);
    assert.equal(wrong.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
    assert.equal(await digestOf('apps/web2', '1.0.0'), undefined);
    assert.equal(await digestOf('apps/web2', 'latest-stable'), undefined);
  });

  it('a source signed with Sigstore bundles is re-signed with a bundle, so production still verifies', async () => {
    const dir = await component('bundled', 'kind: Secret\n');
    await pushLatest('apps/bundled', dir, undefined);
    const ref = `${registry.host}/apps/bundled:latest`;
    const signed = await cli(
      ['sign', ref, '--key', join(root, 'staging.key'), '--bundle', ...flags],
      {
        env: env(),
      },
    );
    assert.equal(signed.code, 0, signed.stderr);
    const promoted = await cli(
      [
        'promote',
        'tag',
        ref,
        '1.0.0',
        'latest-stable',
        // Key-signed bundles carry no log entry: waived explicitly, as verify asks (cosign too).
        '--insecure-ignore-tlog',
        '--verify-key',
        join(root, 'staging.pub'),
        '--key',
        join(root, 'release.key'),
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.json<Report>().items[0]?.bundleDigest ?? '', /^sha256:/);
    const prod = await cli(
      [
        'verify',
        `${registry.host}/apps/bundled:latest-stable`,
        '--key',
        join(root, 'release.pub'),
        '--insecure-ignore-tlog',
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(prod.code, 0, prod.stderr);
    assert.equal(prod.json<{ items: { format?: string }[] }>().items[0]?.format, 'sigstore-bundle');
  });

  it('refuses unsigned and content-mismatched sources with exit 3 and writes no tag', async () => {
    const dir = await component('unsigned', 'kind: Service\n');
    await pushLatest('apps/unsigned', dir, undefined);
    const keyFlags = [
      '--verify-key',
      join(root, 'staging.pub'),
      '--key',
      join(root, 'release.key'),
    ];
    const unsigned = await cli(
      [
        'promote',
        'tag',
        `${registry.host}/apps/unsigned:latest`,
        '1.0.0',
        ...keyFlags,
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(unsigned.code, 3);
    assert.equal(unsigned.json<Report>().items[0]?.error?.code, 'VERIFICATION_FAILED');
    assert.equal(await digestOf('apps/unsigned', '1.0.0'), undefined);
    const signedDir = await component('drift', 'kind: Service\n');
    await pushLatest('apps/drift', signedDir, { key: join(root, 'staging.key') });
    await writeFile(join(signedDir, 'deployment.yaml'), 'kind: Service # changed after the test\n');
    const drift = await cli(
      [
        'promote',
        'tag',
        `${registry.host}/apps/drift:latest`,
        '1.0.0',
        ...keyFlags,
        '--match-dir',
        signedDir,
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(drift.code, 3);
    assert.equal(drift.json<Report>().items[0]?.error?.code, 'POLICY_VIOLATION');
    assert.equal(await digestOf('apps/drift', '1.0.0'), undefined);
    const annotation = await cli(
      [
        'promote',
        'tag',
        `${registry.host}/apps/drift:latest`,
        '1.0.0',
        ...keyFlags,
        '--require-annotation',
        'org.opencontainers.image.revision=v9@sha1:none',
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(annotation.code, 3);
    assert.equal(annotation.json<Report>().items[0]?.error?.code, 'POLICY_VIOLATION');
  });

  it('release COMPONENT/VERSION promotes latest to VERSION and latest-stable when the checkout matches', async () => {
    const dir = await component('monitoring', 'kind: ServiceMonitor\n');
    const digest = await pushLatest('d2-infra/monitoring', dir, { key: join(root, 'staging.key') });
    const inRoot = await cli(
      [
        'release',
        'monitoring/v0.0.2',
        '--repository-prefix',
        `${registry.host}/d2-infra`,
        '--components-dir',
        join(root, 'components'),
        '--verify-key',
        join(root, 'staging.pub'),
        '--key',
        join(root, 'release.key'),
        '--json',
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(inRoot.code, 0, inRoot.stderr);
    assert.deepEqual(inRoot.json<Report>().items[0]?.tags, ['v0.0.2', 'latest-stable']);
    assert.equal(await digestOf('d2-infra/monitoring', 'v0.0.2'), digest);
    assert.equal(await digestOf('d2-infra/monitoring', 'latest-stable'), digest);
    const badTag = await cli(
      [
        'release',
        'not-a-release-tag',
        '--repository-prefix',
        `${registry.host}/d2-infra`,
        '--verify-key',
        join(root, 'staging.pub'),
        '--key',
        join(root, 'release.key'),
        ...flags,
      ],
      { env: env() },
    );
    assert.equal(badTag.code, 2);
  });

  it('promotes the digest latest had when the command began, even when latest moves meanwhile', async () => {
    const dir = await component('moving', 'kind: Job\n');
    const first = await pushLatest('apps/moving', dir, { key: join(root, 'staging.key') });
    const proxy: FaultProxy = await startProxy({ upstream: `http://${registry.host}` });
    try {
      let moved: Promise<unknown> | undefined;
      // When promotion reads the signatures (after its one resolve), CI pushes a new latest.
      proxy.rule = ({ method, path }) => {
        if (moved === undefined && method === 'GET' && path.includes('/manifests/sha256-')) {
          moved = (async () => {
            await writeFile(join(dir, 'deployment.yaml'), 'kind: Job # next commit\n');
            await pushLatest('apps/moving', dir, { key: join(root, 'staging.key') });
          })();
          return { kind: 'delay', ms: 1500 };
        }
        return undefined;
      };
      const proxied = openSession({ insecureRegistries: [proxy.host], env: { HOME: work.path } });
      const keyPEM = async (name: string): Promise<string> =>
        (await import('node:fs/promises')).readFile(join(root, name), 'utf8');
      const report = await promoteTag(
        proxied,
        `${proxy.host}/apps/moving:latest`,
        ['1.0.0', 'latest-stable'],
        {
          policy: resolveVerifyPolicy({
            keys: [{ name: 'staging.pub', pem: await keyPEM('staging.pub') }],
          }),
          signer: resolveSigner({
            key: { pem: await keyPEM('release.key'), password: 'promotion-test' },
          }),
        },
      );
      proxied.close();
      await moved;
      assert.equal(report.items[0]?.outcome, 'done', JSON.stringify(report.items[0]?.error));
      const now = await digestOf('apps/moving', 'latest');
      assert.notEqual(now, first, 'latest moved during the promotion');
      assert.equal(await digestOf('apps/moving', '1.0.0'), first);
      assert.equal(await digestOf('apps/moving', 'latest-stable'), first);
      // Requests: one resolve of the moving tag, then only digests. Recorded in docs/performance.md.
      const byTag = proxy.log.filter((r) => r.path.endsWith('/manifests/latest'));
      assert.equal(byTag.length, 1, proxy.log.map((r) => `${r.method} ${r.path}`).join('\n'));
    } finally {
      await proxy.stop();
    }
  });
});
