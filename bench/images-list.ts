// Benchmark (issue 12): image discovery over every fixture chart (../shared/fixtures/upstream-helm,
// 263 packaged charts) without Helm — the artifacthub.io/images annotation and the image-shaped
// values of each chart and its subcharts — as one `airlock images list CHART… --no-helm --json`
// run, with its wall time and peak RSS (the child's VmHWM); then the same library call in-process,
// and the slowest charts one by one. There is no peer doing the same work offline (Hauler and
// Zarf find images at package time, with Helm), so the numbers stand alone.
// The CLI runs from its TypeScript sources (Node 24 strips the types; nothing to build first).
// Not a test: it prints times and memory. Usage: node bench/images-list.ts [BENCH_TRIALS=3]
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { listChartImages } from '../src/images/index.ts';
import { SHARED_FIXTURES } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const FIXTURES = join(SHARED_FIXTURES, 'upstream-helm');
const MB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

const charts = (await readdir(FIXTURES))
  .filter((f) => f.endsWith('.tgz'))
  .sort()
  .map((f) => join(FIXTURES, f));
if (charts.length === 0) {
  console.error(`no charts in ${FIXTURES}`);
  process.exit(1);
}

const seconds: number[] = [];
const rss: number[] = [];
let images = 0;
let sources = 0;
for (let trial = 0; trial < TRIALS; trial++) {
  const run = await timed(process.execPath, [
    CLI,
    'images',
    'list',
    ...charts,
    '--no-helm',
    '--json',
  ]);
  seconds.push(run.seconds);
  rss.push(run.peakRSS);
  const listed = JSON.parse(run.stdout) as { sources: unknown[] }[];
  images = listed.length;
  sources = listed.reduce((n, i) => n + i.sources.length, 0);
}
const cli = median(seconds);
console.log(
  `images list, ${charts.length} charts --no-helm → ${images} images (${sources} sources): CLI ${cli.toFixed(2)} s (${(charts.length / cli).toFixed(0)} charts/s), peak RSS ${MB(median(rss))}; median of ${TRIALS}`,
);

const inProcess: number[] = [];
for (let trial = 0; trial < TRIALS; trial++) {
  const started = performance.now();
  await listChartImages({ chart: charts, helm: false });
  inProcess.push((performance.now() - started) / 1000);
}
console.log(`in-process listChartImages: ${median(inProcess).toFixed(2)} s`);

const perChart: [string, number][] = [];
for (const chart of charts) {
  const started = performance.now();
  await listChartImages({ chart, helm: false });
  perChart.push([chart.slice(FIXTURES.length + 1), performance.now() - started]);
}
perChart.sort((a, b) => b[1] - a[1]);
console.log(
  `slowest charts: ${perChart
    .slice(0, 5)
    .map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`)
    .join(', ')}; median ${median(perChart.map(([, ms]) => ms)).toFixed(1)} ms`,
);
