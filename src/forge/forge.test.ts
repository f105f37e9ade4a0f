import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRejectsCode, assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { githubGraphQLURL } from './github.ts';
import { findForgeToken, forgeToken, openForge } from './index.ts';

const TOKEN = 'glpat-unit-secret-0123456789';

interface Call {
  readonly url: string;
  readonly init: RequestInit;
}

/** A fetch that answers from a list and records what it was asked (no server needed here). */
function stubFetch(answer: (call: Call, index: number) => Response | Promise<Response>): {
  fetch: typeof fetch;
  calls: Call[];
} {
  const calls: Call[] = [];
  const fetchStub = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const call = { url: input instanceof Request ? input.url : input.toString(), init };
    calls.push(call);
    return answer(call, calls.length - 1);
  }) as typeof fetch;
  return { fetch: fetchStub, calls };
}

/** A fetch that never answers, only rejects when its signal fires (a hung forge). */
const hangingFetch = ((_input: string | URL | Request, init: RequestInit = {}) =>
  new Promise<Response>((_resolve, reject) => {
    init.signal?.addEventListener('abort', () => {
      reject(init.signal?.reason as Error);
    });
  })) as typeof fetch;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

const gitlab = (extra: Partial<Parameters<typeof openForge>[0]> = {}) =>
  openForge({
    kind: 'gitlab',
    apiURL: 'https://gitlab.example/api/v4',
    project: 'group/sub/app',
    token: TOKEN,
    ...extra,
  });

describe('forgeToken', () => {
  it('takes GITLAB_TOKEN before CI_JOB_TOKEN, and says which variable it used', () => {
    assert.equal(forgeToken('gitlab', { GITLAB_TOKEN: 'a', CI_JOB_TOKEN: 'b' }), 'a');
    assert.deepEqual(findForgeToken('gitlab', { GITLAB_TOKEN: '', CI_JOB_TOKEN: 'b' }), {
      token: 'b',
      variable: 'CI_JOB_TOKEN',
    });
    assert.deepEqual(findForgeToken('github', { GITHUB_TOKEN: 'c' }), {
      token: 'c',
      variable: 'GITHUB_TOKEN',
    });
  });

  it('refuses a missing token with INPUT_INVALID naming the variables it looked at', () => {
    const error = assertThrowsCode(() => forgeToken('gitlab', {}), 'INPUT_INVALID');
    assert.deepEqual(error.data, {
      option: 'forgeToken',
      variables: ['GITLAB_TOKEN', 'CI_JOB_TOKEN'],
    });
    const github = assertThrowsCode(
      () => forgeToken('github', { GITHUB_TOKEN: '' }),
      'INPUT_INVALID',
    );
    assert.deepEqual(github.data.variables, ['GITHUB_TOKEN']);
  });
});

describe('openForge input', () => {
  it('refuses plain HTTP unless allowed, since the token would travel in clear', () => {
    assertThrowsCode(() => gitlab({ apiURL: 'http://gitlab.example/api/v4' }), 'INSECURE_REFUSED');
    gitlab({ apiURL: 'http://127.0.0.1:1/api/v4', allowHTTP: true });
  });

  it('refuses projects and tokens it cannot use, without printing the token', () => {
    assert.equal(
      assertThrowsCode(() => gitlab({ project: '/app' }), 'INPUT_INVALID').data.option,
      'project',
    );
    assert.equal(
      assertThrowsCode(
        () =>
          openForge({
            kind: 'github',
            apiURL: 'https://api.github.com',
            project: 'a/b/c',
            token: 't',
          }),
        'INPUT_INVALID',
      ).data.option,
      'project',
    );
    const bad = `${TOKEN}\r\nX-Injected: 1`;
    const error = assertThrowsCode(() => gitlab({ token: bad }), 'INPUT_INVALID');
    assert.equal(error.data.option, 'forgeToken');
    assert.ok(!JSON.stringify({ m: error.message, d: error.data }).includes(TOKEN));
  });
});

describe('githubGraphQLURL', () => {
  it('is /graphql on api.github.com and /api/graphql beside GHES /api/v3', () => {
    assert.equal(
      githubGraphQLURL(new URL('https://api.github.com')),
      'https://api.github.com/graphql',
    );
    assert.equal(
      githubGraphQLURL(new URL('https://ghe.example/api/v3')),
      'https://ghe.example/api/graphql',
    );
  });
});

describe('forge HTTP', () => {
  it('sends a CI job token in JOB-TOKEN and anything else in PRIVATE-TOKEN', async () => {
    for (const [variable, header] of [
      ['CI_JOB_TOKEN', 'job-token'],
      ['GITLAB_TOKEN', 'private-token'],
    ] as const) {
      const stub = stubFetch(() => json({ id: 1 }));
      await gitlab({ fetch: stub.fetch, tokenVariable: variable }).check();
      const headers = stub.calls[0]!.init.headers as Record<string, string>;
      assert.equal(headers[header], TOKEN);
      assert.equal(Object.values(headers).filter((v) => v.includes(TOKEN)).length, 1);
      assert.equal(stub.calls[0]!.url, 'https://gitlab.example/api/v4/projects/group%2Fsub%2Fapp');
    }
  });

  it('follows a same-origin redirect of a GET, never one to another origin', async () => {
    const same = stubFetch((_call, index) =>
      index === 0
        ? new Response(null, { status: 301, headers: { location: '/api/v4/projects/7' } })
        : json({ id: 7 }),
    );
    await gitlab({ fetch: same.fetch }).check();
    assert.equal(same.calls[1]!.url, 'https://gitlab.example/api/v4/projects/7');

    const other = stubFetch(
      () => new Response(null, { status: 302, headers: { location: 'https://evil.example/x' } }),
    );
    const error = await assertRejectsCode(
      () => gitlab({ fetch: other.fetch }).check(),
      'FORGE_FAILED',
    );
    assert.equal(other.calls.length, 1, 'the token is not sent to the other origin');
    assert.equal(error.data.status, 302);
  });

  it('times a hung forge out as FORGE_FAILED, and a caller abort as ABORTED', async () => {
    const timedOut = await assertRejectsCode(
      () => gitlab({ fetch: hangingFetch, timeoutMs: 50 }).check(),
      'FORGE_FAILED',
    );
    assert.deepEqual(timedOut.data, {
      status: undefined,
      method: 'GET',
      path: '/projects/group%2Fsub%2Fapp',
    });
    const controller = new AbortController();
    const pending = gitlab({ fetch: hangingFetch, signal: controller.signal }).check();
    controller.abort();
    await assertRejectsCode(() => pending, 'ABORTED');
  });

  it('bounds the body it reads', async () => {
    const huge = stubFetch(
      () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              controller.enqueue(new Uint8Array(1024 * 1024));
            },
          }),
          { status: 200 },
        ),
    );
    await assertRejectsCode(() => gitlab({ fetch: huge.fetch }).check(), 'FORGE_FAILED');
  });

  it('reads a GitHub rate limit as FORGE_FAILED, not as a refused token', async () => {
    const limited = stubFetch(() =>
      json({ message: 'API rate limit exceeded' }, 403, { 'x-ratelimit-remaining': '0' }),
    );
    const error = await assertRejectsCode(
      () =>
        openForge({
          kind: 'github',
          apiURL: 'https://api.github.com',
          project: 'o/r',
          token: TOKEN,
          fetch: limited.fetch,
        }).check(),
      'FORGE_FAILED',
    );
    assert.equal(error.data.rateLimited, true);
  });

  it('logs each request without its query or token', async () => {
    const log: unknown[] = [];
    const stub = stubFetch(() => json({ id: 1 }));
    await gitlab({
      fetch: stub.fetch,
      onRequest: (entry) => log.push({ ...entry, ms: 0 }),
    }).check();
    assert.deepEqual(log, [
      { method: 'GET', path: '/projects/group%2Fsub%2Fapp', status: 200, ms: 0 },
    ]);
  });
});
