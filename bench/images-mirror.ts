// Benchmark (issue 12 §2): image mirroring against skopeo in the same run. 30 synthetic
// two-platform images (an OCI index of linux/amd64 and linux/arm64 children) in 30 repositories
// of a local docker-registry; every child has the two base layers of its architecture (4 MiB
// each, shared by all 30 images) and one layer of its own (1 MiB), all incompressible. Each
// trial mirrors the 30 tags into an empty registry:
//   - airlock images mirror --from-file images.txt (one process, the copy engine);
//   - skopeo sync --src yaml --dest docker --all (one process over the same 30 tags; without
//     --scoped, which cannot name a source with a port, so it writes <prefix>/app-NN where
//     airlock writes <prefix>/127.0.0.1_PORT/apps/app-NN).
// The peer is `skopeo sync` with a YAML source rather than `--src docker` or a `skopeo copy` loop:
// `--src docker` syncs one repository per process, so 30 repositories would mean 30 processes
// (as a copy loop does), each paying its own start-up, token and connection set-up, and losing
// skopeo's in-process memory of where blobs already are; one sync over the YAML list is the same
// work as one airlock run, with the best skopeo has (it mounts blobs it has seen across
// repositories through its blob-info cache, emptied before each trial).
// Both targets sit behind the recording proxy: the completed uploads (PUT …?digest=, 201) in its
// log give the bytes each tool uploaded, against the unique bytes of the 30 images.
// Not a test: it prints medians, the ratio and the budget (airlock ≤ 0.5 × skopeo; every unique
// byte uploaded once). Usage: node bench/images-mirror.ts. Env: BENCH_TRIALS (default 3),
// BENCH_CLI (a built main.js; default: build dist/ first).
import { createCipheriv } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../src/core/index.ts';
import { RegistryClient } from '../src/oci/index.ts';
import { pushTestIndex } from '../test/harness/images.ts';
import { type FaultProxy, startProxy } from '../test/harness/proxy.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { tempDir } from '../test/harness/tools.ts';
import { median, type Timed, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = process.env.BENCH_CLI ?? join(ROOT, 'dist', 'cli', 'main.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const IMAGES = 30;
const MiB = 1024 * 1024;
const MB = 1e6;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;
const check = (ok: boolean): string => (ok ? '✔' : '✘');

/** Incompressible, reproducible bytes: AES-256-CTR over zeros, one key per seed. */
function randomBlob(seed: number, size: number): Buffer {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** Bytes uploaded (completed uploads × blob size) and how many blobs went up more than once. */
function uploads(
  proxy: FaultProxy,
  sizes: ReadonlyMap<string, number>,
): { bytes: number; blobs: number; twice: number } {
  const counts = new Map<string, number>();
  for (const r of proxy.log) {
    if (r.method !== 'PUT' || r.status !== 201) continue;
    const match = /\/blobs\/uploads\/[^?]*\?(?:.*&)?digest=([^&]+)/.exec(r.path);
    if (!match) continue;
    const digest = decodeURIComponent(match[1] ?? '');
    counts.set(digest, (counts.get(digest) ?? 0) + 1);
  }
  let bytes = 0;
  for (const [digest, n] of counts) bytes += n * (sizes.get(digest) ?? 0);
  return { bytes, blobs: counts.size, twice: [...counts.values()].filter((n) => n > 1).length };
}

if (process.env.BENCH_CLI === undefined) await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-images-');
const servers: { stop(): Promise<void> }[] = [];
try {
  const source = await startRegistry();
  servers.push(source);
  const client = new RegistryClient({ insecureRegistries: [source.host] });
  const started = Date.now();
  const sizes = new Map<string, number>();
  const blob = (seed: number, size: number): Buffer => {
    const bytes = randomBlob(seed, size);
    sizes.set(sha256(bytes), size);
    return bytes;
  };
  const base = {
    amd64: [blob(1, 4 * MiB), blob(2, 4 * MiB)],
    arm64: [blob(3, 4 * MiB), blob(4, 4 * MiB)],
  };
  const references: string[] = [];
  const repositories: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const repository = `apps/app-${String(i).padStart(2, '0')}`;
    await pushTestIndex(
      client.repository(source.host, repository),
      [
        { platform: 'linux/amd64', layers: [...base.amd64, blob(100 + 2 * i, MiB)] },
        { platform: 'linux/arm64', layers: [...base.arm64, blob(101 + 2 * i, MiB)] },
      ],
      '1.0.0',
    );
    references.push(`${source.host}/${repository}:1.0.0`);
    repositories.push(repository);
  }
  client.close();
  // Layers only: the image configs (a few hundred bytes) are not counted on either side.
  const layerBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const list = join(work.path, 'images.txt');
  await writeFile(list, `${references.join('\n')}\n`);
  const syncYAML = join(work.path, 'sync.yaml');
  await writeFile(
    syncYAML,
    `${source.host}:\n  tls-verify: false\n  images:\n${repositories.map((r) => `    ${r}: ["1.0.0"]`).join('\n')}\n`,
  );
  console.log(
    `setup: ${IMAGES} two-platform images in ${IMAGES} repositories, ${mb(layerBytes)} of unique layers; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  const runs: { airlock: Timed[]; skopeo: Timed[] } = { airlock: [], skopeo: [] };
  const uploaded = { airlock: [] as number[], skopeo: [] as number[] };
  const twice = { airlock: 0, skopeo: 0 };
  const unique = layerBytes;
  for (let trial = 1; trial <= TRIALS; trial++) {
    const targets: Record<'airlock' | 'skopeo', { registry: RegistryServer; proxy: FaultProxy }> =
      {} as never;
    for (const who of ['airlock', 'skopeo'] as const) {
      const registry = await startRegistry();
      const proxy = await startProxy({ upstream: registry.url });
      targets[who] = { registry, proxy };
    }
    // skopeo's blob-info cache lives under HOME: a fresh one per trial.
    const home = join(work.path, `home-${trial}`);
    await mkdir(home, { recursive: true });
    const skopeo = await timed(
      'skopeo',
      [
        'sync',
        '--src',
        'yaml',
        '--dest',
        'docker',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        syncYAML,
        `${targets.skopeo.proxy.host}/mirror`,
      ],
      { HOME: home, XDG_RUNTIME_DIR: home },
    );
    runs.skopeo.push(skopeo);
    const airlock = await timed(
      process.execPath,
      [
        CLI,
        'images',
        'mirror',
        '--from-file',
        list,
        '--to',
        `${targets.airlock.proxy.host}/mirror`,
        '--insecure-registry',
        source.host,
        '--insecure-registry',
        targets.airlock.proxy.host,
        '--json',
      ],
      { HOME: home },
    );
    runs.airlock.push(airlock);
    const report = JSON.parse(airlock.stdout) as { summary: { done: number; failed: number } };
    if (report.summary.done !== IMAGES || report.summary.failed !== 0)
      throw new Error(`airlock mirrored ${report.summary.done} of ${IMAGES}: ${airlock.stdout}`);
    for (const who of ['airlock', 'skopeo'] as const) {
      const counted = uploads(targets[who].proxy, sizes);
      uploaded[who].push(counted.bytes);
      twice[who] = Math.max(twice[who], counted.twice);
    }
    // Both wrote the same images: every index digest equals the source's.
    const reader = new RegistryClient({
      insecureRegistries: [
        source.host,
        targets.airlock.registry.host,
        targets.skopeo.registry.host,
      ],
    });
    const hostPath = source.host.replace(':', '_');
    for (const repository of repositories) {
      const [want, ours, theirs] = await Promise.all([
        reader.repository(source.host, repository).resolve('1.0.0'),
        reader
          .repository(targets.airlock.registry.host, `mirror/${hostPath}/${repository}`)
          .resolve('1.0.0'),
        reader
          .repository(
            targets.skopeo.registry.host,
            `mirror/${repository.slice(repository.lastIndexOf('/') + 1)}`,
          )
          .resolve('1.0.0'),
      ]);
      if (want?.digest !== ours?.digest || want?.digest !== theirs?.digest)
        throw new Error(
          `${repository}: source ${String(want?.digest)}, airlock ${String(ours?.digest)}, skopeo ${String(theirs?.digest)}`,
        );
    }
    reader.close();
    for (const who of ['airlock', 'skopeo'] as const) {
      await targets[who].proxy.stop();
      await targets[who].registry.stop();
    }
  }

  const seconds = (who: 'airlock' | 'skopeo'): number => median(runs[who].map((r) => r.seconds));
  const bytes = (who: 'airlock' | 'skopeo'): number => median(uploaded[who]);
  const ratio = seconds('airlock') / seconds('skopeo');
  console.log(`\nmirroring ${IMAGES} images (median of ${TRIALS}):`);
  for (const who of ['skopeo', 'airlock'] as const)
    console.log(
      `  ${who.padEnd(8)} ${seconds(who).toFixed(2).padStart(6)} s   layers uploaded ${mb(bytes(who)).padStart(9)} of ${mb(unique)} unique   blobs uploaded twice: ${twice[who]}   peak RSS ${mb(median(runs[who].map((r) => r.peakRSS)))}`,
    );
  console.log(
    `  ratio airlock/skopeo ${ratio.toFixed(2)} (budget ≤ 0.50) ${check(ratio <= 0.5)}; airlock uploads each unique byte once ${check(bytes('airlock') === unique && twice.airlock === 0)}; index digests equal to the source's on both sides ✔`,
  );
} finally {
  for (const server of servers.reverse()) await server.stop().catch(() => undefined);
  await work.remove();
}
