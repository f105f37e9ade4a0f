import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { parse, stringify } from 'yaml';
import { packageChartBytes, readChartArchive } from '../../src/artifact/index.ts';
import { mapLimit, readAll, sha256 } from '../../src/core/index.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
import { RegistryClient } from '../../src/oci/index.ts';
import { inShard, type MirrorItem, parseInventory, runMirror } from '../../src/mirror/index.ts';
import { openSession } from '../../src/session/index.ts';
import { resolveSigner } from '../../src/sign/index.ts';
import { startMockSigstore } from '../harness/sigstore.ts';
import { fixtureCharts, UPSTREAM_HELM } from '../harness/fixture-charts.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { startStaticServer, type StaticServer } from '../harness/static-server.ts';
import { fixturesSkipReason, gated, missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const skip =
  missingTools(['docker-registry', 'skopeo']) ?? fixturesSkipReason('upstream-helm/index.yaml');
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// Conformance: without the fixtures (or the tools) every test is reported skipped, with the reason.
const { it, before, after } = gated(skip);

describe('airlock mirror: the Shared Artifacts pipeline', () => {
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
    proxy.log.length = 0;
    const result = await mirror(inventory, '--junit', junit);
    const requests = proxy.log.length;
    assert.equal(result.code, 0, result.stderr);
    const report = result.json<{
      operation: string;
      summary: { done: number; failed: number; total: number };
      items: MirrorItem[];
    }>();
    assert.equal(report.operation, 'mirror');
    assert.equal(report.summary.done, 263);
    assert.equal(report.summary.failed, 0);
    for (const chart of charts) {
      const item = report.items.find((r) => r.chart === chart.name && r.version === chart.version);
      assert.ok(item, `${chart.name} ${chart.version}`);
      assert.equal(item.reference, `${proxy.host}/mirror/${chart.name}:${chart.version}`);
      assert.equal(item.sourceDigest, `sha256:${chart.digest}`);
      assert.equal(item.action, 'mirror');
      assert.equal(item.signed, true);
      assert.equal(item.signature, `sha256-${item.digest?.slice(7)}.sig`);
      assert.match(item.row, new RegExp(`^${inventory}:\\d+$`));
    }
    // Per version: two blobs (POST + PUT each) and the manifest, then the signature's two blobs
    // and manifest; no resolve of the digest just pushed, no look-up of its .sig tag.
    const perRepository = 2; // the tag listing, and the auth/ping round trips a client may make
    assert.ok(
      requests <= charts.length * 10 + names.length * perRepository + 5,
      `${requests} registry requests for ${charts.length} versions`,
    );
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
    const report = third.json<{ summary: { present: number }; items: MirrorItem[] }>();
    assert.deepEqual(
      report.items.filter((r) => r.outcome === 'done').map((r) => `${r.chart} ${r.version}`),
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
    const items = result.json<{ items: MirrorItem[] }>().items;
    const codes = (chart: string): string[] => [
      ...new Set(items.filter((r) => r.chart === chart).map((r) => r.error?.code ?? r.outcome)),
    ];
    assert.deepEqual(codes('prometheus-pushgateway'), ['UPSTREAM_NOT_FOUND']);
    assert.deepEqual(codes('prometheus-snmp-exporter'), ['UPSTREAM_UNAVAILABLE']);
    assert.deepEqual(codes('kube-state-metrics'), ['DIGEST_MISMATCH']);
    assert.deepEqual(codes('prometheus-node-exporter'), ['done']);
    // One line per failure, with its inventory line, on one stream only.
    const human = await airlock(
      [
        'mirror',
        inventory,
        '--to',
        `${proxy.host}/mirror`,
        '--insecure-registry',
        proxy.host,
        '--timeout',
        '1',
      ],
      { env },
    );
    const failures = human.stdout.split('\n').filter((l) => l.startsWith('failed'));
    assert.ok(failures.length > 0 && failures.every((l) => l.includes(`${inventory}:`)));
    for (const line of failures) assert.ok(!human.stderr.includes(line.slice(9)), line);
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
    const items = result.json<{ items: MirrorItem[] }>().items;
    assert.ok(
      items.length > 1 &&
        items.every(
          (r) => r.outcome === 'skipped' && r.reason === 'planned' && r.action === 'mirror',
        ),
    );
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
      assert.equal(denied.json<{ items: MirrorItem[] }>().items[0]?.error?.code, 'REGISTRY_AUTH');
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
    // Every failure is a refused signature: exit 3, as verify exits.
    assert.equal(result.code, 3);
    const items = result.json<{ items: MirrorItem[] }>().items;
    assert.deepEqual(
      items
        .map((r) => [r.reference.split('/mirror/')[1]?.split('/')[0], r.outcome, r.error?.code])
        .sort(),
      [
        ['oci-bad', 'failed', 'VERIFICATION_FAILED'],
        ['oci-good', 'done', undefined],
      ],
    );
  });

  it('a range that matches no version warns (skipped, exit 0); --strict makes it a failure (exit 1)', async () => {
    const inventory = join(work.path, 'strict.csv');
    await writeFile(
      inventory,
      `source,chart,versions,target\n${upstream.url},alertmanager,>=999,strict/a\n${upstream.url},prometheus-adapter,,strict/b\n`,
    );
    const lenient = await mirror(inventory);
    assert.equal(lenient.code, 0, lenient.stderr);
    const items = lenient.json<{ items: MirrorItem[] }>().items;
    const unmatched = items.filter((i) => i.chart === 'alertmanager');
    assert.deepEqual(
      unmatched.map((i) => [i.row, i.outcome, i.reason, i.version]),
      [[`${inventory}:2`, 'skipped', 'no version matches', undefined]],
    );
    assert.ok(lenient.stderr.includes(`${inventory}:2`), 'the warning names the row');
    assert.deepEqual(
      items.filter((i) => i.chart === 'prometheus-adapter').map((i) => i.outcome),
      ['done'],
    );
    const strict = await mirror(inventory, '--strict');
    assert.equal(strict.code, 1);
    const again = strict.json<{ items: MirrorItem[] }>().items;
    assert.deepEqual(
      again.map((i) => [i.chart, i.outcome, i.error?.code]),
      [
        ['alertmanager', 'failed', 'UPSTREAM_NOT_FOUND'],
        ['prometheus-adapter', 'present', undefined],
      ],
    );
  });

  it('without a signer: mirrors, says so on stderr and in the summary, and writes no signature', async () => {
    const inventory = join(work.path, 'unsigned.csv');
    await writeFile(
      inventory,
      `source,chart,versions,target\n${upstream.url},prometheus-adapter,,unsigned/adapter\n`,
    );
    const args = [
      'mirror',
      inventory,
      '--to',
      `${proxy.host}/mirror`,
      '--insecure-registry',
      proxy.host,
    ];
    const result = await airlock([...args, '--json'], { env });
    assert.equal(result.code, 0, result.stderr);
    const items = result.json<{ items: MirrorItem[] }>().items;
    assert.ok(items.length === 1 && items[0]?.outcome === 'done' && items[0].signed === false);
    assert.equal(items[0].signature, undefined);
    assert.match(result.stderr, /warning/);
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    const tags = await client.repository(registry.host, 'mirror/unsigned/adapter').listTags();
    client.close();
    assert.ok(tags.length === 1 && !tags.some((t) => t.endsWith('.sig')), tags.join(' '));
    // The human summary says it too, and a signed run later signs what is there.
    const human = await airlock(args, { env });
    assert.match(human.stdout.trim().split('\n').pop() ?? '', /NOT signed/);
    const signed = await mirror(inventory);
    assert.equal(signed.code, 0, signed.stderr);
    assert.deepEqual(
      signed.json<{ items: MirrorItem[] }>().items.map((i) => [i.outcome, i.action, i.signed]),
      [['done', 'sign', true]],
    );
  });

  it('verify_identity rows check keyless upstream signatures against --trusted-root', async () => {
    const sigstore = await startMockSigstore();
    try {
      const chart = (await fixtureCharts()).find((c) => c.name === 'prometheus-statsd-exporter')!;
      const flags = ['--insecure-registry', registry.host];
      const identity = 'https://gitlab.internal/upstream/charts//.gitlab-ci.yml@refs/heads/main';
      const issuer = 'https://gitlab.internal';
      const signEnv = { ...env, UPSTREAM_TOKEN: sigstore.token(identity, issuer) };
      assert.equal(
        (
          await airlock(['chart', 'push', chart.file, `${registry.host}/keyless-up`, ...flags], {
            env,
          })
        ).code,
        0,
      );
      const signed = await airlock(
        [
          'sign',
          `${registry.host}/keyless-up/${chart.name}:${chart.version}`,
          '--keyless',
          '--identity-token-env',
          'UPSTREAM_TOKEN',
          '--fulcio-url',
          sigstore.fulcioURL,
          '--rekor-url',
          sigstore.rekorURL,
          ...flags,
        ],
        { env: signEnv },
      );
      assert.equal(signed.code, 0, signed.stderr);
      const root = join(work.path, 'trusted_root.json');
      await writeFile(root, JSON.stringify(sigstore.trustedRoot));
      const inventory = join(work.path, 'keyless.csv');
      // Through the proxy, so its log shows any request to the upstream as well.
      const source = `oci://${proxy.host}/keyless-up`;
      await writeFile(
        inventory,
        `source,chart,versions,target,verify_identity,verify_issuer
${source},${chart.name},*,kl-good/${chart.name},${identity},${issuer}
${source},${chart.name},*,kl-bad/${chart.name},https://gitlab.internal/someone/else,${issuer}
`,
      );
      proxy.log.length = 0;
      const noRoot = await mirrorWith(inventory, flags);
      assert.equal(noRoot.code, 2);
      assert.equal(noRoot.json<{ error: { code: string } }>().error.code, 'TRUSTED_ROOT_REQUIRED');
      assert.deepEqual(proxy.log, [], 'refused before any request');
      const result = await mirrorWith(inventory, [...flags, '--trusted-root', root]);
      assert.equal(result.code, 3, result.stderr);
      assert.deepEqual(
        result
          .json<{ items: MirrorItem[] }>()
          .items.map((r) => [
            r.reference.split('/mirror/')[1]?.split('/')[0],
            r.outcome,
            r.error?.code,
          ])
          .sort(),
        [
          ['kl-bad', 'failed', 'VERIFICATION_FAILED'],
          ['kl-good', 'done', undefined],
        ],
      );
    } finally {
      await sigstore.stop();
    }
  });

  it('an abort mid-run leaves no tag without its artifact or signature; a re-run finishes', async () => {
    const names = ['alertmanager', 'prometheus-adapter', 'kube-state-metrics'];
    const inventory = join(work.path, 'abort.csv');
    const text = `source,chart,versions,target\n${names.map((n) => `${upstream.url},${n},*,abort/${n}`).join('\n')}\n`;
    await writeFile(inventory, text);
    const signer = resolveSigner({
      key: {
        pem: await readFile(join(work.path, 'cosign.key'), 'utf8'),
        password: env.COSIGN_PASSWORD ?? '',
      },
    });
    const session = openSession({ insecureRegistries: [registry.host], concurrency: 4 });
    const options = {
      inventory: { text, file: inventory },
      target: `${registry.host}/mirror`,
      signer,
      concurrency: 4,
    };
    try {
      const controller = new AbortController();
      const first = await runMirror(session, {
        ...options,
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'item' && event.done === 3) controller.abort();
        },
      });
      const done = first.items.filter((i) => i.outcome === 'done');
      const aborted = first.items.filter((i) => i.reason === 'aborted');
      assert.ok(
        done.length >= 3 && aborted.length > 0,
        `${done.length} done, ${aborted.length} aborted`,
      );
      assert.equal(first.summary.failed, 0);
      // Every version tag in the target is a complete, signed artifact, and each is reported done.
      const client = new RegistryClient({ insecureRegistries: [registry.host] });
      const check = async (): Promise<string[]> => {
        const tagged: string[] = [];
        for (const name of names) {
          const repo = client.repository(registry.host, `mirror/abort/${name}`);
          const tags = await repo.listTags();
          for (const tag of tags.filter((t) => !t.endsWith('.sig'))) {
            const manifest = JSON.parse((await repo.fetchManifest(tag)).bytes.toString('utf8')) as {
              config: { digest: `sha256:${string}` };
              layers: { digest: `sha256:${string}` }[];
            };
            for (const blob of [manifest.config, ...manifest.layers])
              assert.ok(await repo.hasBlob(blob.digest), `${name}:${tag} ${blob.digest}`);
            const digest = (await repo.resolve(tag))?.digest ?? '';
            assert.ok(tags.includes(`sha256-${digest.slice(7)}.sig`), `${name}:${tag} is signed`);
            tagged.push(`${registry.host}/mirror/abort/${name}:${tag}`);
          }
        }
        return tagged.sort();
      };
      assert.deepEqual(await check(), done.map((i) => i.reference).sort());
      const second = await runMirror(session, options);
      assert.equal(second.summary.failed + second.summary.skipped, 0);
      assert.equal(second.summary.present, done.length);
      assert.equal((await check()).length, first.items.length);
      client.close();
    } finally {
      session.close();
    }
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
