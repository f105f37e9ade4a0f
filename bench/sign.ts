// Benchmark: sign and verify the 263 fixture charts in a local registry with one invocation each,
// compared in the same run with `airlock copy` of the same 263 artifacts (the OCI engine's plain
// cost per artifact). Not a test: it prints per-artifact costs and ratios. Usage: npm run bench:sign
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureCharts } from '../test/harness/fixture-charts.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');

const airlock = async (
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<number> =>
  (await timed(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), ...args], env)).seconds;

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-sign-');
const env = { COSIGN_PASSWORD: 'bench', HOME: work.path };
await airlock(['key', 'generate', '--output-key-prefix', join(work.path, 'cosign')], env);
const charts = await fixtureCharts();
const rows = new Map<string, number[]>();
const record = (name: string, seconds: number): void => {
  rows.set(name, [...(rows.get(name) ?? []), seconds]);
};
for (let trial = 1; trial <= TRIALS; trial++) {
  const [registry, copyTo] = await Promise.all([startRegistry(), startRegistry()]);
  try {
    const flags = ['--insecure-registry', registry.host, '--insecure-registry', copyTo.host];
    await airlock([
      'chart',
      'push',
      ...charts.map((c) => c.file),
      `${registry.host}/charts`,
      ...flags,
    ]);
    const refs = charts.map((c) => `${registry.host}/charts/${c.name}:${c.version}`);
    const list = join(work.path, `copy-${trial}.txt`);
    await writeFile(
      list,
      refs.map((r) => `${r} ${r.replace(registry.host, copyTo.host)}`).join('\n'),
    );
    record('copy', await airlock(['copy', '--from-file', list, ...flags]));
    record(
      'sign (key, legacy .sig)',
      await airlock(['sign', ...refs, '--key', join(work.path, 'cosign.key'), ...flags], env),
    );
    record(
      'verify (key)',
      await airlock(['verify', ...refs, '--key', join(work.path, 'cosign.pub'), ...flags], env),
    );
  } finally {
    await Promise.all([registry.stop(), copyTo.stop()]);
  }
}
await work.remove();
console.log(
  `sign and verify ${charts.length} fixture charts, one invocation each, median of ${TRIALS} trials\n`,
);
for (const [name, values] of rows) {
  const seconds = median(values);
  console.log(
    `${name.padEnd(26)} ${seconds.toFixed(2).padStart(6)} s  ${((seconds / charts.length) * 1000).toFixed(1).padStart(6)} ms per artifact  (${values.map((v) => v.toFixed(2)).join(', ')})`,
  );
}
const t = (name: string): number => median(rows.get(name) ?? []);
console.log('');
console.log(
  `verification: ${((t('verify (key)') / charts.length) * 1000).toFixed(1)} ms per artifact (budget: under 10 ms); ${(t('verify (key)') / t('copy')).toFixed(2)}x a plain copy`,
);
console.log(
  `signing: ${((t('sign (key, legacy .sig)') / charts.length) * 1000).toFixed(1)} ms per artifact; ${(t('sign (key, legacy .sig)') / t('copy')).toFixed(2)}x a plain copy`,
);
