// The quickstart: airlock's main job, the Shared Artifacts pipeline, end to end on the embedded
// default: a local OCI layout store (./airlock-store), the bundled example inventory and charts, no
// registry and no network. It generates a signing key, mirrors and signs the inventory, verifies
// the result, and shows that a second run changes nothing.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// A throwaway key for the demo only; real pipelines take the password from a CI secret.
const env = { ...process.env, COSIGN_PASSWORD: 'quickstart-only' };

function airlock(...args: string[]): void {
  console.log(`\n$ airlock ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [join(root, 'src', 'cli', 'main.ts'), ...args], {
    stdio: 'inherit',
    cwd: root,
    env,
  });
  if (result.status !== 0) {
    console.error(
      `quickstart: "airlock ${args.slice(0, 2).join(' ')}" exited ${String(result.status)}`,
    );
    process.exit(result.status ?? 1);
  }
}

rmSync(join(root, 'airlock-store'), { recursive: true, force: true });
mkdirSync(join(root, 'airlock-store', 'keys'), { recursive: true });
airlock('key', 'generate', '--output-key-prefix', 'airlock-store/keys/cosign');
airlock('mirror', 'examples/inventory.csv', '--key', 'airlock-store/keys/cosign.key');
airlock(
  'verify',
  'oci-layout:airlock-store/hello:0.1.0',
  'oci-layout:airlock-store/crds/hello:0.1.0',
  '--key',
  'airlock-store/keys/cosign.pub',
);
airlock('mirror', 'examples/inventory.csv', '--key', 'airlock-store/keys/cosign.key');
airlock('inspect', 'oci-layout:airlock-store/hello:0.1.0');
airlock(
  'artifact',
  'pull',
  'oci-layout:airlock-store/crds/hello:0.1.0',
  '-o',
  'airlock-store/crds-out',
);
console.log(
  '\nDone: the chart and its CRDs are mirrored into ./airlock-store, signed and verified; the second run found everything present.',
);
