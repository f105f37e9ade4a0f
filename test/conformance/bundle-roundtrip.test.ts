import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe } from 'node:test';
import { mapLimit, sha256 } from '../../src/core/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import {
  generateKeyPair,
  resolveSigner,
  resolveVerifyPolicy,
  signLegacy,
  verifyArtifact,
  type VerifyPolicy,
} from '../../src/sign/index.ts';
import { publishArtifact } from '../../src/sbom/index.ts';
import { createBundle, importBundle } from '../../src/bundle/index.ts';
import { fixtureCharts, seedFixtureCharts } from '../harness/fixture-charts.ts';
import { pushTestImage } from '../harness/images.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { fixturesSkipReason, gated, missingTools, run, tempDir } from '../harness/tools.ts';

// Issue 11's round trip: the 263 fixture charts (pushed and signed into a test registry), three
// Flux artifacts with SBOMs and synthetic images sharing base layers go into one bundle and out
// into an empty registry: every manifest digest and tag equal to the source (skopeo), every
// signature verifies after import. Then an import killed with SIGKILL half-way is re-run, and the
// registry proxy's log shows no blob uploaded twice.

const ROOT = new URL('../..', import.meta.url).pathname;
const reason = missingTools(['docker-registry', 'skopeo']) ?? fixturesSkipReason('upstream-helm');
const { it, before, after } = gated(reason);
const PASSWORD = 'round-trip';

/** Completed blob uploads per repository and digest, from the proxy's log. */
function completedUploads(proxy: FaultProxy, prefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of proxy.log) {
    if (r.method !== 'PUT' || r.status !== 201 || !r.path.startsWith(`/v2/${prefix}/`)) continue;
    const match = /^\/v2\/(.+)\/blobs\/uploads\/[^?]*\?(?:.*&)?digest=([^&]+)/.exec(r.path);
    if (!match) continue;
    const key = `${match[1] ?? ''}@${decodeURIComponent(match[2] ?? '')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('bundle round trip: 263 fixture charts, Flux artifacts with SBOMs, images sharing layers', () => {
  let source: RegistryServer;
  let target: RegistryServer;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let session: Session;
  let work: { path: string; remove: () => Promise<void> };
  let artifactPolicy: VerifyPolicy;
  let bundlePolicy: VerifyPolicy;
  let bundleKeyFile: string;
  const refs: string[] = [];
  let bundle: string;

  before(async () => {
    [source, target] = await Promise.all([startRegistry(), startRegistry()]);
    proxy = await startProxy({ upstream: target.url });
    client = new RegistryClient({ insecureRegistries: [source.host, proxy.host, target.host] });
    session = openSession({ insecureRegistries: [source.host, proxy.host, target.host] });
    work = await tempDir('airlock-bundle-roundtrip-');
    const artifactKey = generateKeyPair(PASSWORD);
    const bundleKey = generateKeyPair(PASSWORD);
    const signer = resolveSigner({ key: { pem: artifactKey.privateKeyPEM, password: PASSWORD } });
    artifactPolicy = resolveVerifyPolicy({
      keys: [{ name: 'a.pub', pem: artifactKey.publicKeyPEM }],
      ignoreTlog: true,
    });
    bundlePolicy = resolveVerifyPolicy({
      keys: [{ name: 'b.pub', pem: bundleKey.publicKeyPEM }],
      ignoreTlog: true,
    });
    bundleKeyFile = join(work.path, 'b.pub');
    await writeFile(bundleKeyFile, bundleKey.publicKeyPEM);
    const charts = await fixtureCharts();
    assert.equal(charts.length, 263);
    await seedFixtureCharts(
      (repository) => client.repository(source.host, repository),
      'charts',
      charts,
    );
    await mapLimit(charts, 8, async (chart) => {
      const repository = client.repository(source.host, `charts/${chart.name}`);
      const tag = chart.version.replaceAll('+', '_');
      await signLegacy(repository, tag, signer);
      refs.push(`${source.host}/charts/${chart.name}:${tag}`);
    });
    for (const name of ['infra', 'apps', 'policies']) {
      const dir = join(work.path, 'flux', name);
      await mkdir(dir, { recursive: true });
      await writeFile(
        join(dir, 'configmap.yaml'),
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  nonce: "${randomBytes(4).toString('hex')}"\n`,
      );
      const report = await publishArtifact(
        session,
        {
          content: { kind: 'path', path: dir },
          destination: `${source.host}/flux/${name}:1.0.0`,
          meta: {
            source: `https://git.internal/${name}`,
            revision: `main@sha1:${'c'.repeat(40)}`,
            created: '2026-01-01T00:00:00Z',
          },
        },
        { signer, sbom: true },
      );
      assert.equal(report.summary.failed, 0, JSON.stringify(report.items[0]?.error));
      refs.push(`${source.host}/flux/${name}:1.0.0`);
    }
    const base = [randomBytes(512 * 1024), randomBytes(256 * 1024)];
    for (let i = 0; i < 6; i++) {
      const repository = client.repository(source.host, `images/app-${i}`);
      const { digest } = await pushTestImage(
        repository,
        [...base, randomBytes(64 * 1024)],
        '1.0.0',
        { tag: `app-${i}` },
      );
      await signLegacy(repository, digest, signer);
      refs.push(`${source.host}/images/app-${i}:1.0.0`);
    }
    refs.sort();
    bundle = join(work.path, 'bundle');
    await createBundle(session, {
      references: refs,
      outDir: bundle,
      signer: resolveSigner({ key: { pem: bundleKey.privateKeyPEM, password: PASSWORD } }),
      policy: artifactPolicy,
    });
  });
  after(async () => {
    session.close();
    client.close();
    await Promise.all([source.stop(), target.stop(), proxy.stop(), work.remove()]);
  });

  it('imported into an empty registry: every digest and tag equal to the source, every signature verifies', async () => {
    const imported = await importBundle({
      dir: bundle,
      to: session.target(`${proxy.host}/mirror`),
      bundlePolicy,
      artifactPolicy,
    });
    assert.equal(
      imported.report.summary.failed,
      0,
      JSON.stringify(imported.report.items.find((i) => i.error)?.error),
    );
    assert.equal(imported.report.summary.done, 263 + 3 + 6);
    // Every repository's tags equal the source's (the artifact tags and their .sig/.att tags).
    const repositories = [
      ...new Set(refs.map((r) => r.slice(source.host.length + 1, r.lastIndexOf(':')))),
    ];
    for (const repository of repositories) {
      const tags = (host: string, path: string): string[] =>
        (
          JSON.parse(
            run('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/${path}`]),
          ) as { Tags: string[] }
        ).Tags.sort();
      assert.deepEqual(
        tags(target.host, `mirror/${repository}`),
        tags(source.host, repository),
        repository,
      );
    }
    // Every artifact's manifest digest, read by skopeo from both registries, and its signature.
    await mapLimit(refs, 8, async (ref) => {
      const path = ref.slice(source.host.length + 1);
      const digestOf = (host: string, p: string): string =>
        sha256(
          Buffer.from(
            run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/${p}`]),
          ),
        );
      assert.equal(digestOf(target.host, `mirror/${path}`), digestOf(source.host, path), path);
      const repository = path.slice(0, path.lastIndexOf(':'));
      await verifyArtifact(
        client.repository(target.host, `mirror/${repository}`),
        path.slice(path.lastIndexOf(':') + 1),
        artifactPolicy,
      );
    });
    // The SBOM attestations (referrers) came along with the Flux artifacts.
    for (const name of ['infra', 'apps', 'policies']) {
      const from = client.repository(source.host, `flux/${name}`);
      const to = client.repository(target.host, `mirror/flux/${name}`);
      const digest = (await from.resolve('1.0.0'))?.digest;
      assert.ok(digest);
      const expected = (await from.referrers(digest)).map((d) => d.digest).sort();
      assert.ok(expected.length > 0, `flux/${name} has no SBOM referrer to carry`);
      assert.deepEqual((await to.referrers(digest)).map((d) => d.digest).sort(), expected);
    }
  });

  it('kill -9 in the middle of import: the re-run finishes and no blob is uploaded twice', async () => {
    const args = [
      join(ROOT, 'src', 'cli', 'main.ts'),
      'bundle',
      'import',
      bundle,
      '--to',
      `${proxy.host}/killed`,
      '--key',
      bundleKeyFile,
      '--insecure-registry',
      proxy.host,
      '--concurrency',
      '2',
    ];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Kill it once it has uploaded part of the bundle.
    for (let i = 0; i < 600 && completedUploads(proxy, 'killed').size < 60; i++) await sleep(50);
    assert.ok(completedUploads(proxy, 'killed').size >= 60, 'the import never got going');
    child.kill('SIGKILL');
    await exited;
    const before = completedUploads(proxy, 'killed').size;
    const second = spawn(process.execPath, args, { stdio: 'inherit' });
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    assert.equal(code, 0);
    const uploads = completedUploads(proxy, 'killed');
    assert.ok(uploads.size > before, 'the re-run uploaded the rest');
    const twice = [...uploads].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'a blob was uploaded twice');
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${target.host}/killed/images/app-5:1.0.0`,
    ]);
    assert.equal(
      sha256(Buffer.from(raw)),
      sha256(
        Buffer.from(
          run('skopeo', [
            'inspect',
            '--raw',
            '--tls-verify=false',
            `docker://${source.host}/images/app-5:1.0.0`,
          ]),
        ),
      ),
    );
  });
});
