import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { chmod, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, type ErrorCode } from '../../src/errors.ts';
import {
  buildLayer,
  chartCRDEntries,
  diffFluxArtifact,
  listFluxArtifacts,
  packageChart,
  packLayer,
  pullChart,
  pullFluxArtifact,
  pushArtifacts,
  pushChart,
  pushCharts,
  pushFluxArtifact,
  readChartArchive,
} from '../../src/artifact/index.ts';
import {
  checkSemverRange,
  compileTagPattern,
  MediaType,
  parseAnnotations,
  readAll,
  sha256,
} from '../../src/core/index.ts';
import { type Reference, RegistryClient, type Repository } from '../../src/oci/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import { fixtureCharts } from '../harness/fixture-charts.ts';
import { type FaultProxy, startProxy } from '../harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { fixturesSkipReason, gated, missingTools, run, tempDir } from '../harness/tools.ts';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert-code.ts';
import { airlock } from '../helpers/cli.ts';

const skip = missingTools(['docker-registry', 'skopeo']);
const META = { source: 'https://git.example/platform', revision: `main@sha1:${'b'.repeat(40)}` };

/** A small chart written for these tests, with a CRD in crds/ and a plain CRD in templates/. */
async function writeChart(dir: string, version = '1.2.3'): Promise<void> {
  await mkdir(join(dir, 'templates'), { recursive: true });
  await mkdir(join(dir, 'crds'), { recursive: true });
  await writeFile(
    join(dir, 'Chart.yaml'),
    `apiVersion: v2\nname: widget\nversion: ${version}\nappVersion: 2.0\ndescription: A <test> chart & more\nhome: https://widget.example\nsources:\n  - https://git.example/widget\nmaintainers:\n  - name: Platform\n    email: platform@example.com\nannotations:\n  example.com/team: platform\n`,
  );
  await writeFile(join(dir, 'values.yaml'), 'replicas: 1\n');
  await writeFile(
    join(dir, 'templates', 'deployment.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n',
  );
  await writeFile(
    join(dir, 'templates', 'plain-crd.yaml'),
    'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.example.com\n',
  );
  await writeFile(
    join(dir, 'crds', 'widgets.yaml'),
    'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n',
  );
  await writeFile(join(dir, '.helmignore'), '*.bak\n');
  await writeFile(join(dir, 'notes.bak'), 'ignored');
}

describe('Flux and Helm artifacts on a real registry', { skip }, () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    registry = await startRegistry();
    proxy = await startProxy({ upstream: registry.url });
    client = new RegistryClient({ insecureRegistries: [registry.host, proxy.host] });
    work = await tempDir();
  });
  after(async () => {
    client.close();
    await proxy.stop();
    await registry.stop();
    await work.remove();
  });

  it('pushes a Flux artifact that skopeo reads with Flux media types, annotations and digests, and pulls it back', async () => {
    const src = join(work.path, 'deploy');
    await mkdir(join(src, 'apps'), { recursive: true });
    await writeFile(join(src, 'apps', 'web.yaml'), 'kind: Deployment\n');
    await writeFile(join(src, 'kustomization.yaml'), 'resources: [apps/web.yaml]\n');
    const layer = await buildLayer(src);
    const repo = client.repository(registry.host, 'apps/web');
    const result = await pushFluxArtifact(repo, layer, {
      tag: 'latest',
      meta: { ...META, annotations: { 'example.com/env': 'dev' } },
    });
    assert.equal(result.flux.url, `oci://${registry.host}/apps/web@${result.digest}`);
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/apps/web:latest`,
    ]).trimEnd();
    assert.equal(sha256(raw), result.digest);
    const manifest = JSON.parse(raw) as {
      mediaType: string;
      config: { mediaType: string; size: number; digest: string };
      layers: { mediaType: string; digest: string; size: number }[];
      annotations: Record<string, string>;
    };
    assert.equal(manifest.mediaType, MediaType.ociManifest);
    assert.deepEqual(manifest.config, {
      mediaType: MediaType.fluxConfig,
      size: 115,
      digest: 'sha256:5b943e2b943f6c81dbbd4e2eca5121f4fcc39139e3d1219d6d89bd925b77d9fe',
    });
    assert.deepEqual(manifest.layers, [
      { mediaType: MediaType.fluxContent, size: layer.tgz.length, digest: layer.digest },
    ]);
    assert.deepEqual(Object.keys(manifest.annotations), [
      'example.com/env',
      'org.opencontainers.image.created',
      'org.opencontainers.image.revision',
      'org.opencontainers.image.source',
    ]);
    assert.match(
      manifest.annotations['org.opencontainers.image.created'] ?? '',
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    assert.equal(manifest.annotations['org.opencontainers.image.revision'], META.revision);
    const out = join(work.path, 'pulled');
    const pulled = await pullFluxArtifact(repo, 'latest', out);
    assert.deepEqual([...pulled.files].sort(), ['apps/web.yaml', 'kustomization.yaml']);
    assert.equal(await readFile(join(out, 'apps', 'web.yaml'), 'utf8'), 'kind: Deployment\n');
    const listing = await listFluxArtifacts(repo);
    assert.deepEqual(
      listing.map((l) => [l.tag, l.revision]),
      [['latest', META.revision]],
    );
  });

  it('diff says "no changes" for the same tree and names what changed; --diff-tag skips the push', async () => {
    const src = join(work.path, 'diffed');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'a.yaml'), 'a: 1\n');
    await writeFile(join(src, 'b.yaml'), 'b: 1\n');
    const repo = client.repository(proxy.host, 'apps/diffed');
    await pushFluxArtifact(repo, await buildLayer(src), { tag: 'latest', meta: META });
    assert.equal((await diffFluxArtifact(repo, 'latest', await buildLayer(src))).changed, false);
    proxy.log.length = 0;
    const skipped = await pushFluxArtifact(repo, await buildLayer(src), {
      tag: 'sha-2',
      meta: META,
      diffTag: 'latest',
      extraTags: ['latest'],
    });
    assert.equal(skipped.pushed, false);
    assert.deepEqual(
      proxy.log.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/')),
      [],
      'no manifest PUT when nothing changed',
    );
    await writeFile(join(src, 'a.yaml'), 'a: 2\n');
    await writeFile(join(src, 'c.yaml'), 'c: 1\n');
    await chmod(join(src, 'b.yaml'), 0o600);
    const diff = await diffFluxArtifact(repo, 'latest', await buildLayer(src));
    assert.deepEqual(diff, {
      changed: true,
      added: ['c.yaml'],
      removed: [],
      modified: ['a.yaml', 'b.yaml'],
    });
    const pushed = await pushFluxArtifact(repo, await buildLayer(src), {
      tag: 'sha-3',
      meta: META,
      diffTag: 'latest',
      extraTags: ['latest'],
    });
    assert.equal(pushed.pushed, true);
    assert.equal((await repo.resolve('latest'))?.digest, pushed.digest);
  });

  it('pushes a chart like helm push: config, layers sorted by digest, annotations; pulls the exact .tgz', async () => {
    const dir = join(work.path, 'widget');
    await writeChart(dir, '1.2.3+build.7');
    const packaged = await packageChart(dir, join(work.path, 'dist'));
    await writeFile(
      `${packaged.path}.prov`,
      '-----BEGIN PGP SIGNED MESSAGE-----\nfake provenance for the test\n',
    );
    const result = await pushChart(
      (r) => client.repository(registry.host, r),
      packaged.path,
      'charts',
      { created: '2026-01-02T03:04:05Z' },
    );
    assert.equal(result.repository, `${registry.host}/charts/widget`);
    assert.equal(result.tag, '1.2.3_build.7');
    const raw = run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/charts/widget:1.2.3_build.7`,
    ]).trimEnd();
    assert.equal(sha256(raw), result.digest);
    const manifest = JSON.parse(raw) as {
      config: { mediaType: string; digest: string };
      layers: { mediaType: string; digest: string }[];
      annotations: Record<string, string>;
    };
    assert.equal(manifest.config.mediaType, MediaType.helmConfig);
    assert.deepEqual(
      manifest.layers.map((l) => l.mediaType).sort(),
      [MediaType.helmChart, MediaType.helmProvenance].sort(),
    );
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      manifest.layers.map((l) => l.digest).sort(),
      'layers sorted by digest',
    );
    assert.deepEqual(manifest.annotations, {
      'example.com/team': 'platform',
      'org.opencontainers.image.authors': 'Platform (platform@example.com)',
      'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      'org.opencontainers.image.description': 'A <test> chart & more',
      'org.opencontainers.image.source': 'https://git.example/widget',
      'org.opencontainers.image.title': 'widget',
      'org.opencontainers.image.url': 'https://widget.example',
      'org.opencontainers.image.version': '1.2.3+build.7',
    });
    const configDescriptor = JSON.parse(raw) as {
      config: { digest: `sha256:${string}`; size: number };
    };
    const configBlob = await readAll(
      await client
        .repository(registry.host, 'charts/widget')
        .fetchBlob({ mediaType: MediaType.helmConfig, ...configDescriptor.config }),
    );
    const config = JSON.parse(configBlob.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(config), [
      'name',
      'home',
      'sources',
      'version',
      'description',
      'maintainers',
      'apiVersion',
      'appVersion',
      'annotations',
    ]);
    assert.equal(config.appVersion, '2', 'appVersion read as a string');
    const pulled = await pullChart(
      client.repository(registry.host, 'charts/widget'),
      '1.2.3_build.7',
      join(work.path, 'pulled-charts'),
    );
    assert.deepEqual(await readFile(pulled.path), await readFile(packaged.path));
  });

  it('packages charts deterministically from different checkouts, honouring .helmignore', async () => {
    const one = join(work.path, 'co1', 'widget');
    const two = join(work.path, 'co2', 'widget');
    await writeChart(one);
    await writeChart(two);
    await utimes(join(two, 'values.yaml'), new Date(5_000_000), new Date(5_000_000));
    const a = await packageChart(one, join(work.path, 'pkg1'));
    const b = await packageChart(two, join(work.path, 'pkg2'));
    assert.deepEqual(await readFile(a.path), await readFile(b.path));
    const archive = readChartArchive(await readFile(a.path), a.path);
    assert.deepEqual(
      archive.entries.map((e) => e.name),
      [
        'widget/.helmignore',
        'widget/Chart.yaml',
        'widget/crds/widgets.yaml',
        'widget/templates/deployment.yaml',
        'widget/templates/plain-crd.yaml',
        'widget/values.yaml',
      ],
    );
  });

  it("turns a chart's CRDs into a Flux artifact", async () => {
    const dir = join(work.path, 'crd-chart', 'widget');
    await writeChart(dir);
    const packaged = await packageChart(dir, join(work.path, 'crd-dist'));
    const entries = chartCRDEntries(readChartArchive(await readFile(packaged.path), packaged.path));
    assert.deepEqual(
      entries.map((e) => e.name),
      ['.', 'crds', 'crds/plain-crd.yaml', 'crds/widgets.yaml'],
    );
    const repo = client.repository(registry.host, 'crds/widget');
    const pushed = await pushFluxArtifact(repo, packLayer(entries), { tag: '1.2.3', meta: META });
    const out = join(work.path, 'crds-out');
    await pullFluxArtifact(repo, pushed.digest, out);
    assert.match(
      await readFile(join(out, 'crds', 'widgets.yaml'), 'utf8'),
      /widgets\.example\.com/,
    );
  });

  it('pushes many charts in one call: one report, items in input order, each failure its own item, a re-run present with nothing uploaded', async () => {
    const dist = join(work.path, 'batch-dist');
    const one = join(work.path, 'batch', 'one', 'widget');
    const two = join(work.path, 'batch', 'two', 'widget');
    await writeChart(one, '1.0.0');
    await writeChart(two, '2.0.0');
    const a = await packageChart(one, dist);
    const b = await packageChart(two, dist);
    const notChart = join(dist, 'not-a-chart.tgz');
    await writeFile(notChart, 'plain text');
    const missing = join(dist, 'missing-1.0.0.tgz');
    const session = openSession({ insecureRegistries: [proxy.host] });
    try {
      const target = session.target(`${proxy.host}/batch`);
      const report = await pushCharts(target, [a.path, missing, b.path, notChart]);
      assert.equal(report.operation, 'chart push');
      assert.deepEqual(
        report.items.map((i) => [i.chart, i.outcome, i.error?.code]),
        [
          [a.path, 'done', undefined],
          [missing, 'failed', 'FILE_UNREADABLE'],
          [b.path, 'done', undefined],
          [notChart, 'failed', 'CONFIG_INVALID'],
        ],
      );
      assert.deepEqual(
        { ...report.summary, durationMs: 0 },
        {
          total: 4,
          done: 2,
          present: 0,
          failed: 2,
          skipped: 0,
          bytes: report.items.reduce((sum, i) => sum + i.bytes, 0),
          durationMs: 0,
        },
      );
      const first = report.items[0]!;
      assert.equal(first.reference, `${proxy.host}/batch/widget:1.0.0`);
      assert.ok(first.bytes > (await readFile(a.path)).length, 'chart, config and manifest bytes');
      const raw = run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${registry.host}/batch/widget:1.0.0`,
      ]).trimEnd();
      assert.equal(sha256(raw), first.digest);

      proxy.log.length = 0;
      const again = await pushCharts(target, [a.path, b.path]);
      assert.deepEqual(
        again.items.map((i) => [i.outcome, i.digest, i.bytes]),
        report.items.filter((i) => i.outcome === 'done').map((i) => ['present', i.digest, 0]),
      );
      assert.deepEqual(
        proxy.log.filter((r) => r.method !== 'HEAD' && r.method !== 'GET'),
        [],
        'a re-run only looks: no upload, no manifest PUT',
      );
    } finally {
      session.close();
    }
  });

  it('pushes charts below an OCI layout prefix the same way', async () => {
    const dir = join(work.path, 'layout-chart', 'widget');
    await writeChart(dir, '3.0.0');
    const packaged = await packageChart(dir, join(work.path, 'layout-dist'));
    const store = join(work.path, 'chart-store');
    const session = openSession();
    try {
      const report = await pushCharts(session.target(`oci-layout:${store}`), [packaged.path]);
      const item = report.items[0]!;
      assert.equal(item.outcome, 'done', JSON.stringify(item.error));
      assert.equal(item.reference, `oci-layout:${store}/widget:3.0.0`);
      const pulled = await pullChart(
        session.open(`oci-layout:${store}/widget`),
        '3.0.0',
        join(work.path, 'layout-pulled'),
      );
      assert.deepEqual(await readFile(pulled.path), await readFile(packaged.path));
      const again = await pushCharts(session.target(`oci-layout:${store}`), [packaged.path]);
      assert.deepEqual(
        again.items.map((i) => [i.outcome, i.bytes]),
        [['present', 0]],
      );
    } finally {
      session.close();
    }
  });

  it('pushArtifacts reports present for unchanged content (diff tag) and for a tag already in place, done otherwise', async () => {
    const src = join(work.path, 'batch-flux');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'cm.yaml'), 'kind: ConfigMap\n');
    const session = openSession({ insecureRegistries: [registry.host] });
    try {
      const destination = `${registry.host}/apps/batch`;
      const reproducible = { ...META, created: '1970-01-01T00:00:00Z' };
      const content = { kind: 'path', path: src } as const;
      const first = await pushArtifacts(session, [
        { content, destination: `${destination}:v1`, meta: reproducible, tags: ['latest'] },
      ]);
      const item = first.items[0]!;
      assert.equal(first.operation, 'artifact push');
      assert.equal(item.outcome, 'done');
      assert.deepEqual(item.tags, ['v1', 'latest']);
      assert.equal(item.url, `oci://${destination}@${item.digest}`);
      assert.equal(item.repository, destination);
      assert.equal((await session.open(destination).resolve('latest'))?.digest, item.digest);

      const same = await pushArtifacts(session, [
        { content, destination: `${destination}:v1`, meta: reproducible, tags: ['latest'] },
      ]);
      assert.deepEqual(
        same.items.map((i) => [i.outcome, i.reason, i.digest, i.bytes, i.tags]),
        [['present', 'already tagged', item.digest, 0, []]],
      );

      const unchanged = await pushArtifacts(session, [
        { content, destination: `${destination}:v2`, meta: META, diffTag: 'latest' },
      ]);
      assert.deepEqual(
        unchanged.items.map((i) => [i.outcome, i.digest]),
        [['present', item.digest]],
      );
      assert.equal(await session.open(destination).resolve('v2'), undefined, 'nothing pushed');

      await writeFile(join(src, 'cm.yaml'), 'kind: Secret\n');
      const changed = await pushArtifacts(session, [
        { content, destination: `${destination}:v2`, meta: META, diffTag: 'latest' },
      ]);
      const pushed = changed.items[0]!;
      assert.equal(pushed.outcome, 'done');
      assert.notEqual(pushed.digest, item.digest);
    } finally {
      session.close();
    }
  });

  it('pushArtifacts refuses bad requests before reading or sending anything, with codes and the option', async () => {
    const session = openSession({ insecureRegistries: [proxy.host] });
    try {
      proxy.log.length = 0;
      const missing = { kind: 'path', path: join(work.path, 'does-not-exist') } as const;
      const at = `${proxy.host}/apps/refused`;
      const cases: [Parameters<typeof pushArtifacts>[1][number], ErrorCode, string | undefined][] =
        [
          [
            { content: missing, destination: `${at}:v1`, meta: { ...META, revision: 'main' } },
            'INPUT_INVALID',
            'revision',
          ],
          [
            { content: missing, destination: `${at}:v1`, meta: { ...META, source: ' ' } },
            'INPUT_INVALID',
            'source',
          ],
          [
            { content: missing, destination: `${at}:v1`, meta: META, tags: ['-bad'] },
            'TAG_INVALID',
            'tags',
          ],
          [
            { content: missing, destination: `${at}:v1`, meta: META, diffTag: 'x'.repeat(129) },
            'TAG_INVALID',
            'diffTag',
          ],
          [
            { content: missing, destination: `${at}@sha256:${'a'.repeat(64)}`, meta: META },
            'INPUT_INVALID',
            'destination',
          ],
          [
            { content: missing, destination: 'UPPER/case:v1', meta: META },
            'REF_INVALID',
            undefined,
          ],
        ];
      for (const [request, code, option] of cases) {
        const error = await assertRejectsCode(() => pushArtifacts(session, [request]), code);
        assert.equal(error.data.option, option, code);
      }
      assert.deepEqual(proxy.log, [], 'no request was made');
      // A content problem is the item's failure, reported, not thrown.
      const report = await pushArtifacts(session, [
        { content: missing, destination: `${at}:v1`, meta: META },
      ]);
      assert.deepEqual(
        report.items.map((i) => [i.outcome, i.error?.code]),
        [['failed', 'FILE_UNREADABLE']],
      );
    } finally {
      session.close();
    }
  });

  it('an abort between blob upload and tag leaves no tag behind, and later items are skipped', async () => {
    const src = join(work.path, 'abort-flux');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'cm.yaml'), 'kind: ConfigMap\n');
    const session: Session = openSession({ insecureRegistries: [registry.host] });
    const controller = new AbortController();
    // A repository that fires the abort as soon as a blob is uploaded (a Ctrl-C mid-push).
    const opener = {
      open(ref: Reference): Repository {
        const inner = session.open(ref);
        const pushBlob: Repository['pushBlob'] = async (...args) => {
          const done = await inner.pushBlob(...args);
          controller.abort();
          return done;
        };
        return new Proxy(inner, {
          get: (target, key) => {
            if (key === 'pushBlob') return pushBlob;
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
          },
        });
      },
    };
    try {
      const destination = `${registry.host}/apps/aborted`;
      const content = { kind: 'path', path: src } as const;
      const report = await pushArtifacts(
        opener,
        [
          { content, destination: `${destination}:first`, meta: META },
          { content, destination: `${destination}:second`, meta: META },
        ],
        { signal: controller.signal, concurrency: 1 },
      );
      assert.deepEqual(
        report.items.map((i) => [i.outcome, i.error?.code ?? i.reason]),
        [
          ['failed', 'ABORTED'],
          ['skipped', 'aborted'],
        ],
      );
      assert.deepEqual(
        await session
          .open(destination)
          .listTags()
          .catch(() => []),
        [],
      );
    } finally {
      session.close();
    }
  });

  it('chart push and artifact push print the batch report docs/json.md specifies, for success and partial failure', async () => {
    const schema = JSON.parse(
      await readFile(
        new URL('../../docs/schemas/batch-report.schema.json', import.meta.url),
        'utf8',
      ),
    ) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const dir = join(work.path, 'json-chart', 'widget');
    await writeChart(dir, '9.0.0');
    const packaged = await packageChart(dir, join(work.path, 'json-dist'));
    const flags = ['--json', '--insecure-registry', registry.host];
    const env = { HOME: work.path };
    const src = join(work.path, 'json-flux');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'cm.yaml'), 'kind: ConfigMap\n');
    const meta = ['--source', META.source, '--revision', META.revision, '--reproducible'];
    const runs = [
      ['chart', 'push', packaged.path, `${registry.host}/json`],
      ['chart', 'push', packaged.path, join(work.path, 'missing.tgz'), `${registry.host}/json`],
      ['artifact', 'push', src, `${registry.host}/json/flux:v1`, ...meta],
      ['artifact', 'push', src, `${registry.host}/json/flux:v1`, ...meta],
      ['artifact', 'push', join(work.path, 'missing'), `${registry.host}/json/x:v1`, ...meta],
    ];
    const outcomes: string[][] = [];
    for (const args of runs) {
      const result = await airlock([...args, ...flags], { env });
      const report = result.json<{ items: { outcome: string }[] }>();
      assert.ok(validate(report), `${args.join(' ')}: ${JSON.stringify(validate.errors)}`);
      outcomes.push([String(result.code), ...report.items.map((i) => i.outcome)]);
    }
    assert.deepEqual(outcomes, [
      ['0', 'done'],
      ['2', 'present', 'failed'],
      ['0', 'done'],
      ['0', 'present'],
      ['2', 'failed'],
    ]);
  });

  it('refuses bad charts naming the file and the field', async () => {
    const cases: [string, string, RegExp][] = [
      ['missing', '', /Chart\.yaml/],
      ['unparsable', 'name: [unclosed\n', /Chart\.yaml/],
      ['bad-version', 'apiVersion: v2\nname: bad\nversion: v1.0\n', /Chart\.yaml: version/],
      ['no-name', 'apiVersion: v2\nversion: 1.0.0\n', /Chart\.yaml: name/],
    ];
    for (const [name, chartYAML, where] of cases) {
      const dir = join(work.path, 'bad', name);
      await mkdir(dir, { recursive: true });
      if (chartYAML !== '') await writeFile(join(dir, 'Chart.yaml'), chartYAML);
      const error = await assertRejectsCode(
        () => packageChart(dir, join(work.path, 'bad-out')),
        'CONFIG_INVALID',
      );
      assert.ok(error instanceof ConfigError);
      assert.ok(
        error.issues.some((i) => where.test(i.where)),
        `${name}: ${JSON.stringify(error.issues)}`,
      );
    }
  });
});

// Conformance: every test is reported skipped, with the reason, when the fixtures are missing.
const fixtures = gated(skip ?? fixturesSkipReason('upstream-helm/index.yaml'));
describe('every fixture chart round-trips through chart push and pull', () => {
  let registry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  fixtures.before(async () => {
    registry = await startRegistry();
    work = await tempDir();
  });
  fixtures.after(async () => {
    await registry.stop();
    await work.remove();
  });

  fixtures.it(
    'pushes all 263 in one pushCharts call to <prefix>/<name>:<version> with Helm config, pulls byte-identical .tgz files, and a re-run is all present',
    async () => {
      const charts = await fixtureCharts();
      assert.equal(charts.length, 263);
      const session = openSession({ insecureRegistries: [registry.host] });
      try {
        const report = await pushCharts(
          session.target(`${registry.host}/mirror`),
          charts.map((c) => c.file),
        );
        assert.equal(report.summary.done, 263, JSON.stringify(report.items.find((i) => i.error)));
        for (const [index, chart] of charts.entries()) {
          const pushed = report.items[index]!;
          assert.equal(pushed.repository, `${registry.host}/mirror/${chart.name}`);
          assert.equal(pushed.tag, chart.version.replaceAll('+', '_'));
        }
        await Promise.all(
          charts.map(async (chart, index) => {
            const tag = report.items[index]!.tag!;
            const repo = session.open(`${registry.host}/mirror/${chart.name}`);
            const manifest = JSON.parse((await repo.fetchManifest(tag)).bytes.toString('utf8')) as {
              config: { mediaType: string };
            };
            assert.equal(manifest.config.mediaType, MediaType.helmConfig);
            const pulled = await pullChart(repo, tag, join(work.path, chart.name));
            assert.equal(
              sha256(await readFile(pulled.path)),
              `sha256:${chart.digest}`,
              `${chart.name} ${chart.version}`,
            );
            assert.equal(pulled.version, chart.version);
          }),
        );
        const again = await pushCharts(
          session.target(`${registry.host}/mirror`),
          charts.map((c) => c.file),
        );
        assert.deepEqual(
          { present: again.summary.present, bytes: again.summary.bytes },
          { present: 263, bytes: 0 },
        );
      } finally {
        session.close();
      }
    },
  );
});

describe('the shared parsers every command uses for annotations, tag regexes and semver ranges', () => {
  it('reads key=value as Flux and cosign do, reporting every bad item with the option', () => {
    assert.deepEqual(parseAnnotations(['a=1', 'b=', 'a=2']), { a: '2', b: '' });
    const error = assertThrowsCode(
      () => parseAnnotations(['ok=1', 'novalue', 'k=v=w', '=v', 'nl=x\ny']),
      'INPUT_INVALID',
    );
    assert.equal(error.details.length, 4);
    assert.equal(error.data.option, 'annotations');
  });

  it('refuses an invalid regex or semver range with INPUT_INVALID naming the option', () => {
    assert.ok(compileTagPattern('^1\\.').test('1.2.3'));
    assert.equal(
      assertThrowsCode(() => compileTagPattern('('), 'INPUT_INVALID').data.option,
      'tagPattern',
    );
    assert.equal(checkSemverRange('>=1 <2'), '>=1 <2');
    assert.equal(
      assertThrowsCode(() => checkSemverRange('not a range'), 'INPUT_INVALID').data.option,
      'semverRange',
    );
  });
});
