import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import {
  buildLayer,
  packageChartBytes,
  pushChartArchive,
  pushFluxArtifact,
} from '../artifact/index.ts';
import { type Digest, sha256 } from '../core/index.ts';
import { LayoutRepository } from '../oci/index.ts';
import { tempDir } from '../../test/harness/tools.ts';
import { generateSBOM } from './index.ts';

// The official CycloneDX 1.6 JSON schema as the library ships it (with its SPDX and JSF schemas).
const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);

interface Bom {
  $schema?: string;
  bomFormat: string;
  specVersion: string;
  serialNumber?: string;
  version: number;
  metadata: {
    timestamp?: string;
    tools: { components: { name: string; version: string }[] };
    component: Component;
  };
  components: Component[];
  dependencies: { ref: string; dependsOn?: string[] }[];
}
interface Component {
  type: string;
  name: string;
  'bom-ref': string;
  version?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  properties?: { name: string; value: string }[];
  externalReferences?: { type: string; url: string }[];
}

describe('CycloneDX SBOMs built with the CycloneDX library', () => {
  let work: { path: string; remove: () => Promise<void> };
  let layout: LayoutRepository;
  let flux: Digest;
  let chart: Digest;
  const files: [string, string][] = [
    ['B.yaml', 'kind: B\n'],
    ['a.yaml', 'kind: A\n'],
    ['z.yaml', 'kind: Z\n'],
    ['ä.yaml', 'kind: Ä\n'],
  ];

  before(async () => {
    work = await tempDir();
    layout = new LayoutRepository(join(work.path, 'layout'));
    const content = join(work.path, 'content');
    await mkdir(content);
    for (const [name, text] of files) await writeFile(join(content, name), text);
    flux = (
      await pushFluxArtifact(layout, await buildLayer(content), {
        tag: 'v1',
        meta: { source: 'https://git.example/web.git', revision: `main@sha1:${'a'.repeat(40)}` },
      })
    ).digest;
    const dir = join(work.path, 'shop');
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeFile(
      join(dir, 'Chart.yaml'),
      [
        'apiVersion: v2',
        'name: shop',
        'version: 1.0.0+build.7',
        'home: https://shop.example',
        'sources: [https://git.example/shop.git]',
        'dependencies:',
        '  - {name: redis, version: 18.0.0, repository: "https://charts.example/bitnami", alias: cache}',
        '  - {name: redis, version: ">=18.0.0 <19", repository: "oci://registry.example/charts", alias: queue}',
        '  - {name: common, version: 2.0.0, repository: "file://../common"}',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'values.yaml'), 'image: registry.internal/shop/web:2.1\n');
    await writeFile(
      join(dir, 'templates', 'job.yaml'),
      'spec:\n  containers:\n    - image: registry.internal/tools/migrate:5\n',
    );
    const { tgz } = await packageChartBytes(dir);
    chart = (await pushChartArchive(layout, tgz, { created: '2024-01-01T00:00:00Z' })).digest;
  });
  after(async () => {
    await work.remove();
  });

  it('a Flux artifact: valid CycloneDX 1.6, every file with its SHA-256 in layer order, the source as a VCS reference', async () => {
    const sbom = await generateSBOM(layout, flux);
    assert.equal(sbom.kind, 'flux-artifact');
    assert.equal(await validator.validate(sbom.json), null);
    const bom = JSON.parse(sbom.json) as Bom;
    assert.deepEqual(sbom.bom, bom, 'bom is the parsed json');
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    // Flux's layer order (names sorted bytewise), not a locale's collation.
    assert.deepEqual(
      bom.components.map((c) => [c.type, c.name, c.hashes?.[0]?.alg, c.hashes?.[0]?.content]),
      files.map(([name, text]) => ['file', name, 'SHA-256', sha256(text).slice(7)]),
    );
    const subject = bom.metadata.component;
    assert.equal(subject.type, 'data');
    assert.deepEqual(subject.hashes, [{ alg: 'SHA-256', content: flux.slice(7) }]);
    assert.equal(subject.version, `main@sha1:${'a'.repeat(40)}`);
    assert.deepEqual(subject.properties, [
      { name: 'oci:source', value: 'https://git.example/web.git' },
    ]);
    assert.deepEqual(subject.externalReferences, [
      { type: 'vcs', url: 'https://git.example/web.git' },
    ]);
    assert.deepEqual(
      bom.dependencies.find((d) => d.ref === subject['bom-ref'])?.dependsOn,
      bom.components.map((c) => c['bom-ref']),
    );
    assert.deepEqual(
      bom.metadata.tools.components.map((t) => t.name),
      ['airlock'],
    );
  });

  it('a Helm chart: valid CycloneDX 1.6 with its dependencies (unique bom-refs, encoded purls) and images', async () => {
    const sbom = await generateSBOM(layout, chart);
    assert.equal(sbom.kind, 'helm-chart');
    assert.equal(await validator.validate(sbom.json), null);
    const bom = sbom.bom as unknown as Bom;
    assert.deepEqual(
      bom.components.map((c) => [c['bom-ref'], c.type, c.name, c.version, c.purl]),
      [
        ['dependency:redis', 'application', 'redis', '18.0.0', 'pkg:helm/redis@18.0.0'],
        [
          'dependency:redis#2',
          'application',
          'redis',
          '>=18.0.0 <19',
          'pkg:helm/redis@%3E%3D18.0.0%20%3C19',
        ],
        ['dependency:common', 'application', 'common', '2.0.0', 'pkg:helm/common@2.0.0'],
        [
          'image:registry.internal/shop/web:2.1',
          'container',
          'registry.internal/shop/web:2.1',
          undefined,
          undefined,
        ],
        [
          'image:registry.internal/tools/migrate:5',
          'container',
          'registry.internal/tools/migrate:5',
          undefined,
          undefined,
        ],
      ],
    );
    // Remote repositories are distribution references; a local subchart path is only a property.
    assert.deepEqual(
      bom.components.slice(0, 3).map((c) => c.externalReferences),
      [
        [{ type: 'distribution', url: 'https://charts.example/bitnami' }],
        [{ type: 'distribution', url: 'oci://registry.example/charts' }],
        undefined,
      ],
    );
    assert.deepEqual(bom.components[2]?.properties, [
      { name: 'helm:repository', value: 'file://../common' },
    ]);
    const subject = bom.metadata.component;
    assert.equal(subject.purl, 'pkg:helm/shop@1.0.0%2Bbuild.7');
    assert.deepEqual(subject.hashes, [{ alg: 'SHA-256', content: chart.slice(7) }]);
    assert.deepEqual(subject.externalReferences, [
      { type: 'website', url: 'https://shop.example' },
      { type: 'vcs', url: 'https://git.example/shop.git' },
    ]);
  });

  it('is reproducible: the same artifact gives the same bytes (no random serial number, no clock)', async () => {
    for (const digest of [flux, chart]) {
      const first = await generateSBOM(layout, digest);
      const second = await generateSBOM(layout, digest);
      assert.equal(first.json, second.json);
      const bom = first.bom as unknown as Bom;
      assert.equal(bom.serialNumber, undefined);
      assert.equal(bom.metadata.timestamp, undefined);
    }
  });

  it('the schema check can fail: broken BOMs are rejected', async () => {
    const sbom = await generateSBOM(layout, flux);
    const broken = (change: (bom: Bom & Record<string, unknown>) => void): string => {
      const bom = JSON.parse(sbom.json) as Bom & Record<string, unknown>;
      change(bom);
      return JSON.stringify(bom);
    };
    const cases = [
      broken((b) => {
        b.components[0]!.hashes = [{ alg: 'SHA-256', content: 'not hex' }];
      }),
      broken((b) => {
        delete (b.components[0] as Partial<Component>).name;
      }),
      broken((b) => {
        b.components[0]!.type = 'spreadsheet';
      }),
      broken((b) => {
        b.unexpected = true;
      }),
    ];
    for (const json of cases) assert.notEqual(await validator.validate(json), null, json);
  });

  it('importing the module does not load the CycloneDX library (start-up cost is paid on first SBOM)', () => {
    const script = `
      import { createRequire } from 'node:module';
      await import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)});
      const loaded = Object.keys(createRequire(import.meta.url).cache)
        .filter((k) => k.includes('@cyclonedx'));
      process.stdout.write(String(loaded.length));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, '0');
  });
});
