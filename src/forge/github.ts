// GitHub pull requests through the REST API (version 2022-11-28) and, for auto-merge, GraphQL.
// Request and response shapes:
//   repository       https://docs.github.com/en/rest/repos/repos#get-a-repository
//   pull requests    https://docs.github.com/en/rest/pulls/pulls (list with head=owner:branch,
//                    create, update)
//   labels           https://docs.github.com/en/rest/issues/labels#set-labels-for-an-issue (a pull
//                    request is an issue; PUT replaces the set)
//   auto-merge       https://docs.github.com/en/graphql/reference/mutations#enablepullrequestautomerge
//                    and #disablepullrequestautomerge — the REST API has no endpoint for it
//   GraphQL endpoint https://docs.github.com/en/graphql/guides/forming-calls-with-graphql
//                    (api.github.com/graphql; GHES: HOST/api/graphql, beside /api/v3)
//   headers          https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api

import { escapeControl } from '../core/index.ts';
import { AirlockError } from '../errors.ts';
import {
  checkChange,
  type ForgeHTTP,
  isRecord,
  sameLabels,
  shapeError,
  withChange,
} from './http.ts';
import type { ChangeRequest, Forge, OpenedChange } from './types.ts';

interface PullRequest {
  readonly number: number;
  readonly nodeId: string;
  readonly url: string;
  readonly title: string;
  readonly body: string;
  readonly labels: readonly string[];
  readonly base: string;
  readonly autoMerge: boolean;
}

/** Squash: one commit per promoted pin on the environment branch. */
const ENABLE_AUTO_MERGE = `mutation($id: ID!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) {
    pullRequest { autoMergeRequest { enabledAt } }
  }
}`;
const DISABLE_AUTO_MERGE = `mutation($id: ID!) {
  disablePullRequestAutoMerge(input: {pullRequestId: $id}) {
    pullRequest { autoMergeRequest { enabledAt } }
  }
}`;

/** GraphQL sits beside the REST base: `/api/v3` on GHES becomes `/api/graphql`. */
export function githubGraphQLURL(apiURL: URL): string {
  const url = new URL(apiURL.href);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/api/v3')
    ? `${path.slice(0, -'/v3'.length)}/graphql`
    : `${path}/graphql`;
  return url.href;
}

export class GitHubForge implements Forge {
  readonly kind = 'github' as const;
  readonly #http: ForgeHTTP;
  readonly #owner: string;
  readonly #repo: string;
  readonly #graphql: string;

  constructor(http: ForgeHTTP, project: string, apiURL: URL) {
    const [owner, repo] = splitGitHubProject(project);
    this.#http = http;
    this.#owner = owner;
    this.#repo = repo;
    this.#graphql = githubGraphQLURL(apiURL);
  }

  get #base(): string {
    return `/repos/${encodeURIComponent(this.#owner)}/${encodeURIComponent(this.#repo)}`;
  }

  async check(): Promise<void> {
    const where = { method: 'GET', path: this.#base } as const;
    const { status, body } = await this.#http.request({ ...where, pass: [404] });
    if (status === 404) throw this.#http.notVisible(where);
    if (!isRecord(body) || typeof body.full_name !== 'string') {
      throw shapeError('github', 'a repository', where, status);
    }
  }

  async openOrUpdate(change: ChangeRequest): Promise<OpenedChange> {
    checkChange(change, 'github');
    const pulls = `${this.#base}/pulls`;
    const found = await this.#http.request({
      method: 'GET',
      path: pulls,
      query: { head: `${this.#owner}:${change.sourceBranch}`, state: 'open', per_page: '100' },
    });
    if (!Array.isArray(found.body)) {
      throw shapeError(
        'github',
        'a pull request list',
        { method: 'GET', path: pulls },
        found.status,
      );
    }
    const open = found.body.map((item) => this.#pullRequest(item, 'GET', pulls));
    const existing = open.find((pr) => pr.base === change.targetBranch) ?? open[0];

    let pr: PullRequest;
    let state: OpenedChange['state'];
    if (existing === undefined) {
      const created = await this.#http.request({
        method: 'POST',
        path: pulls,
        json: {
          title: change.title,
          head: change.sourceBranch,
          base: change.targetBranch,
          body: change.body,
        },
      });
      pr = this.#pullRequest(created.body, 'POST', pulls);
      state = 'opened';
    } else if (
      existing.title !== change.title ||
      existing.body !== change.body ||
      existing.base !== change.targetBranch
    ) {
      const path = `${pulls}/${existing.number}`;
      try {
        const updated = await this.#http.request({
          method: 'PATCH',
          path,
          json: { title: change.title, body: change.body, base: change.targetBranch },
        });
        pr = this.#pullRequest(updated.body, 'PATCH', path);
      } catch (error) {
        throw withChange(error, { number: existing.number, url: existing.url });
      }
      state = 'updated';
    } else {
      pr = existing;
      state = 'unchanged';
    }

    try {
      if (!sameLabels(pr.labels, change.labels)) {
        const path = `${this.#base}/issues/${pr.number}/labels`;
        const set = await this.#http.request({
          method: 'PUT',
          path,
          json: { labels: change.labels },
        });
        if (!Array.isArray(set.body)) {
          throw shapeError('github', 'a label list', { method: 'PUT', path }, set.status);
        }
        // A label set on a pull request just created is part of opening it, not an update.
        if (state === 'unchanged') state = 'updated';
      }
      return await this.#autoMerge(pr, change.autoMerge, state);
    } catch (error) {
      throw withChange(error, { number: pr.number, url: pr.url });
    }
  }

  async #autoMerge(
    pr: PullRequest,
    wanted: boolean,
    state: OpenedChange['state'],
  ): Promise<OpenedChange> {
    const result = { number: pr.number, url: pr.url };
    if (pr.autoMerge === wanted) return { ...result, state, autoMerge: wanted };
    const where = { method: 'POST', path: '/graphql' } as const;
    const answer = await this.#http.request({
      ...where,
      url: this.#graphql,
      json: {
        query: wanted ? ENABLE_AUTO_MERGE : DISABLE_AUTO_MERGE,
        variables: { id: pr.nodeId },
      },
    });
    if (!isRecord(answer.body))
      throw shapeError('github', 'a GraphQL answer', where, answer.status);
    // GraphQL reports refusals with HTTP 200 and an `errors` list
    // (https://docs.github.com/en/graphql/guides/forming-calls-with-graphql#communicating-with-graphql).
    const errors = Array.isArray(answer.body.errors) ? answer.body.errors.filter(isRecord) : [];
    if (errors.length > 0) {
      const said = this.#http.explain(errors);
      if (errors.some((error) => error.type === 'FORBIDDEN')) {
        throw new AirlockError(
          'FORGE_AUTH',
          `GitHub refused to ${wanted ? 'enable' : 'disable'} auto-merge with the token: ${said}`,
          {
            data: { status: answer.status, ...where },
            details: ['The token needs the contents: write and pull-requests: write permissions.'],
          },
        );
      }
      if (wanted) {
        return {
          ...result,
          state,
          autoMerge: false,
          autoMergeRefused: `GitHub would not enable auto-merge: ${said}`,
        };
      }
      throw new AirlockError('FORGE_CONFLICT', `GitHub would not disable auto-merge: ${said}`, {
        data: { status: answer.status, ...where },
      });
    }
    const data = answer.body.data;
    const field = wanted ? 'enablePullRequestAutoMerge' : 'disablePullRequestAutoMerge';
    const payload = isRecord(data) ? data[field] : undefined;
    const pull = isRecord(payload) ? payload.pullRequest : undefined;
    if (!isRecord(pull)) throw shapeError('github', 'a GraphQL answer', where, answer.status);
    const enabled = isRecord(pull.autoMergeRequest);
    return { ...result, state: state === 'unchanged' ? 'updated' : state, autoMerge: enabled };
  }

  #pullRequest(value: unknown, method: string, path: string): PullRequest {
    if (
      !isRecord(value) ||
      typeof value.number !== 'number' ||
      typeof value.node_id !== 'string' ||
      typeof value.html_url !== 'string' ||
      typeof value.title !== 'string' ||
      !isRecord(value.base) ||
      typeof value.base.ref !== 'string'
    ) {
      throw shapeError('github', 'a pull request', { method, path });
    }
    const labels = Array.isArray(value.labels)
      ? value.labels.flatMap((label) =>
          isRecord(label) && typeof label.name === 'string' ? [label.name] : [],
        )
      : [];
    return {
      number: value.number,
      nodeId: value.node_id,
      url: value.html_url,
      title: value.title,
      // GitHub answers null for a pull request without a body.
      body: typeof value.body === 'string' ? value.body : '',
      labels,
      base: value.base.ref,
      autoMerge: isRecord(value.auto_merge),
    };
  }
}

export function splitGitHubProject(project: string): [string, string] {
  const parts = project.split('/');
  const [owner, repo] = parts;
  if (
    parts.length !== 2 ||
    owner === undefined ||
    repo === undefined ||
    owner === '' ||
    repo === ''
  ) {
    throw new AirlockError(
      'INPUT_INVALID',
      `"${escapeControl(project)}" is not a GitHub repository: expected owner/repo`,
      { data: { option: 'project' } },
    );
  }
  return [owner, repo];
}

export const GITHUB_AUTH_HELP = [
  'The token needs the contents: write, pull-requests: write and issues: write permissions on the repository (for a workflow, its permissions: block).',
];
