import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RegistryClient, StaticCredentials } from '../../src/oci/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';

const skip = missingTools(['docker-registry', 'htpasswd']);
const ROOT = new URL('../../', import.meta.url).pathname;

/** The bash code blocks of a docs page, in order. */
export function bashBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

describe('docs/oci.md examples run as written', { skip }, () => {
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

  it('every example exits 0, in order', async () => {
    const blocks = bashBlocks(await readFile(join(ROOT, 'docs', 'oci.md'), 'utf8'));
    assert.ok(blocks.length >= 8);
    const env = {
      PATH: process.env.PATH,
      HOME: work.path,
      DOCKER_CONFIG: join(work.path, 'docker'),
      REGISTRY: registry.host,
      REGISTRY_USER: registry.username,
      REGISTRY_PASSWORD: registry.password,
      AIRLOCK_INSECURE_REGISTRY: registry.host,
    };
    // `airlock` in the examples is the CLI from this checkout.
    const prelude = `set -euo pipefail\nairlock() { "${process.execPath}" "${join(ROOT, 'src', 'cli', 'main.ts')}" "$@"; }\n`;
    for (const block of blocks) {
      for (const line of block.split('\n').filter((l) => l.trim() !== '')) {
        const result = spawnSync('bash', ['-c', prelude + line], {
          cwd: work.path,
          env,
          encoding: 'utf8',
        });
        assert.equal(result.status, 0, `${line}\n${result.stderr}`);
        assert.ok(
          !`${result.stdout}${result.stderr}`.includes(registry.password!),
          'no password in output',
        );
      }
    }
  });
});
