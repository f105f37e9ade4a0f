// A new user's first hour (issue 8 §4): the built bin, README examples as pasted, an old Node,
// typos, and a production install. These run the built package (dist/), as users do.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir, which } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { BIN, ensureBuilt, ROOT } from '../helpers/build.ts';
import { bashBlocks } from '../helpers/markdown.ts';

/** A Node older than 22 on this machine (the system's), if there is one. */
function oldNode(): string | undefined {
  const found = spawnSync('sh', ['-c', 'which -a node nodejs 2>/dev/null'], { encoding: 'utf8' });
  for (const path of found.stdout.split('\n').filter(Boolean)) {
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (Number(/^v(\d+)/.exec(version)?.[1] ?? 99) < 22) return path;
  }
  return undefined;
}

describe('a new user’s first hour', () => {
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    await ensureBuilt();
    work = await tempDir();
  });
  after(async () => {
    await work.remove();
  });

  it('ships an executable bin with a shebang, as npm packs it', async () => {
    const text = await readFile(BIN, 'utf8');
    assert.ok(text.startsWith('#!/usr/bin/env node\n'));
    assert.ok(((await stat(BIN)).mode & 0o111) !== 0, 'dist/cli/main.js is executable');
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { files: { path: string; mode: number }[] }[];
    const bin = packed[0]?.files.find((f) => f.path === 'dist/cli/main.js');
    assert.ok(bin, 'the tarball holds the bin');
    assert.ok((bin.mode & 0o111) !== 0, 'the bin is executable in the tarball');
  });

  it('runs the README examples as pasted (npx airlock in the clone)', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const examples = bashBlocks(readme).filter((b) => b.includes('npx airlock'));
    assert.ok(examples.length >= 1, 'the README shows how to run airlock');
    // The examples write only below /tmp/airlock-demo: start from an empty one.
    await rm('/tmp/airlock-demo', { recursive: true, force: true });
    for (const block of examples) {
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block], {
        cwd: ROOT,
        encoding: 'utf8',
        // npx resolves `airlock` to this clone; its own cache and HOME stay in the temp folder.
        env: {
          PATH: process.env.PATH,
          HOME: work.path,
          npm_config_cache: join(work.path, 'npm-cache'),
          npm_config_offline: 'true',
          npm_config_update_notifier: 'false',
        },
      });
      assert.equal(result.status, 0, `${block}\n${result.stderr}`);
    }
    assert.ok(
      (await stat('/tmp/airlock-demo/hello/index.json')).isFile(),
      'the mirror wrote the store',
    );
    await rm('/tmp/airlock-demo', { recursive: true, force: true });
  });

  it('names the Node version found and needed on an old Node, in one line', (t) => {
    const node = oldNode();
    if (node === undefined) {
      t.skip('no Node older than 22 on this machine');
      return;
    }
    const result = spawnSync(node, [BIN, '--help'], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    const found = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim().slice(1);
    assert.ok(lines[0]?.includes(found) && lines[0].includes('22'), lines[0]);
  });

  it('keeps the bin’s minimum Node equal to package.json engines', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const main = await readFile(join(ROOT, 'src/cli/main.ts'), 'utf8');
    const minimum = /MINIMUM_NODE_MAJOR = (\d+)/.exec(main)?.[1];
    assert.equal(manifest.engines.node, `>=${minimum ?? '?'}`);
  });

  it('suggests the closest flag or command for a typo', async () => {
    const flag = await airlock(['copy', '--insecure-regsitry', 'x', 'a', 'b', '--json']);
    assert.equal(flag.code, 2);
    const flagError = flag.json<{ error: { code: string; details: string[] } }>().error;
    assert.equal(flagError.code, 'USAGE');
    assert.ok(flagError.details.some((d) => d.includes('--insecure-registry')));
    const command = await airlock(['mirorr', 'inventory.csv', '--json']);
    assert.equal(command.code, 2);
    const commandError = command.json<{ error: { details: string[] } }>().error;
    assert.ok(commandError.details.some((d) => d.includes('airlock mirror"')));
    const sub = await airlock(['chart', 'pusj', '--json']);
    assert.ok(
      sub.json<{ error: { details: string[] } }>().error.details.some((d) => d.includes('push"')),
    );
  });

  it('does not run tsc in a production install (npm ci --omit=dev runs prepare without it)', async () => {
    const clone = join(work.path, 'production');
    await mkdir(join(clone, 'scripts'), { recursive: true });
    await cp(join(ROOT, 'scripts/build.js'), join(clone, 'scripts/build.js'));
    await writeFile(join(clone, 'package.json'), '{"type":"module"}');
    const node = which('node') ?? process.execPath;
    const result = spawnSync(node, ['scripts/build.js', '--if-dev'], {
      cwd: clone,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    await assert.rejects(stat(join(clone, 'dist')), { code: 'ENOENT' });
  });
});
