import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { packageChartBytes, readChartArchive } from '../../src/artifact/index.ts';
import { mapLimit, readAll, sha256 } from '../../src/core/index.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
import { RegistryClient } from '../../src/oci/index.ts';
import { inShard, parseInventory } from '../../src/mirror/index.ts';
import { fixtureCharts, UPSTREAM_HELM } from '../harness/fixture-charts.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { startStaticServer, type StaticServer } from '../harness/static-server.ts';
import { fixturesSkipReason, missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const skip =
  missingTools(['docker-registry', 'skopeo']) ?? fixturesSkipReason('upstream-helm/index.yaml');
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

describe('airlock mirror: the Shared Artifacts pipeline', { skip }, () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let upstream: StaticServer;
  let work: { path: string; remove: () => Promise<void> };
  let env: Record<string, string>;
  let upstreamDir: string;
  const slow = new Set<string>();

  before(async () => {
    work = await tempDir();
    upstreamDir = join(work.path, 'upstream');
    await cp(UPSTREAM_HELM, upstreamDir, { recursive: true });
    registry = await startRegistry();
    proxy = await startProxy({ upstream: registry.url });
    upstream = await startStaticServer(upstreamDir, {
      delayMs: (path) => (slow.has(path) ? 3000 : 0),
    });
    env = { HOME: work.path, COSIGN_PASSWORD: 'mirror-test' };
    assert.equal(
      (
        await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'cosign')], {
          env,
        })
      ).code,
      0,
    );
  });
  after(async () => {
    await Promise.all([proxy.stop(), upstream.stop()]);
    await registry.stop();
    await work.remove();
  });

  /** `airlock mirror` into the proxied registry, signed; extra flags and environment as given. */
  const mirrorWith = (
    inventory: string,
    flags: readonly string[],
    extraEnv: Record<string, string> = {},
  ) =>
    airlock(
      [
        'mirror',
        inventory,
        '--to',
        `${proxy.host}/mirror`,
        '--key',
        join(work.path, 'cosign.key'),
        '--insecure-registry',
        proxy.host,
        '--json',
        ...flags,
      ],
      {
        env: { ...env, ...extraEnv },
      },
    );
  const mirror = (inventory: string, ...flags: string[]) => mirrorWith(inventory, flags);

  it('mirrors all 263 fixture versions, valid Helm artifacts that verify with the public key', async () => {
    const charts = await fixtureCharts();
    const names = [...new Set(charts.map((c) => c.name))];
    const inventory = join(work.path, 'all.csv');
    await writeFile(
      inventory,
      `source,chart,versions\n${names.map((n) => `${upstream.url},${n},*`).join('\n')}\n`,
    );
    const junit = join(work.path, 'all.xml');
    const result = await mirror(inventory, '--junit', junit);
    assert.equal(result.code, 0, result.stderr);
    const report = result.json<{
      summary: { mirrored: number; failed: number };
      records: {
        chart: string;
        version: string;
        target: string;
        targetDigest: string;
        signature: string;
        sourceDigest: string;
      }[];
    }>();
    assert.equal(report.summary.mirrored, 263);
    assert.equal(report.summary.failed, 0);
    for (const chart of charts) {
      const record = report.records.find(
        (r) => r.chart === chart.name && r.version === chart.version,
      );
      assert.ok(record, `${chart.name} ${chart.version}`);
      assert.equal(record.target, `${proxy.host}/mirror/${chart.name}:${chart.version}`);
      assert.equal(record.sourceDigest, `sha256:${chart.digest}`);
    }
    // An independent client reads every one as a Helm artifact with the exact chart bytes.
    await mapLimit(charts, 8, async (chart) => {
      const { stdout } = await execFileAsync('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/mirror/${chart.name}:${chart.version}`,
      ]);
      const manifest = JSON.parse(stdout) as {
        config: { mediaType: string };
        layers: { mediaType: string; digest: string }[];
      };
      assert.equal(manifest.config.mediaType, 'application/vnd.cncf.helm.config.v1+json');
      assert.deepEqual(
        manifest.layers.map((l) => [l.mediaType, l.digest]),
        [['application/vnd.cncf.helm.chart.content.v1.tar+gzip', `sha256:${chart.digest}`]],
      );
    });
    const verified = await airlock(
      [
        'verify',
        ...charts.map((c) => `${registry.host}/mirror/${c.name}:${c.version}`),
        '--key',
        join(work.path, 'cosign.pub'),
        '--insecure-registry',
        registry.host,
        '--json',
      ],
      { env },
    );
    assert.equal(verified.code, 0, verified.stderr.slice(0, 2000));
    assert.equal(verified.json<{ items: unknown[] }>().items.length, 263);
    assert.match(
      await readFile(junit, 'utf8'),
      /<testsuite name="airlock mirror" tests="263" failures="0"/,
    );
  });

  it('a second run changes nothing and makes no write request; a new upstream version mirrors exactly that version', async () => {
    const inventory = join(work.path, 'all.csv');
    proxy.log.length = 0;
    const again = await mirror(inventory);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      again.json<{ summary: { present: number; mirrored: number } }>().summary.present,
      263,
    );
    assert.deepEqual(
      proxy.log.filter((r) => WRITES.has(r.method)),
      [],
    );
    // Publish alertmanager 99.0.0 upstream.
    const chartDir = join(work.path, 'new-chart', 'alertmanager');
    await mkdir(join(chartDir, 'templates'), { recursive: true });
    await writeFile(
      join(chartDir, 'Chart.yaml'),
      'apiVersion: v2\nname: alertmanager\nversion: 99.0.0\n',
    );
    await writeFile(join(chartDir, 'templates', 'cm.yaml'), 'kind: ConfigMap\n');
    const { tgz } = await packageChartBytes(chartDir);
    await writeFile(join(upstreamDir, 'alertmanager-99.0.0.tgz'), tgz);
    const index = parse(await readFile(join(upstreamDir, 'index.yaml'), 'utf8')) as {
      entries: Record<string, unknown[]>;
    };
    index.entries.alertmanager?.unshift({
      apiVersion: 'v2',
      name: 'alertmanager',
      version: '99.0.0',
      digest: sha256(tgz).slice(7),
      urls: ['alertmanager-99.0.0.tgz'],
      created: '2026-11-01T00:00:00Z',
    });
    await writeFile(join(upstreamDir, 'index.yaml'), stringify(index));
    const third = await mirror(inventory);
    assert.equal(third.code, 0, third.stderr);
    const report = third.json<{
      summary: { mirrored: number; present: number };
      records: { action: string; chart: string; version: string }[];
    }>();
    assert.deepEqual(
      report.records.filter((r) => r.action === 'mirrored').map((r) => `${r.chart} ${r.version}`),
      ['alertmanager 99.0.0'],
    );
    assert.equal(report.summary.present, 263);
  });

  it('a 404, a timeout and a wrong digest fail their rows with distinct codes; the rest complete', async () => {
    const dir = join(upstreamDir, 'faulty-upstream');
    await mkdir(dir);
    const charts = (await fixtureCharts()).filter((c) =>
      [
        'prometheus-pushgateway',
        'prometheus-snmp-exporter',
        'kube-state-metrics',
        'prometheus-node-exporter',
      ].includes(c.name),
    );
    const index: { apiVersion: string; entries: Record<string, unknown[]> } = {
      apiVersion: 'v1',
      entries: {},
    };
    for (const chart of charts) {
      const file = chart.file.split('/').pop() ?? '';
      if (chart.name !== 'prometheus-pushgateway') await cp(chart.file, join(dir, file));
      const digest = chart.name === 'kube-state-metrics' ? 'f'.repeat(64) : chart.digest;
      (index.entries[chart.name] ??= []).push({
        name: chart.name,
        version: chart.version,
        digest,
        urls: [file],
      });
      if (chart.name === 'prometheus-snmp-exporter') slow.add(`/faulty-upstream/${file}`);
    }
    await writeFile(join(dir, 'index.yaml'), stringify(index));
    const inventory = join(work.path, 'faulty.csv');
    const base = `${upstream.url}/faulty-upstream`;
    await writeFile(
      inventory,
      `source,chart,versions,target\n${['prometheus-pushgateway', 'prometheus-snmp-exporter', 'kube-state-metrics', 'prometheus-node-exporter'].map((n) => `${base},${n},*,faulty/${n}`).join('\n')}\n`,
    );
    const junit = join(work.path, 'faulty.xml');
    const result = await mirror(inventory, '--timeout', '1', '--junit', junit);
    slow.clear();
    assert.equal(result.code, 1);
    const records = result.json<{
      records: { chart: string; action: string; error?: { code: string } }[];
    }>().records;
    const codes = (chart: string): string[] => [
      ...new Set(records.filter((r) => r.chart === chart).map((r) => r.error?.code ?? r.action)),
    ];
    assert.deepEqual(codes('prometheus-pushgateway'), ['UPSTREAM_NOT_FOUND']);
    assert.deepEqual(codes('prometheus-snmp-exporter'), ['UPSTREAM_UNAVAILABLE']);
    assert.deepEqual(codes('kube-state-metrics'), ['DIGEST_MISMATCH']);
    assert.deepEqual(codes('prometheus-node-exporter'), ['mirrored']);
    const xml = await readFile(junit, 'utf8');
    for (const code of ['UPSTREAM_NOT_FOUND', 'UPSTREAM_UNAVAILABLE', 'DIGEST_MISMATCH'])
      assert.match(xml, new RegExp(`<failure type="${code}"`));
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    assert.deepEqual(
      await client.repository(registry.host, 'mirror/faulty/kube-state-metrics').listTags(),
      [],
      'nothing tagged for the corrupt chart',
    );
    client.close();
  });

  it('refuses a bad inventory with exit 2 before touching any registry or upstream', async () => {
    const inventory = join(work.path, 'bad.csv');
    await writeFile(
      inventory,
      `source,chart,versions,colour\n${upstream.url},alertmanager,>>1,blue\n`,
    );
    proxy.log.length = 0;
    upstream.requests.length = 0;
    const result = await mirror(inventory);
    assert.equal(result.code, 2);
    const error = result.json<{ error: { code: string; details: string[] } }>().error;
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.ok(error.details.some((d) => d.startsWith(`${inventory}:1:23`)));
    assert.ok(error.details.some((d) => d.startsWith(`${inventory}:2:`) && d.includes('>>1')));
    assert.deepEqual(proxy.log, []);
    assert.deepEqual(upstream.requests, []);
  });

  it('--plan lists what would be mirrored and writes nothing', async () => {
    const inventory = join(work.path, 'plan.csv');
    await writeFile(
      inventory,
      `source,chart,versions,target\n${upstream.url},prometheus-adapter,>=0.0.0,planned/prometheus-adapter\n`,
    );
    proxy.log.length = 0;
    const result = await mirror(inventory, '--plan');
    assert.equal(result.code, 0, result.stderr);
    const records = result.json<{ records: { action: string }[] }>().records;
    assert.ok(records.length > 1 && records.every((r) => r.action === 'planned'));
    assert.deepEqual(
      proxy.log.filter((r) => WRITES.has(r.method)),
      [],
    );
  });

  it('injects test manifests and mirrors CRDs for type=crds (a chart with a crds/ folder)', async () => {
    const dir = join(work.path, 'local-charts', 'widget');
    await mkdir(join(dir, 'templates'), { recursive: true });
    await mkdir(join(dir, 'crds'), { recursive: true });
    await writeFile(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: widget\nversion: 1.0.0\n');
    await writeFile(join(dir, 'templates', 'cm.yaml'), 'kind: ConfigMap\n');
    await writeFile(
      join(dir, 'crds', 'widgets.yaml'),
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n',
    );
    await mkdir(join(work.path, 'tests', 'widget'), { recursive: true });
    await writeFile(
      join(work.path, 'tests', 'widget', 'smoke.yaml'),
      'kind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n',
    );
    const inventory = join(work.path, 'local.csv');
    await writeFile(
      inventory,
      'source,chart,versions,type,tests\n./local-charts,widget,,helm,./tests/widget\n./local-charts,widget,,crds,\n',
    );
    const result = await mirror(inventory);
    assert.equal(result.code, 0, result.stderr);
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    try {
      const chartRepo = client.repository(registry.host, 'mirror/widget');
      const manifest = JSON.parse(
        (await chartRepo.fetchManifest('1.0.0')).bytes.toString('utf8'),
      ) as { layers: { mediaType: string; digest: `sha256:${string}`; size: number }[] };
      const chart = readChartArchive(
        await readAll(await chartRepo.fetchBlob(manifest.layers[0]!)),
        'pulled',
      );
      assert.ok(
        chart.entries.some((e) => e.name === 'widget/templates/tests/smoke.yaml'),
        'the test manifest was injected',
      );
      const crds = JSON.parse(
        (
          await client.repository(registry.host, 'mirror/crds/widget').fetchManifest('1.0.0')
        ).bytes.toString('utf8'),
      ) as { config: { mediaType: string } };
      assert.equal(crds.config.mediaType, 'application/vnd.cncf.flux.config.v1+json');
    } finally {
      client.close();
    }
  });

  it('authenticates to a Helm repository with credentials from config.json', async () => {
    const dir = join(work.path, 'private-repo');
    await mkdir(dir);
    const chart = (await fixtureCharts()).find((c) => c.name === 'prometheus-blackbox-exporter')!;
    await cp(chart.file, join(dir, 'chart.tgz'));
    await writeFile(
      join(dir, 'index.yaml'),
      stringify({
        apiVersion: 'v1',
        entries: {
          [chart.name]: [
            { name: chart.name, version: chart.version, digest: chart.digest, urls: ['chart.tgz'] },
          ],
        },
      }),
    );
    const server = await startStaticServer(dir, {
      auth: { username: 'reader', password: 'sentinel-helm-password' },
    });
    try {
      const inventory = join(work.path, 'private.csv');
      await writeFile(
        inventory,
        `source,chart,target
${server.url},${chart.name},private/${chart.name}
`,
      );
      const denied = await mirror(inventory);
      assert.equal(denied.code, 1);
      assert.equal(
        denied.json<{ records: { error?: { code: string } }[] }>().records[0]?.error?.code,
        'REGISTRY_AUTH',
      );
      const dockerConfig = join(work.path, 'docker-helm');
      await mkdir(dockerConfig);
      await writeFile(
        join(dockerConfig, 'config.json'),
        JSON.stringify({
          auths: {
            [new URL(server.url).host]: {
              auth: Buffer.from('reader:sentinel-helm-password').toString('base64'),
            },
          },
        }),
      );
      const allowed = await mirrorWith(inventory, [], { DOCKER_CONFIG: dockerConfig });
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.ok(
        !`${allowed.stdout}${allowed.stderr}${denied.stdout}${denied.stderr}`.includes(
          'sentinel-helm-password',
        ),
      );
    } finally {
      await server.stop();
    }
  });

  it('verifies cosign signatures of an OCI upstream where the inventory asks, and refuses a wrong key', async () => {
    const chart = (await fixtureCharts()).find((c) => c.name === 'prometheus-statsd-exporter')!;
    const flags = ['--insecure-registry', registry.host];
    assert.equal(
      (
        await airlock(['chart', 'push', chart.file, `${registry.host}/upstream-oci`, ...flags], {
          env,
        })
      ).code,
      0,
    );
    assert.equal(
      (
        await airlock(
          [
            'sign',
            `${registry.host}/upstream-oci/${chart.name}:${chart.version}`,
            '--key',
            join(work.path, 'cosign.key'),
            ...flags,
          ],
          { env },
        )
      ).code,
      0,
    );
    await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'stranger')], { env });
    const inventory = join(work.path, 'oci.csv');
    await writeFile(
      inventory,
      `source,chart,versions,target,verify_key
oci://${registry.host}/upstream-oci,${chart.name},*,oci-good/${chart.name},./cosign.pub
oci://${registry.host}/upstream-oci,${chart.name},*,oci-bad/${chart.name},./stranger.pub
`,
    );
    const result = await mirrorWith(inventory, ['--insecure-registry', registry.host]);
    assert.equal(result.code, 1);
    const records = result.json<{
      records: { target?: string; action: string; error?: { code: string } }[];
    }>().records;
    assert.deepEqual(
      records
        .map((r) => [r.target?.split('/mirror/')[1]?.split('/')[0], r.action, r.error?.code])
        .sort(),
      [
        ['oci-bad', 'failed', 'VERIFICATION_FAILED'],
        ['oci-good', 'mirrored', undefined],
      ],
    );
  });

  it('--shard splits the inventory deterministically: every row in exactly one shard', async () => {
    const rows = parseInventory(
      `source,chart\n${(await fixtureCharts())
        .map((c) => c.name)
        .filter((n, i, a) => a.indexOf(n) === i)
        .map((n) => `${upstream.url},${n}`)
        .join('\n')}\n`,
      'inv.csv',
    );
    const shards = [1, 2, 3].map((index) =>
      rows.filter((r) => inShard(r, { index, count: 3 })).map((r) => r.chart),
    );
    assert.equal(shards.flat().length, rows.length);
    assert.equal(new Set(shards.flat()).size, rows.length);
    assert.ok(shards.every((s) => s.length > 0));
  });
});
