// The quickstart: airlock end to end on the embedded default, a local OCI layout store
// (./airlock-store), with no registry and no network. It runs the real CLI on the bundled examples:
// package and push a Helm chart, push its CRDs and a directory of manifests as Flux artifacts,
// copy everything into a "mirror" with every digest verified, show that a second copy changes
// nothing, and pull the chart back byte for byte.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const store = join(root, 'airlock-store');
const revision = 'main@sha1:0000000000000000000000000000000000000000';

function airlock(...args: string[]): void {
  console.log(`\n$ airlock ${args.join(' ').replaceAll(root, './')}`);
  const result = spawnSync(process.execPath, [join(root, 'src', 'cli', 'main.ts'), ...args], {
    stdio: 'inherit',
    cwd: root,
  });
  if (result.status !== 0) {
    console.error(
      `quickstart: "airlock ${args.slice(0, 2).join(' ')}" exited ${String(result.status)}`,
    );
    process.exit(result.status ?? 1);
  }
}

rmSync(store, { recursive: true, force: true });
airlock('chart', 'package', 'examples/charts/hello', '-o', 'airlock-store/dist');
airlock('chart', 'push', 'airlock-store/dist/hello-0.1.0.tgz', 'oci-layout:airlock-store/upstream');
airlock(
  'artifact',
  'push',
  '--crds-from',
  'airlock-store/dist/hello-0.1.0.tgz',
  'oci-layout:airlock-store/upstream/hello-crds:0.1.0',
  '--source',
  'https://example.com/hello',
  '--revision',
  '0.1.0@sha1:0000000000000000000000000000000000000000',
);
airlock(
  'artifact',
  'push',
  'examples/manifests/hello',
  'oci-layout:airlock-store/upstream/apps:latest',
  '--source',
  'https://git.example.com/platform/apps',
  '--revision',
  revision,
  '--reproducible',
);
for (const name of ['hello', 'hello-crds', 'apps'])
  airlock(
    'copy',
    `oci-layout:airlock-store/upstream/${name}`,
    `oci-layout:airlock-store/mirror/${name}`,
  );
airlock('copy', 'oci-layout:airlock-store/upstream/hello', 'oci-layout:airlock-store/mirror/hello');
airlock('inspect', 'oci-layout:airlock-store/mirror/hello:0.1.0');
airlock('artifact', 'list', 'oci-layout:airlock-store/mirror/apps');
airlock(
  'chart',
  'pull',
  'oci-layout:airlock-store/mirror/hello:0.1.0',
  '-o',
  'airlock-store/pulled',
);
const same = readFileSync(join(store, 'dist', 'hello-0.1.0.tgz')).equals(
  readFileSync(join(store, 'pulled', 'hello-0.1.0.tgz')),
);
console.log(
  `\nThe chart pulled from the mirror is ${same ? 'byte-identical to' : 'DIFFERENT from'} the packaged one.`,
);
console.log(
  'Every blob and manifest was verified against its digest; the second copy changed nothing.',
);
process.exit(same ? 0 : 1);
