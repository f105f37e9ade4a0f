// Benchmark: `airlock mirror` of all 263 fixture versions from the HTTP Helm repository into a
// registry, signing included, against `skopeo sync` copying the same 263 artifacts registry to
// registry without signing, and against the registry-bound floor for the requests a signed mirror
// must make (bench/mirror-floor.ts); cold and warm. Not a test. Usage: npm run bench:mirror
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryClient } from '../src/oci/index.ts';
import { fixtureCharts, seedFixtureCharts, UPSTREAM_HELM } from '../test/harness/fixture-charts.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { startStaticServer } from '../test/harness/static-server.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');

const seconds = async (
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<number> => (await timed(command, args, env)).seconds;

const airlock = (args: string[], env: Record<string, string>) =>
  seconds(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], env);

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-mirror-');
const env = { COSIGN_PASSWORD: 'bench', HOME: work.path };
await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'cosign')], env);
const charts = await fixtureCharts();
const names = [...new Set(charts.map((c) => c.name))];
const upstream = await startStaticServer(UPSTREAM_HELM);
const inventory = join(work.path, 'inventory.csv');
writeFileSync(
  inventory,
  `source,chart,versions\n${names.map((n) => `${upstream.url},${n},*`).join('\n')}\n`,
);
const floorList = join(work.path, 'floor.txt');
writeFileSync(
  floorList,
  charts.map((c) => `${c.name} ${c.version} ${c.file.split('/').pop() ?? ''}`).join('\n'),
);
const source = await startRegistry();
const seeder = new RegistryClient({ insecureRegistries: [source.host] });
await seedFixtureCharts((r) => seeder.repository(source.host, r), 'charts', charts);
seeder.close();
const syncYAML = join(work.path, 'sync.yaml');
writeFileSync(
  syncYAML,
  `${source.host}:\n  tls-verify: false\n  images:\n${names.map((n) => `    charts/${n}: []`).join('\n')}\n`,
);

const rows = new Map<string, number[]>();
const record = (name: string, seconds: number): void => {
  rows.set(name, [...(rows.get(name) ?? []), seconds]);
};
try {
  for (let trial = 1; trial <= TRIALS; trial++) {
    const registries: RegistryServer[] = await Promise.all([1, 2, 3].map(() => startRegistry()));
    const [toAirlock, toSkopeo, toFloor] = registries as [
      RegistryServer,
      RegistryServer,
      RegistryServer,
    ];
    try {
      const mirrorArgs = [
        'mirror',
        inventory,
        '--to',
        `${toAirlock.host}/mirror`,
        '--key',
        join(work.path, 'cosign.key'),
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
      record(
        'floor, cold (signed)',
        await seconds(process.execPath, [
          join(ROOT, 'bench', 'mirror-floor.ts'),
          upstream.url,
          toFloor.host,
          floorList,
          '8',
        ]),
      );
      record('skopeo sync, cold (unsigned)', await seconds('skopeo', skopeoArgs));
      record('airlock mirror, cold (signed)', await airlock(mirrorArgs, env));
      record('skopeo sync, warm', await seconds('skopeo', skopeoArgs));
      record('airlock mirror, warm', await airlock(mirrorArgs, env));
    } finally {
      await Promise.all(registries.map((r) => r.stop()));
    }
  }
} finally {
  await Promise.all([upstream.stop(), source.stop()]);
  await work.remove();
}
console.log(
  `mirror benchmark: ${charts.length} chart versions from an HTTP Helm repository, median of ${TRIALS} trials\n`,
);
for (const [name, values] of rows)
  console.log(
    `${name.padEnd(32)} ${median(values).toFixed(2).padStart(6)} s  (${values.map((v) => v.toFixed(2)).join(', ')})`,
  );
const t = (name: string): number => median(rows.get(name) ?? []);
console.log('');
console.log(
  `cold: airlock mirror (signed) is ${(t('skopeo sync, cold (unsigned)') / t('airlock mirror, cold (signed)')).toFixed(2)}x faster than skopeo sync (budget >= 3x)`,
);
console.log(
  `cold: airlock mirror takes ${(t('airlock mirror, cold (signed)') / t('floor, cold (signed)')).toFixed(2)}x the floor (budget <= 1.15x, issue 8)`,
);
console.log(
  `warm: airlock mirror re-run ${t('airlock mirror, warm').toFixed(2)} s (budget <= 0.8 s, issue 8), ${(t('skopeo sync, warm') / t('airlock mirror, warm')).toFixed(2)}x faster than skopeo's warm sync (budget >= 5x)`,
);
