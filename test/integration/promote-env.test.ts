// Environment promotion in the releases repository (issue 9 §4), as the acceptance asks: a real
// git repository with a bare remote and dated history, a real registry holding the charts, and
// the fake forge (the one allowed fake) recording the merge requests.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { packageChartBytes, pushCharts } from '../../src/artifact/index.ts';
import { openSession, type Session } from '../../src/session/index.ts';
import { generateKeyPair, resolveSigner, signArtifacts } from '../../src/sign/index.ts';
import { type FakeForge, startFakeForge } from '../harness/forge.ts';
import { exampleConfig, exampleReleasesRepo, type ReleasesRepo } from '../harness/releases-repo.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { airlock } from '../helpers/cli.ts';
import { assertBatchReport } from '../helpers/report-schema.ts';

const skip = missingTools(['docker-registry', 'git']);

interface Item {
  component: string;
  outcome: string;
  decision: string;
  updateType?: string;
  reasons: string[];
  reason?: string;
  source: { version?: string; digest?: string };
  signature?: { verified: boolean };
  branch?: string;
  labels?: string[];
  change?: { url: string; state: string; autoMerge: boolean };
  error?: { code: string; data?: Record<string, unknown> };
}
interface Report {
  operation: string;
  items: Item[];
  summary: { failed: number };
}

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8' });

describe(
  'promote plan and promote apply on a three-environment releases repository',
  { skip },
  () => {
    let registry: RegistryServer;
    let session: Session;
    let work: { path: string; remove(): Promise<void> };
    const digests = new Map<string, string>();

    async function pushChart(name: string, version: string): Promise<void> {
      const dir = join(work.path, 'charts', `${name}-${version}`);
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(
        join(dir, 'Chart.yaml'),
        `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
      );
      await writeFile(join(dir, 'templates', 'cm.yaml'), `kind: ConfigMap\n# ${name} ${version}\n`);
      const { tgz } = await packageChartBytes(dir);
      const report = await pushCharts(session.target(`${registry.host}/charts`), [
        { tgz, where: `${name}-${version}.tgz` },
      ]);
      assert.equal(report.summary.failed, 0, JSON.stringify(report.items[0]?.error));
      digests.set(`${name}:${version}`, report.items[0]?.digest ?? '');
    }

    before(async () => {
      registry = await startRegistry();
      work = await tempDir('airlock-promote-env-');
      session = openSession({ insecureRegistries: [registry.host], env: { HOME: work.path } });
      const charts: [string, string[]][] = [
        ['podinfo', ['6.5.0', '6.5.1']],
        ['web', ['1.2.0', '1.3.0']],
        ['api', ['2.0.0', '2.0.1']],
      ];
      for (const [name, versions] of charts) for (const v of versions) await pushChart(name, v);
    });
    after(async () => {
      session.close();
      await registry.stop();
      await work.remove();
    });

    async function releasesRepo(
      dir: string,
      forge: FakeForge,
      extra: { signWith?: string } = {},
    ): Promise<ReleasesRepo> {
      const verify = extra.signWith === undefined ? '' : '    verify:\n      key: keys/test.pub\n';
      const config = exampleConfig()
        .replace('      - clusters/test\n', `      - clusters/test\n${verify}`)
        .concat(
          [
            'forge:',
            '  kind: gitlab',
            `  apiURL: ${forge.apiURL}`,
            '  project: platform/releases',
            '  targetBranch: main',
            '',
          ].join('\n'),
        );
      const repo = await exampleReleasesRepo(join(work.path, dir), {
        registry: registry.host,
        promotion: config,
      });
      if (extra.signWith !== undefined) {
        await mkdir(join(repo.root, 'keys'), { recursive: true });
        await writeFile(join(repo.root, 'keys', 'test.pub'), extra.signWith);
        git(repo.root, 'add', 'keys');
        git(repo.root, 'commit', '-q', '-m', 'test verifies with the release key');
      }
      return repo;
    }

    // As in a GitLab CI job of the releases repository: CI_API_V4_URL names the forge API the
    // token may go to (promotion.yaml alone may not), CI_PROJECT_PATH the project.
    const run = async (args: string[], root: string, forge?: FakeForge) => {
      const result = await airlock(
        [...args, '--repo', root, '--insecure-registry', registry.host, '--json'],
        {
          env: {
            HOME: work.path,
            GITLAB_TOKEN: 'glpat-sentinel-token',
            ...(forge ? { CI_API_V4_URL: forge.apiURL, CI_PROJECT_PATH: 'platform/releases' } : {}),
          },
        },
      );
      // Every batch report, success or failure, is the one documented shape.
      if (result.stdout.includes('"items"')) assertBatchReport(result.json());
      return result;
    };

    it('plan shows the patch (auto-merge), the minor (needs review) and the soaking patch (blocked), with reasons', async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('plan', forge);
        const plan = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(plan.code, 0, plan.stderr);
        const report = plan.json<Report>();
        assert.equal(report.operation, 'promote plan');
        const by = new Map(report.items.map((i) => [i.component, i]));
        assert.equal(by.get('podinfo')?.decision, 'auto-merge');
        assert.equal(by.get('podinfo')?.updateType, 'patch');
        assert.equal(by.get('podinfo')?.source.digest, digests.get('podinfo:6.5.1'));
        assert.equal(by.get('web')?.decision, 'needs-review');
        assert.equal(by.get('web')?.updateType, 'minor');
        assert.equal(by.get('api')?.decision, 'blocked');
        assert.match(by.get('api')?.reason ?? '', /soaking/);
        assert.equal(forge.requests.length, 0, 'plan never calls the forge');
        // dev is the first environment: it gets Renovate's updates, not promotions.
        const first = await run(['promote', 'plan', '--to', 'dev'], repo.root);
        assert.equal(first.code, 2);
      } finally {
        await forge.close();
      }
    });

    it('apply opens exactly two merge requests with labels and auto-merge flags, changes only those pins, and a re-run opens nothing new', async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('apply', forge);
        const before = git(repo.root, 'rev-parse', 'HEAD').trim();
        const status = git(repo.root, 'status', '--porcelain');
        const applied = await run(
          ['promote', 'apply', '--to', 'test', '--forge-plain-http'],
          repo.root,
          forge,
        );
        assert.equal(applied.code, 0, applied.stderr);
        assert.doesNotMatch(applied.stdout + applied.stderr, /glpat-sentinel-token/);
        const report = applied.json<Report>();
        const opened = report.items.filter((i) => i.change !== undefined);
        assert.deepEqual(opened.map((i) => i.component).sort(), ['podinfo', 'web']);
        assert.equal(forge.changes.length, 2);
        const podinfo = forge.changes.find((c) => c.sourceBranch.endsWith('/test/podinfo'));
        const web = forge.changes.find((c) => c.sourceBranch.endsWith('/test/web'));
        assert.deepEqual(podinfo?.labels.sort(), [
          'env/test',
          'promotion/auto-merge',
          'update/patch',
        ]);
        assert.equal(podinfo.autoMerge, true);
        assert.deepEqual(web?.labels.sort(), [
          'env/test',
          'promotion/needs-review',
          'update/minor',
        ]);
        assert.equal(web.autoMerge, false);
        assert.match(podinfo.body, new RegExp(digests.get('podinfo:6.5.1') ?? 'x'));
        // Exactly two branches on the remote, each one commit on main changing only its pin.
        const branches = git(
          repo.remote,
          'for-each-ref',
          '--format=%(refname:short)',
          'refs/heads/',
        )
          .trim()
          .split('\n')
          .filter((b) => b !== 'main');
        assert.equal(branches.length, 2);
        const diff = git(repo.remote, 'diff', 'main', podinfo.sourceBranch);
        assert.equal(
          diff
            .split('\n')
            .filter((l) => /^[-+][^-+]/.test(l))
            .join('\n'),
          [
            '-      version: "6.5.0" # promoted by airlock',
            '+      version: "6.5.1" # promoted by airlock',
          ].join('\n'),
        );
        const webFile = git(repo.remote, 'show', `${web.sourceBranch}:clusters/test/web.yaml`);
        const mainFile = git(repo.remote, 'show', 'main:clusters/test/web.yaml');
        assert.equal(
          webFile,
          mainFile.replace(
            'tag: 1.2.0 # the version under test',
            'tag: 1.3.0 # the version under test',
          ),
        );
        // The user's checkout is untouched.
        assert.equal(git(repo.root, 'rev-parse', 'HEAD').trim(), before);
        assert.equal(git(repo.root, 'status', '--porcelain'), status);
        // Re-run: nothing new opened, nothing pushed.
        const posts = forge.requests.filter((r) => r.method === 'POST').length;
        const again = await run(
          ['promote', 'apply', '--to', 'test', '--forge-plain-http'],
          repo.root,
          forge,
        );
        assert.equal(again.code, 0, again.stderr);
        assert.equal(forge.changes.length, 2);
        assert.equal(forge.requests.filter((r) => r.method === 'POST').length, posts);
        const rerun = again.json<Report>().items.filter((i) => i.change !== undefined);
        assert.deepEqual(
          rerun.map((i) => i.outcome),
          ['present', 'present'],
        );
      } finally {
        await forge.close();
      }
    });

    it("a signature that fails test's policy blocks the promotion", async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const keys = generateKeyPair('unused');
        const repo = await releasesRepo('signed', forge, { signWith: keys.publicKeyPEM });
        // Sign only podinfo 6.5.1 with the key test trusts.
        const signer = resolveSigner({ key: { pem: keys.privateKeyPEM, password: 'unused' } });
        await signArtifacts(session, [`${registry.host}/charts/podinfo:6.5.1`], signer);
        const plan = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(plan.code, 0, plan.stderr);
        const by = new Map(plan.json<Report>().items.map((i) => [i.component, i]));
        assert.equal(by.get('podinfo')?.decision, 'auto-merge');
        assert.equal(by.get('podinfo')?.signature?.verified, true);
        assert.equal(by.get('web')?.decision, 'blocked');
        assert.equal(by.get('web')?.signature?.verified, false);
      } finally {
        await forge.close();
      }
    });

    it('a forge that answers 401, 409 or 500 fails clearly and leaves no branch without its merge request', async () => {
      for (const [status, code] of [
        [401, 'FORGE_AUTH'],
        [409, 'FORGE_CONFLICT'],
        [500, 'FORGE_FAILED'],
      ] as const) {
        const failures =
          status === 401
            ? [{ method: 'GET', pathPattern: /^\/projects\/[^/]+$/, status }]
            : [{ method: 'POST', pathPattern: /merge_requests$/, status }];
        const forge = await startFakeForge('gitlab', { project: 'platform/releases', failures });
        try {
          const repo = await releasesRepo(`fail-${status}`, forge);
          const applied = await run(
            ['promote', 'apply', '--to', 'test', '--forge-plain-http'],
            repo.root,
            forge,
          );
          assert.notEqual(applied.code, 0);
          const branches = git(
            repo.remote,
            'for-each-ref',
            '--format=%(refname:short)',
            'refs/heads/',
          )
            .trim()
            .split('\n')
            .filter((b) => b !== 'main');
          assert.deepEqual(
            branches,
            [],
            `HTTP ${status}: no branch left without its merge request`,
          );
          if (status === 401) {
            assert.match(applied.stderr, new RegExp(code));
            assert.doesNotMatch(applied.stderr, /glpat-sentinel-token/);
          } else {
            const failed = applied.json<Report>().items.filter((i) => i.outcome === 'failed');
            assert.equal(failed.length, 2);
            for (const item of failed) {
              assert.equal(item.error?.code, code);
              assert.equal(item.error.data?.branchOnRemote, false);
            }
          }
        } finally {
          await forge.close();
        }
      }
    });

    it('the forge token goes only to a forge the operator or the CI job confirms, never to one promotion.yaml alone names', async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('trust', forge);
        const apply = ['promote', 'apply', '--to', 'test', '--forge-plain-http'];
        const unconfirmed = await run(apply, repo.root);
        assert.equal(unconfirmed.code, 2);
        assert.match(unconfirmed.stderr, /INPUT_INVALID/);
        const elsewhere = await airlock(
          [...apply, '--repo', repo.root, '--insecure-registry', registry.host, '--json'],
          {
            env: {
              HOME: work.path,
              GITLAB_TOKEN: 'glpat-sentinel-token',
              CI_API_V4_URL: 'http://127.0.0.1:9/api/v4',
            },
          },
        );
        assert.equal(elsewhere.code, 3);
        assert.match(elsewhere.stderr, /POLICY_VIOLATION/);
        assert.equal(forge.requests.length, 0, 'no request reached the forge promotion.yaml named');
        const confirmed = await run([...apply, '--forge-url', forge.apiURL], repo.root);
        assert.equal(confirmed.code, 0, confirmed.stderr);
        assert.equal(forge.changes.length, 2);
      } finally {
        await forge.close();
      }
    });

    it("a re-run never overwrites a reviewer's commits on a promotion branch", async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('reviewer', forge);
        const apply = ['promote', 'apply', '--to', 'test', '--forge-plain-http'];
        assert.equal((await run(apply, repo.root, forge)).code, 0);
        const branch =
          forge.changes.find((c) => c.sourceBranch.endsWith('/test/podinfo'))?.sourceBranch ?? '';
        // A reviewer adds a commit to the branch; main moves on meanwhile.
        const review = join(work.path, 'reviewer-clone');
        git(work.path, 'clone', '-q', '--branch', branch, repo.remote, review);
        await writeFile(join(review, 'NOTES.md'), 'reviewed\n');
        git(review, 'add', 'NOTES.md');
        git(
          review,
          '-c',
          'user.name=Reviewer',
          '-c',
          'user.email=r@example.test',
          'commit',
          '-q',
          '-m',
          'review notes',
        );
        git(review, 'push', '-q', 'origin', branch);
        const reviewed = git(repo.remote, 'rev-parse', branch).trim();
        await writeFile(join(repo.root, 'README.md'), 'releases\n');
        git(repo.root, 'add', 'README.md');
        git(repo.root, 'commit', '-q', '-m', 'main moves on');
        const again = await run(apply, repo.root, forge);
        const item = again.json<Report>().items.find((i) => i.component === 'podinfo');
        assert.equal(item?.outcome, 'failed');
        assert.equal(item.error?.code, 'GIT_FAILED');
        assert.equal(git(repo.remote, 'rev-parse', branch).trim(), reviewed);
      } finally {
        await forge.close();
      }
    });

    it('a pin reached through a symlink has no trustworthy soak time: blocked', async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('symlink', forge);
        await mkdir(join(repo.root, 'shared'), { recursive: true });
        git(repo.root, 'mv', 'clusters/dev/web.yaml', 'shared/web.yaml');
        await symlink('../../shared/web.yaml', join(repo.root, 'clusters', 'dev', 'web.yaml'));
        git(repo.root, 'add', '-A');
        git(repo.root, 'commit', '-q', '-m', 'dev reads web from shared/');
        const plan = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(plan.code, 0, plan.stderr);
        const web = plan.json<Report>().items.find((i) => i.component === 'web');
        assert.equal(web?.decision, 'blocked');
        assert.match(web.reason ?? '', /symlink/);
      } finally {
        await forge.close();
      }
    });

    it('bad input: a malformed promotion.yaml, an environment without pins, a pin that does not resolve', async () => {
      const forge = await startFakeForge('gitlab', { project: 'platform/releases' });
      try {
        const repo = await releasesRepo('bad', forge);
        const config = join(repo.root, 'promotion.yaml');
        const good = await readFile(config, 'utf8');
        await writeFile(
          config,
          'environments:\n  - name: Dev\n    paths: []\n    autoMerge: [tiny]\n  - paths: [x]\n',
        );
        const malformed = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(malformed.code, 2);
        assert.match(malformed.stderr, /CONFIG_INVALID/);
        for (const where of [
          /promotion\.yaml:2:\d+: environments\[0\]\.name/,
          /environments\[0\]\.paths/,
          /environments\[0\]\.autoMerge/,
          /environments\[1\]\.name: is required/,
        ])
          assert.match(malformed.stderr, where);
        await writeFile(
          config,
          good.replace('      - clusters/test\n', '      - clusters/empty\n'),
        );
        await mkdir(join(repo.root, 'clusters', 'empty'), { recursive: true });
        const noPins = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(noPins.code, 2);
        assert.match(noPins.stderr, /PINS_NOT_FOUND/);
        await writeFile(config, good);
        const podinfo = join(repo.root, 'clusters', 'dev', 'podinfo.yaml');
        await writeFile(podinfo, (await readFile(podinfo, 'utf8')).replace('6.5.1', '6.9.9'));
        const missing = await run(['promote', 'plan', '--to', 'test'], repo.root);
        assert.equal(missing.code, 1);
        const item = missing.json<Report>().items.find((i) => i.component === 'podinfo');
        assert.equal(item?.outcome, 'failed');
        assert.equal(item.error?.code, 'REGISTRY_NOT_FOUND');
      } finally {
        await forge.close();
      }
    });
  },
);
