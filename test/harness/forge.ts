// A fake GitLab / GitHub for the merge request tests: the one fake this project allows, because no
// real forge runs offline (issue 9). It answers exactly the endpoints src/forge calls, with the
// request and response shapes of the forges' documentation:
//
// GitLab REST v4
//   GET  /projects/:id                     https://docs.gitlab.com/api/projects/#get-a-single-project
//   GET  /projects/:id/merge_requests      https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests
//   POST /projects/:id/merge_requests      https://docs.gitlab.com/api/merge_requests/#create-mr
//   PUT  /projects/:id/merge_requests/:iid https://docs.gitlab.com/api/merge_requests/#update-mr
//   PUT  …/:iid/merge (auto_merge, merge_when_pipeline_succeeds)
//                                          https://docs.gitlab.com/api/merge_requests/#merge-a-merge-request
//   POST …/:iid/cancel_merge_when_pipeline_succeeds
//                                          https://docs.gitlab.com/api/merge_requests/#cancel-merge-when-pipeline-succeeds
//   errors {"message": …} / {"error": …}   https://docs.gitlab.com/api/rest/troubleshooting/
// GitHub REST 2022-11-28 and GraphQL
//   GET   /repos/{owner}/{repo}            https://docs.github.com/en/rest/repos/repos#get-a-repository
//   GET   /repos/{o}/{r}/pulls?head=o:b    https://docs.github.com/en/rest/pulls/pulls#list-pull-requests
//   POST  /repos/{o}/{r}/pulls             https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request
//   PATCH /repos/{o}/{r}/pulls/{n}         https://docs.github.com/en/rest/pulls/pulls#update-a-pull-request
//   PUT   /repos/{o}/{r}/issues/{n}/labels https://docs.github.com/en/rest/issues/labels#set-labels-for-an-issue
//   POST  /graphql enablePullRequestAutoMerge / disablePullRequestAutoMerge
//                                          https://docs.github.com/en/graphql/reference/mutations
//   errors {"message", "errors", "documentation_url"}
//                                          https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
//
// Only the fields src/forge reads, plus the identifying ones around them, are filled in. The
// auto-merge model is the simplest honest one: a pipeline (GitLab) or required check (GitHub) is
// always still running, so enabling auto-merge sets it rather than merging at once.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ForgeKind } from '../../src/forge/index.ts';

export interface FakeFailure {
  readonly method: string;
  /** Matched against the path below the API URL, without the query (`/projects/g%2Fa/merge_requests`). */
  readonly pathPattern: RegExp | string;
  readonly status: number;
  /** How many matching requests fail (default: all). */
  readonly times?: number;
  /** Raw body instead of the forge's documented error body (a malformed answer). */
  readonly body?: string;
}

export interface FakeForgeOptions {
  /** GitLab `group/app`, GitHub `owner/repo`. */
  readonly project: string;
  readonly failures?: readonly FakeFailure[];
  /** When set, any other token (or none) is answered 401 as the forge documents it. */
  readonly token?: string;
  /** GitHub: serve under `/api/v3` with GraphQL at `/api/graphql`, as GitHub Enterprise Server does. */
  readonly enterprise?: boolean;
  /** GitHub repository setting "Allow auto-merge" (default true); off, GraphQL refuses. */
  readonly autoMergeAllowed?: boolean;
}

export interface FakeRequest {
  readonly method: string;
  /** Below the API URL, without the query. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** Headers without the token: it is replaced by `hadToken`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly hadToken: boolean;
  readonly body: unknown;
}

export interface FakeChange {
  /** GitLab iid, GitHub number. */
  readonly number: number;
  readonly sourceBranch: string;
  targetBranch: string;
  title: string;
  body: string;
  labels: string[];
  autoMerge: boolean;
  state: 'opened' | 'merged' | 'closed';
  readonly url: string;
}

export interface FakeForge {
  readonly apiURL: string;
  readonly requests: FakeRequest[];
  /** The forge's merge requests / pull requests as they stand. */
  readonly changes: FakeChange[];
  close(): Promise<void>;
}

const AUTH_HEADERS = ['private-token', 'job-token', 'authorization'];

export async function startFakeForge(
  kind: ForgeKind,
  options: FakeForgeOptions,
): Promise<FakeForge> {
  const requests: FakeRequest[] = [];
  const changes: FakeChange[] = [];
  const failures = (options.failures ?? []).map((f) => ({ ...f, left: f.times ?? Infinity }));
  const prefix = kind === 'gitlab' ? '/api/v4' : options.enterprise === true ? '/api/v3' : '';
  const graphqlPath = options.enterprise === true ? '/api/graphql' : '/graphql';
  let webBase = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = req.url ?? '/';
      const [rawPath = '/', search = ''] = raw.split('?', 2);
      const isGraphQL = kind === 'github' && rawPath === graphqlPath;
      const path = isGraphQL
        ? '/graphql'
        : rawPath.startsWith(prefix)
          ? rawPath.slice(prefix.length)
          : rawPath;
      const query = Object.fromEntries(new URLSearchParams(search));
      const headers: Record<string, string> = {};
      let hadToken = false;
      let presented: string | undefined;
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value !== 'string') continue;
        if (AUTH_HEADERS.includes(name)) {
          hadToken = true;
          presented = name === 'authorization' ? value.replace(/^Bearer /, '') : value;
        } else headers[name] = value;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text === '' ? undefined : (JSON.parse(text) as unknown);
      } catch {
        body = text;
      }
      requests.push({ method: req.method ?? 'GET', path, query, headers, hadToken, body });

      const send = (status: number, value: unknown): void => {
        const payload = typeof value === 'string' ? value : JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json' }).end(payload);
      };

      const failure = failures.find(
        (f) =>
          f.left > 0 &&
          f.method === req.method &&
          (typeof f.pathPattern === 'string' ? f.pathPattern === path : f.pathPattern.test(path)),
      );
      if (failure) {
        failure.left--;
        send(failure.status, failure.body ?? errorBody(kind, failure.status));
        return;
      }
      if (options.token !== undefined && presented !== options.token) {
        send(401, errorBody(kind, 401));
        return;
      }
      const answer =
        kind === 'gitlab'
          ? gitlab(req.method ?? 'GET', path, query, body)
          : isGraphQL
            ? graphql(body)
            : github(req.method ?? 'GET', path, query, body);
      send(answer[0], answer[1]);
    });
  });

  // --- GitLab -------------------------------------------------------------------------------

  const gitlabProjectIds = new Set([encodeURIComponent(options.project), '42']);
  const gitlabMR = (c: FakeChange): Record<string, unknown> => ({
    id: 1000 + c.number,
    iid: c.number,
    project_id: 42,
    title: c.title,
    description: c.body,
    state: c.state,
    source_branch: c.sourceBranch,
    target_branch: c.targetBranch,
    labels: c.labels,
    draft: false,
    merge_when_pipeline_succeeds: c.autoMerge,
    detailed_merge_status: c.autoMerge ? 'ci_still_running' : 'mergeable',
    web_url: c.url,
  });

  function gitlab(
    method: string,
    path: string,
    query: Readonly<Record<string, string>>,
    body: unknown,
  ): [number, unknown] {
    const match =
      /^\/projects\/([^/]+)(\/merge_requests(?:\/(\d+)(\/merge|\/cancel_merge_when_pipeline_succeeds)?)?)?$/.exec(
        path,
      );
    if (!match || !gitlabProjectIds.has(match[1]!))
      return [404, { message: '404 Project Not Found' }];
    const [, , list, iid, action] = match;
    const fields = (body ?? {}) as Record<string, unknown>;
    if (list === undefined) {
      if (method !== 'GET') return [405, { error: '405 Method Not Allowed' }];
      return [
        200,
        {
          id: 42,
          name: options.project.split('/').pop(),
          path_with_namespace: options.project,
          default_branch: 'main',
          web_url: `${webBase}/${options.project}`,
        },
      ];
    }
    if (iid === undefined) {
      if (method === 'GET') return [200, changes.filter((c) => matches(c, query)).map(gitlabMR)];
      if (method !== 'POST') return [405, { error: '405 Method Not Allowed' }];
      for (const key of ['source_branch', 'target_branch', 'title'] as const) {
        if (typeof fields[key] !== 'string') return [400, { error: `${key} is missing` }];
      }
      const duplicate = changes.find(
        (c) =>
          c.state === 'opened' &&
          c.sourceBranch === fields.source_branch &&
          c.targetBranch === fields.target_branch,
      );
      if (duplicate) {
        return [
          409,
          {
            message: [
              `Another open merge request already exists for this source branch: !${duplicate.number}`,
            ],
          },
        ];
      }
      const number = changes.length + 1;
      const change: FakeChange = {
        number,
        sourceBranch: fields.source_branch as string,
        targetBranch: fields.target_branch as string,
        title: fields.title as string,
        body: typeof fields.description === 'string' ? fields.description : '',
        labels: gitlabLabels(fields.labels),
        autoMerge: false,
        state: 'opened',
        url: `${webBase}/${options.project}/-/merge_requests/${number}`,
      };
      changes.push(change);
      return [201, gitlabMR(change)];
    }
    const change = changes.find((c) => c.number === Number(iid));
    if (!change) return [404, { message: '404 Not found' }];
    if (action === undefined) {
      if (method !== 'PUT') return [405, { error: '405 Method Not Allowed' }];
      if (typeof fields.title === 'string') change.title = fields.title;
      if (typeof fields.description === 'string') change.body = fields.description;
      if (typeof fields.target_branch === 'string') change.targetBranch = fields.target_branch;
      if (fields.labels !== undefined) change.labels = gitlabLabels(fields.labels);
      return [200, gitlabMR(change)];
    }
    if (action === '/merge') {
      if (method !== 'PUT') return [405, { error: '405 Method Not Allowed' }];
      if (change.state !== 'opened') return [405, { message: '405 Method Not Allowed' }];
      if (fields.auto_merge === true || fields.merge_when_pipeline_succeeds === true) {
        change.autoMerge = true; // the pipeline is still running
      } else change.state = 'merged';
      return [200, gitlabMR(change)];
    }
    if (method !== 'POST') return [405, { error: '405 Method Not Allowed' }];
    if (!change.autoMerge) return [406, { message: '406 Not Acceptable' }];
    change.autoMerge = false;
    return [201, gitlabMR(change)];
  }

  const matches = (c: FakeChange, query: Readonly<Record<string, string>>): boolean =>
    (query.source_branch === undefined || c.sourceBranch === query.source_branch) &&
    (query.state === undefined || query.state === 'all' || c.state === query.state);

  // --- GitHub -------------------------------------------------------------------------------

  const [owner = '', repo = ''] = options.project.split('/');
  const nodeId = (number: number): string => `PR_kwDOfake${number}`;
  const githubPR = (c: FakeChange): Record<string, unknown> => ({
    id: 2000 + c.number,
    node_id: nodeId(c.number),
    number: c.number,
    url: `${webBase}/repos/${options.project}/pulls/${c.number}`,
    html_url: c.url,
    state: c.state === 'opened' ? 'open' : 'closed',
    title: c.title,
    body: c.body === '' ? null : c.body,
    labels: c.labels.map((name, i) => ({
      id: i + 1,
      node_id: `LA_${name}`,
      name,
      color: 'ededed',
    })),
    head: { label: `${owner}:${c.sourceBranch}`, ref: c.sourceBranch, sha: '0'.repeat(40) },
    base: { label: `${owner}:${c.targetBranch}`, ref: c.targetBranch, sha: '1'.repeat(40) },
    draft: false,
    merged: c.state === 'merged',
    auto_merge: c.autoMerge
      ? {
          enabled_by: { login: 'airlock-bot' },
          merge_method: 'squash',
          commit_title: c.title,
          commit_message: '',
        }
      : null,
  });
  const validationFailed = (message: string): [number, unknown] => [
    422,
    {
      message: 'Validation Failed',
      errors: [{ resource: 'PullRequest', code: 'custom', message }],
      documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
    },
  ];

  function github(
    method: string,
    path: string,
    query: Readonly<Record<string, string>>,
    body: unknown,
  ): [number, unknown] {
    const base = `/repos/${owner}/${repo}`;
    const notFound: [number, unknown] = [
      404,
      { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
    ];
    if (!path.startsWith(base)) return notFound;
    const rest = path.slice(base.length);
    const fields = (body ?? {}) as Record<string, unknown>;
    if (rest === '' && method === 'GET') {
      return [
        200,
        {
          id: 7,
          node_id: 'R_kgfake',
          name: repo,
          full_name: options.project,
          owner: { login: owner },
          private: true,
          html_url: `${webBase}/${options.project}`,
          default_branch: 'main',
          allow_auto_merge: options.autoMergeAllowed ?? true,
          permissions: { admin: false, push: true, pull: true },
        },
      ];
    }
    if (rest === '/pulls' && method === 'GET') {
      const head = query.head;
      const state = query.state ?? 'open';
      return [
        200,
        changes
          .filter(
            (c) =>
              (head === undefined || `${owner}:${c.sourceBranch}` === head) &&
              (state === 'all' || (state === 'open') === (c.state === 'opened')),
          )
          .map(githubPR),
      ];
    }
    if (rest === '/pulls' && method === 'POST') {
      if (
        typeof fields.head !== 'string' ||
        typeof fields.base !== 'string' ||
        typeof fields.title !== 'string'
      ) {
        return validationFailed('head, base and title are required');
      }
      const duplicate = changes.find((c) => c.state === 'opened' && c.sourceBranch === fields.head);
      if (duplicate)
        return validationFailed(`A pull request already exists for ${owner}:${fields.head}.`);
      const number = changes.length + 1;
      const change: FakeChange = {
        number,
        sourceBranch: fields.head,
        targetBranch: fields.base,
        title: fields.title,
        body: typeof fields.body === 'string' ? fields.body : '',
        labels: [],
        autoMerge: false,
        state: 'opened',
        url: `${webBase}/${options.project}/pull/${number}`,
      };
      changes.push(change);
      return [201, githubPR(change)];
    }
    const pull = /^\/pulls\/(\d+)$/.exec(rest);
    const labels = /^\/issues\/(\d+)\/labels$/.exec(rest);
    const change = changes.find((c) => c.number === Number((pull ?? labels)?.[1]));
    if (!change) return notFound;
    if (pull && method === 'PATCH') {
      if (typeof fields.title === 'string') change.title = fields.title;
      if (typeof fields.body === 'string') change.body = fields.body;
      if (typeof fields.base === 'string') change.targetBranch = fields.base;
      return [200, githubPR(change)];
    }
    if (labels && method === 'PUT') {
      const names = Array.isArray(fields.labels) ? fields.labels : body;
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
        return validationFailed('labels must be an array of strings');
      }
      change.labels = [...new Set(names)];
      return [200, githubPR(change).labels];
    }
    return notFound;
  }

  function graphql(body: unknown): [number, unknown] {
    const { query, variables } = (body ?? {}) as { query?: unknown; variables?: { id?: unknown } };
    if (typeof query !== 'string') return [400, { message: 'Problems parsing JSON' }];
    const enable = query.includes('enablePullRequestAutoMerge');
    const disable = query.includes('disablePullRequestAutoMerge');
    const field = enable ? 'enablePullRequestAutoMerge' : 'disablePullRequestAutoMerge';
    const change = changes.find((c) => nodeId(c.number) === variables?.id);
    if ((!enable && !disable) || !change) {
      return [
        200,
        {
          data: null,
          errors: [
            {
              type: 'NOT_FOUND',
              message: `Could not resolve to a node with the global id of '${String(variables?.id)}'`,
            },
          ],
        },
      ];
    }
    if (enable && options.autoMergeAllowed === false) {
      return [
        200,
        {
          data: { [field]: null },
          errors: [
            {
              type: 'UNPROCESSABLE',
              path: [field],
              message: 'Auto merge is not allowed for this repository',
            },
          ],
        },
      ];
    }
    change.autoMerge = enable;
    return [
      200,
      {
        data: {
          [field]: {
            pullRequest: {
              autoMergeRequest: enable ? { enabledAt: new Date().toISOString() } : null,
            },
          },
        },
      },
    ];
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  webBase = `http://127.0.0.1:${port}`;
  return {
    apiURL: `${webBase}${prefix}`,
    requests,
    changes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** GitLab reads `labels` as a comma-separated string (an array in JSON also works). */
function gitlabLabels(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return [
    ...new Set(
      list
        .filter((l): l is string => typeof l === 'string')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
    ),
  ];
}

/** The error bodies each forge documents for a status. */
function errorBody(kind: ForgeKind, status: number): unknown {
  if (kind === 'gitlab') {
    const text: Record<number, string> = {
      401: '401 Unauthorized',
      403: '403 Forbidden',
      404: '404 Not Found',
      409: 'Another open merge request already exists for this source branch: !1',
      422: 'Branch cannot be merged',
      500: '500 Internal Server Error',
    };
    return status === 409 ? { message: [text[409]] } : { message: text[status] ?? `${status}` };
  }
  const text: Record<number, string> = {
    401: 'Bad credentials',
    403: 'Resource not accessible by personal access token',
    404: 'Not Found',
    409: 'Conflict',
    422: 'Validation Failed',
    500: 'Server Error',
  };
  return {
    message: text[status] ?? `${status}`,
    documentation_url: 'https://docs.github.com/rest',
    ...(status === 401 ? { status: '401' } : {}),
  };
}
