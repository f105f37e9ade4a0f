import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { packageChartBytes, pushChartArchive } from '../../src/artifact/index.ts';
import { bundleCreateCommand } from '../../src/cli/commands/bundle.ts';
import { imagesListCommand } from '../../src/cli/commands/images-list.ts';
import { generateKeyPair } from '../../src/sign/index.ts';
import { pushTestImage } from '../harness/images.ts';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { runCommand } from '../helpers/command.ts';

// An inventory as the mirror holds it — every mirrored version of each row, at the repository
// airlock mirror writes it to: images list --inventory (issue 12 §1, "an inventory row") lists
// the charts' images, one row by its line, image rows refused; bundle create --inventory
// (issue 11 §1) bundles every one of them, image rows with every tag they mirrored.

const { it, before, after } = gated(missingTools(['docker-registry']));

interface Listed {
  reference: string;
  sources: { chart?: string; version?: string }[];
}

describe('images list --inventory: the mirrored charts of an inventory', () => {
  let registry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let inventory: string;
  before(async () => {
    registry = await startRegistry();
    work = await tempDir('airlock-images-inventory-');
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    // Two versions of web (each with its own tag of the image) and one of cache, mirrored as
    // airlock mirror writes them: <prefix>/<chart>:<version>, beside a signature tag.
    for (const [name, version, image] of [
      ['web', '1.0.0', 'ghcr.io/acme/web:1.0.0'],
      ['web', '1.1.0', 'ghcr.io/acme/web:1.1.0'],
      ['cache', '7.4.0', 'redis:7.4'],
    ] as const) {
      const dir = join(work.path, `${name}-${version}`);
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(
        join(dir, 'Chart.yaml'),
        `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
      );
      await writeFile(join(dir, 'values.yaml'), `image: "${image}"\n`);
      const chart = await packageChartBytes(dir);
      await pushChartArchive(client.repository(registry.host, `mirror/${name}`), chart.tgz, {
        created: '2026-01-01T00:00:00Z',
      });
    }
    // An image row's mirror: <prefix>/<registry>/<repository>, beside a signature tag.
    const tool = client.repository(registry.host, 'mirror/quay.io/acme/tool');
    const pushed = await pushTestImage(tool, [Buffer.from('tool layer')], '2.1');
    await pushTestImage(
      tool,
      [Buffer.from('not a signature')],
      `${pushed.digest.replace(':', '-')}.sig`,
    );
    client.close();
    inventory = join(work.path, 'inventory.csv');
    await writeFile(
      inventory,
      'source,chart,versions,type\nhttps://charts.example.com,web,">=1",helm\nhttps://charts.example.com,cache,,helm\nquay.io/acme/tool,,,image\n',
    );
  });
  after(async () => {
    await registry.stop();
    await work.remove();
  });

  const list = (args: string[]) =>
    runCommand(imagesListCommand, [
      '--inventory',
      inventory,
      '--from',
      `${registry.host}/mirror`,
      '--no-helm',
      '--insecure-registry',
      registry.host,
      '--json',
      ...args,
    ]);

  it('every mirrored version of every chart row, each image with its chart and version', async () => {
    const run = await list([]);
    assert.equal(run.code, ExitCode.ok, run.error?.message);
    const images = JSON.parse(run.stdout) as Listed[];
    assert.deepEqual(
      images.map((i) => [i.reference, i.sources.map((s) => `${s.chart ?? ''} ${s.version ?? ''}`)]),
      [
        ['docker.io/library/redis:7.4', ['cache 7.4.0']],
        ['ghcr.io/acme/web:1.0.0', ['web 1.0.0']],
        ['ghcr.io/acme/web:1.1.0', ['web 1.1.0']],
      ],
    );
  });

  it('--row lists one row; a line that is no row, or an image row, is refused', async () => {
    const one = await list(['--row', '3']);
    assert.equal(one.code, ExitCode.ok, one.error?.message);
    assert.deepEqual(
      (JSON.parse(one.stdout) as Listed[]).map((i) => i.reference),
      ['docker.io/library/redis:7.4'],
    );
    for (const row of ['9', '4']) {
      const refused = await list(['--row', row]);
      assert.equal(refused.code, ExitCode.invalidInput);
      assert.equal(refused.error?.code, 'INPUT_INVALID');
    }
  });

  it('a row the mirror holds nothing of names the row', async () => {
    const run = await runCommand(imagesListCommand, [
      '--inventory',
      inventory,
      '--from',
      `${registry.host}/elsewhere`,
      '--no-helm',
      '--insecure-registry',
      registry.host,
    ]);
    assert.equal(run.code, ExitCode.invalidInput);
    assert.equal(run.error?.code, 'INPUT_INVALID');
    assert.ok(run.error);
    assert.match(run.error.message, /inventory\.csv:2/);
  });

  it('bundle create --inventory: every mirrored chart version and image tag of every row', async () => {
    const key = generateKeyPair('bundle-test-password');
    const keyFile = join(work.path, 'b.key');
    await writeFile(keyFile, key.privateKeyPEM);
    const run = await runCommand(
      bundleCreateCommand,
      [
        '--inventory',
        inventory,
        '--from',
        `${registry.host}/mirror`,
        '-o',
        join(work.path, 'bundle'),
        '--key',
        keyFile,
        '--insecure-registry',
        registry.host,
        '--json',
      ],
      { env: { ...process.env, COSIGN_PASSWORD: 'bundle-test-password' } },
    );
    assert.equal(run.code, ExitCode.ok, run.error?.message);
    const report = JSON.parse(run.stdout) as { items: { reference: string; outcome: string }[] };
    assert.deepEqual(
      report.items.map((i) => `${i.reference} ${i.outcome}`),
      [
        'mirror/web:1.0.0 done',
        'mirror/web:1.1.0 done',
        'mirror/cache:7.4.0 done',
        'mirror/quay.io/acme/tool:2.1 done',
      ],
    );
  });
});
