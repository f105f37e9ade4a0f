// `airlock artifact push` as one CI step (issue 9 §1): provenance from the CI job's variables or
// the git checkout, the CI run as annotations, and --sign (key or keyless) plus --sbom on the
// pushed digest, against a real registry and the mock Fulcio/Rekor.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { Ajv } from 'ajv';
import { RegistryClient } from '../../src/oci/index.ts';
import { CYCLONEDX_MEDIA_TYPE, CYCLONEDX_PREDICATE } from '../../src/sbom/index.ts';
import { findBundles } from '../../src/sign/index.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { type MockSigstore, startMockSigstore } from '../harness/sigstore.ts';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const { it, before, after } = gated(missingTools(['docker-registry', 'git']));

const SHA = '0123456789abcdef0123456789abcdef01234567';
const WORKFLOW_REF = 'acme/fleet/.github/workflows/push-artifact.yml@refs/heads/main';
const IDENTITY = `https://github.com/${WORKFLOW_REF}`;
const ISSUER = 'https://token.actions.githubusercontent.com';

/** A push to main in GitHub Actions, as the runner sets its default variables. */
const GITHUB_ENV = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/fleet',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_REF_NAME: 'main',
  GITHUB_SHA: SHA,
  GITHUB_WORKFLOW: 'push-artifact',
  GITHUB_WORKFLOW_REF: WORKFLOW_REF,
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_ACTOR: 'octocat',
};

interface Item {
  reference: string;
  digest?: string;
  outcome: string;
  tags: string[];
  signatureTag?: string;
  sbomDigest?: string;
  attestationDigest?: string;
  error?: { code: string; data?: { option?: string } };
}
interface Report {
  operation: string;
  items: Item[];
}

describe('artifact push from CI: provenance, --sign and --sbom in one step', () => {
  let registry: RegistryServer;
  let sigstore: MockSigstore;
  let client: RegistryClient;
  let work: { path: string; remove: () => Promise<void> };
  let component: string;
  let validate: (report: unknown) => boolean;
  let base: Record<string, string>;
  let flags: string[];

  before(async () => {
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    client = new RegistryClient({ insecureRegistries: [registry.host] });
    work = await tempDir('airlock-provenance-');
    base = { HOME: work.path, PATH: process.env.PATH ?? '', COSIGN_PASSWORD: 'ci-test-only' };
    flags = ['--json', '--insecure-registry', registry.host];
    component = join(work.path, 'fleet', 'components', 'web');
    await mkdir(component, { recursive: true });
    await writeFile(join(component, 'deploy.yaml'), 'apiVersion: v1\nkind: ConfigMap\n');
    const key = await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'ci')], {
      env: base,
    });
    assert.equal(key.code, 0, key.stderr);
    await writeFile(join(work.path, 'trusted_root.json'), JSON.stringify(sigstore.trustedRoot));
    const schema = JSON.parse(
      await readFile(join(ROOT, 'docs/schemas/batch-report.schema.json'), 'utf8'),
    ) as object;
    validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
  });
  after(async () => {
    client.close();
    await Promise.all([registry.stop(), sigstore.stop()]);
    await work.remove();
  });

  const push = async (args: readonly string[], env: Record<string, string>) => {
    const result = await airlock(['artifact', 'push', ...args, ...flags], {
      env: { ...base, ...env },
    });
    const report = result.json<Report>();
    assert.ok(validate(report), `batch shape: ${result.stdout}`);
    return { result, report, item: report.items[0]! };
  };
  const annotations = async (repository: string, digest: string) => {
    const { bytes } = await client.repository(registry.host, repository).fetchManifest(digest);
    return (JSON.parse(bytes.toString('utf8')) as { annotations: Record<string, string> })
      .annotations;
  };

  it('takes source and revision from GitHub Actions variables (Flux form) and records the run', async () => {
    const { result, item } = await push(
      [component, `${registry.host}/apps/web:latest`],
      GITHUB_ENV,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(item.outcome, 'done');
    const a = await annotations('apps/web', item.digest!);
    assert.equal(a['org.opencontainers.image.source'], 'https://github.com/acme/fleet');
    assert.equal(a['org.opencontainers.image.revision'], `main@sha1:${SHA}`);
    assert.equal(a['dev.airlock.ci.platform'], 'github-actions');
    assert.equal(a['dev.airlock.ci.workflow'], 'push-artifact');
    assert.equal(a['dev.airlock.ci.workflow.ref'], WORKFLOW_REF);
    assert.equal(a['dev.airlock.ci.run.id'], '4242');
    assert.equal(
      a['dev.airlock.ci.run.url'],
      'https://github.com/acme/fleet/actions/runs/4242/attempts/1',
    );
    assert.equal(a['dev.airlock.ci.actor'], 'octocat');
    assert.match(result.stderr, /from github-actions/);
  });

  it('refuses an incomplete CI job, naming what is missing, and pushes nothing', async () => {
    const { GITHUB_SHA: _sha, ...partial } = GITHUB_ENV;
    const result = await airlock(
      ['artifact', 'push', component, `${registry.host}/apps/partial:latest`, ...flags],
      { env: { ...base, ...partial } },
    );
    assert.equal(result.code, 2);
    const error = result.json<{ error: { code: string } }>().error;
    assert.equal(error.code, 'INPUT_INVALID');
    assert.match(result.stdout, /GITHUB_SHA/);
    assert.equal(
      await client.repository(registry.host, 'apps/partial').resolve('latest'),
      undefined,
    );
  });

  it('outside CI, reads the git checkout of DIR (origin made https, never its token)', async () => {
    const repo = join(work.path, 'fleet');
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], {
        encoding: 'utf8',
        env: {
          ...base,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@e',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@e',
        },
      }).trim();
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'web');
    git(
      'remote',
      'add',
      'origin',
      'https://oauth2:glpat-secret@gitlab.internal/platform/fleet.git',
    );
    const head = git('rev-parse', 'HEAD');
    const { result, item } = await push([component, `${registry.host}/apps/git:latest`], {});
    assert.equal(result.code, 0, result.stderr);
    const a = await annotations('apps/git', item.digest!);
    assert.equal(a['org.opencontainers.image.source'], 'https://gitlab.internal/platform/fleet');
    assert.equal(a['org.opencontainers.image.revision'], `main@sha1:${head}`);
    assert.equal(Object.keys(a).filter((k) => k.startsWith('dev.airlock.ci.')).length, 0);
    assert.ok(!`${result.stdout}${result.stderr}`.includes('glpat-secret'));
  });

  it('--sign --key signs the pushed digest, and airlock verify --key passes', async () => {
    const ref = `${registry.host}/apps/signed:latest`;
    const sign = ['--sign', '--key', join(work.path, 'ci.key'), '--reproducible'];
    const { result, item } = await push([component, ref, ...sign], GITHUB_ENV);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(item.outcome, 'done');
    assert.equal(item.signatureTag, `${item.digest!.replace(':', '-')}.sig`);
    const verified = await airlock(['verify', ref, '--key', join(work.path, 'ci.pub'), ...flags], {
      env: base,
    });
    assert.equal(verified.code, 0, verified.stderr);
    // A re-run finds the tag in place and this key's signature there: nothing is added.
    const again = await push([component, ref, ...sign], GITHUB_ENV);
    assert.deepEqual([again.item.outcome, again.item.digest], ['present', item.digest]);
    // Unchanged content against --diff-tag pushes nothing, so signs nothing.
    const unchanged = await push(
      [
        component,
        `${registry.host}/apps/signed:${SHA.slice(0, 7)}`,
        '--diff-tag',
        'latest',
        ...sign,
      ],
      GITHUB_ENV,
    );
    assert.equal(unchanged.item.outcome, 'present');
    assert.equal(unchanged.item.signatureTag, undefined);
  });

  it('a push whose signing was interrupted is signed by the re-run (the tag is present)', async () => {
    const ref = `${registry.host}/apps/resumed:latest`;
    const first = await push([component, ref, '--reproducible'], GITHUB_ENV);
    assert.equal(first.item.signatureTag, undefined);
    const unsigned = await airlock(['verify', ref, '--key', join(work.path, 'ci.pub'), ...flags], {
      env: base,
    });
    assert.equal(unsigned.code, 3);
    const resumed = await push(
      [component, ref, '--reproducible', '--sign', '--key', join(work.path, 'ci.key')],
      GITHUB_ENV,
    );
    assert.deepEqual([resumed.item.outcome, resumed.item.digest], ['done', first.item.digest]);
    assert.ok(resumed.item.signatureTag);
    const verified = await airlock(['verify', ref, '--key', join(work.path, 'ci.pub'), ...flags], {
      env: base,
    });
    assert.equal(verified.code, 0, verified.stderr);
  });

  it('--sign --keyless signs with the workflow identity, which verify accepts', async () => {
    const ref = `${registry.host}/apps/keyless:latest`;
    const env = { ...GITHUB_ENV, SIGSTORE_ID_TOKEN: sigstore.token(IDENTITY, ISSUER) };
    const { result, item } = await push(
      [
        component,
        ref,
        '--sign',
        '--keyless',
        '--fulcio-url',
        sigstore.fulcioURL,
        '--rekor-url',
        sigstore.rekorURL,
      ],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(item.signatureTag);
    const verified = await airlock(
      [
        'verify',
        ref,
        '--certificate-identity-regexp',
        '^https://github\\.com/acme/fleet/\\.github/workflows/push-artifact\\.yml@refs/heads/main$',
        '--certificate-oidc-issuer',
        ISSUER,
        '--trusted-root',
        join(work.path, 'trusted_root.json'),
        ...flags,
      ],
      { env: base },
    );
    assert.equal(verified.code, 0, verified.stderr);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(env.SIGSTORE_ID_TOKEN));
  });

  it('--sbom attaches the CycloneDX referrer and its attestation to the pushed digest', async () => {
    const { result, item } = await push(
      [
        component,
        `${registry.host}/apps/sbom:latest`,
        '--sign',
        '--key',
        join(work.path, 'ci.key'),
        '--sbom',
      ],
      GITHUB_ENV,
    );
    assert.equal(result.code, 0, result.stderr);
    const repo = client.repository(registry.host, 'apps/sbom');
    const sboms = await repo.referrers(item.digest! as `sha256:${string}`, CYCLONEDX_MEDIA_TYPE);
    assert.deepEqual(
      sboms.map((d) => d.digest),
      [item.sbomDigest],
    );
    assert.match(item.attestationDigest ?? '', /^sha256:[0-9a-f]{64}$/);
  });

  it('--sign --keyless --sbom attests the SBOM with the workflow identity', async () => {
    const env = { ...GITHUB_ENV, SIGSTORE_ID_TOKEN: sigstore.token(IDENTITY, ISSUER) };
    const { result, item } = await push(
      [
        component,
        `${registry.host}/apps/keyless-sbom:latest`,
        '--sign',
        '--keyless',
        '--sbom',
        '--fulcio-url',
        sigstore.fulcioURL,
        '--rekor-url',
        sigstore.rekorURL,
      ],
      env,
    );
    assert.equal(result.code, 0, result.stderr);
    const repo = client.repository(registry.host, 'apps/keyless-sbom');
    const digest = item.digest! as `sha256:${string}`;
    const sboms = await repo.referrers(digest, CYCLONEDX_MEDIA_TYPE);
    assert.deepEqual(
      sboms.map((d) => d.digest),
      [item.sbomDigest],
    );
    // The attestation is a keyless DSSE bundle: the Fulcio certificate for the workflow's identity
    // and a Rekor entry. (Verifying it end to end needs a Rekor that canonicalises dsse entries,
    // which the mock does not: test/integration/attestation.test.ts covers that with intoto.)
    const bundles = await findBundles(repo, digest, { predicateType: CYCLONEDX_PREDICATE });
    assert.deepEqual(
      bundles.map((b) => b.descriptor.digest),
      [item.attestationDigest],
    );
    const material = (
      bundles[0]?.bundle as {
        verificationMaterial: { certificate?: { rawBytes: string }; tlogEntries: unknown[] };
      }
    ).verificationMaterial;
    assert.ok(material.certificate?.rawBytes && material.tlogEntries.length === 1);
    const certificate = new X509Certificate(Buffer.from(material.certificate.rawBytes, 'base64'));
    assert.match(
      certificate.subjectAltName ?? '',
      new RegExp(`URI:${IDENTITY.replace(/[.]/g, '\\.')}`),
    );
  });

  it('refuses --sbom without --sign, and flags that choose a signer without --sign', async () => {
    for (const args of [['--sbom'], ['--keyless'], ['--key', join(work.path, 'ci.key')]]) {
      const result = await airlock(
        ['artifact', 'push', component, `${registry.host}/apps/usage:latest`, ...args, ...flags],
        { env: { ...base, ...GITHUB_ENV } },
      );
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.json<{ error: { code: string } }>().error.code, 'USAGE');
    }
    assert.equal(await client.repository(registry.host, 'apps/usage').resolve('latest'), undefined);
  });
});
