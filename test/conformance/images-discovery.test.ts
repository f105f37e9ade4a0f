import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import {
  type ChartImages,
  type ImageSource,
  listChartImages,
  parseImageList,
} from '../../src/images/index.ts';
import { imagesListCommand } from '../../src/cli/commands/images-list.ts';
import { UPSTREAM_HELM } from '../harness/fixture-charts.ts';
import { helmBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { fixturesSkipReason, gated, tempDir } from '../harness/tools.ts';
import { runCommand } from '../helpers/command.ts';

// Issue 12 acceptance, discovery on fixture charts: for charts of ../shared/fixtures/upstream-helm
// the list equals expectations checked by hand against the archives (`tar xzOf CHART
// NAME/values.yaml`, `NAME/Chart.yaml`: the line of each image's repository, appVersion for empty
// tags, the templates' `printf "v%s" .Chart.AppVersion`), without Helm and with the real Helm v4;
// with values files that set a digest, change a tag, and disable a subchart. The fixtures vendor
// no dependency with images, so prometheus is given its four dependencies from the same fixture
// repository, as `helm dependency build` would (charts/<name>-<version>.tgz).

const fixtures = fixturesSkipReason('upstream-helm');
const { it, before, after } = gated(fixtures);
const withHelm = gated(fixtures ?? kubeToolsSkipReason());

const chart = (file: string): string => join(UPSTREAM_HELM, file);
const C = `sha256:${'c'.repeat(64)}`;

/** reference → `from field` of each source, in order. */
const summary = (result: ChartImages): Record<string, string[]> =>
  Object.fromEntries(
    result.images.map((i) => [i.reference, i.sources.map((s) => `${s.from} ${s.field}`)]),
  );
const sourceOf = (result: ChartImages, reference: string, from: string): ImageSource => {
  const found = result.images
    .find((i) => i.reference === reference)
    ?.sources.find((s) => s.from === from);
  assert.ok(found, `no ${from} source for ${reference}`);
  return found;
};
const at = (s: ImageSource): string => `${s.file ?? ''}:${s.line ?? 0}`;

const KSM = 'registry.k8s.io/kube-state-metrics/kube-state-metrics';
const NODE_EXPORTER = 'quay.io/prometheus/node-exporter';
const RBAC_PROXY = 'quay.io/brancz/kube-rbac-proxy:v0.22.1';
const TEMPLATE_0 = 'template spec.template.spec.containers[0].image';

describe('images list on fixture charts: hand-checked lists, without and with helm', () => {
  let work: { path: string; remove: () => Promise<void> };
  let prometheus: string;
  const values: Record<string, string> = {};

  before(async () => {
    work = await tempDir('airlock-images-discovery-');
    // prometheus 29.27.0 with its Chart.yaml dependencies (alertmanager 1.42.*, kube-state-metrics
    // 8.4.*, prometheus-node-exporter 4.56.*, prometheus-pushgateway 3.8.*) in charts/.
    const build = join(work.path, 'build');
    await mkdir(build);
    execFileSync('tar', ['xzf', chart('prometheus-29.27.0.tgz'), '-C', build]);
    await mkdir(join(build, 'prometheus', 'charts'));
    for (const dependency of [
      'alertmanager-1.42.0.tgz',
      'kube-state-metrics-8.4.0.tgz',
      'prometheus-node-exporter-4.56.1.tgz',
      'prometheus-pushgateway-3.8.0.tgz',
    ])
      await copyFile(chart(dependency), join(build, 'prometheus', 'charts', dependency));
    prometheus = join(work.path, 'prometheus-29.27.0.tgz');
    execFileSync('tar', ['czf', prometheus, '-C', build, 'prometheus']);
    const files = {
      digest: `image:\n  digest: ${C}\n`,
      tag: '# pin an older node-exporter\nimage:\n  tag: v1.11.0\n',
      subcharts:
        'alertmanager:\n  enabled: false\nprometheus-pushgateway:\n  image:\n    tag: v1.10.0\n',
      serverDigest: `server:\n  image:\n    tag: v3.13.0\n    digest: ${C}\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      values[name] = join(work.path, `${name}.yaml`);
      await writeFile(values[name], text);
    }
  });
  after(async () => {
    await work.remove();
  });

  it('kube-state-metrics 8.4.0 without helm: values only, the empty tag read as appVersion', async () => {
    const result = await listChartImages({
      chart: chart('kube-state-metrics-8.4.0.tgz'),
      helm: false,
    });
    assert.deepEqual(summary(result), {
      [RBAC_PROXY]: ['values kubeRBACProxy.image'],
      [`${KSM}:2.20.0`]: ['values image'],
    });
    const image = sourceOf(result, `${KSM}:2.20.0`, 'values');
    assert.equal(at(image), 'kube-state-metrics/values.yaml:5');
    assert.equal(image.tagFrom, 'appVersion');
    assert.equal(at(sourceOf(result, RBAC_PROXY, 'values')), 'kube-state-metrics/values.yaml:143');
    assert.deepEqual(
      result.charts.map((c) => [c.name, c.version, c.appVersion, c.rendered]),
      [['kube-state-metrics', '8.4.0', '2.20.0', false]],
    );
  });

  withHelm.it(
    'kube-state-metrics 8.4.0 with helm: the template\'s "v" + appVersion wins',
    async () => {
      const result = await listChartImages({
        chart: chart('kube-state-metrics-8.4.0.tgz'),
        helmBin: helmBinary(),
      });
      assert.deepEqual(summary(result), {
        [RBAC_PROXY]: ['values kubeRBACProxy.image'],
        [`${KSM}:v2.20.0`]: ['values image', TEMPLATE_0],
      });
      const template = sourceOf(result, `${KSM}:v2.20.0`, 'template');
      assert.equal(template.object, 'Deployment/default/kube-state-metrics');
      assert.equal(template.file, 'kube-state-metrics/templates/deployment.yaml');
      assert.equal(template.raw, `${KSM}:v2.20.0`);
      assert.equal(result.charts[0]?.rendered, true);
    },
  );

  const nodeExporterOthers = {
    [RBAC_PROXY]: ['values kubeRBACProxy.image'],
    'quay.io/prometheus/busybox:latest': ['values permissionInitContainer.image'],
  };

  it('prometheus-node-exporter 4.56.1 without helm: a digest and a tag from values files', async () => {
    const digest = await listChartImages({
      chart: chart('prometheus-node-exporter-4.56.1.tgz'),
      values: [values.digest ?? ''],
      helm: false,
    });
    assert.deepEqual(summary(digest), {
      ...nodeExporterOthers,
      [`${NODE_EXPORTER}:1.12.1@${C}`]: ['values image'],
    });
    // The values file that set the digest is the one named, at the digest's line.
    assert.equal(
      at(sourceOf(digest, `${NODE_EXPORTER}:1.12.1@${C}`, 'values')),
      `${values.digest}:2`,
    );
    const tag = await listChartImages({
      chart: chart('prometheus-node-exporter-4.56.1.tgz'),
      values: [values.tag ?? ''],
      helm: false,
    });
    assert.deepEqual(summary(tag), {
      ...nodeExporterOthers,
      [`${NODE_EXPORTER}:v1.11.0`]: ['values image'],
    });
    assert.equal(at(sourceOf(tag, `${NODE_EXPORTER}:v1.11.0`, 'values')), `${values.tag}:3`);
  });

  withHelm.it(
    'prometheus-node-exporter 4.56.1 with helm: digest and tag as the DaemonSet pulls them',
    async () => {
      const run = (file: string): Promise<ChartImages> =>
        listChartImages({
          chart: chart('prometheus-node-exporter-4.56.1.tgz'),
          values: [file],
          helmBin: helmBinary(),
        });
      const digest = await run(values.digest ?? '');
      assert.deepEqual(summary(digest), {
        ...nodeExporterOthers,
        [`${NODE_EXPORTER}:v1.12.1@${C}`]: ['values image', TEMPLATE_0],
      });
      assert.equal(
        sourceOf(digest, `${NODE_EXPORTER}:v1.12.1@${C}`, 'template').object,
        'DaemonSet/default/prometheus-node-exporter',
      );
      const tag = await run(values.tag ?? '');
      assert.deepEqual(summary(tag), {
        ...nodeExporterOthers,
        [`${NODE_EXPORTER}:v1.11.0`]: ['values image', TEMPLATE_0],
      });
    },
  );

  /** prometheus with its subcharts, by hand: each image's (sub)chart values and line. */
  const PROMETHEUS_VALUES: Record<string, string[]> = {
    [RBAC_PROXY]: [
      'values kube-state-metrics.kubeRBACProxy.image',
      'values prometheus-node-exporter.kubeRBACProxy.image',
    ],
    'quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1': [
      'values configmapReload.prometheus.image',
      'values alertmanager.configmapReload.image',
    ],
    'quay.io/prometheus/alertmanager:v0.34.0': ['values alertmanager.image'],
    'quay.io/prometheus/busybox:latest': [
      'values prometheus-node-exporter.permissionInitContainer.image',
    ],
    'quay.io/prometheus/prometheus:v3.14.0': ['values server.image'],
    'quay.io/prometheus/pushgateway:v1.11.3': ['values prometheus-pushgateway.image'],
  };

  it('prometheus 29.27.0 with four subcharts, without helm: each image with its subchart', async () => {
    const result = await listChartImages({ chart: prometheus, helm: false });
    assert.deepEqual(summary(result), {
      ...PROMETHEUS_VALUES,
      [`${NODE_EXPORTER}:1.12.1`]: ['values prometheus-node-exporter.image'],
      [`${KSM}:2.20.0`]: ['values kube-state-metrics.image'],
    });
    const ksm = sourceOf(result, `${KSM}:2.20.0`, 'values');
    assert.deepEqual(
      [ksm.chart, ksm.version, at(ksm)],
      [
        'kube-state-metrics',
        '8.4.0',
        'prometheus/charts/kube-state-metrics-8.4.0.tgz:kube-state-metrics/values.yaml:5',
      ],
    );
    assert.equal(
      at(sourceOf(result, 'quay.io/prometheus/prometheus:v3.14.0', 'values')),
      'prometheus/values.yaml:195',
    );
    assert.equal(
      at(sourceOf(result, 'quay.io/prometheus/alertmanager:v0.34.0', 'values')),
      'prometheus/charts/alertmanager-1.42.0.tgz:alertmanager/values.yaml:13',
    );
    assert.deepEqual(result.charts[0]?.subcharts, [
      { key: 'alertmanager', name: 'alertmanager', version: '1.42.0', enabled: true },
      { key: 'kube-state-metrics', name: 'kube-state-metrics', version: '8.4.0', enabled: true },
      {
        key: 'prometheus-node-exporter',
        name: 'prometheus-node-exporter',
        version: '4.56.1',
        enabled: true,
      },
      {
        key: 'prometheus-pushgateway',
        name: 'prometheus-pushgateway',
        version: '3.8.0',
        enabled: true,
      },
    ]);
    assert.deepEqual(result.charts[0].missingDependencies, []);
  });

  const PROMETHEUS_TEMPLATES: Record<string, string[]> = {
    [RBAC_PROXY]: PROMETHEUS_VALUES[RBAC_PROXY] ?? [],
    'quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1': [
      'values configmapReload.prometheus.image',
      'values alertmanager.configmapReload.image',
      TEMPLATE_0,
    ],
    'quay.io/prometheus/alertmanager:v0.34.0': ['values alertmanager.image', TEMPLATE_0],
    'quay.io/prometheus/busybox:latest': [
      'values prometheus-node-exporter.permissionInitContainer.image',
    ],
    'quay.io/prometheus/prometheus:v3.14.0': [
      'values server.image',
      'template spec.template.spec.containers[1].image',
    ],
    'quay.io/prometheus/pushgateway:v1.11.3': ['values prometheus-pushgateway.image', TEMPLATE_0],
    [`${NODE_EXPORTER}:v1.12.1`]: ['values prometheus-node-exporter.image', TEMPLATE_0],
    [`${KSM}:v2.20.0`]: ['values kube-state-metrics.image', TEMPLATE_0],
  };

  withHelm.it(
    'prometheus 29.27.0 with four subcharts, with helm: each rendered workload named',
    async () => {
      const result = await listChartImages({ chart: prometheus, helmBin: helmBinary() });
      assert.deepEqual(summary(result), PROMETHEUS_TEMPLATES);
      const objects = result.images.flatMap((i) =>
        i.sources
          .filter((s) => s.from === 'template')
          .map((s) => `${s.object ?? ''} (${s.chart ?? ''})`),
      );
      assert.deepEqual(objects.sort(), [
        'DaemonSet/default/prometheus-prometheus-node-exporter (prometheus-node-exporter)',
        'Deployment/default/prometheus-kube-state-metrics (kube-state-metrics)',
        'Deployment/default/prometheus-prometheus-pushgateway (prometheus-pushgateway)',
        'Deployment/default/prometheus-server (prometheus)',
        'Deployment/default/prometheus-server (prometheus)',
        'StatefulSet/default/prometheus-alertmanager (alertmanager)',
      ]);
    },
  );

  it('prometheus with values that disable a subchart and change a subchart tag, without helm', async () => {
    const result = await listChartImages({
      chart: prometheus,
      values: [values.subcharts ?? ''],
      helm: false,
    });
    const expected: Record<string, string[]> = {
      ...PROMETHEUS_VALUES,
      'quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1': [
        'values configmapReload.prometheus.image',
      ],
      [`${NODE_EXPORTER}:1.12.1`]: ['values prometheus-node-exporter.image'],
      [`${KSM}:2.20.0`]: ['values kube-state-metrics.image'],
      'quay.io/prometheus/pushgateway:v1.10.0': ['values prometheus-pushgateway.image'],
    };
    delete expected['quay.io/prometheus/alertmanager:v0.34.0'];
    delete expected['quay.io/prometheus/pushgateway:v1.11.3'];
    assert.deepEqual(summary(result), expected);
    assert.equal(
      at(sourceOf(result, 'quay.io/prometheus/pushgateway:v1.10.0', 'values')),
      `${values.subcharts}:5`,
    );
    assert.equal(result.charts[0]?.subcharts.find((s) => s.key === 'alertmanager')?.enabled, false);
  });

  withHelm.it(
    'prometheus with the same values, with helm: the same change in the rendered list',
    async () => {
      const result = await listChartImages({
        chart: prometheus,
        values: [values.subcharts ?? ''],
        helmBin: helmBinary(),
      });
      const expected: Record<string, string[]> = {
        ...PROMETHEUS_TEMPLATES,
        'quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1': [
          'values configmapReload.prometheus.image',
          TEMPLATE_0,
        ],
        'quay.io/prometheus/pushgateway:v1.10.0': [
          'values prometheus-pushgateway.image',
          TEMPLATE_0,
        ],
      };
      delete expected['quay.io/prometheus/alertmanager:v0.34.0'];
      delete expected['quay.io/prometheus/pushgateway:v1.11.3'];
      assert.deepEqual(summary(result), expected);
    },
  );

  const serverDigest = (helm: boolean): Promise<ChartImages> =>
    listChartImages({
      chart: prometheus,
      values: [values.serverDigest ?? ''],
      ...(helm ? { helmBin: helmBinary() } : { helm: false }),
    });

  it('prometheus with a server digest, without helm: the values give tag and digest', async () => {
    const list = summary(await serverDigest(false));
    assert.deepEqual(list[`quay.io/prometheus/prometheus:v3.13.0@${C}`], ['values server.image']);
    assert.equal(list['quay.io/prometheus/prometheus:v3.14.0'], undefined);
  });

  withHelm.it('prometheus with a server digest, with helm: pulled by digest alone', async () => {
    // The chart's template writes repository@digest when a digest is set ("regardless of tag"):
    // the values' tag+digest reference yields to it.
    const list = summary(await serverDigest(true));
    assert.deepEqual(list[`quay.io/prometheus/prometheus@${C}`], [
      'values server.image',
      'template spec.template.spec.containers[1].image',
    ]);
    assert.equal(list[`quay.io/prometheus/prometheus:v3.13.0@${C}`], undefined);
  });

  it('kube-prometheus-stack 88.5.3 without helm: its values, the vendored crds subchart, missing dependencies', async () => {
    const result = await listChartImages({
      chart: chart('kube-prometheus-stack-88.5.3.tgz'),
      helm: false,
    });
    assert.deepEqual(summary(result), {
      'docker.io/library/busybox:latest': ['values crds.upgradeJob.image.busybox'],
      'ghcr.io/jkroepke/kube-webhook-certgen:1.8.7': [
        'values prometheusOperator.admissionWebhooks.patch.image',
      ],
      'quay.io/prometheus-operator/admission-webhook:v0.93.1': [
        'values prometheusOperator.admissionWebhooks.deployment.image',
      ],
      'quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1': [
        'values prometheusOperator.prometheusConfigReloader.image',
      ],
      'quay.io/prometheus-operator/prometheus-operator:v0.93.1': [
        'values prometheusOperator.image',
      ],
      'quay.io/prometheus/alertmanager:v0.34.0': ['values alertmanager.alertmanagerSpec.image'],
      'quay.io/prometheus/prometheus:v3.14.0-distroless': [
        'values prometheus.prometheusSpec.image',
      ],
      'quay.io/thanos/thanos:v0.42.4': [
        'values prometheusOperator.thanosImage',
        'values thanosRuler.thanosRulerSpec.image',
      ],
      // The tag is empty and the crds subchart has no appVersion (the template uses the cluster's
      // Kubernetes version): untagged, as written.
      'registry.k8s.io/kubectl:latest': ['values crds.upgradeJob.image.kubectl'],
    });
    const thanos = result.images.find((x) => x.reference === 'quay.io/thanos/thanos:v0.42.4');
    assert.deepEqual(thanos?.sources.map(at), [
      'kube-prometheus-stack/values.yaml:3573',
      'kube-prometheus-stack/values.yaml:5540',
    ]);
    const [listed] = result.charts;
    assert.deepEqual(listed?.subcharts, [
      { key: 'crds', name: 'crds', version: '0.0.0', enabled: true },
    ]);
    assert.deepEqual(
      listed.missingDependencies.map((m) => m.name),
      ['kube-state-metrics', 'prometheus-node-exporter', 'grafana', 'prometheus-windows-exporter'],
    );
  });

  withHelm.it(
    'kube-prometheus-stack with helm: helm refuses the missing dependencies (CONFIG_INVALID, exit 2)',
    async () => {
      const run = await runCommand(imagesListCommand, [
        chart('kube-prometheus-stack-88.5.3.tgz'),
        '--helm-bin',
        helmBinary(),
      ]);
      assert.equal(run.code, 2);
      assert.equal(run.error?.code, 'CONFIG_INVALID');
      assert.equal(run.error.data.helmFailed, true);
    },
  );

  it('the CLI: --json is the library list, and the text output is an image list images mirror reads', async () => {
    const args = [prometheus, '--values', values.subcharts ?? '', '--no-helm'];
    const json = await runCommand(imagesListCommand, [...args, '--json']);
    assert.equal(json.code, 0, json.error?.message);
    const printed = JSON.parse(json.stdout) as { reference: string; sources: ImageSource[] }[];
    const library = await listChartImages({
      chart: prometheus,
      values: [values.subcharts ?? ''],
      helm: false,
    });
    assert.deepEqual(
      printed.map((i) => [i.reference, i.sources]),
      library.images.map((i) => [i.reference, i.sources]),
    );
    const text = await runCommand(imagesListCommand, args);
    assert.equal(text.code, 0);
    assert.deepEqual(
      parseImageList(text.stdout, 'images.txt').map((i) => i.reference),
      library.images.map((i) => i.reference),
    );
  });
});
