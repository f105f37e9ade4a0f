// Benchmark (issue 11): air-gap bundles against skopeo in the same run. The workload is the 263
// fixture charts plus 30 synthetic images sharing two 8 MiB base layers (two unique 2 MiB layers
// each, incompressible), all signed (legacy .sig tags), in a local docker-registry:
//   1. export: `airlock bundle create` vs `skopeo sync --src yaml --dest dir` (time, bytes on disk
//      against the unique bytes the registry stores);
//   2. import into an empty registry: `airlock bundle import` vs `skopeo sync --src dir`;
//   3. delta after one new chart version and one new image: `bundle create --since`;
//   4. pack / unpack / verify of a synthetic ~2 GiB bundle (MB/s, peak RSS), with shell floors.
// Not a test: it prints medians, ratios and budgets. Usage: npm run bench:bundle
// Env: BENCH_TRIALS (default 3), BENCH_BIG_MB (size of the synthetic bundle, default 2048),
// BENCH_ONLY (a comma-separated subset of export,import,delta,big: import and delta run the export
// they start from), BENCH_PROFILE (a directory: airlock runs with --cpu-prof into it).
import { createCipheriv, randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { packageChartBytes } from '../src/artifact/index.ts';
import { canonicalJSON, type Digest, mapLimit, MediaType, sha256 } from '../src/core/index.ts';
import { LayoutRepository, RegistryClient, type Repository } from '../src/oci/index.ts';
import { generateKeyPair, resolveSigner, signLegacy } from '../src/sign/index.ts';
import { fixtureCharts, seedFixtureCharts } from '../test/harness/fixture-charts.ts';
import { type RegistryServer, startRegistry } from '../test/harness/registry.ts';
import { run, tempDir } from '../test/harness/tools.ts';
import { median, type Timed, timed } from './lib.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const TRIALS = Number(process.env.BENCH_TRIALS ?? '3');
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? '2048');
const ONLY = new Set((process.env.BENCH_ONLY ?? 'export,import,delta,big').split(','));
const PROFILE = process.env.BENCH_PROFILE;
const IMAGES = 30;
const MiB = 1024 * 1024;
const MB = 1e6;
const PASSWORD = 'bench';

const check = (ok: boolean): string => (ok ? '✔' : '✘');
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

/** Apparent size of a directory tree (`du -sb`). */
const du = (dir: string): number => Number(run('du', ['-sb', dir]).split(/\s/)[0]);

/** Unique bytes a registry stores: the sum of its blob files (the registry keeps each blob once). */
function registryBlobBytes(registry: RegistryServer): number {
  const root = join(registry.storage, 'docker', 'registry', 'v2', 'blobs');
  let total = 0;
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name === 'data')
      total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

/** Incompressible, reproducible bytes: AES-256-CTR over zeros, one key per seed. */
function randomBlob(seed: number, size: number): Buffer {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

async function pushImage(
  repository: Repository,
  layers: readonly Buffer[],
  tag: string,
): Promise<Digest> {
  const push = async (bytes: Buffer, mediaType: string) => {
    const descriptor = { mediaType, digest: sha256(bytes), size: bytes.byteLength };
    await repository.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
    return descriptor;
  };
  const config = await push(
    Buffer.from(canonicalJSON({ architecture: 'amd64', os: 'linux', tag })),
    MediaType.ociConfig,
  );
  const descriptors = [];
  for (const layer of layers)
    descriptors.push(await push(layer, 'application/vnd.oci.image.layer.v1.tar+gzip'));
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config,
      layers: descriptors,
    }),
  );
  return (await repository.pushManifest(manifest, MediaType.ociManifest, tag)).digest;
}

/** Median seconds and peak RSS over the trials of one row. */
interface Row {
  readonly name: string;
  readonly runs: Timed[];
}
const rows: Row[] = [];
function record(name: string, result: Timed): Timed {
  const row = rows.find((r) => r.name === name);
  if (row) row.runs.push(result);
  else rows.push({ name, runs: [result] });
  return result;
}
const seconds = (name: string): number =>
  median(rows.find((r) => r.name === name)?.runs.map((r) => r.seconds) ?? []);
const rss = (name: string): number =>
  median(rows.find((r) => r.name === name)?.runs.map((r) => r.peakRSS) ?? []);

await timed('npm', ['run', 'build']);
const work = await tempDir('airlock-bench-bundle-');
const env = { COSIGN_PASSWORD: PASSWORD, HOME: work.path };
const airlock = (...args: string[]): Promise<Timed> =>
  timed(
    process.execPath,
    [...(PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE]), CLI, ...args],
    env,
  );
const registries: RegistryServer[] = [];
let sourceClient: RegistryClient | undefined;
try {
  // Keys: a signs the artifacts, b signs the bundles.
  const a = generateKeyPair(PASSWORD);
  const b = generateKeyPair(PASSWORD);
  const keys = {
    aPub: join(work.path, 'a.pub'),
    bKey: join(work.path, 'b.key'),
    bPub: join(work.path, 'b.pub'),
  };
  await writeFile(keys.aPub, a.publicKeyPEM);
  await writeFile(keys.bKey, b.privateKeyPEM, { mode: 0o600 });
  await writeFile(keys.bPub, b.publicKeyPEM);
  const signer = resolveSigner({ key: { pem: a.privateKeyPEM, password: PASSWORD } });

  const registryWork = ['export', 'import', 'delta'].some((s) => ONLY.has(s));
  let unique = 0;
  const sizes = { airlock: 0, skopeo: 0, airlockFiles: 0, skopeoFiles: 0 };
  let deltas: { name: string; refs: string[]; newBytes: number; size: number }[] = [];
  if (registryWork) {
    // The workload, pushed and signed into one registry.
    const source = await startRegistry();
    registries.push(source);
    const client = new RegistryClient({ insecureRegistries: [source.host] });
    sourceClient = client;
    const open = (repository: string): Repository => client.repository(source.host, repository);
    const started = Date.now();
    const charts = await fixtureCharts();
    await seedFixtureCharts(open, 'charts', charts);
    const refs: string[] = [];
    const tags = new Map<string, string[]>();
    const signed = async (repository: string, tag: string, reference = tag): Promise<void> => {
      const { signatureTag } = await signLegacy(open(repository), reference, signer);
      tags.set(repository, [...(tags.get(repository) ?? []), tag, signatureTag]);
      refs.push(`${source.host}/${repository}:${tag}`);
    };
    await mapLimit(charts, 8, (chart) =>
      signed(`charts/${chart.name}`, chart.version.replaceAll('+', '_')),
    );
    const base = [randomBlob(1, 8 * MiB), randomBlob(2, 8 * MiB)];
    for (let i = 0; i < IMAGES; i++) {
      const repository = `images/app-${String(i).padStart(2, '0')}`;
      const layers = [...base, randomBlob(100 + 2 * i, 2 * MiB), randomBlob(101 + 2 * i, 2 * MiB)];
      await signed(repository, '1.0.0', await pushImage(open(repository), layers, '1.0.0'));
    }
    refs.sort();
    const refsFile = join(work.path, 'refs.txt');
    await writeFile(refsFile, `${refs.join('\n')}\n`);
    const syncYAML = join(work.path, 'sync.yaml');
    await writeFile(
      syncYAML,
      `${source.host}:\n  tls-verify: false\n  images:\n${[...tags]
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([repository, list]) => `    ${repository}: [${list.map((t) => `"${t}"`).join(', ')}]`)
        .join('\n')}\n`,
    );
    unique = registryBlobBytes(source);
    const manifests = [...tags.values()].reduce((n, list) => n + list.length, 0);
    console.log(
      `setup: ${refs.length} artifacts (${charts.length} charts, ${IMAGES} images) + their signatures = ${manifests} tags in ${tags.size} repositories; ${mb(unique)} of unique blobs in the registry; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    // 1. Export.
    const exports = { airlock: '', skopeo: '' };
    const countFiles = (dir: string): number =>
      readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    for (let trial = 1; trial <= TRIALS; trial++) {
      const skopeoDir = join(work.path, `export-skopeo-${trial}`);
      const withSkopeo = ONLY.has('export') || ONLY.has('import');
      if (withSkopeo)
        record(
          'export: skopeo sync --dest dir',
          await timed('skopeo', [
            'sync',
            '--src',
            'yaml',
            '--dest',
            'dir',
            '--scoped',
            '--preserve-digests',
            syncYAML,
            skopeoDir,
          ]),
        );
      const airlockDir = join(work.path, `export-airlock-${trial}`);
      record(
        'export: airlock bundle create --verify-key',
        await airlock(
          'bundle',
          'create',
          '--from-file',
          refsFile,
          '-o',
          airlockDir,
          '--verify-key',
          keys.aPub,
          '--key',
          keys.bKey,
          '--insecure-registry',
          source.host,
        ),
      );
      const plainDir = join(work.path, `export-plain-${trial}`);
      record(
        'export: airlock bundle create (no --verify-key)',
        await airlock(
          'bundle',
          'create',
          '--from-file',
          refsFile,
          '-o',
          plainDir,
          '--key',
          keys.bKey,
          '--insecure-registry',
          source.host,
        ),
      );
      await rm(plainDir, { recursive: true, force: true });
      if (trial === 1) {
        sizes.airlock = du(airlockDir);
        sizes.airlockFiles = countFiles(airlockDir);
        if (withSkopeo) {
          sizes.skopeo = du(skopeoDir);
          sizes.skopeoFiles = countFiles(skopeoDir);
        }
        exports.airlock = airlockDir;
        exports.skopeo = skopeoDir;
      } else {
        await rm(airlockDir, { recursive: true, force: true });
        await rm(skopeoDir, { recursive: true, force: true });
      }
    }

    if (ONLY.has('import')) {
      // 2. Import into empty registries (a fresh pair each trial).
      for (let trial = 1; trial <= TRIALS; trial++) {
        const [toAirlock, toSkopeo] = await Promise.all([startRegistry(), startRegistry()]);
        try {
          const imported = record(
            'import: airlock bundle import',
            await airlock(
              'bundle',
              'import',
              exports.airlock,
              '--to',
              `${toAirlock.host}/mirror`,
              '--key',
              keys.bPub,
              '--insecure-registry',
              toAirlock.host,
            ),
          );
          record(
            'import: skopeo sync --src dir',
            await timed('skopeo', [
              'sync',
              '--src',
              'dir',
              '--dest',
              'docker',
              '--scoped',
              '--dest-tls-verify=false',
              '--preserve-digests',
              join(exports.skopeo, source.host),
              `${toSkopeo.host}/mirror`,
            ]),
          );
          if (trial === 1) {
            console.log(`airlock import: ${imported.stdout.trim().split('\n').pop() ?? ''}`);
            const [chart] = charts;
            for (const [who, host] of [
              ['airlock', toAirlock.host],
              ['skopeo', toSkopeo.host],
            ] as const)
              console.log(
                `${who} import holds mirror/charts/${chart?.name ?? ''}: ${run('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/mirror/charts/${chart?.name ?? ''}`]).replace(/\s+/g, ' ')}`,
              );
          }
        } finally {
          await Promise.all([toAirlock.stop(), toSkopeo.stop()]);
        }
      }
    }
    if (ONLY.has('delta')) {
      // 3. Delta: one new chart version and one new image, both signed.
      const [first] = charts;
      if (first === undefined) throw new Error('no fixture charts');
      const chartDir = join(work.path, 'new-chart');
      await mkdir(join(chartDir, 'templates'), { recursive: true });
      await writeFile(
        join(chartDir, 'Chart.yaml'),
        `apiVersion: v2\nname: ${first.name}\nversion: 99.0.0\n`,
      );
      await writeFile(
        join(chartDir, 'templates', 'cm.yaml'),
        `kind: ConfigMap\ndata:\n  nonce: "${randomBytes(24 * 1024).toString('base64')}"\n`,
      );
      const tgz = join(work.path, 'new-chart.tgz');
      await writeFile(tgz, (await packageChartBytes(chartDir)).tgz);
      const baseRefs = [...refs];
      let mark = registryBlobBytes(source);
      const added = (): number => {
        const now = registryBlobBytes(source);
        const bytes = now - mark;
        mark = now;
        return bytes;
      };
      await seedFixtureCharts(open, 'charts', [
        {
          name: first.name,
          version: '99.0.0',
          file: tgz,
          digest: '',
          metadata: { apiVersion: 'v2', name: first.name, version: '99.0.0' },
        },
      ]);
      await signed(`charts/${first.name}`, '99.0.0');
      const chart = { ref: refs.at(-1) ?? '', bytes: added() };
      // The new image twice: in a repository of its own, and as a new tag of an existing one.
      const newRepository = `images/app-${String(IMAGES).padStart(2, '0')}`;
      await signed(
        newRepository,
        '1.0.0',
        await pushImage(
          open(newRepository),
          [...base, randomBlob(900, 2 * MiB), randomBlob(901, 2 * MiB)],
          '1.0.0',
        ),
      );
      const inNewRepository = { ref: refs.at(-1) ?? '', bytes: added() };
      await signed(
        'images/app-00',
        '1.1.0',
        await pushImage(
          open('images/app-00'),
          [...base, randomBlob(902, 2 * MiB), randomBlob(903, 2 * MiB)],
          '1.1.0',
        ),
      );
      const newTag = { ref: refs.at(-1) ?? '', bytes: added() };
      deltas = [
        { name: 'delta: chart version + image in a new repository', image: inNewRepository },
        { name: 'delta: chart version + new tag of an existing image', image: newTag },
      ].map((d) => ({
        ...d,
        refs: [...baseRefs, chart.ref, d.image.ref].sort(),
        newBytes: chart.bytes + d.image.bytes,
        size: 0,
      }));
      for (const [i, delta] of deltas.entries()) {
        const list = join(work.path, `refs-delta-${i}.txt`);
        await writeFile(list, `${delta.refs.join('\n')}\n`);
        for (let trial = 1; trial <= TRIALS; trial++) {
          const deltaDir = join(work.path, `delta-${i}-${trial}`);
          const args = [
            '--since',
            exports.airlock,
            '--key',
            keys.bKey,
            '--insecure-registry',
            source.host,
          ];
          record(
            delta.name,
            await airlock(
              'bundle',
              'create',
              '--from-file',
              list,
              '-o',
              deltaDir,
              '--verify-key',
              keys.aPub,
              ...args,
            ),
          );
          if (trial === 1) delta.size = du(deltaDir);
          if (i === 0) {
            // The same pack on a few-MB bundle: the memory a pack costs whatever the bundle's size.
            const packed = join(work.path, `delta-packed-${trial}`);
            record(
              'verify of the delta (a few MB)',
              await airlock('bundle', 'verify', deltaDir, '--key', keys.bPub),
            );
            record(
              'pack of the delta (a few MB)',
              await airlock(
                'bundle',
                'pack',
                deltaDir,
                '-o',
                packed,
                '--chunk-size',
                '512MiB',
                '--key',
                keys.bKey,
              ),
            );
            await rm(packed, { recursive: true, force: true });
          }
          await rm(deltaDir, { recursive: true, force: true });
          if (i === 0) {
            record(
              `${delta.name} (no --verify-key)`,
              await airlock('bundle', 'create', '--from-file', list, '-o', deltaDir, ...args),
            );
            await rm(deltaDir, { recursive: true, force: true });
          }
        }
      }
    }
    await rm(exports.airlock, { recursive: true, force: true });
    await rm(exports.skopeo, { recursive: true, force: true });
  }

  let bigBytes = 0;
  if (ONLY.has('big')) {
    // 4. A synthetic ~BIG_MB bundle: images of ten 7 MiB random layers in an OCI layout, bundled.
    const layout = join(work.path, 'big-layout');
    const LAYER = 7 * MiB;
    const layers = Math.max(1, Math.round((BIG_MB * MiB) / LAYER));
    const bigRefs: string[] = [];
    for (let image = 0; image * 10 < layers; image++) {
      const tag = `big-${String(image).padStart(3, '0')}`;
      const repository = new LayoutRepository(layout);
      const blobs = [];
      for (let l = image * 10; l < Math.min(layers, image * 10 + 10); l++) blobs.push(l);
      const config = Buffer.from(canonicalJSON({ architecture: 'amd64', os: 'linux', tag }));
      const configDescriptor = {
        mediaType: MediaType.ociConfig,
        digest: sha256(config),
        size: config.length,
      };
      await repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
      const descriptors = [];
      for (const l of blobs) {
        const bytes = randomBlob(10_000 + l, LAYER);
        const descriptor = {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: sha256(bytes),
          size: LAYER,
        };
        await repository.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
        descriptors.push(descriptor);
      }
      await repository.pushManifest(
        Buffer.from(
          canonicalJSON({
            schemaVersion: 2,
            mediaType: MediaType.ociManifest,
            config: configDescriptor,
            layers: descriptors,
          }),
        ),
        MediaType.ociManifest,
        tag,
      );
      bigRefs.push(`oci-layout:${layout}:${tag}`);
    }
    const bigRefsFile = join(work.path, 'big-refs.txt');
    await writeFile(bigRefsFile, `${bigRefs.join('\n')}\n`);
    const big = join(work.path, 'big-bundle');
    const created = await airlock(
      'bundle',
      'create',
      '--from-file',
      bigRefsFile,
      '-o',
      big,
      '--key',
      keys.bKey,
    );
    await rm(layout, { recursive: true, force: true });
    bigBytes = du(big);
    console.log(
      `big bundle: ${bigRefs.length} images, ${layers} layers of 7 MiB, ${mb(bigBytes)} (created from an OCI layout in ${created.seconds.toFixed(1)} s)`,
    );
    for (let trial = 1; trial <= TRIALS; trial++) {
      const packed = join(work.path, 'big-packed');
      const unpacked = join(work.path, 'big-unpacked');
      record(
        'pack',
        await airlock(
          'bundle',
          'pack',
          big,
          '-o',
          packed,
          '--chunk-size',
          '512MiB',
          '--key',
          keys.bKey,
        ),
      );
      record(
        'unpack',
        await airlock('bundle', 'unpack', packed, '-o', unpacked, '--key', keys.bPub),
      );
      record('verify', await airlock('bundle', 'verify', unpacked, '--key', keys.bPub));
      await rm(packed, { recursive: true, force: true });
      await rm(unpacked, { recursive: true, force: true });
      // Floors: the same bytes through tar, split and `openssl dgst -sha256` (coreutils sha256sum
      // has no SHA-NI here and runs at ~160 MB/s, slower than airlock's hashing).
      const floor = join(work.path, 'floor');
      await mkdir(join(floor, 'chunks'), { recursive: true });
      await mkdir(join(floor, 'out'), { recursive: true });
      record(
        'pack floor: tar | split, openssl sha256',
        await timed('bash', [
          '-c',
          `tar -cf - -C "$0" . | split -b 512M - "$1/chunk." && openssl dgst -sha256 "$1"/chunk.* >/dev/null`,
          big,
          join(floor, 'chunks'),
        ]),
      );
      record(
        'unpack floor: openssl sha256, cat | tar -x',
        await timed('bash', [
          '-c',
          `openssl dgst -sha256 "$0"/chunk.* >/dev/null && cat "$0"/chunk.* | tar -xf - -C "$1"`,
          join(floor, 'chunks'),
          join(floor, 'out'),
        ]),
      );
      record(
        'verify floor: openssl sha256 of every blob',
        await timed('bash', [
          '-c',
          `find "$0/blobs" -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null`,
          join(floor, 'out'),
        ]),
      );
      await rm(floor, { recursive: true, force: true });
    }
  }
  // Report.
  console.log(`\nbundle benchmark, median of ${TRIALS} trials (peak RSS = child VmHWM)\n`);
  for (const row of rows)
    console.log(
      `${row.name.padEnd(48)} ${median(row.runs.map((r) => r.seconds))
        .toFixed(2)
        .padStart(
          7,
        )} s  ${(median(row.runs.map((r) => r.peakRSS)) / MB).toFixed(0).padStart(4)} MB  (${row.runs.map((r) => r.seconds.toFixed(2)).join(', ')})`,
    );
  console.log('');
  if (ONLY.has('export')) {
    const exportRatio =
      seconds('export: airlock bundle create --verify-key') /
      seconds('export: skopeo sync --dest dir');
    console.log(
      `export time: airlock ÷ skopeo = ${exportRatio.toFixed(2)} (budget ≤ 0.5) ${check(exportRatio <= 0.5)}; without --verify-key ${(seconds('export: airlock bundle create (no --verify-key)') / seconds('export: skopeo sync --dest dir')).toFixed(2)}`,
    );
    console.log(
      `export size: airlock ${mb(sizes.airlock)} (${sizes.airlockFiles} files) = ${(sizes.airlock / unique).toFixed(3)}× the unique ${mb(unique)} (budget ≤ 1.05×) ${check(sizes.airlock <= 1.05 * unique)}; skopeo ${mb(sizes.skopeo)} (${sizes.skopeoFiles} files) = ${(sizes.skopeo / unique).toFixed(2)}×`,
    );
  }
  if (ONLY.has('import')) {
    const importRatio =
      seconds('import: airlock bundle import') / seconds('import: skopeo sync --src dir');
    console.log(
      `import time: airlock ÷ skopeo = ${importRatio.toFixed(2)} (budget ≤ 0.5) ${check(importRatio <= 0.5)}`,
    );
  }
  for (const delta of deltas) {
    const t = seconds(delta.name);
    console.log(
      `${delta.name}: ${mb(delta.size)} on disk for ${mb(delta.newBytes)} of new blobs (${(delta.size / delta.newBytes).toFixed(2)}×; budget ≈ 1×) ${check(delta.size <= 1.05 * delta.newBytes + 64 * 1024)}; created in ${t.toFixed(2)} s (budget < 1 s) ${check(t < 1)}`,
    );
  }
  if (ONLY.has('big'))
    for (const [name, floor] of [
      ['pack', 'pack floor: tar | split, openssl sha256'],
      ['unpack', 'unpack floor: openssl sha256, cat | tar -x'],
      ['verify', 'verify floor: openssl sha256 of every blob'],
    ] as const) {
      const rate = bigBytes / MB / seconds(name);
      console.log(
        `${name} ${mb(bigBytes)}: ${rate.toFixed(0)} MB/s (budget ≥ 150) ${check(rate >= 150)}, peak RSS ${(rss(name) / MB).toFixed(0)} MB (budget < 150) ${check(rss(name) < 150 * MB)}; floor ${(bigBytes / MB / seconds(floor)).toFixed(0)} MB/s`,
      );
    }
} finally {
  sourceClient?.close();
  await Promise.all(registries.map((r) => r.stop()));
  await work.remove();
}
