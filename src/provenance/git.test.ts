import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { tempDir } from '../../test/harness/tools.ts';
import { gitProvenance, resolveProvenance, webURL } from './index.ts';

/** Real git in a temp repository, with a fixed identity and no user configuration. */
function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  }).trim();
}

describe('webURL', () => {
  it('turns scp-like and ssh remotes into https, without .git', () => {
    assert.equal(webURL('git@host:g/r.git'), 'https://host/g/r');
    assert.equal(
      webURL('git@gitlab.internal:platform/sub/fleet.git'),
      'https://gitlab.internal/platform/sub/fleet',
    );
    assert.equal(webURL('ssh://git@host:2222/g/r.git'), 'https://host/g/r');
  });

  it('strips credentials from http(s) remotes (a CI token is never recorded)', () => {
    assert.equal(
      webURL('https://gitlab-ci-token:glcbt-secret@gitlab.internal/platform/fleet.git'),
      'https://gitlab.internal/platform/fleet',
    );
    assert.equal(
      webURL('https://x-access-token:ghs_abc@github.com/acme/fleet'),
      'https://github.com/acme/fleet',
    );
    assert.equal(webURL('http://git.lan:8080/r.git'), 'http://git.lan:8080/r');
  });

  it('gives nothing for local paths and other schemes', () => {
    assert.equal(webURL('/srv/git/fleet.git'), undefined);
    assert.equal(webURL('../fleet'), undefined);
    assert.equal(webURL('file:///srv/git/fleet.git'), undefined);
  });
});

describe('gitProvenance (real git)', () => {
  let work: { path: string; remove: () => Promise<void> };
  let repo: string;
  let sha: string;
  before(async () => {
    work = await tempDir('airlock-provenance-');
    repo = join(work.path, 'fleet');
    await mkdir(join(repo, 'components', 'web'), { recursive: true });
    await writeFile(join(repo, 'components', 'web', 'deploy.yaml'), 'kind: ConfigMap\n');
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    git(repo, 'remote', 'add', 'origin', 'git@host:g/r.git');
    sha = git(repo, 'rev-parse', 'HEAD');
  });
  after(() => work.remove());

  it('reads branch, commit and origin, also from a subdirectory', async () => {
    const expected = {
      source: 'https://host/g/r',
      revision: `main@sha1:${sha}`,
      sha,
      refName: 'main',
    };
    assert.deepEqual(await gitProvenance(repo), expected);
    assert.deepEqual(await gitProvenance(join(repo, 'components', 'web')), expected);
  });

  it('names a detached checkout by its exact tag, else by its commit', async () => {
    git(repo, 'tag', 'web/1.4.2');
    git(repo, 'checkout', '-q', '--detach');
    try {
      assert.equal((await gitProvenance(repo)).revision, `web/1.4.2@sha1:${sha}`);
      git(repo, 'tag', '-d', 'web/1.4.2');
      assert.equal((await gitProvenance(repo)).revision, `${sha}@sha1:${sha}`);
    } finally {
      git(repo, 'checkout', '-q', 'main');
    }
  });

  it('refuses a directory outside git (INPUT_INVALID: give the values) and a repository without commits', async () => {
    const outside = join(work.path, 'plain');
    await mkdir(outside);
    const error = await assertRejectsCode(() => gitProvenance(outside), 'INPUT_INVALID');
    assert.equal(error.data.option, 'source');
    const empty = join(work.path, 'empty');
    await mkdir(empty);
    git(empty, 'init', '-q');
    await assertRejectsCode(() => gitProvenance(empty), 'INPUT_INVALID');
  });

  it('resolveProvenance: flags win, then the CI job, then the checkout', async () => {
    const flags = await resolveProvenance({
      source: 'https://git.internal/x',
      revision: `v1@sha1:${sha}`,
      env: {},
      dir: repo,
    });
    assert.deepEqual(flags, {
      source: 'https://git.internal/x',
      revision: `v1@sha1:${sha}`,
      annotations: {},
      from: 'flags',
    });
    const ciSha = 'b'.repeat(40);
    const env = {
      GITLAB_CI: 'true',
      CI_PROJECT_URL: 'https://gitlab.internal/platform/fleet',
      CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_SHA: ciSha,
      CI_PIPELINE_ID: '77',
    };
    const ci = await resolveProvenance({ env, dir: repo });
    assert.equal(ci.from, 'gitlab-ci');
    assert.equal(ci.revision, `main@sha1:${ciSha}`);
    assert.equal(ci.annotations['dev.airlock.ci.pipeline.id'], '77');
    // An explicit source with the CI revision; the CI run is recorded either way.
    const mixed = await resolveProvenance({ source: 'https://mirror/x', env, dir: repo });
    assert.deepEqual(
      [mixed.source, mixed.revision, mixed.from],
      ['https://mirror/x', `main@sha1:${ciSha}`, 'gitlab-ci'],
    );
    const both = await resolveProvenance({ source: 's', revision: 'r@sha1:x', env, dir: repo });
    assert.equal(both.annotations['dev.airlock.ci.platform'], 'gitlab-ci');
    const local = await resolveProvenance({ env: {}, dir: repo });
    assert.deepEqual(local, {
      source: 'https://host/g/r',
      revision: `main@sha1:${sha}`,
      annotations: {},
      from: 'git',
    });
  });

  it('resolveProvenance refuses an incomplete CI job unless both values are given', async () => {
    const env = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com' };
    const error = await assertRejectsCode(
      () => resolveProvenance({ env, dir: repo }),
      'INPUT_INVALID',
    );
    assert.ok(Array.isArray(error.data.missing) && error.data.missing.includes('GITHUB_SHA'));
    const both = await resolveProvenance({ source: 's', revision: 'r', env, dir: repo });
    assert.deepEqual(both.annotations, {});
  });

  it('resolveProvenance needs an origin, or a directory, to fall back on git', async () => {
    const bare = join(work.path, 'no-origin');
    await mkdir(bare);
    git(bare, 'init', '-q', '-b', 'main');
    git(bare, 'commit', '-q', '--allow-empty', '-m', 'x');
    const noOrigin = await assertRejectsCode(
      () => resolveProvenance({ env: {}, dir: bare }),
      'INPUT_INVALID',
    );
    assert.equal(noOrigin.data.option, 'source');
    const withSource = await resolveProvenance({
      source: 'https://git.internal/b',
      env: {},
      dir: bare,
    });
    assert.equal(withSource.from, 'git');
    const noDir = await assertRejectsCode(() => resolveProvenance({ env: {} }), 'INPUT_INVALID');
    assert.equal(noDir.data.option, 'source');
    await assertRejectsCode(
      () => resolveProvenance({ env: {}, dir: join(work.path, 'plain') }),
      'INPUT_INVALID',
    );
  });
});
