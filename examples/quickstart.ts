// The quickstart: airlock's engine end to end on the embedded default, with no registry and no
// network. It stores the bundled example manifests as OCI artifacts in a local "upstream" layout,
// then runs the real CLI to copy them into the local store, verify, list and inspect them.
import { spawnSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { canonicalJSON, LayoutRepository, MediaType, sha256 } from '../src/index.ts';

const root = new URL('..', import.meta.url).pathname;
const store = join(root, 'airlock-store');
const upstream = `oci-layout:${join(store, 'upstream')}`;
const mirror = `oci-layout:${join(store, 'mirror')}`;

async function seedUpstream(): Promise<void> {
  const dir = join(root, 'examples', 'manifests', 'hello');
  const files = (await readdir(dir)).sort();
  const layout = new LayoutRepository(join(store, 'upstream'));
  for (const version of ['1.0.0', '1.1.0']) {
    const layers = [];
    for (const file of files) {
      const bytes = Buffer.from(
        (await readFile(join(dir, file), 'utf8')).replace(
          'replicas: 2',
          version === '1.0.0' ? 'replicas: 2' : 'replicas: 3',
        ),
      );
      const descriptor = {
        mediaType: 'application/yaml',
        digest: sha256(bytes),
        size: bytes.length,
        annotations: { 'org.opencontainers.image.title': file },
      };
      await layout.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
      layers.push(descriptor);
    }
    const config = Buffer.from(canonicalJSON({ name: 'hello', version }));
    const configDescriptor = {
      mediaType: 'application/vnd.airlock.example.config.v1+json',
      digest: sha256(config),
      size: config.length,
    };
    await layout.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
    const manifest = Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDescriptor,
        layers,
        annotations: { 'org.opencontainers.image.version': version },
      }),
    );
    await layout.pushManifest(manifest, MediaType.ociManifest, version);
  }
}

function airlock(...args: string[]): void {
  console.log(`\n$ airlock ${args.join(' ').replaceAll(root, './')}`);
  const result = spawnSync(process.execPath, [join(root, 'src', 'cli', 'main.ts'), ...args], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error(`quickstart: "airlock ${args[0] ?? ''}" exited ${String(result.status)}`);
    process.exit(result.status ?? 1);
  }
}

await rm(store, { recursive: true, force: true });
await seedUpstream();
console.log(`Seeded ${upstream.replace(root, './')} with two versions of the example manifests.`);
airlock('copy', '--semver', '>=1.0.0', upstream, mirror);
airlock('copy', upstream, mirror);
airlock('ls', '--semver', '*', mirror);
airlock('inspect', `${mirror}:1.1.0`);
airlock('gc', mirror);
console.log(
  '\nDone: every blob and manifest was verified against its digest; the second copy changed nothing.',
);
