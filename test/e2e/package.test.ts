// The published surface (issue 8 §2): pack the package as npm publishes it, install the tarball in
// an empty project, import it through its `exports` entry by name, and mirror a chart with it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, ROOT } from '../helpers/build.ts';
import { tempDir } from '../harness/tools.ts';

describe('the packed package, imported by name', () => {
  let work: { path: string; remove: () => Promise<void> };
  let project: string;

  before(async () => {
    await ensureBuilt();
    work = await tempDir();
    project = join(work.path, 'project');
    const installed = join(project, 'node_modules', 'airlock');
    await mkdir(installed, { recursive: true });
    // What `npm publish` would upload (dist/ was just built; scripts are not run again).
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work.path], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { filename: string }[];
    assert.ok(packed);
    execFileSync('tar', [
      '-xzf',
      join(work.path, packed.filename),
      '-C',
      installed,
      '--strip-components=1',
    ]);
    // Its runtime dependencies, as an install would place them (no network: linked from here).
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies)) {
      const link = join(project, 'node_modules', name);
      await mkdir(join(link, '..'), { recursive: true });
      await symlink(join(ROOT, 'node_modules', name), link);
    }
    await writeFile(join(project, 'package.json'), '{"type":"module","private":true}');
  });
  after(async () => {
    await work.remove();
  });

  it('ships only dist/ and the package files, with no TypeScript sources', () => {
    const files = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as { files: { path: string }[] }[];
    const paths = files[0]?.files.map((f) => f.path) ?? [];
    assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'));
    assert.deepEqual(
      paths.filter((p) => !p.startsWith('dist/') && !/^(package\.json|README\.md|LICENSE)/.test(p)),
      [],
    );
  });

  it('exports the curated API and keeps internals private', async () => {
    const script = [
      "const api = await import('airlock');",
      'console.log(JSON.stringify(Object.keys(api).sort()));',
    ].join('\n');
    await writeFile(join(project, 'keys.mjs'), script);
    const result = spawnSync(process.execPath, ['keys.mjs'], { cwd: project, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const names = JSON.parse(result.stdout) as string[];
    for (const expected of [
      'openSession',
      'runMirror',
      'copySpecs',
      'pushCharts',
      'resolveSigner',
      'verifyArtifacts',
      'AirlockError',
    ])
      assert.ok(names.includes(expected), `exports ${expected}`);
    for (const internal of [
      'readTar',
      'tarHeader',
      'gzipDeterministic',
      'goJSON',
      'HTTPTransport',
      'RegistryClient',
    ])
      assert.ok(!names.includes(internal), `does not export ${internal}`);
    // Deep imports are closed too: only the `exports` entry resolves.
    await writeFile(join(project, 'deep.mjs'), "await import('airlock/dist/core/tar.js');");
    const deep = spawnSync(process.execPath, ['deep.mjs'], { cwd: project, encoding: 'utf8' });
    assert.notEqual(deep.status, 0);
    assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('mirrors the example chart into an OCI layout through the installed package', async () => {
    const store = join(work.path, 'store');
    const script = `
import { readFile } from 'node:fs/promises';
import { openSession, runMirror } from 'airlock';
const file = ${JSON.stringify(join(ROOT, 'examples/inventory.csv'))};
const session = openSession();
try {
  const report = await runMirror(session, {
    inventory: { text: await readFile(file, 'utf8'), file },
    target: ${JSON.stringify(`oci-layout:${store}`)},
  });
  console.log(JSON.stringify(report));
} finally {
  session.close();
}
`;
    await writeFile(join(project, 'mirror.mjs'), script);
    const result = spawnSync(process.execPath, ['mirror.mjs'], {
      cwd: project,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: work.path },
    });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      operation: string;
      summary: { done: number; failed: number };
    };
    assert.equal(report.operation, 'mirror');
    assert.deepEqual([report.summary.done, report.summary.failed], [2, 0]);
    assert.ok((await stat(join(store, 'hello', 'index.json'))).isFile());
  });
});
