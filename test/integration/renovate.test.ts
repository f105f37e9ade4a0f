// `airlock renovate config` checked by real Renovate (issue 9 §5): charts in a real registry, a
// real releases repository, Renovate run offline on it (--platform=local, lookups only), and its
// report read back: exactly the first environment's updates, labelled and auto-merged as
// promotion.yaml says, nothing for the later environments.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { exampleConfig, exampleReleasesRepo, type ReleasesRepo } from '../harness/releases-repo.ts';
import {
  renderedLabels,
  renovateConfigValidator,
  renovateSkipReason,
  reportDependencies,
  runRenovate,
} from '../harness/renovate.ts';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';

const run = promisify(execFile);
const skip = missingTools(['docker-registry', 'git']) ?? renovateSkipReason();
const { it, before, after } = gated(skip);

/** What the registry holds: every version Renovate can choose from. */
const CHARTS: Readonly<Record<string, readonly string[]>> = {
  podinfo: ['6.5.0', '6.5.1', '6.5.2', '6.6.0'],
  web: ['1.2.0', '1.3.0', '1.3.1', '2.0.0'],
  api: ['2.0.0', '2.0.1', '2.1.0'],
};

async function pushCharts(registry: RegistryServer, dir: string): Promise<void> {
  const packages: string[] = [];
  for (const [name, versions] of Object.entries(CHARTS))
    for (const version of versions) {
      const chart = join(dir, 'src', `${name}-${version}`);
      await mkdir(join(chart, 'templates'), { recursive: true });
      await writeFile(
        join(chart, 'Chart.yaml'),
        `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
      );
      await writeFile(
        join(chart, 'templates', 'configmap.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n',
      );
      const packed = await airlock(['chart', 'package', chart, '-o', join(dir, 'dist'), '--json']);
      assert.equal(packed.code, 0, packed.stderr);
      packages.push(packed.json<{ path: string }>().path);
    }
  const pushed = await airlock([
    'chart',
    'push',
    ...packages,
    `oci://${registry.host}/charts`,
    '--insecure-registry',
    registry.host,
  ]);
  assert.equal(pushed.code, 0, pushed.stderr);
}

/** `airlock renovate config` for the repository, as a CI job in the releases repository runs it. */
async function generate(
  repo: ReleasesRepo,
  registry: RegistryServer,
): Promise<{ code: number; stderr: string }> {
  const result = await airlock([
    'renovate',
    'config',
    '--config',
    join(repo.root, 'promotion.yaml'),
    '-o',
    join(repo.root, 'renovate.json'),
    '--registry',
    registry.host,
    '--insecure-registry',
    registry.host,
  ]);
  assert.equal(result.code, 0, result.stderr);
  await run('git', ['-C', repo.root, 'add', 'renovate.json', 'promotion.yaml']);
  await run('git', [
    '-C',
    repo.root,
    'commit',
    '--quiet',
    '-m',
    'renovate.json from promotion.yaml',
  ]);
  return result;
}

describe('renovate config, checked by real Renovate against the test registry', () => {
  let registry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let repo: ReleasesRepo;
  // The self-hosted runner's own configuration, not the repository's: only an administrator's
  // host rule may permit an internal host (Renovate 44 warns about every other request to one).
  let adminHostRules: Record<string, unknown>[];

  before(async () => {
    registry = await startRegistry();
    work = await tempDir('airlock-renovate-');
    await pushCharts(registry, work.path);
    // dev pins podinfo 6.5.1 (HelmRelease + OCI HelmRepository), web 1.3.0 (OCIRepository) and
    // api 2.0.1 (ResourceSet input); test and prod pin older versions of all three.
    repo = await exampleReleasesRepo(join(work.path, 'repo'), { registry: registry.host });
    adminHostRules = [{ matchHost: `http://${registry.host}`, hostType: 'docker' }];
  });
  after(async () => {
    await registry.stop();
    await work.remove();
  });

  it('proposes exactly the first environment’s updates, labelled and auto-merged as promotion.yaml says', async () => {
    await generate(repo, registry);
    const validator = renovateConfigValidator();
    assert.ok(validator);
    // --strict: the file needs no migration in the pinned Renovate either.
    await run(validator, ['--strict', 'renovate.json'], {
      cwd: repo.root,
      env: { PATH: process.env.PATH, HOME: work.path, RENOVATE_X_IGNORE_RE2: 'true' },
    });

    const result = await runRenovate(repo.root, join(work.path, 'run-1'), {
      hostRules: adminHostRules,
    });
    console.error(`renovate lookup run: ${Math.round(result.ms)} ms`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.report.problems, [], result.stderr);
    assert.deepEqual(result.report.repositories.local?.problems, [], result.stderr);

    const deps = reportDependencies(result.report);
    // Only dev's files are read: test and prod, which pin older versions of the same charts,
    // get nothing from Renovate.
    assert.deepEqual(
      deps.map(({ packageFile }) => packageFile).filter((f) => !f.startsWith('clusters/dev/')),
      [],
    );
    const proposed = Object.fromEntries(
      deps.map(({ manager, packageFile, dep }) => [
        `${manager} ${packageFile} ${dep.depName ?? ''} ${dep.currentValue ?? ''}`,
        (dep.updates ?? []).map((u) => `${u.updateType} ${u.newValue ?? ''}`).sort(),
      ]),
    );
    const host = registry.host;
    assert.deepEqual(proposed, {
      'flux clusters/dev/podinfo.yaml podinfo 6.5.1': ['minor 6.6.0', 'patch 6.5.2'],
      [`flux clusters/dev/web.yaml ${host}/charts/web 1.3.0`]: ['major 2.0.0', 'patch 1.3.1'],
      'jsonata clusters/dev/tenants.yaml api 2.0.1': ['minor 2.1.0'],
    });
    // Every lookup went to the private registry, over plain HTTP as --insecure-registry said.
    for (const { dep } of deps) {
      assert.equal(dep.packageName?.startsWith(`${host}/charts/`), true, dep.packageName);
      assert.equal(dep.registryUrl, `http://${host}`);
    }

    // The merge requests Renovate would open: dev auto-merges patch and minor, majors wait.
    const branches = result.branches.map((b) => ({
      change: b.upgrades.map((u) => `${u.packageFile} ${u.depName} ${u.newValue ?? ''}`).join(),
      automerge: b.automerge,
      labels: renderedLabels(b),
    }));
    const auto = (type: string): string[] => ['env/dev', 'promotion/auto-merge', `update/${type}`];
    assert.deepEqual(
      branches.sort((a, b) => a.change.localeCompare(b.change)),
      [
        {
          change: 'clusters/dev/podinfo.yaml podinfo 6.5.2',
          automerge: true,
          labels: auto('patch'),
        },
        {
          change: 'clusters/dev/podinfo.yaml podinfo 6.6.0',
          automerge: true,
          labels: auto('minor'),
        },
        { change: 'clusters/dev/tenants.yaml api 2.1.0', automerge: true, labels: auto('minor') },
        {
          change: `clusters/dev/web.yaml ${host}/charts/web 1.3.1`,
          automerge: true,
          labels: auto('patch'),
        },
        {
          change: `clusters/dev/web.yaml ${host}/charts/web 2.0.0`,
          automerge: false,
          labels: ['env/dev', 'promotion/needs-review', 'update/major'],
        },
      ],
    );
  });

  it('holds every update while promotion.yaml’s minimumReleaseAge cannot be checked', async () => {
    await writeFile(
      join(repo.root, 'promotion.yaml'),
      `${exampleConfig()}renovate:\n  minimumReleaseAge: 3 days\n`,
    );
    const { stderr } = await generate(repo, registry);
    // The registry has no release times for Renovate: the user is told, not left waiting.
    assert.match(stderr, /minimumReleaseAge/);
    const json = JSON.parse(await readFile(join(repo.root, 'renovate.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(json.minimumReleaseAge, '3 days');

    const result = await runRenovate(repo.root, join(work.path, 'run-2'), {
      hostRules: adminHostRules,
    });
    assert.equal(result.code, 0, result.stderr);
    const updates = reportDependencies(result.report).flatMap(({ dep }) => dep.updates ?? []);
    assert.equal(updates.length, 5);
    assert.deepEqual(
      updates.filter((u) => u.pendingChecks !== true),
      [],
      'every update waits for a release time the registry never gives',
    );
  });
});

describe('renovate config on the command line', () => {
  const promotion = exampleConfig();

  // Plain tests: the command line needs neither the registry nor Renovate.
  test('--check exits 1 while renovate.json is missing or stale, 0 once written', async () => {
    const dir = await tempDir('airlock-renovate-cli-');
    try {
      const config = join(dir.path, 'promotion.yaml');
      const output = join(dir.path, 'renovate.json');
      await writeFile(config, promotion);
      const args = ['renovate', 'config', '--config', config, '-o', output];
      const missing = await airlock([...args, '--check', '--json']);
      assert.equal(missing.code, 1);
      assert.deepEqual(missing.json(), {
        file: output,
        upToDate: false,
        written: false,
        warnings: [],
      });

      const written = await airlock([...args, '--json']);
      assert.equal(written.code, 0, written.stderr);
      assert.equal(written.json().written, true);
      assert.equal((await airlock([...args, '--check'])).code, 0);
      // Unchanged input: nothing rewritten.
      assert.equal((await airlock([...args, '--json'])).json().written, false);

      // promotion.yaml changes (a new auto-merge type): the committed file is now stale.
      await writeFile(config, promotion.replace('autoMerge: [patch, minor]', 'autoMerge: [patch]'));
      const stale = await airlock([...args, '--check']);
      assert.equal(stale.code, 1);
      assert.match(stale.stdout, /differs/);
    } finally {
      await dir.remove();
    }
  });

  test('prints to standard output with -o -, and names the flag of a bad registry', async () => {
    const dir = await tempDir('airlock-renovate-cli-');
    try {
      const config = join(dir.path, 'promotion.yaml');
      await writeFile(config, promotion);
      const printed = await airlock(['renovate', 'config', '--config', config, '-o', '-']);
      assert.equal(printed.code, 0, printed.stderr);
      assert.deepEqual((JSON.parse(printed.stdout) as { flux: unknown }).flux, {
        managerFilePatterns: ['clusters/dev/**/*.{yaml,yml}'],
      });
      const bad = await airlock([
        'renovate',
        'config',
        '--config',
        config,
        '-o',
        '-',
        '--registry',
        'oci://registry.internal',
      ]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--registry/);
      assert.match(bad.stderr, /error code USAGE/);
      const broken = join(dir.path, 'broken.yaml');
      await writeFile(broken, 'environments: []\n');
      assert.equal((await airlock(['renovate', 'config', '--config', broken, '-o', '-'])).code, 2);
      const help = await airlock(['renovate', 'config', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /--check/);
    } finally {
      await dir.remove();
    }
  });
});
