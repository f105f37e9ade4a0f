import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { BatchReport } from '../../src/core/index.ts';
import { copyAll, type CopyItem, type CopyRequest, RegistryClient } from '../../src/oci/index.ts';
import { fixtureCharts, seedFixtureCharts, type FixtureChart } from '../harness/fixture-charts.ts';
import { type FaultProxy, randomFaults, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { fixturesSkipReason, gated, missingTools } from '../harness/tools.ts';

// Conformance: without the fixtures (or a registry) every test is reported skipped, with the reason.
const { it, before, after } = gated(
  missingTools(['docker-registry']) ?? fixturesSkipReason('upstream-helm/index.yaml'),
);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const failures = (report: BatchReport<CopyItem>): CopyItem[] =>
  report.items.filter((i) => i.outcome === 'failed');

/** Conformance: the 263 real fixture charts, copied registry to registry through fault proxies. */
describe('copy engine on the fixture charts', () => {
  let source: RegistryServer;
  let destination: RegistryServer;
  let sourceProxy: FaultProxy;
  let destinationProxy: FaultProxy;
  let charts: FixtureChart[];
  let client: RegistryClient;

  const requests = (prefix: string, list: readonly FixtureChart[] = charts): CopyRequest[] =>
    list.map((c) => ({
      source: client.repository(sourceProxy.host, `charts/${c.name}`),
      reference: c.version,
      destination: client.repository(destinationProxy.host, `${prefix}/${c.name}`),
      tags: [c.version],
    }));

  before(async () => {
    [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
    [sourceProxy, destinationProxy] = await Promise.all([
      startProxy({ upstream: source.url }),
      startProxy({ upstream: destination.url }),
    ]);
    charts = await fixtureCharts();
    const seeder = new RegistryClient({ insecureRegistries: [source.host] });
    await seedFixtureCharts((repo) => seeder.repository(source.host, repo), 'charts', charts);
    seeder.close();
    client = new RegistryClient({
      insecureRegistries: [sourceProxy.host, destinationProxy.host],
      retry: { baseDelayMs: 5, maxDelayMs: 50 },
    });
  });
  after(async () => {
    client.close();
    await Promise.all([sourceProxy.stop(), destinationProxy.stop()]);
    await Promise.all([source.stop(), destination.stop()]);
  });

  it('has all 263 fixture chart versions to work with', () => {
    assert.equal(charts.length, 263);
  });

  it('copies every chart through 10% injected 500/429/reset faults, every digest verified', async () => {
    sourceProxy.rule = randomFaults(0.1, 7);
    destinationProxy.rule = randomFaults(0.1, 11);
    const summary = await copyAll(requests('faulty'), { concurrency: 8 });
    sourceProxy.rule = undefined;
    destinationProxy.rule = undefined;
    assert.deepEqual(
      failures(summary).map((f) => `${f.source}: ${f.error?.code} ${f.error?.message}`),
      [],
    );
    assert.equal(summary.summary.done, 263);
    const injected = [...sourceProxy.log, ...destinationProxy.log].filter(
      (r) => r.fault !== undefined,
    ).length;
    assert.ok(injected > 100, `faults were injected (${injected})`);
    // Every destination tag resolves to the source's digest.
    for (const request of requests('faulty')) {
      const expected = (await request.source.resolve(request.reference))?.digest;
      const actual = (await request.destination.resolve(request.reference))?.digest;
      assert.ok(
        expected !== undefined && actual === expected,
        `${request.destination.name}:${request.reference}`,
      );
    }
  });

  it('a warm re-run writes nothing and says unchanged', async () => {
    destinationProxy.log.length = 0;
    const summary = await copyAll(requests('faulty'));
    assert.equal(summary.summary.failed, 0);
    assert.ok(summary.items.every((r) => r.outcome === 'present'));
    assert.deepEqual(
      destinationProxy.log.filter((r) => WRITES.has(r.method)),
      [],
    );
  });

  it('a flipped byte fails that artifact with DIGEST_MISMATCH, tags nothing for it, and the rest completes', async () => {
    const victim = charts[5]!;
    const layerDigest = await (async () => {
      const manifest = await client
        .repository(sourceProxy.host, `charts/${victim.name}`)
        .fetchManifest(victim.version);
      return (JSON.parse(manifest.bytes.toString('utf8')) as { layers: { digest: string }[] })
        .layers[0]!.digest;
    })();
    sourceProxy.rule = ({ method, path }) =>
      method === 'GET' && path.endsWith(`/blobs/${layerDigest}`)
        ? { kind: 'flip-byte' }
        : undefined;
    const subset = charts.slice(0, 12);
    const summary = await copyAll(requests('flipped', subset));
    sourceProxy.rule = undefined;
    assert.equal(summary.summary.done, 11);
    assert.equal(summary.summary.failed, 1);
    assert.equal(failures(summary)[0]?.error?.code, 'DIGEST_MISMATCH');
    assert.equal(
      failures(summary)[0]?.reference,
      `${destinationProxy.host}/flipped/${victim.name}:${victim.version}`,
    );
    const victimRepo = client.repository(destinationProxy.host, `flipped/${victim.name}`);
    assert.equal(
      await victimRepo.resolve(victim.version),
      undefined,
      'nothing tagged for the corrupted artifact',
    );
    assert.equal(
      await victimRepo.hasBlob(layerDigest as `sha256:${string}`),
      false,
      'the corrupt blob was never committed',
    );
  });

  it('recovers from truncated bodies and slow answers', async () => {
    let truncated = 0;
    sourceProxy.rule = ({ method, path, index }) => {
      if (method === 'GET' && path.includes('/blobs/') && truncated < 5) {
        truncated++;
        return { kind: 'truncate' };
      }
      return index % 7 === 0 ? { kind: 'delay', ms: 30 } : undefined;
    };
    const summary = await copyAll(requests('truncated', charts.slice(20, 40)));
    sourceProxy.rule = undefined;
    assert.deepEqual(
      failures(summary).map((f) => f.error?.code),
      [],
    );
    assert.equal(truncated, 5);
  });

  it('a dry run reads both sides, reports what would move, and writes nothing', async () => {
    destinationProxy.log.length = 0;
    const summary = await copyAll(requests('dry', charts.slice(0, 10)), { dryRun: true });
    assert.ok(
      summary.items.every(
        (r) => r.outcome === 'skipped' && r.reason === 'dry run' && r.blobs?.uploaded === 2,
      ),
    );
    assert.deepEqual(
      destinationProxy.log.filter((r) => WRITES.has(r.method)),
      [],
    );
  });

  it('mounts blobs within one registry instead of moving bytes', async () => {
    const within = charts.slice(0, 5).map((c) => ({
      source: client.repository(destinationProxy.host, `faulty/${c.name}`),
      reference: c.version,
      destination: client.repository(destinationProxy.host, `promoted/${c.name}`),
      tags: [c.version],
    }));
    destinationProxy.log.length = 0;
    const summary = await copyAll(within);
    assert.ok(
      summary.items.every((r) => r.outcome === 'done' && r.blobs?.mounted === 2 && r.bytes === 0),
    );
    assert.equal(
      destinationProxy.log.filter((r) => r.method === 'GET' && r.path.includes('/blobs/')).length,
      0,
      'no blob bytes were read',
    );
  });
});
