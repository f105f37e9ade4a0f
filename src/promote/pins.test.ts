import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejectsCode, assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { tempDir } from '../../test/harness/tools.ts';
import { exampleReleasesRepo } from '../../test/harness/releases-repo.ts';
import { parsePromotionConfig, type EnvironmentConfig } from './config.ts';
import { findPins, pinsInFiles, pinValueIn } from './pins.ts';

function env(name: string, paths: string[]): EnvironmentConfig {
  return { name, paths, autoMerge: [], soakMs: 0, soak: '0', pinDigests: false, labels: [] };
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

describe('findPins', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('airlock-pins-');
  });
  after(() => dir.remove());

  it('finds the three kinds of pin of the example repository, with where and how', async () => {
    const repo = await exampleReleasesRepo(join(dir.path, 'example'), {
      registry: 'localhost:5000',
      now: new Date('2024-06-01T00:00:00Z'),
    });
    const { readFile } = await import('node:fs/promises');
    const config = parsePromotionConfig(await readFile(join(repo.root, 'promotion.yaml'), 'utf8'));
    const dev = config.environments[0];
    assert.ok(dev);
    const { pins, skipped } = await findPins(repo.root, dev, config.resourceSetInputs);
    assert.deepEqual(skipped, []);
    assert.deepEqual(pins, [
      {
        environment: 'dev',
        file: 'clusters/dev/podinfo.yaml',
        document: 0,
        line: 12,
        kind: 'HelmRelease',
        object: 'apps/podinfo',
        component: 'podinfo',
        repository: 'oci://localhost:5000/charts/podinfo',
        version: '6.5.1',
        versionPath: ['spec', 'chart', 'spec', 'version'],
        via: 'HelmRelease apps/podinfo → HelmRepository flux-system/charts',
      },
      {
        environment: 'dev',
        file: 'clusters/dev/tenants.yaml',
        document: 0,
        line: 12,
        kind: 'ResourceSet',
        object: 'apps/tenants',
        component: 'api',
        repository: 'oci://localhost:5000/charts/api',
        version: '2.0.1',
        versionPath: ['spec', 'inputs', 0, 'version'],
        digestPath: ['spec', 'inputs', 0, 'digest'],
        via: 'ResourceSet apps/tenants inputs[0]',
        inputKey: { repository: 'oci://localhost:5000/charts', chart: 'api' },
      },
      {
        environment: 'dev',
        file: 'clusters/dev/web.yaml',
        document: 0,
        line: 14,
        kind: 'OCIRepository',
        object: 'apps/web-chart',
        component: 'web',
        repository: 'oci://localhost:5000/charts/web',
        version: '1.3.0',
        versionPath: ['spec', 'ref', 'tag'],
        digestPath: ['spec', 'ref', 'digest'],
        via: 'HelmRelease apps/web → OCIRepository apps/web-chart',
      },
    ]);
  });

  it('reads multi-document files, HTTP Helm repositories, ranges and digests; skips what it cannot promote', () => {
    const text = `# several objects in one file
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: bitnami, namespace: apps}
spec:
  url: https://charts.example.com/bitnami/
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: apps}
spec:
  chart:
    spec: {chart: redis, version: 18.1.0, sourceRef: {kind: HelmRepository, name: bitnami}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ranged, namespace: apps}
spec:
  chart:
    spec:
      chart: nginx
      version: ">=15.0.0 <16.0.0"
      sourceRef: {kind: HelmRepository, name: bitnami}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: from-git, namespace: apps}
spec:
  chart:
    spec: {chart: ./charts/x, sourceRef: {kind: GitRepository, name: repo}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: lost, namespace: apps}
spec:
  chart:
    spec: {chart: x, version: 1.0.0, sourceRef: {kind: HelmRepository, name: nowhere}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: substituted, namespace: apps}
spec:
  url: oci://registry.example/apps/x
  ref: {tag: "\${APP_VERSION}"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: manifests, namespace: apps}
spec:
  url: oci://registry.example/manifests/app
  ref:
    tag: 1.10
    digest: sha256:${'a'.repeat(64)}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: dangling, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: missing}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-flux}
data: {version: 1.0.0}
`;
    const { pins, skipped } = pinsInFiles('dev', [{ path: 'apps.yaml', text }], []);
    assert.deepEqual(
      pins.map((p) => [p.object, p.document, p.line, p.repository, p.version, p.semver, p.digest]),
      [
        [
          'apps/redis',
          1,
          13,
          'https://charts.example.com/bitnami|redis',
          '18.1.0',
          undefined,
          undefined,
        ],
        [
          'apps/ranged',
          2,
          22,
          'https://charts.example.com/bitnami|nginx',
          undefined,
          '>=15.0.0 <16.0.0',
          undefined,
        ],
        // 1.10 stays "1.10" (as written), not the number 1.1.
        [
          'apps/manifests',
          6,
          52,
          'oci://registry.example/manifests/app',
          '1.10',
          undefined,
          `sha256:${'a'.repeat(64)}`,
        ],
      ],
    );
    assert.deepEqual(
      skipped.map((s) => s.where),
      ['apps.yaml:44', 'apps.yaml:25', 'apps.yaml:32', 'apps.yaml:55'],
    );
    assert.match(skipped[0]?.reason ?? '', /substitution/);
    assert.match(skipped[1]?.reason ?? '', /GitRepository/);
    assert.match(skipped[2]?.reason ?? '', /HelmRepository apps\/nowhere/);
    assert.match(skipped[3]?.reason ?? '', /OCIRepository apps\/missing/);
  });

  it('keeps two pins of one repository, and reads ResourceSet inputs by rule', () => {
    const rs = (name: string, inputs: string): string => `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: ${name}
spec:
  inputs:
${inputs}`;
    const files = [
      {
        path: 'a.yaml',
        text: rs(
          'tenants',
          '    - {tenant: a, version: 1.0.0}\n    - {tenant: b, version: 1.1.0}\n',
        ),
      },
      { path: 'b.yaml', text: rs('other', '    - {tenant: c, version: 9.0.0}\n') },
      { path: 'c.yaml', text: rs('tenants-x', '    - {chart: y}\n') },
    ];
    const { pins } = pinsInFiles('dev', files, [
      {
        resourceSet: 'tenants',
        repository: 'oci://reg.example/charts/tenant',
        versionField: 'version',
      },
    ]);
    assert.deepEqual(
      pins.map((p) => [p.file, p.repository, p.version, p.object, p.versionPath]),
      [
        [
          'a.yaml',
          'oci://reg.example/charts/tenant',
          '1.0.0',
          'tenants',
          ['spec', 'inputs', 0, 'version'],
        ],
        [
          'a.yaml',
          'oci://reg.example/charts/tenant',
          '1.1.0',
          'tenants',
          ['spec', 'inputs', 1, 'version'],
        ],
      ],
    );
  });

  it('fails with CONFIG_INVALID naming file:line:col for malformed YAML', () => {
    const error = assertThrowsCode(
      () =>
        pinsInFiles(
          'dev',
          [
            {
              path: 'clusters/dev/bad.yaml',
              text: 'kind: HelmRelease\nspec:\n  chart: [unclosed\n',
            },
          ],
          [],
        ),
      'CONFIG_INVALID',
    );
    assert.match(error.message, /^clusters\/dev\/bad\.yaml:\d+:\d+: /);
  });

  it('fails with PINS_NOT_FOUND naming the environment and listing the paths searched', async () => {
    const root = join(dir.path, 'empty');
    await writeTree(root, { 'clusters/qa/readme.yaml': 'kind: ConfigMap\n' });
    const error = await assertRejectsCode(
      () => findPins(root, env('qa', ['clusters/qa', 'clusters/gone']), []),
      'PINS_NOT_FOUND',
    );
    assert.equal(error.data.environment, 'qa');
    assert.ok(error.details.some((line) => line.includes('clusters/gone: does not exist')));
  });

  it('follows symlinks inside the repository, refuses ones leaving it, skips oversized files', async () => {
    const root = join(dir.path, 'links');
    const oci = (name: string): string =>
      `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: ${name}}\nspec: {url: oci://r.example/${name}, ref: {tag: 1.0.0}}\n`;
    await writeTree(root, {
      'shared/common.yaml': oci('common'),
      'clusters/dev/own.yml': oci('own'),
      'clusters/dev/big.yaml': `${oci('big')}# ${'x'.repeat(2000)}\n`,
      'clusters/dev/notes.txt': oci('ignored'),
    });
    await symlink('../../shared', join(root, 'clusters/dev/shared'));
    const { pins, skipped } = await findPins(root, env('dev', ['clusters/dev']), [], {
      maxSize: 1000,
    });
    assert.deepEqual(
      pins.map((p) => p.file),
      ['clusters/dev/own.yml', 'clusters/dev/shared/common.yaml'],
    );
    assert.deepEqual(skipped, [
      { where: 'clusters/dev/big.yaml', reason: 'larger than 1000 bytes' },
    ]);

    const outside = join(dir.path, 'outside');
    await writeTree(outside, { 'secret.yaml': oci('secret') });
    await symlink(join(outside, 'secret.yaml'), join(root, 'clusters/dev/escape.yaml'));
    await assertRejectsCode(
      () => findPins(root, env('dev', ['clusters/dev']), []),
      'PATH_OUTSIDE_SOURCE',
    );
    await symlink(outside, join(root, 'clusters/prod'));
    await assertRejectsCode(
      () => findPins(root, env('prod', ['clusters/prod']), []),
      'PATH_OUTSIDE_SOURCE',
    );
  });
});

describe('pinValueIn', () => {
  it('finds the same object and input in another version of the file', () => {
    const rule = {
      resourceSet: 'tenants',
      repositoryField: 'repo',
      chartField: 'chart',
      versionField: 'version',
      digestField: 'digest',
    };
    const now = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: tenants, namespace: apps}
spec:
  inputs:
    - {repo: "oci://r/c", chart: api, version: 2.0.1, digest: "sha256:1"}
    - {repo: "oci://r/c", chart: web, version: 1.0.0}
`;
    const [api] = pinsInFiles('dev', [{ path: 't.yaml', text: now }], [rule]).pins;
    assert.ok(api);
    const before = `# reordered, and another document first
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {name: tenants, namespace: apps}
spec:
  inputs:
    - {repo: "oci://r/c", chart: web, version: 1.0.0}
    - {repo: "oci://r/c", chart: api, version: 2.0.0}
`;
    assert.deepEqual(pinValueIn(now, api), { version: '2.0.1', digest: 'sha256:1' });
    assert.deepEqual(pinValueIn(before, api), { version: '2.0.0' });
    assert.equal(pinValueIn('kind: [broken', api), undefined);
    assert.equal(pinValueIn('kind: ResourceSet\nmetadata: {name: other}\n', api), undefined);
  });
});
