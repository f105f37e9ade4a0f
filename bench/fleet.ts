// Benchmark (issue 10): `airlock fleet build resourceset` of one ResourceSet with 1,000 input sets
// (budget ≤ 1 s), through the built CLI with its peak RSS, and in-process. The tenant template is
// the one `fleet init` writes for a platform phase (nine objects per input set). There is no peer
// on this machine (flux-operator build resourceset needs a Go binary; none is installed).
// Not a test: it prints times and memory. Usage: npm run bench:fleet
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildResourceSet, renderBuildCLI, scaffoldFleet } from '../src/fleet/index.ts';
import { parseGoYAML } from '../src/goyaml/index.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '5');
const INPUTS = Number(process.env.BENCH_INPUTS ?? '1000');

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-fleet-');
try {
  const phase = scaffoldFleet({ registry: 'registry.internal' }).get('platform/1-core.yaml') ?? '';
  const inputs = Array.from(
    { length: INPUTS },
    (_, i) =>
      `    - tenant: tenant-${String(i).padStart(4, '0')}\n      tag: "1.${i}.0"\n      environment: prod`,
  ).join('\n');
  const text = phase.replace(
    / {2}inputs:\n(?: {4}.*\n)+?(?= {2}resources:)/,
    `  inputs:\n${inputs}\n`,
  );
  const file = join(work.path, 'many.yaml');
  await writeFile(file, text);
  const cli: number[] = [];
  const rss: number[] = [];
  let objects = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const run = await timed(process.execPath, [
      join(ROOT, 'dist', 'cli', 'main.js'),
      'fleet',
      'build',
      'resourceset',
      '-f',
      file,
    ]);
    cli.push(run.seconds);
    rss.push(run.peakRSS);
    objects = run.stdout.match(/^---$/gm)?.length ?? 0;
  }
  const inProcess: number[] = [];
  const parsed = parseGoYAML(await readFile(file, 'utf8'), file);
  for (let trial = 0; trial < TRIALS; trial++) {
    const started = performance.now();
    renderBuildCLI(buildResourceSet(parsed, { cli: true }));
    inProcess.push((performance.now() - started) / 1000);
  }
  console.log(
    `fleet build resourceset, ${INPUTS} input sets → ${objects} objects: CLI ${median(cli).toFixed(2)} s (budget 1 s), peak RSS ${(median(rss) / 1024 / 1024).toFixed(0)} MB; in-process ${median(inProcess).toFixed(2)} s`,
  );
} finally {
  await work.remove();
}
