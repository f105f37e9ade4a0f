// Image discovery without Helm (issue 12 §1): the pod spec walk over every workload kind, the
// values shapes and their merging (values files, subcharts, globals, conditions), the
// artifacthub.io/images annotation, charts read from an OCI layout through the session, and bad
// input (an unparsable reference, a values file that is not YAML, a hostile archive) as coded
// errors naming the file and field. Charts are built in memory with the project's own tar writer.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AirlockError, ConfigError } from '../errors.ts';
import { gzipDeterministic, TAR_TRAILER, tarHeader, tarPadding } from '../core/index.ts';
import { type GoValue, parseGoYAMLDocuments } from '../goyaml/index.ts';
import { pushChartArchive } from '../artifact/index.ts';
import { parseReference } from '../oci/index.ts';
import { openSession } from '../session/index.ts';
import { helmBinary, kubeToolsSkipReason } from '../../test/harness/kube-tools.ts';
import { gated } from '../../test/harness/tools.ts';
import {
  type ChartImages,
  ImageReferenceError,
  type ImageSource,
  listChartImages,
  workloadImages,
} from './index.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

/** A chart archive from files below its root directory (`web/Chart.yaml`, …). */
function tgz(files: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    parts.push(tarHeader({ name, type: 'file', mode: 0o644, size: data.length }), data);
    parts.push(tarPadding(data.length));
  }
  parts.push(TAR_TRAILER);
  return gzipDeterministic(Buffer.concat(parts));
}

const chartYAML = (name: string, version: string, extra = ''): string =>
  `apiVersion: v2\nname: ${name}\nversion: ${version}\n${extra}`;

/** reference → the sources' `from field` pairs, for compact expectations. */
const summary = (result: ChartImages): Record<string, string[]> =>
  Object.fromEntries(
    result.images.map((i) => [i.reference, i.sources.map((s) => `${s.from} ${s.field}`)]),
  );
const source = (result: ChartImages, reference: string, index = 0): ImageSource => {
  const found = result.images.find((i) => i.reference === reference);
  assert.ok(found, `${reference} not in ${result.images.map((i) => i.reference).join(', ')}`);
  const s = found.sources[index];
  assert.ok(s);
  return s;
};

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-discover-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('workloadImages', () => {
  const objects = (text: string): GoValue[] => parseGoYAMLDocuments(text);

  it('every pod-spec kind and container list, normalised, with object, namespace and field', () => {
    const found = workloadImages(
      objects(`apiVersion: v1
kind: Pod
metadata: {name: p, namespace: ns}
spec:
  initContainers: [{name: init, image: busybox}]
  containers: [{name: app, image: "nginx:1.27"}]
  ephemeralContainers: [{name: debug, image: "docker.io/library/alpine@sha256:${A}"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec: {template: {spec: {containers: [{image: quay.io/a/b:1}, {image: quay.io/a/c:2}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: s}
spec: {template: {spec: {containers: [{image: "ghcr.io/x/y:3@sha256:${B}"}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec: {template: {spec: {containers: [{image: localhost:5000/agent}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec: {template: {spec: {containers: [{image: index.docker.io/team/rs:4}]}}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec: {template: {spec: {containers: [{image: registry.k8s.io/pause:3.10}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec: {template: {spec: {containers: [{image: job:5}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj, namespace: ops}
spec: {jobTemplate: {spec: {template: {spec: {initContainers: [{image: cron-init:6}], containers: [{image: cron:7}]}}}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: not-a-workload}
data: {image: nginx}
---
apiVersion: example.com/v1
kind: Deployment
metadata: {name: other-group}
spec: {template: {spec: {containers: [{image: ignored:1}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: no-image}
spec: {template: {spec: {containers: [{name: x}]}}}
`),
    );
    assert.deepEqual(
      found.map((w) => [w.object, w.namespace, w.field, w.raw, w.image?.normalized]),
      [
        [
          'Pod/ns/p',
          'ns',
          'spec.initContainers[0].image',
          'busybox',
          'docker.io/library/busybox:latest',
        ],
        [
          'Pod/ns/p',
          'ns',
          'spec.containers[0].image',
          'nginx:1.27',
          'docker.io/library/nginx:1.27',
        ],
        [
          'Pod/ns/p',
          'ns',
          'spec.ephemeralContainers[0].image',
          `docker.io/library/alpine@sha256:${A}`,
          `docker.io/library/alpine@sha256:${A}`,
        ],
        [
          'Deployment/ns/d',
          'ns',
          'spec.template.spec.containers[0].image',
          'quay.io/a/b:1',
          'quay.io/a/b:1',
        ],
        [
          'Deployment/ns/d',
          'ns',
          'spec.template.spec.containers[1].image',
          'quay.io/a/c:2',
          'quay.io/a/c:2',
        ],
        [
          'StatefulSet/s',
          '',
          'spec.template.spec.containers[0].image',
          `ghcr.io/x/y:3@sha256:${B}`,
          `ghcr.io/x/y:3@sha256:${B}`,
        ],
        [
          'DaemonSet/ds',
          '',
          'spec.template.spec.containers[0].image',
          'localhost:5000/agent',
          'localhost:5000/agent:latest',
        ],
        [
          'ReplicaSet/rs',
          '',
          'spec.template.spec.containers[0].image',
          'index.docker.io/team/rs:4',
          'docker.io/team/rs:4',
        ],
        [
          'ReplicationController/rc',
          '',
          'spec.template.spec.containers[0].image',
          'registry.k8s.io/pause:3.10',
          'registry.k8s.io/pause:3.10',
        ],
        ['Job/j', '', 'spec.template.spec.containers[0].image', 'job:5', 'docker.io/library/job:5'],
        [
          'CronJob/ops/cj',
          'ops',
          'spec.jobTemplate.spec.template.spec.initContainers[0].image',
          'cron-init:6',
          'docker.io/library/cron-init:6',
        ],
        [
          'CronJob/ops/cj',
          'ops',
          'spec.jobTemplate.spec.template.spec.containers[0].image',
          'cron:7',
          'docker.io/library/cron:7',
        ],
      ],
    );
    assert.equal(found[0]?.container, 'init');
  });

  it('an unparsable image is a REF_INVALID result naming object and field, not a throw', () => {
    const found = workloadImages(
      objects(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{image: "Nginx:1"}, {image: ""}, {image: nginx}]}}}
`),
    );
    assert.equal(found.length, 3);
    const [upper, empty, ok] = found;
    assert.ok(upper?.error instanceof ImageReferenceError);
    assert.equal(upper.error.code, 'REF_INVALID');
    assert.equal(upper.error.where, 'Deployment/shop/web spec.template.spec.containers[0].image');
    assert.equal(upper.image, undefined);
    assert.equal(empty?.error?.code, 'REF_INVALID');
    assert.equal(ok?.image?.normalized, 'docker.io/library/nginx:latest');
  });
});

describe('listChartImages (values and annotation, no helm)', () => {
  const list = (chart: Buffer, values: string[] = []): Promise<ChartImages> =>
    listChartImages({ chart, values, helm: false });

  it('the documented values shapes, normalised, each with file:line:col and field', async () => {
    const result = await list(
      tgz({
        'web/Chart.yaml': chartYAML('web', '1.2.3', 'appVersion: "2.0.0"\n'),
        'web/values.yaml': `image:
  registry: quay.io
  repository: acme/web
  tag: ""
sidecar:
  image: "nginx:1.27"
worker:
  image:
    repository: ghcr.io/acme/worker
    tag: 3.1
    digest: sha256:${A}
exporter:
  image: {repository: acme/exporter, tag: v1, sha: ${B}}
legacy:
  image: {name: quay.io/opstree/druid-exporter, tag: v0.8}
proxy:
  image: {repo: gcr.io/cloud-sql-connectors/cloud-sql-proxy, tag: "2.14.0"}
upgradeJob:
  image:
    busybox: {registry: docker.io, repository: busybox, tag: "1.37"}
    kubectl: {registry: registry.k8s.io, repository: kubectl, tag: v1.33.0}
thanosImage: {registry: quay.io, repository: thanos/thanos, tag: v0.39.2}
extraContainers:
  - name: shell
    image: alpine:3.21
templated:
  image: "{{ .Values.global.registry }}/app:1"
placeholder:
  image: {repository: "", tag: ""}
imagePullSecrets: [{name: regcred}]
`,
      }),
    );
    assert.deepEqual(summary(result), {
      'docker.io/acme/exporter:v1@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb':
        ['values exporter.image'],
      'docker.io/library/alpine:3.21': ['values extraContainers[0].image'],
      'docker.io/library/busybox:1.37': ['values upgradeJob.image.busybox'],
      'docker.io/library/nginx:1.27': ['values sidecar.image'],
      'gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0': ['values proxy.image'],
      [`ghcr.io/acme/worker:3.1@sha256:${A}`]: ['values worker.image'],
      'quay.io/acme/web:2.0.0': ['values image'],
      'quay.io/opstree/druid-exporter:v0.8': ['values legacy.image'],
      'quay.io/thanos/thanos:v0.39.2': ['values thanosImage'],
      'registry.k8s.io/kubectl:v1.33.0': ['values upgradeJob.image.kubectl'],
    });
    // An empty tag is the chart's appVersion, and says so.
    assert.deepEqual(source(result, 'quay.io/acme/web:2.0.0'), {
      from: 'values',
      raw: 'quay.io/acme/web:2.0.0',
      chart: 'web',
      version: '1.2.3',
      file: 'web/values.yaml',
      line: 3,
      column: 15,
      field: 'image',
      tagFrom: 'appVersion',
    });
    assert.equal(source(result, 'docker.io/library/nginx:1.27').line, 6);
    assert.deepEqual(result.charts, [
      {
        input: '<bytes>',
        name: 'web',
        version: '1.2.3',
        appVersion: '2.0.0',
        subcharts: [],
        missingDependencies: [],
        rendered: false,
      },
    ]);
  });

  it('the artifacthub.io/images annotation, deduplicated with values by normalised reference', async () => {
    const result = await list(
      tgz({
        'op/Chart.yaml': chartYAML(
          'op',
          '0.1.0',
          `annotations:
  artifacthub.io/images: |
    - name: operator
      image: ghcr.io/acme/operator:v1.0.0
    - name: nginx
      image: nginx
      platforms: [linux/amd64, linux/arm64]
`,
        ),
        'op/values.yaml': 'image: docker.io/library/nginx:latest\n',
      }),
    );
    assert.deepEqual(summary(result), {
      'docker.io/library/nginx:latest': [
        'annotation annotations["artifacthub.io/images"][1].image',
        'values image',
      ],
      'ghcr.io/acme/operator:v1.0.0': ['annotation annotations["artifacthub.io/images"][0].image'],
    });
    const s = source(result, 'docker.io/library/nginx:latest');
    assert.equal(s.raw, 'nginx');
    assert.equal(s.file, 'op/Chart.yaml');
  });

  it('values files merge like helm -f: later files win, a null deletes, the writer is named', async () => {
    const chart = tgz({
      'app/Chart.yaml': chartYAML('app', '1.0.0'),
      'app/values.yaml':
        'image: {repository: quay.io/acme/app, tag: v1}\ncache: {image: redis:7}\ndebug: {image: busybox:1}\n',
    });
    const first = join(dir, 'first.yaml');
    const second = join(dir, 'second.yaml');
    await writeFile(first, 'image:\n  tag: v2\ncache: {image: null}\n');
    await writeFile(second, '# prod\nimage:\n  tag: v3\n');
    const result = await list(chart, [first, second]);
    assert.deepEqual(Object.keys(summary(result)), [
      'docker.io/library/busybox:1',
      'quay.io/acme/app:v3',
    ]);
    const app = source(result, 'quay.io/acme/app:v3');
    assert.deepEqual([app.file, app.line, app.column, app.field], [second, 3, 8, 'image']);
    assert.equal(source(result, 'docker.io/library/busybox:1').file, 'app/values.yaml');
  });

  it('global.imageRegistry replaces the registry of maps that have one', async () => {
    const result = await list(
      tgz({
        'g/Chart.yaml': chartYAML('g', '1.0.0'),
        'g/values.yaml':
          'global: {imageRegistry: mirror.internal}\nimage: {registry: quay.io, repository: a/b, tag: "1"}\nother: {image: {repository: quay.io/c/d, tag: "2"}}\n',
      }),
    );
    assert.deepEqual(Object.keys(summary(result)), ['mirror.internal/a/b:1', 'quay.io/c/d:2']);
  });

  it('subcharts as helm installs them: archives and directories, aliases, conditions, tags, globals', async () => {
    const sub = tgz({
      'db/Chart.yaml': chartYAML('db', '2.1.0', 'appVersion: "16.4"\n'),
      'db/values.yaml':
        'image: {registry: docker.io, repository: postgres, tag: ""}\nenabled: true\n',
    });
    const result = await list(
      tgz({
        'shop/Chart.yaml': chartYAML(
          'shop',
          '3.0.0',
          `dependencies:
  - {name: db, version: "2.x", repository: "https://charts.example", alias: orders-db}
  - {name: db, version: "~2.1.0", repository: "https://charts.example", alias: audit-db, condition: audit-db.enabled}
  - {name: cache, version: "1.0.0", repository: "https://charts.example", tags: [caching]}
  - {name: search, version: "9.9.9", repository: "https://charts.example"}
`,
        ),
        'shop/values.yaml': `global: {imageRegistry: ""}
image: shop:3
orders-db:
  image: {tag: "15.10"}
audit-db:
  enabled: false
  image: {repository: audit, tag: "1"}
cache:
  image: redis:7.2
tags: {caching: true}
`,
        'shop/charts/db-2.1.0.tgz': sub,
        'shop/charts/cache/Chart.yaml': chartYAML('cache', '1.0.0'),
        'shop/charts/cache/values.yaml': 'image: redis:7.4\n',
        'shop/charts/unlisted/Chart.yaml': chartYAML('unlisted', '0.0.1'),
        'shop/charts/unlisted/values.yaml': 'image: ghcr.io/acme/unlisted:0.0.1\n',
        'shop/charts/.hidden/Chart.yaml': chartYAML('hidden', '0.0.1'),
        'shop/charts/.hidden/values.yaml': 'image: hidden:1\n',
      }),
    );
    assert.deepEqual(summary(result), {
      'docker.io/library/postgres:15.10': ['values orders-db.image'],
      // The parent's values under a subchart's key are the subchart's (listed once, with it); a
      // disabled subchart's are not listed at all.
      'docker.io/library/redis:7.2': ['values cache.image'],
      'docker.io/library/shop:3': ['values image'],
      'ghcr.io/acme/unlisted:0.0.1': ['values unlisted.image'],
    });
    const db = source(result, 'docker.io/library/postgres:15.10');
    assert.deepEqual(
      [db.chart, db.version, db.file, db.line],
      ['db', '2.1.0', 'shop/values.yaml', 4],
    );
    const cache = source(result, 'docker.io/library/redis:7.2');
    assert.deepEqual([cache.chart, cache.file, cache.line], ['cache', 'shop/values.yaml', 9]);
    const [chart] = result.charts;
    assert.deepEqual(chart?.subcharts, [
      { key: 'unlisted', name: 'unlisted', version: '0.0.1', enabled: true },
      { key: 'orders-db', name: 'db', version: '2.1.0', enabled: true },
      { key: 'audit-db', name: 'db', version: '2.1.0', enabled: false },
      { key: 'cache', name: 'cache', version: '1.0.0', enabled: true },
    ]);
    assert.deepEqual(chart.missingDependencies, [{ in: '', name: 'search', version: '9.9.9' }]);

    // A tag set false disables the chart; the subchart's own default fills an unset tag.
    const off = join(dir, 'off.yaml');
    await writeFile(
      off,
      'tags: {caching: false}\norders-db: {image: {tag: null}}\naudit-db: {enabled: true}\n',
    );
    const changed = await listChartImages({
      chart: tgz({
        'shop/Chart.yaml': chartYAML(
          'shop',
          '3.0.0',
          `dependencies:
  - {name: db, version: "2.x", alias: orders-db}
  - {name: db, version: "2.x", alias: audit-db, condition: audit-db.enabled}
  - {name: cache, version: "1.0.0", tags: [caching]}
`,
        ),
        'shop/values.yaml':
          'global: {imageRegistry: mirror.internal}\norders-db: {image: {tag: "15.10"}}\n',
        'shop/charts/db-2.1.0.tgz': sub,
        'shop/charts/cache/Chart.yaml': chartYAML('cache', '1.0.0'),
        'shop/charts/cache/values.yaml': 'image: redis:7.4\n',
      }),
      values: [off],
      helm: false,
    });
    // global flows into the subcharts; the null deleted the parent's tag, so appVersion is used.
    assert.deepEqual(summary(changed), {
      'mirror.internal/postgres:16.4': ['values orders-db.image', 'values audit-db.image'],
    });
  });

  it('a vendored chart outside its dependency range is installed as one Chart.yaml does not list', async () => {
    const chart = tgz({
      'p/Chart.yaml': chartYAML(
        'p',
        '1.0.0',
        'dependencies:\n  - {name: db, version: "3.x", condition: db.enabled}\n',
      ),
      'p/values.yaml': 'db: {enabled: false}\n',
      'p/charts/db/Chart.yaml': chartYAML('db', '2.1.0'),
      'p/charts/db/values.yaml': 'image: postgres:16\n',
    });
    const result = await listChartImages({ chart, helm: false });
    // As helm: no alias applies to it, helm's dependency check (by name) passes, and the
    // dependency's condition still removes the chart of its name.
    assert.deepEqual(summary(result), {});
    assert.deepEqual(result.charts[0]?.subcharts, [
      { key: 'db', name: 'db', version: '2.1.0', enabled: false },
    ]);
    assert.deepEqual(result.charts[0].missingDependencies, []);
    const enabled = join(dir, 'db-on.yaml');
    await writeFile(enabled, 'db: {enabled: true}\n');
    const on = await listChartImages({ chart, values: [enabled], helm: false });
    assert.deepEqual(Object.keys(summary(on)), ['docker.io/library/postgres:16']);
  });

  it('a chart in a registry (an OCI layout here), pulled through the session', async () => {
    const chart = tgz({
      'remote/Chart.yaml': chartYAML('remote', '0.3.0'),
      'remote/values.yaml': 'image: ghcr.io/acme/remote:0.3.0\n',
    });
    const layout = join(dir, 'layout');
    const session = openSession({});
    try {
      await pushChartArchive(session.open(parseReference(`oci-layout:${layout}`)), chart, {
        created: '2026-01-01T00:00:00Z',
      });
      const result = await listChartImages({
        chart: `oci-layout:${layout}:0.3.0`,
        helm: false,
        session,
      });
      assert.deepEqual(Object.keys(summary(result)), ['ghcr.io/acme/remote:0.3.0']);
      assert.match(result.charts[0]?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
      await assert.rejects(
        listChartImages({ chart: `oci-layout:${layout}:0.3.0`, helm: false }),
        (e: unknown) => e instanceof AirlockError && e.code === 'INPUT_INVALID',
      );
    } finally {
      session.close();
    }
  });
});

describe('listChartImages: bad input', () => {
  it('an unparsable reference in values is REF_INVALID naming the chart file, position and field', async () => {
    const chart = tgz({
      'bad/Chart.yaml': chartYAML('bad', '1.0.0'),
      'bad/values.yaml': 'ok: {image: nginx}\nbroken:\n  image: "Quay.io/UPPER/Name:1"\n',
    });
    const error = await listChartImages({ chart, helm: false }).then(
      () => assert.fail('expected REF_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ImageReferenceError);
    assert.equal(error.code, 'REF_INVALID');
    assert.equal(error.where, '<bytes>:bad/values.yaml:3:10 broken.image');
  });

  it('several unparsable references are one REF_INVALID listing each', async () => {
    const chart = tgz({
      'bad/Chart.yaml': chartYAML(
        'bad',
        '1.0.0',
        'annotations:\n  artifacthub.io/images: |\n    - {name: x, image: "x:"}\n',
      ),
      'bad/values.yaml': `a: {image: "UP"}\nb: {image: {repository: ok, tag: "bad tag"}}\n`,
    });
    const error = await listChartImages({ chart, helm: false }).then(
      () => assert.fail('expected REF_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AirlockError);
    assert.equal(error.code, 'REF_INVALID');
    assert.equal(error.details.length, 3);
  });

  it('a values file that is not YAML is CONFIG_INVALID with file:line:col', async () => {
    const chart = tgz({
      'c/Chart.yaml': chartYAML('c', '1.0.0'),
      'c/values.yaml': 'image: nginx\n',
    });
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'image:\n  tag: [v1\nreplicas: 2\n');
    const error = await listChartImages({ chart, values: [file], helm: false }).then(
      () => assert.fail('expected CONFIG_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.issues[0]?.where ?? '', new RegExp(`^${file}:\\d+:\\d+$`));

    const list = join(dir, 'list.yaml');
    await writeFile(list, '- a\n- b\n');
    const notMap = await listChartImages({ chart, values: [list], helm: false }).then(
      () => assert.fail('expected CONFIG_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(notMap instanceof ConfigError);
    assert.equal(notMap.issues[0]?.where, `${list}:1:1`);

    // The chart's own values.yaml too, named inside the archive.
    const inside = await listChartImages({
      chart: tgz({ 'c/Chart.yaml': chartYAML('c', '1.0.0'), 'c/values.yaml': 'a: {b: [1\n' }),
      helm: false,
    }).then(
      () => assert.fail('expected CONFIG_INVALID'),
      (e: unknown) => e,
    );
    assert.ok(inside instanceof ConfigError);
    assert.match(inside.issues[0]?.where ?? '', /^<bytes>:c\/values\.yaml:\d+:\d+$/);
  });

  it('hostile or broken archives are refused: path escape, not gzip, no Chart.yaml, a size budget', async () => {
    const cases: [string, Buffer][] = [
      ['escape', tgz({ 'x/Chart.yaml': chartYAML('x', '1.0.0'), 'x/../../etc/passwd': 'root' })],
      ['not gzip', Buffer.from('just text')],
      ['no Chart.yaml', tgz({ 'x/values.yaml': 'image: a\n' })],
    ];
    for (const [name, chart] of cases)
      await assert.rejects(
        listChartImages({ chart, helm: false }),
        (e: unknown) => e instanceof AirlockError && e.code === 'CONFIG_INVALID',
        name,
      );
    // A subchart archive that decompresses past the budget left by its parent.
    const bomb = tgz({
      'big/Chart.yaml': chartYAML('big', '1.0.0'),
      'big/values.yaml': `pad: "${'x'.repeat(200_000)}"\n`,
    });
    await assert.rejects(
      listChartImages({
        chart: tgz({ 'p/Chart.yaml': chartYAML('p', '1.0.0'), 'p/charts/big-1.0.0.tgz': bomb }),
        helm: false,
        maxSize: 100_000,
      }),
      (e: unknown) => e instanceof AirlockError && e.data.option === 'maxSize',
    );
  });

  it('a helm binary that is not executable is INPUT_INVALID (option helmBin)', async () => {
    const chart = tgz({ 'c/Chart.yaml': chartYAML('c', '1.0.0') });
    await assert.rejects(
      listChartImages({ chart, helmBin: join(dir, 'no-such-helm') }),
      (e: unknown) =>
        e instanceof AirlockError && e.code === 'INPUT_INVALID' && e.data.option === 'helmBin',
    );
    // No helm on PATH: values only, nothing rendered.
    const result = await listChartImages({ chart, env: { PATH: '' } });
    assert.equal(result.helm, undefined);
    assert.equal(result.charts[0]?.rendered, false);
  });
});

describe('listChartImages with helm template', () => {
  const withHelm = gated(kubeToolsSkipReason());
  const deployment = (name: string, image: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: {{ .Release.Namespace }}}
spec:
  template:
    spec:
      containers: [{name: c, image: ${JSON.stringify(image)}}]
`;

  withHelm.it(
    'rendered pod specs, each named by its subchart, object and template file',
    async () => {
      const result = await listChartImages({
        chart: tgz({
          'top/Chart.yaml': chartYAML('top', '1.0.0', 'appVersion: "1.0.0"\n'),
          'top/values.yaml': 'image: {repository: ghcr.io/acme/top, tag: ""}\n',
          'top/templates/deploy.yaml': deployment(
            'top',
            'ghcr.io/acme/top:v{{ .Chart.AppVersion }}',
          ),
          'top/templates/tests/test.yaml': `apiVersion: v1
kind: Pod
metadata: {name: t, annotations: {helm.sh/hook: test}}
spec: {containers: [{name: t, image: "busybox:1"}]}
`,
          'top/charts/side/Chart.yaml': chartYAML('side', '0.2.0'),
          'top/charts/side/templates/deploy.yaml': deployment(
            'side',
            'quay.io/acme/side:{{ .Values.tag }}',
          ),
          'top/charts/side/values.yaml': 'tag: "0.2"\n',
        }),
        helmBin: helmBinary(),
        namespace: 'apps',
      });
      assert.deepEqual(summary(result), {
        // The values' appVersion tag yields to the "v"-prefixed one the template renders.
        'ghcr.io/acme/top:v1.0.0': [
          'values image',
          'template spec.template.spec.containers[0].image',
        ],
        'quay.io/acme/side:0.2': ['template spec.template.spec.containers[0].image'],
      });
      assert.deepEqual(source(result, 'quay.io/acme/side:0.2'), {
        from: 'template',
        raw: 'quay.io/acme/side:0.2',
        chart: 'side',
        version: '0.2.0',
        file: 'top/charts/side/templates/deploy.yaml',
        field: 'spec.template.spec.containers[0].image',
        object: 'Deployment/apps/side',
      });
      assert.equal(result.charts[0]?.rendered, true);
    },
  );

  withHelm.it(
    'an unparsable image in the rendered output is REF_INVALID naming template, object and field',
    async () => {
      const error = await listChartImages({
        chart: tgz({
          'c/Chart.yaml': chartYAML('c', '1.0.0'),
          'c/templates/deploy.yaml': deployment('web', 'Registry.Example/UPPER:1'),
        }),
        helmBin: helmBinary(),
      }).then(
        () => assert.fail('expected REF_INVALID'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ImageReferenceError);
      assert.equal(error.code, 'REF_INVALID');
      assert.equal(
        error.where,
        '<bytes>:c/templates/deploy.yaml Deployment/default/web spec.template.spec.containers[0].image',
      );
    },
  );
});
