// The forge clients against the harness's fake GitLab and GitHub (test/harness/forge.ts): the one
// fake the project allows, since no forge runs offline. Assertions are on what a user relies on:
// one change per branch however often promote re-runs, the labels and auto-merge it asked for, the
// error codes of refusals, and the token nowhere in an error.

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { hasControl } from '../../src/core/index.ts';
import type { AirlockError } from '../../src/errors.ts';
import { type ChangeRequest, type ForgeKind, openForge } from '../../src/forge/index.ts';
import { type FakeForge, type FakeForgeOptions, startFakeForge } from '../harness/forge.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';

const TOKEN = 'forge-test-secret-9f8e7d6c5b4a';
const PROJECT: Record<ForgeKind, string> = {
  gitlab: 'platform/releases/app',
  github: 'acme/releases',
};

const change = (extra: Partial<ChangeRequest> = {}): ChangeRequest => ({
  sourceBranch: 'airlock/test/podinfo',
  targetBranch: 'main',
  title: 'Promote podinfo 6.5.4 to test',
  body: 'digest sha256:abc\n\nsigned by ci@example',
  labels: ['env/test', 'update/patch', 'promotion/auto'],
  autoMerge: true,
  ...extra,
});

/** Everything an error carries that could be printed or logged. */
const serialised = (error: AirlockError): string =>
  JSON.stringify({
    message: error.message,
    details: error.details,
    data: error.data,
    stack: error.stack,
    cause: String(error.cause),
    own: Object.fromEntries(Object.entries(error)),
  });

const writes = (fake: FakeForge, from: number): string[] =>
  fake.requests
    .slice(from)
    .filter((r) => r.method !== 'GET')
    .map((r) => `${r.method} ${r.path}`);

let fake: FakeForge | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setUp(kind: ForgeKind, options: Partial<FakeForgeOptions> = {}) {
  fake = await startFakeForge(kind, { project: PROJECT[kind], token: TOKEN, ...options });
  const forge = openForge({
    kind,
    apiURL: fake.apiURL,
    project: PROJECT[kind],
    token: TOKEN,
    allowHTTP: true,
  });
  return { fake, forge };
}

for (const kind of ['gitlab', 'github'] as const) {
  describe(`${kind}: open or update one change per branch`, () => {
    it('opens, then updates the same change, then leaves it unchanged: never a duplicate', async () => {
      const { fake, forge } = await setUp(kind);
      await forge.check();

      const opened = await forge.openOrUpdate(change());
      assert.equal(opened.state, 'opened');
      assert.equal(opened.number, 1);
      assert.equal(opened.autoMerge, true);
      assert.equal(opened.url, fake.changes[0]!.url);
      assert.equal(fake.changes.length, 1);
      assert.deepEqual(fake.changes[0]!.labels.toSorted(), change().labels.toSorted());
      assert.equal(fake.changes[0]!.autoMerge, true);
      assert.equal(fake.changes[0]!.body, change().body);
      assert.ok(
        fake.requests.every((r) => r.hadToken),
        'every request carries the token',
      );

      let mark = fake.requests.length;
      const updated = await forge.openOrUpdate(
        change({ title: 'Promote podinfo 6.5.5 to test', labels: ['env/test', 'update/patch'] }),
      );
      assert.equal(updated.state, 'updated');
      assert.equal(updated.number, 1);
      assert.equal(fake.changes.length, 1, 'no second change for the same branch');
      assert.equal(fake.changes[0]!.title, 'Promote podinfo 6.5.5 to test');
      assert.deepEqual(fake.changes[0]!.labels.toSorted(), ['env/test', 'update/patch']);
      // GitLab updates title and labels in one PUT; GitHub's labels have their own endpoint.
      assert.equal(
        writes(fake, mark).length,
        kind === 'gitlab' ? 1 : 2,
        writes(fake, mark).join(', '),
      );

      mark = fake.requests.length;
      const again = await forge.openOrUpdate(
        change({ title: 'Promote podinfo 6.5.5 to test', labels: ['update/patch', 'env/test'] }),
      );
      assert.equal(again.state, 'unchanged');
      assert.equal(again.autoMerge, true);
      assert.deepEqual(writes(fake, mark), [], 'a re-run with nothing new writes nothing');
    });

    it('sends labels and auto-merge the way the forge documents them', async () => {
      const { fake, forge } = await setUp(kind);
      await forge.openOrUpdate(change());
      const sent = fake.requests.filter((r) => r.method !== 'GET');
      if (kind === 'gitlab') {
        const base = `/projects/${encodeURIComponent(PROJECT.gitlab)}/merge_requests`;
        assert.deepEqual(
          sent.map((r) => `${r.method} ${r.path}`),
          [`POST ${base}`, `PUT ${base}/1/merge`],
        );
        const created = sent[0]!.body as Record<string, unknown>;
        assert.equal(created.labels, 'env/test,update/patch,promotion/auto');
        assert.equal(created.source_branch, 'airlock/test/podinfo');
        assert.equal(created.remove_source_branch, true);
        const merge = sent[1]!.body as Record<string, unknown>;
        assert.equal(merge.auto_merge, true);
        assert.equal(merge.merge_when_pipeline_succeeds, true);
        const list = fake.requests.find((r) => r.method === 'GET' && r.path === base)!;
        assert.deepEqual(list.query, {
          source_branch: 'airlock/test/podinfo',
          state: 'opened',
          per_page: '100',
        });
        assert.equal(sent[0]!.headers['private-token'], undefined, 'the harness redacts the token');
      } else {
        assert.deepEqual(
          sent.map((r) => `${r.method} ${r.path}`),
          [
            'POST /repos/acme/releases/pulls',
            'PUT /repos/acme/releases/issues/1/labels',
            'POST /graphql',
          ],
        );
        assert.deepEqual((sent[1]!.body as { labels: string[] }).labels, change().labels);
        const graphql = sent[2]!.body as { query: string; variables: { id: string } };
        assert.match(
          graphql.query,
          /enablePullRequestAutoMerge\(input: \{pullRequestId: \$id, mergeMethod: SQUASH\}\)/,
        );
        assert.equal(graphql.variables.id, 'PR_kwDOfake1');
        const list = fake.requests.find(
          (r) => r.path === '/repos/acme/releases/pulls' && r.method === 'GET',
        )!;
        assert.equal(list.query.head, 'acme:airlock/test/podinfo');
        assert.equal(list.query.state, 'open');
        for (const r of fake.requests) {
          assert.equal(r.headers.accept, 'application/vnd.github+json');
          assert.equal(r.headers['x-github-api-version'], '2022-11-28');
        }
      }
    });

    it('turns auto-merge off again when the policy no longer allows it', async () => {
      const { fake, forge } = await setUp(kind);
      await forge.openOrUpdate(change());
      const result = await forge.openOrUpdate(change({ autoMerge: false }));
      assert.equal(result.state, 'updated');
      assert.equal(result.autoMerge, false);
      assert.equal(fake.changes[0]!.autoMerge, false);
    });

    it('maps 401 to FORGE_AUTH naming the variable, never the token', async () => {
      const { fake } = await setUp(kind);
      const forge = openForge({
        kind,
        apiURL: fake.apiURL,
        project: PROJECT[kind],
        token: `${TOKEN}-revoked`,
        tokenVariable: kind === 'gitlab' ? 'GITLAB_TOKEN' : 'GITHUB_TOKEN',
        allowHTTP: true,
      });
      const error = await assertRejectsCode(() => forge.check(), 'FORGE_AUTH');
      assert.equal(error.data.status, 401);
      assert.match(error.message, kind === 'gitlab' ? /GITLAB_TOKEN/ : /GITHUB_TOKEN/);
      assert.ok(!serialised(error).includes(TOKEN));
      assert.equal(fake.changes.length, 0);
    });

    it('maps a conflict to FORGE_CONFLICT and a server error to FORGE_FAILED with status, method and path', async () => {
      const conflict = kind === 'gitlab' ? 409 : 422;
      const pulls = kind === 'gitlab' ? /\/merge_requests$/ : /\/pulls$/;
      const { forge } = await setUp(kind, {
        failures: [
          { method: 'POST', pathPattern: pulls, status: conflict, times: 1 },
          { method: 'POST', pathPattern: pulls, status: 500, times: 1 },
        ],
      });
      const refused = await assertRejectsCode(() => forge.openOrUpdate(change()), 'FORGE_CONFLICT');
      assert.equal(refused.data.status, conflict);
      const failed = await assertRejectsCode(() => forge.openOrUpdate(change()), 'FORGE_FAILED');
      assert.deepEqual(
        { ...failed.data },
        {
          status: 500,
          method: 'POST',
          path:
            kind === 'gitlab'
              ? `/projects/${encodeURIComponent(PROJECT.gitlab)}/merge_requests`
              : '/repos/acme/releases/pulls',
        },
      );
      for (const error of [refused, failed]) assert.ok(!serialised(error).includes(TOKEN));
      // The third attempt goes through: the failures were the forge's, not left behind by the client.
      assert.equal((await forge.openOrUpdate(change())).state, 'opened');
    });

    it('reports a malformed answer and an unreachable forge as FORGE_FAILED', async () => {
      const path =
        kind === 'gitlab'
          ? `/projects/${encodeURIComponent(PROJECT.gitlab)}`
          : '/repos/acme/releases';
      const { fake, forge } = await setUp(kind, {
        failures: [{ method: 'GET', pathPattern: path, status: 200, times: 1, body: '{"id": 4' }],
      });
      const malformed = await assertRejectsCode(() => forge.check(), 'FORGE_FAILED');
      assert.equal(malformed.data.status, 200);
      await fake.close();
      const unreachable = await assertRejectsCode(() => forge.check(), 'FORGE_FAILED');
      assert.equal(unreachable.data.method, 'GET');
      assert.ok(!serialised(unreachable).includes(TOKEN));
    });

    it('escapes control characters of remote text in messages', async () => {
      const { forge } = await setUp(kind, {
        failures: [
          {
            method: 'GET',
            pathPattern: /./,
            status: 500,
            body: JSON.stringify({ message: `boom\u001b[2J\nforged: line ${TOKEN}` }),
          },
        ],
      });
      const error = await assertRejectsCode(() => forge.check(), 'FORGE_FAILED');
      assert.ok(!hasControl(error.message), error.message);
      assert.match(error.message, /boom\\x1b\[2J\\nforged/);
      assert.ok(!serialised(error).includes(TOKEN), 'a token echoed by the server is masked');
    });

    it('keeps the change in error.data when a step after opening it fails', async () => {
      const step = kind === 'gitlab' ? /\/merge$/ : /\/labels$/;
      const { fake, forge } = await setUp(kind, {
        failures: [{ method: 'PUT', pathPattern: step, status: 503 }],
      });
      const error = await assertRejectsCode(() => forge.openOrUpdate(change()), 'FORGE_FAILED');
      assert.equal(error.data.number, 1);
      assert.equal(error.data.url, fake.changes[0]!.url);
    });
  });
}

describe('gitlab specifics', () => {
  it('sends a CI job token as JOB-TOKEN, and explains on 401 that job tokens cannot open merge requests', async () => {
    fake = await startFakeForge('gitlab', { project: 'g/app', token: 'a-personal-token' });
    const forge = openForge({
      kind: 'gitlab',
      apiURL: fake.apiURL,
      project: 'g/app',
      token: TOKEN,
      tokenVariable: 'CI_JOB_TOKEN',
      allowHTTP: true,
    });
    const error = await assertRejectsCode(() => forge.check(), 'FORGE_AUTH');
    assert.match(error.message, /CI_JOB_TOKEN/);
    assert.ok(error.details.some((line) => line.includes('GITLAB_TOKEN')));
    assert.equal(fake.requests[0]!.hadToken, true);
    assert.ok(!serialised(error).includes(TOKEN));
  });

  it('answers a project it cannot see with FORGE_AUTH (GitLab hides projects as 404)', async () => {
    fake = await startFakeForge('gitlab', { project: 'g/app' });
    const forge = openForge({
      kind: 'gitlab',
      apiURL: fake.apiURL,
      project: 'g/other',
      token: TOKEN,
      allowHTTP: true,
    });
    const error = await assertRejectsCode(() => forge.check(), 'FORGE_AUTH');
    assert.equal(error.data.status, 404);
  });
});

describe('github specifics', () => {
  it('reports a repository that refuses auto-merge on the result, with the pull request open', async () => {
    const { fake, forge } = await setUp('github', { autoMergeAllowed: false });
    const result = await forge.openOrUpdate(change());
    assert.equal(result.state, 'opened');
    assert.equal(result.autoMerge, false);
    assert.match(result.autoMergeRefused ?? '', /not allowed for this repository/);
    assert.equal(fake.changes.length, 1);
  });

  it('talks to GitHub Enterprise Server under /api/v3 with GraphQL at /api/graphql', async () => {
    const { fake, forge } = await setUp('github', { enterprise: true });
    assert.match(fake.apiURL, /\/api\/v3$/);
    const result = await forge.openOrUpdate(change());
    assert.equal(result.autoMerge, true);
    assert.equal(fake.changes[0]!.autoMerge, true);
  });
});
