// Benchmark for Flux and Helm artifacts: packaging and pushing a 5,000-file manifest tree, and
// pushing the 263 fixture charts with one `chart push`, each compared with the OCI engine's copy
// of the same bytes (`airlock copy` of what was pushed, registry to registry) in the same run.
// Not a test: it prints times and ratios. Usage: npm run bench:artifacts
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureCharts } from '../test/harness/fixture-charts.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');

const airlock = (...args: string[]) =>
  timed(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args]);

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-artifacts-');
// A 5,000-file tree: 100 directories of 50 small manifests (about 0.5 KiB each).
const tree = join(work.path, 'tree');
for (let d = 0; d < 100; d++) {
  await mkdir(join(tree, `team-${String(d).padStart(3, '0')}`), { recursive: true });
  for (let f = 0; f < 50; f++) {
    const name = `cm-${String(f).padStart(2, '0')}`;
    await writeFile(
      join(tree, `team-${String(d).padStart(3, '0')}`, `${name}.yaml`),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: team-${d}\ndata:\n  key: "${'x'.repeat(300)}"\n`,
    );
  }
}
const charts = await fixtureCharts();
const rows = new Map<string, number[]>();
const record = (name: string, seconds: number): void => {
  rows.set(name, [...(rows.get(name) ?? []), seconds]);
};
const meta = [
  '--source',
  'https://git.example/platform',
  '--revision',
  `main@sha1:${'e'.repeat(40)}`,
];
for (let trial = 1; trial <= TRIALS; trial++) {
  const registries: RegistryServer[] = await Promise.all([1, 2].map(() => startRegistry()));
  const [pushTo, copyTo] = registries as [RegistryServer, RegistryServer];
  try {
    const insecure = ['--insecure-registry', pushTo.host, '--insecure-registry', copyTo.host];
    record(
      'artifact push, 5,000 files',
      (await airlock('artifact', 'push', tree, `${pushTo.host}/apps/tree:v1`, ...meta, ...insecure))
        .seconds,
    );
    record(
      'copy of the same artifact',
      (
        await airlock(
          'copy',
          `${pushTo.host}/apps/tree:v1`,
          `${copyTo.host}/apps/tree`,
          ...insecure,
        )
      ).seconds,
    );
    record(
      'chart push, 263 charts',
      (
        await airlock(
          'chart',
          'push',
          ...charts.map((c) => c.file),
          `${pushTo.host}/charts`,
          ...insecure,
        )
      ).seconds,
    );
    const list = join(work.path, `list-${trial}.txt`);
    await writeFile(
      list,
      [...new Set(charts.map((c) => c.name))]
        .map((n) => `${pushTo.host}/charts/${n} ${copyTo.host}/charts/${n}`)
        .join('\n'),
    );
    record(
      'copy of the 263 charts',
      (await airlock('copy', '--from-file', list, ...insecure)).seconds,
    );
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
  }
}
await work.remove();
console.log(
  `Flux and Helm artifact benchmark, median of ${TRIALS} trials (fresh registries each trial)\n`,
);
for (const [name, values] of rows)
  console.log(
    `${name.padEnd(28)} ${median(values).toFixed(2).padStart(6)} s  (${values.map((v) => v.toFixed(2)).join(', ')})`,
  );
const t = (name: string): number => median(rows.get(name) ?? []);
console.log('');
console.log(
  `5,000-file tree: build + push takes ${(t('artifact push, 5,000 files') / t('copy of the same artifact')).toFixed(2)}x the copy of the same bytes`,
);
console.log(
  `263 charts: chart push takes ${(t('chart push, 263 charts') / t('copy of the 263 charts')).toFixed(2)}x the copy of the same artifacts`,
);
