// Benchmark (issue 10). Two parts:
// 1. `airlock fleet build resourceset` of one ResourceSet with 1,000 input sets (budget ≤ 1 s),
//    through the built CLI with its peak RSS, and in-process. The tenant template is the one
//    `fleet init` writes for a platform phase (nine objects per input set).
// 2. The D2-shaped test fleet (test/harness/d2-fleet.ts: three clusters, artifacts pushed into a
//    local docker-registry and signed per environment, a key-signed Helm chart): `fleet check
//    --all` and `fleet render` of each cluster online through the built CLI, with peak RSS and the
//    time spent in kustomize and helm processes (the JSON's toolMs). The budget (whole-fleet check
//    ≤ 3 s) is on airlock's own time: total − tool time.
// There is no flux-operator binary on this machine, so the peer is the external tools themselves:
// their share of the same work, and `helm template` of the fleet's chart run alone.
// Not a test: it prints times and memory. Usage: npm run bench:fleet
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildResourceSet, renderBuildCLI, scaffoldFleet } from '../src/fleet/index.ts';
import { parseGoYAML } from '../src/goyaml/index.ts';
import { RegistryClient } from '../src/oci/index.ts';
import { D2_CLUSTERS, publishD2, writeD2Fleet } from '../test/harness/d2-fleet.ts';
import { helmBinary, kubectlBinary } from '../test/harness/kube-tools.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { startMockSigstore } from '../test/harness/sigstore.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TRIALS = Number(process.env.BENCH_TRIALS ?? '5');
const INPUTS = Number(process.env.BENCH_INPUTS ?? '1000');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const MB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

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
    const run = await timed(process.execPath, [CLI, 'fleet', 'build', 'resourceset', '-f', file]);
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
    `fleet build resourceset, ${INPUTS} input sets → ${objects} objects: CLI ${median(cli).toFixed(2)} s (budget 1 s), peak RSS ${MB(median(rss))}; in-process ${median(inProcess).toFixed(2)} s`,
  );
  await benchD2Fleet(work.path);
} finally {
  await work.remove();
}

async function benchD2Fleet(dir: string): Promise<void> {
  const [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
  const client = new RegistryClient({ insecureRegistries: [registry.host] });
  try {
    const published = await publishD2(client, registry.host, sigstore);
    const fleet = join(dir, 'd2');
    await writeD2Fleet(fleet, published.publicKeyPEM);
    const rootFile = join(dir, 'trusted_root.json');
    await writeFile(rootFile, JSON.stringify(sigstore.trustedRoot));
    const flags = [
      '--registry-map',
      published.registryMap,
      '--trusted-root',
      rootFile,
      '--insecure-registry',
      registry.host,
      '--kustomize-bin',
      kubectlBinary(),
      '--helm-bin',
      helmBinary(),
      '--json',
    ];
    const stats = { check: [] as Trial[], render: [] as Trial[], helm: [] as number[] };
    let objects = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const run = await timed(process.execPath, [CLI, 'fleet', 'check', fleet, '--all', ...flags]);
      const check = JSON.parse(run.stdout) as {
        failed: boolean;
        clusters: { objects: number; toolMs: number }[];
      };
      if (check.failed || check.clusters.length !== D2_CLUSTERS.length)
        throw new Error(`fleet check of the D2 fleet did not pass: ${run.stdout.slice(0, 2000)}`);
      const toolMs = check.clusters.reduce((sum, c) => sum + c.toolMs, 0);
      objects = check.clusters.reduce((sum, c) => sum + c.objects, 0);
      stats.check.push({ seconds: run.seconds, tool: toolMs / 1000, rss: run.peakRSS });
      let [seconds, tool, rss] = [0, 0, 0];
      for (const cluster of D2_CLUSTERS) {
        const one = await timed(process.execPath, [
          CLI,
          'fleet',
          'render',
          fleet,
          '--cluster',
          cluster,
          ...flags,
        ]);
        const result = JSON.parse(one.stdout) as { toolMs?: number };
        if (typeof result.toolMs !== 'number') throw new Error('fleet render --json has no toolMs');
        seconds += one.seconds;
        tool += result.toolMs / 1000;
        rss = Math.max(rss, one.peakRSS);
      }
      stats.render.push({ seconds, tool, rss });
    }
    // The second peer line: helm template of the fleet's chart alone, from a local archive (pulled
    // once by helm itself, not timed), with the values the HelmRelease sets inline.
    const chartDir = join(dir, 'chart');
    await mkdir(chartDir);
    await timed(helmBinary(), [
      'pull',
      `oci://${registry.host}/acme/charts/cert-manager`,
      '--version',
      '1.2.0',
      '--plain-http',
      '-d',
      chartDir,
    ]);
    const [tgz] = await readdir(chartDir);
    if (tgz === undefined) throw new Error('helm pull wrote no chart archive');
    for (let trial = 0; trial < TRIALS; trial++) {
      const run = await timed(helmBinary(), [
        'template',
        'cert-manager',
        join(chartDir, tgz),
        '--namespace',
        'cert-manager',
        '--set',
        'installCRDs=true',
      ]);
      stats.helm.push(run.seconds);
    }
    report(
      `fleet check --all, D2 fleet (3 clusters, ${objects} objects)`,
      stats.check,
      'budget 3 s',
    );
    report(
      'fleet render × 3 clusters (sum of 3 CLI runs)',
      stats.render,
      'no budget of its own: three CLI starts',
    );
    console.log(
      `  peer: helm template of the fleet's chart alone (local .tgz): ${median(stats.helm).toFixed(3)} s`,
    );
  } finally {
    client.close();
    await Promise.all([registry.stop(), sigstore.stop()]);
  }
}

interface Trial {
  readonly seconds: number;
  /** Seconds in kustomize and helm processes (the JSON's toolMs). */
  readonly tool: number;
  readonly rss: number;
}

function report(label: string, trials: readonly Trial[], budget: string): void {
  const total = median(trials.map((t) => t.seconds));
  const tool = median(trials.map((t) => t.tool));
  const own = median(trials.map((t) => t.seconds - t.tool));
  console.log(
    `${label}: total ${total.toFixed(2)} s, peak RSS ${MB(median(trials.map((t) => t.rss)))}`,
  );
  console.log(`  airlock's own time (total − tool time): ${own.toFixed(2)} s (${budget})`);
  console.log(`  peer: kustomize + helm processes in the same work: ${tool.toFixed(2)} s`);
  console.log(`  ratio own / tool time: ${(own / tool).toFixed(2)}×`);
}
