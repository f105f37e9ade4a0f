import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { tempDir } from '../../test/harness/tools.ts';
import { git, makeReleasesRepo, type ReleasesRepo } from '../../test/harness/releases-repo.ts';
import {
  BlobReader,
  commitFileChange,
  deleteRemoteBranch,
  gitRun,
  pushBranch,
  remoteBranchCommit,
  stripCredentials,
} from './git.ts';

const AUTHOR = { name: 'airlock', email: 'airlock@example.test' };

describe('promote git writes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let repo: ReleasesRepo;

  before(async () => {
    dir = await tempDir('airlock-git-');
    repo = await makeReleasesRepo(dir.path, {
      environments: [
        { name: 'dev', files: { 'app.yaml': 'version: 1.0.0\n' } },
        { name: 'test', files: { 'app.yaml': 'version: 0.9.0\n', 'run.sh': '#!/bin/sh\n' } },
      ],
    });
    await chmod(join(repo.root, 'clusters/test/run.sh'), 0o755);
    await git(repo.root, ['add', '-A']);
    await git(repo.root, ['commit', '-q', '-m', 'exec bit']);
    await git(repo.root, ['push', '-q', 'origin', 'main']);
    // A user's uncommitted edit and staged file must survive every write below.
    await writeFile(join(repo.root, 'clusters/dev/app.yaml'), 'version: 1.0.0 # editing\n');
    await writeFile(join(repo.root, 'staged.txt'), 'staged\n');
    await git(repo.root, ['add', 'staged.txt']);
  });
  after(() => dir.remove());

  async function userState(): Promise<string[]> {
    return [
      await git(repo.root, ['rev-parse', 'HEAD']),
      await git(repo.root, ['status', '--porcelain']),
      await git(repo.root, ['diff', '--cached']),
      await readFile(join(repo.root, 'clusters/dev/app.yaml'), 'utf8'),
    ];
  }

  it('commits one file change on a new branch from the base, leaving work tree and index alone', async () => {
    const before = await userState();
    const result = await commitFileChange(repo.root, {
      base: 'origin/main',
      branch: 'airlock/promote/test/app',
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 1.0.0\n' }],
      message: 'test: app 1.0.0\n\nPromoted from dev.',
      author: AUTHOR,
    });
    assert.equal(result.changed, true);
    assert.deepEqual(await userState(), before);
    const main = (await git(repo.root, ['rev-parse', 'origin/main'])).trim();
    assert.equal(
      (await git(repo.root, ['rev-parse', 'airlock/promote/test/app'])).trim(),
      result.commit,
    );
    assert.equal((await git(repo.root, ['rev-parse', `${result.commit}^`])).trim(), main);
    assert.equal(
      await git(repo.root, ['diff', '--name-status', main, result.commit]),
      'M\tclusters/test/app.yaml\n',
    );
    assert.equal(
      await git(repo.root, ['show', `${result.commit}:clusters/test/app.yaml`]),
      'version: 1.0.0\n',
    );
    assert.equal(
      await git(repo.root, ['log', '-1', '--format=%an <%ae>|%cn|%B', result.commit]),
      'airlock <airlock@example.test>|airlock|test: app 1.0.0\n\nPromoted from dev.\n',
    );
  });

  it('answers changed=false when the branch already holds that tree, and rebuilds it when not', async () => {
    const options = {
      base: 'origin/main',
      branch: 'airlock/promote/test/app',
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 1.0.0\n' }],
      message: 'test: app 1.0.0',
      author: AUTHOR,
    };
    const first = (await git(repo.root, ['rev-parse', 'airlock/promote/test/app'])).trim();
    const again = await commitFileChange(repo.root, options);
    assert.deepEqual(again, { commit: first, changed: false });
    const newer = await commitFileChange(repo.root, {
      ...options,
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 1.0.1\n' }],
    });
    assert.equal(newer.changed, true);
    // The branch is rebuilt on the base (one commit), not stacked on the previous attempt.
    assert.equal(
      (await git(repo.root, ['rev-parse', `${newer.commit}^`])).trim(),
      (await git(repo.root, ['rev-parse', 'origin/main'])).trim(),
    );
  });

  it('keeps an existing file mode and adds new files as 100644', async () => {
    const result = await commitFileChange(repo.root, {
      base: 'HEAD',
      branch: 'modes',
      files: [
        { path: 'clusters/test/run.sh', content: '#!/bin/sh\necho hi\n' },
        { path: 'clusters/test/new.yaml', content: 'a: 1\n' },
      ],
      message: 'modes',
      author: AUTHOR,
    });
    const tree = await git(repo.root, ['ls-tree', '-r', result.commit, 'clusters/test']);
    assert.match(tree, /^100755 blob \w+\tclusters\/test\/run\.sh$/m);
    assert.match(tree, /^100644 blob \w+\tclusters\/test\/new\.yaml$/m);
  });

  it('writes nothing when the base already has the contents', async () => {
    const base = (await git(repo.root, ['rev-parse', 'HEAD'])).trim();
    const result = await commitFileChange(repo.root, {
      base: 'HEAD',
      branch: 'noop',
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 0.9.0\n' }],
      message: 'noop',
      author: AUTHOR,
    });
    assert.deepEqual(result, { commit: base, changed: false });
    assert.equal(await git(repo.root, ['branch', '--list', 'noop']), '');
  });

  it('refuses the checked-out branch, bad branch names, paths outside the tree and unknown bases', async () => {
    const write = (branch: string, path: string, base = 'HEAD') =>
      commitFileChange(repo.root, {
        base,
        branch,
        files: [{ path, content: 'x\n' }],
        message: 'x',
        author: AUTHOR,
      });
    await assertRejectsCode(() => write('main', 'a.yaml'), 'INPUT_INVALID');
    await assertRejectsCode(() => write('bad..name', 'a.yaml'), 'INPUT_INVALID');
    await assertRejectsCode(() => write('-x', 'a.yaml'), 'INPUT_INVALID');
    await assertRejectsCode(() => write('ok', '../a.yaml'), 'PATH_OUTSIDE_SOURCE');
    await assertRejectsCode(() => write('ok', '.git/config'), 'PATH_OUTSIDE_SOURCE');
    await assertRejectsCode(() => write('ok', '/etc/passwd'), 'PATH_OUTSIDE_SOURCE');
    await assertRejectsCode(() => write('ok', 'a.yaml', 'no-such-ref'), 'GIT_FAILED');
  });

  it('pushes, reads, force-pushes with a lease and deletes remote branches', async () => {
    const branch = 'airlock/promote/test/app';
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), undefined);
    await pushBranch(repo.root, 'origin', branch, { force: false });
    const local = (await git(repo.root, ['rev-parse', branch])).trim();
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), local);

    // A rebuilt branch is not a fast-forward: a plain push fails, a forced one with a lease works.
    const rebuilt = await commitFileChange(repo.root, {
      base: 'origin/main',
      branch,
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 1.0.2\n' }],
      message: 'test: app 1.0.2',
      author: AUTHOR,
    });
    await assertRejectsCode(
      () => pushBranch(repo.root, 'origin', branch, { force: false }),
      'GIT_FAILED',
    );
    await pushBranch(repo.root, 'origin', branch, { force: true, expect: local });
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), rebuilt.commit);

    // The lease: someone else moved the remote branch since we looked → refused, theirs kept.
    const theirs = await commitFileChange(repo.root, {
      base: 'origin/main',
      branch: 'someone-else',
      files: [{ path: 'clusters/test/app.yaml', content: 'version: 9.9.9\n' }],
      message: 'theirs',
      author: AUTHOR,
    });
    await git(repo.root, ['push', '-q', '--force', 'origin', `someone-else:refs/heads/${branch}`]);
    await assertRejectsCode(
      () => pushBranch(repo.root, 'origin', branch, { force: true, expect: rebuilt.commit }),
      'GIT_FAILED',
    );
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), theirs.commit);
    // expect '' means "must not exist yet".
    await assertRejectsCode(
      () => pushBranch(repo.root, 'origin', branch, { force: true, expect: '' }),
      'GIT_FAILED',
    );
    // Without expect, the lease is what the remote holds when asked.
    await pushBranch(repo.root, 'origin', branch, { force: true });
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), rebuilt.commit);
    await pushBranch(repo.root, 'origin', 'modes', { force: true, expect: '' });
    assert.ok(await remoteBranchCommit(repo.root, 'origin', 'modes'));

    assert.equal(await deleteRemoteBranch(repo.root, 'origin', branch), true);
    assert.equal(await remoteBranchCommit(repo.root, 'origin', branch), undefined);
    assert.equal(await deleteRemoteBranch(repo.root, 'origin', branch), false);
  });

  it('fails with GIT_FAILED and never shows the credentials of a remote URL', async () => {
    const url = 'http://robot:s3cr3t-token@127.0.0.1:9/releases.git';
    const error = await assertRejectsCode(
      () => remoteBranchCommit(repo.root, url, 'main'),
      'GIT_FAILED',
    );
    const shown = [error.message, ...error.details].join('\n');
    assert.doesNotMatch(shown, /s3cr3t|robot/);
    assert.equal(
      stripCredentials('fatal: unable to access https://u:p@h/x: y'),
      'fatal: unable to access https://h/x: y',
    );
    await assertRejectsCode(() => gitRun(repo.root, ['no-such-command']), 'GIT_FAILED');
  });

  it('reads many blobs through one cat-file process', async () => {
    const reader = new BlobReader(repo.root);
    try {
      const [a, missing, b] = await Promise.all([
        reader.read('HEAD', 'clusters/dev/app.yaml'),
        reader.read('HEAD', 'clusters/none.yaml'),
        reader.read('HEAD', 'clusters/test/app.yaml'),
      ]);
      assert.equal(a?.toString(), 'version: 1.0.0\n');
      assert.equal(missing, undefined);
      assert.equal(b?.toString(), 'version: 0.9.0\n');
      assert.equal(await reader.read('HEAD', 'clusters'), undefined); // a tree is not a file
    } finally {
      await reader.close();
    }
  });
});
