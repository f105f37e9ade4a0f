// Benchmark: airlock copy vs skopeo sync on the 263 fixture charts, registry to registry, cold and
// warm, against the registry-bound floor (bench/floor.ts). Not a test: it prints numbers and
// ratios. Usage: npm run bench. One large blob: npm run bench:big-blob (bench/big-blob.ts).
// Env: BENCH_TRIALS (default 3; medians are reported), BENCH_CONCURRENCY (default 8), BENCH_CLI.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryClient } from '../src/oci/index.ts';
import { fixtureCharts, seedFixtureCharts } from '../test/harness/fixture-charts.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, type Timed, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? '8');
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');

// The CLI as users run it: the compiled bin (built first), not the TypeScript sources; BENCH_CLI
// names another build of main.js instead.
const CLI = process.env.BENCH_CLI ?? join(ROOT, 'dist', 'cli', 'main.js');
const airlockCLI = (...args: string[]): Promise<Timed> => timed(process.execPath, [CLI, ...args]);

/** Requests the registries served, read from their access logs once they have drained. */
async function settle(registries: RegistryServer[]): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return registries.reduce((sum, r) => sum + r.requests.count, 0);
}

if (process.env.BENCH_CLI === undefined) await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-');
const charts = await fixtureCharts();
const repositories = [...new Set(charts.map((c) => c.name))];
console.log(
  `airlock copy benchmark: ${charts.length} fixture charts in ${repositories.length} repositories, concurrency ${CONCURRENCY}, median of ${TRIALS} trials`,
);

const source = await startRegistry({ accessLog: true });
const results = new Map<string, { seconds: number[]; requests: number[] }>();
try {
  const seeder = new RegistryClient({ insecureRegistries: [source.host] });
  await seedFixtureCharts((repo) => seeder.repository(source.host, repo), 'charts', charts);
  const bytes = charts.reduce((sum, c) => sum + readFileSync(c.file).length, 0);
  console.log(
    `seeded ${charts.length} artifacts (${(bytes / 1024 / 1024).toFixed(1)} MiB of chart layers)`,
  );
  const floorList = join(work.path, 'floor-list.txt');
  writeFileSync(floorList, charts.map((c) => `charts/${c.name} ${c.version}`).join('\n'));
  const syncYAML = join(work.path, 'skopeo-sync.yaml');
  writeFileSync(
    syncYAML,
    `${source.host}:\n  tls-verify: false\n  images:\n${repositories.map((r) => `    charts/${r}: []`).join('\n')}\n`,
  );

  for (let trial = 1; trial <= TRIALS; trial++) {
    // Fresh destinations each trial, so every cold run is really cold.
    const [toAirlock, toSkopeo, toFloor] = await Promise.all(
      [1, 2, 3].map(() => startRegistry({ accessLog: true })),
    );
    if (!toAirlock || !toSkopeo || !toFloor) throw new Error('registries did not start');
    try {
      const list = join(work.path, `airlock-list-${trial}.txt`);
      writeFileSync(
        list,
        repositories
          .map((r) => `${source.host}/charts/${r} ${toAirlock.host}/charts/${r}`)
          .join('\n'),
      );
      const airlockArgs = [
        'copy',
        '--json',
        '--from-file',
        list,
        '--concurrency',
        String(CONCURRENCY),
        '--insecure-registry',
        source.host,
        '--insecure-registry',
        toAirlock.host,
      ];
      const skopeoArgs = [
        'sync',
        '--src',
        'yaml',
        '--dest',
        'docker',
        '--dest-tls-verify=false',
        syncYAML,
        `${toSkopeo.host}/charts`,
      ];
      const floorArgs = (mode: string): string[] => [
        join(ROOT, 'bench', 'floor.ts'),
        source.host,
        toFloor.host,
        floorList,
        String(CONCURRENCY),
        mode,
      ];
      const measure = async (
        name: string,
        run: () => Promise<Timed>,
        destination: RegistryServer,
      ): Promise<Timed> => {
        source.requests.count = 0;
        destination.requests.count = 0;
        const result = await run();
        const requests = await settle([source, destination]);
        const row = results.get(name) ?? { seconds: [], requests: [] };
        row.seconds.push(result.seconds);
        row.requests.push(requests);
        results.set(name, row);
        return result;
      };
      await measure('floor, cold', () => timed(process.execPath, floorArgs('cold')), toFloor);
      await measure('skopeo sync, cold', () => timed('skopeo', skopeoArgs), toSkopeo);
      const cold = await measure('airlock copy, cold', () => airlockCLI(...airlockArgs), toAirlock);
      await measure('floor, warm', () => timed(process.execPath, floorArgs('warm')), toFloor);
      await measure('skopeo sync, warm', () => timed('skopeo', skopeoArgs), toSkopeo);
      await measure('airlock copy, warm', () => airlockCLI(...airlockArgs), toAirlock);
      // BENCH_CLI may be a build from before issue 8, whose summary said `copied`, not `done`.
      const report = JSON.parse(cold.stdout) as {
        summary: { done?: number; copied?: number; failed: number };
      };
      const done = report.summary.done ?? report.summary.copied;
      if (done !== charts.length || report.summary.failed !== 0)
        throw new Error(`airlock copied ${String(done)}, failed ${report.summary.failed}`);
      // Both tools must have produced the same digests as the source.
      const check = new RegistryClient({
        insecureRegistries: [source.host, toAirlock.host, toSkopeo.host],
      });
      for (const chart of charts.filter((_, i) => i % 20 === 0)) {
        const want = (
          await check.repository(source.host, `charts/${chart.name}`).resolve(chart.version)
        )?.digest;
        const ours = (
          await check.repository(toAirlock.host, `charts/${chart.name}`).resolve(chart.version)
        )?.digest;
        const theirs = (
          await check.repository(toSkopeo.host, `charts/${chart.name}`).resolve(chart.version)
        )?.digest;
        if (want === undefined || ours !== want || theirs !== want)
          throw new Error(`digest mismatch for ${chart.name}:${chart.version}`);
      }
      check.close();
    } finally {
      await Promise.all([toAirlock, toSkopeo, toFloor].map((r) => r.stop()));
    }
  }

  console.log('');
  for (const [name, row] of results) {
    const seconds = median(row.seconds);
    const requests = median(row.requests);
    console.log(
      `${name.padEnd(20)} ${seconds.toFixed(2).padStart(6)} s  (${row.seconds.map((s) => s.toFixed(2)).join(', ')})  ${String(requests).padStart(5)} requests  ${(requests / charts.length).toFixed(2)} per artifact`,
    );
  }
  const t = (name: string): number => median(results.get(name)?.seconds ?? []);
  const ratio = (a: string, b: string): string => (t(a) / t(b)).toFixed(2);
  console.log('');
  console.log(
    `cold: airlock is ${ratio('skopeo sync, cold', 'airlock copy, cold')}x faster than skopeo sync (budget >= 4x)`,
  );
  console.log(
    `cold: airlock takes ${ratio('airlock copy, cold', 'floor, cold')}x the floor's time (budget <= 1.5x); the floor is ${ratio('skopeo sync, cold', 'floor, cold')}x faster than skopeo`,
  );
  console.log(
    `warm: airlock is ${ratio('skopeo sync, warm', 'airlock copy, warm')}x faster than skopeo sync (budget >= 5x)`,
  );
  console.log(
    `warm: airlock takes ${ratio('airlock copy, warm', 'floor, warm')}x the warm floor's time; the floor is ${ratio('skopeo sync, warm', 'floor, warm')}x faster than skopeo`,
  );

  seeder.close();
} finally {
  await source.stop();
  await work.remove();
}
