// Benchmark: `airlock mirror --plan` of a 10,000-row inventory (60,000 candidate versions) from one
// big Helm index.yaml served over HTTP, against a registry that holds none of it and one that holds
// all of it (issue 8 §5: ≤ 5 s and ≤ 250 MB peak RSS cold, ≤ 2 s warm). Each run is the built CLI in
// a child process, timed with its peak RSS (VmHWM). Not a test. Usage: npm run bench:plan
// Env: BENCH_TRIALS (default 3), BENCH_ROWS (default 10000), BENCH_VERSIONS (default 6).
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { canonicalJSON, MediaType, sha256 } from '../src/core/index.ts';
import { RegistryClient } from '../src/oci/index.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { startStaticServer } from '../test/harness/static-server.ts';
import { tempDir } from '../test/harness/tools.ts';
import { floorClient, median, type Timed, timed, workers } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const ROWS = Number(process.env.BENCH_ROWS ?? '10000');
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? '6');
const PREFIX = 'plan';

export const chartName = (i: number): string => `chart-${String(i).padStart(5, '0')}`;
export const versionOf = (j: number): string => `${1 + Math.floor(j / 3)}.${j % 3}.0`;

/**
 * An index.yaml as Helm writes it (go-yaml field layout, folded descriptions, annotations) for
 * `rows` charts of `versions` versions each: about 700 bytes per entry, like the fixture index.
 */
export function bigIndex(rows: number, versions: number): string {
  const parts: string[] = ['apiVersion: v1\nentries:\n'];
  for (let i = 0; i < rows; i++) {
    const name = chartName(i);
    parts.push(`  ${name}:\n`);
    for (let j = versions - 1; j >= 0; j--) {
      const version = versionOf(j);
      const digest = sha256(`${name}-${version}`).slice(7);
      parts.push(
        `  - apiVersion: v2
    name: ${name}
    version: ${version}
    appVersion: v0.${j}.${i % 10}
    description: A generated chart for the plan benchmark, with a description long enough
      to fold onto a second line as Helm's index writer does.
    type: application
    kubeVersion: '>=1.25.0-0'
    keywords:
    - monitoring
    home: https://example.com/${name}
    sources:
    - https://github.com/example/${name}
    annotations:
      artifacthub.io/license: Apache-2.0
      artifacthub.io/links: "- name: Chart Source\\n  url: https://github.com/example/charts\\n"
    created: '2026-0${1 + (j % 9)}-1${j % 10}T20:33:42+00:00'
    digest: ${digest}
    urls:
    - ${name}-${version}.tgz
`,
      );
    }
  }
  parts.push(`generated: '2026-11-23T00:00:00+00:00'\n`);
  return parts.join('');
}

/** The inventory: one row per chart, alternating "every version" and a range that matches all. */
export function bigInventory(rows: number, source: string): string {
  const lines = ['source,chart,versions'];
  for (let i = 0; i < rows; i++) lines.push(`${source},${chartName(i)},${i % 2 ? '*' : '>=1.0.0'}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Fills a registry with every planned tag cheaply: one tiny manifest is pushed over HTTP under all
 * versions of one repository, then that repository's storage directory (links only; the blobs are
 * shared) is copied for every other chart. The registry reads its filesystem on each request.
 */
export async function holdAll(registry: RegistryServer, rows: number, versions: number) {
  const client = new RegistryClient({ insecureRegistries: [registry.host] });
  const template = client.repository(registry.host, `${PREFIX}/template`);
  const config = Buffer.from(canonicalJSON({ name: 'template', version: '1.0.0' }));
  const layer = Buffer.from('not a chart');
  const configDescriptor = {
    mediaType: MediaType.helmConfig,
    digest: sha256(config),
    size: config.length,
  };
  const layerDescriptor = { mediaType: MediaType.helmChart, digest: sha256(layer), size: 11 };
  await template.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
  await template.pushBlob(layerDescriptor, () => Promise.resolve(Readable.from([layer])));
  const manifest = Buffer.from(
    canonicalJSON({ schemaVersion: 2, config: configDescriptor, layers: [layerDescriptor] }),
  );
  for (let j = 0; j < versions; j++)
    await template.pushManifest(manifest, MediaType.ociManifest, versionOf(j));
  client.close();
  const repositories = join(registry.storage, 'docker', 'registry', 'v2', 'repositories', PREFIX);
  mkdirSync(repositories, { recursive: true });
  for (let i = 0; i < rows; i++)
    cpSync(join(repositories, 'template'), join(repositories, chartName(i)), { recursive: true });
}

async function main(): Promise<void> {
  await timed('npm', ['run', 'build']);
  const work = await tempDir('airlock-bench-plan-');
  const upstreamDir = join(work.path, 'upstream');
  mkdirSync(upstreamDir);
  const index = bigIndex(ROWS, VERSIONS);
  writeFileSync(join(upstreamDir, 'index.yaml'), index);
  const upstream = await startStaticServer(upstreamDir);
  const inventory = join(work.path, 'inventory.csv');
  writeFileSync(inventory, bigInventory(ROWS, upstream.url));
  const [empty, full] = await Promise.all([startRegistry(), startRegistry()]);
  const setup = Date.now();
  await holdAll(full, ROWS, VERSIONS);
  console.log(
    `plan benchmark: ${ROWS} rows, ${ROWS * VERSIONS} candidate versions, index.yaml ${(index.length / 1024 / 1024).toFixed(1)} MiB; ` +
      `registry filled in ${((Date.now() - setup) / 1000).toFixed(1)} s; median of ${TRIALS} trials\n`,
  );
  const plan = (registry: RegistryServer): Promise<Timed> =>
    timed(process.execPath, [
      join(ROOT, 'dist', 'cli', 'main.js'),
      'mirror',
      inventory,
      '--plan',
      '--to',
      `${registry.host}/${PREFIX}`,
      '--insecure-registry',
      registry.host,
    ]);
  const results = new Map<string, Timed[]>();
  const floor: number[] = [];
  /**
   * The registry-bound floor of the "holds all" plan: one bare GET of each repository's tag list
   * (what any client must ask to know which versions are there), 16 at a time, keep-alive.
   */
  const listingFloor = async (registry: RegistryServer): Promise<number> => {
    const client = floorClient(16);
    const started = process.hrtime.bigint();
    await workers(
      Array.from({ length: ROWS }, (_, i) => i),
      16,
      async (i) => {
        const res = await client.request(
          'GET',
          `http://${registry.host}/v2/${PREFIX}/${chartName(i)}/tags/list`,
        );
        if (res.status !== 200) throw new Error(`tags/list: HTTP ${res.status}`);
      },
    );
    client.close();
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  try {
    for (let trial = 1; trial <= TRIALS; trial++) {
      floor.push(await listingFloor(full));
      for (const [name, registry] of [
        ['registry holds none', empty],
        ['registry holds all', full],
      ] as const) {
        const run = await plan(registry);
        results.set(name, [...(results.get(name) ?? []), run]);
        const last = run.stdout.trim().split('\n').pop() ?? '';
        if (trial === 1) console.log(`${name}: ${last}`);
      }
    }
  } finally {
    await Promise.all([empty.stop(), full.stop(), upstream.stop()]);
    await work.remove();
  }
  console.log('');
  const budgets: Record<string, number> = {
    'registry holds none': 5,
    'registry holds all': 2,
  };
  console.log(
    `${'floor: bare tag listings'.padEnd(22)} ${median(floor).toFixed(2).padStart(6)} s (${ROWS} GETs of tags/list on the full registry; ${floor.map((f) => f.toFixed(2)).join(', ')})`,
  );
  for (const [name, runs] of results) {
    const seconds = runs.map((r) => r.seconds);
    const rss = runs.map((r) => r.peakRSS / 1e6);
    console.log(
      `${name.padEnd(22)} ${median(seconds).toFixed(2).padStart(6)} s (budget ${budgets[name] ?? '-'} s; ${seconds.map((s) => s.toFixed(2)).join(', ')})` +
        `  peak RSS ${median(rss).toFixed(0)} MB (budget 250; ${rss.map((m) => m.toFixed(0)).join(', ')})`,
    );
  }
}

if (import.meta.main) await main();
