// Benchmark: one large single-layer artifact (1 GiB of random bytes by default) copied registry →
// registry by airlock and by `skopeo copy` in the same run, with each tool's wall time and peak
// resident memory (VmHWM of the child process). Not a test: it prints numbers and ratios.
// Usage: npm run bench:big-blob
// Env: BENCH_BIG_MB (default 1024), BENCH_TRIALS (default 3), BENCH_CLI (path of airlock's main.js;
// default: build and run dist/cli/main.js, the CLI as users run it).
import { createCipheriv, createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { canonicalJSON, type Digest, MediaType, sha256 } from '../src/core/index.ts';
import { RegistryClient } from '../src/oci/index.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { median, type Timed, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? '1024');
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const RSS_BUDGET_MIB = 100;

/**
 * Incompressible, reproducible bytes: AES-256-CTR over zeros with a fixed key is a fast seeded
 * generator, so the layer can be produced twice (once to hash, once to upload) without a 1 GiB file.
 */
function* randomLayer(mib: number): Generator<Buffer> {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < mib; i++) yield cipher.update(zeros);
}

let cli = process.env.BENCH_CLI;
if (cli === undefined) {
  await timed('npm', ['run', 'build']);
  cli = join(ROOT, 'dist', 'cli', 'main.js');
}
const airlockCLI = (...args: string[]): Promise<Timed> => timed(process.execPath, [cli, ...args]);

const source = await startRegistry();
const rows: { trial: number; tool: string; seconds: number; rss: number }[] = [];
try {
  const hash = createHash('sha256');
  for (const part of randomLayer(BIG_MB)) hash.update(part);
  const layer = {
    mediaType: 'application/octet-stream',
    digest: `sha256:${hash.digest('hex')}` as Digest,
    size: BIG_MB * 1024 * 1024,
  };
  const config = Buffer.from('{}');
  const configDescriptor = { mediaType: MediaType.ociEmpty, digest: sha256(config), size: 2 };
  const seeder = new RegistryClient({ insecureRegistries: [source.host] });
  const big = seeder.repository(source.host, 'big/artifact');
  await big.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
  await big.pushBlob(layer, () => Promise.resolve(Readable.from(randomLayer(BIG_MB))));
  const manifest = await big.pushManifest(
    Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDescriptor,
        layers: [layer],
      }),
    ),
    MediaType.ociManifest,
    'v1',
  );
  seeder.close();
  console.log(
    `big-blob benchmark: one ${BIG_MB} MiB random layer, registry → registry, ${TRIALS} trials (airlock ${cli})`,
  );

  for (let trial = 1; trial <= TRIALS; trial++) {
    // Fresh destinations each trial; the tools take turns going first, so neither always gets the
    // source's page cache warm or cold.
    const [toAirlock, toSkopeo] = await Promise.all([startRegistry(), startRegistry()]);
    try {
      const runAirlock = async (): Promise<void> => {
        const result = await airlockCLI(
          'copy',
          '--json',
          '--insecure-registry',
          source.host,
          '--insecure-registry',
          toAirlock.host,
          `${source.host}/big/artifact:v1`,
          `${toAirlock.host}/big/artifact`,
        );
        const report = JSON.parse(result.stdout) as { summary: { done: number; failed: number } };
        if (report.summary.done !== 1 || report.summary.failed !== 0)
          throw new Error(`airlock: ${result.stdout}`);
        rows.push({ trial, tool: 'airlock', seconds: result.seconds, rss: result.peakRSS });
      };
      const runSkopeo = async (): Promise<void> => {
        const result = await timed('skopeo', [
          'copy',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          `docker://${source.host}/big/artifact:v1`,
          `docker://${toSkopeo.host}/big/artifact:v1`,
        ]);
        rows.push({ trial, tool: 'skopeo', seconds: result.seconds, rss: result.peakRSS });
      };
      if (trial % 2 === 1) {
        await runAirlock();
        await runSkopeo();
      } else {
        await runSkopeo();
        await runAirlock();
      }
      await check([toAirlock, toSkopeo], manifest.digest, layer.digest);
    } finally {
      await Promise.all([toAirlock.stop(), toSkopeo.stop()]);
    }
  }
} finally {
  await source.stop();
}

const mib = (n: number): string => (n / 1024 / 1024).toFixed(0);
console.log('');
for (const row of rows)
  console.log(
    `trial ${row.trial}  ${row.tool.padEnd(8)} ${row.seconds.toFixed(2).padStart(6)} s  peak RSS ${mib(row.rss).padStart(4)} MiB`,
  );
const of = (tool: string, key: 'seconds' | 'rss'): number[] =>
  rows.filter((r) => r.tool === tool).map((r) => r[key]);
const ratios = rows
  .filter((r) => r.tool === 'airlock')
  .map((r) => {
    const theirs = rows.find((s) => s.tool === 'skopeo' && s.trial === r.trial);
    return theirs ? r.seconds / theirs.seconds : NaN;
  });
console.log('');
console.log(
  `median: airlock ${median(of('airlock', 'seconds')).toFixed(2)} s, ${mib(median(of('airlock', 'rss')))} MiB; skopeo ${median(of('skopeo', 'seconds')).toFixed(2)} s, ${mib(median(of('skopeo', 'rss')))} MiB`,
);
console.log(
  `airlock ÷ skopeo time per trial: ${ratios.map((r) => r.toFixed(2)).join(', ')} (budget ≤ 1.00); airlock peak RSS max ${mib(Math.max(...of('airlock', 'rss')))} MiB (budget < ${RSS_BUDGET_MIB} MiB)`,
);

/** Both destinations hold the same manifest and the whole layer. */
async function check(registries: RegistryServer[], digest: Digest, layer: Digest): Promise<void> {
  const client = new RegistryClient({ insecureRegistries: registries.map((r) => r.host) });
  try {
    for (const registry of registries) {
      const repository = client.repository(registry.host, 'big/artifact');
      const found = await repository.resolve('v1');
      if (found?.digest !== digest || !(await repository.hasBlob(layer)))
        throw new Error(`${registry.host}: copy incomplete (${found?.digest ?? 'no tag'})`);
    }
  } finally {
    client.close();
  }
}
