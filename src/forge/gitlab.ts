// GitLab merge requests through the REST API v4. Request and response shapes:
//   project             https://docs.gitlab.com/api/projects/#get-a-single-project
//   list / create / update / merge / cancel auto-merge
//                       https://docs.gitlab.com/api/merge_requests/
//   authentication      https://docs.gitlab.com/api/rest/authentication/
//   job token access    https://docs.gitlab.com/ci/jobs/ci_job_token/
//
// Auto-merge: PUT /merge_requests/:iid/merge with `auto_merge=true` (GitLab 17.11 and later) and
// `merge_when_pipeline_succeeds=true` (its name before 17.11, deprecated since). Both are sent:
// Grape ignores parameters it does not know, so a GitLab that knows only one of them still reads
// it as "wait for the pipeline", where sending only `auto_merge` to an older GitLab would be read as
// "merge now". Cancelling is POST /merge_requests/:iid/cancel_merge_when_pipeline_succeeds.

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

interface MergeRequest {
  readonly iid: number;
  readonly url: string;
  readonly title: string;
  readonly description: string;
  readonly labels: readonly string[];
  readonly targetBranch: string;
  readonly autoMerge: boolean;
  readonly merged: boolean;
}

/** The merge endpoint's refusals: not mergeable (405), branch cannot be merged (406, 422), SHA moved (409). */
const MERGE_REFUSALS = [405, 406, 409, 422];

export class GitLabForge implements Forge {
  readonly kind = 'gitlab' as const;
  readonly #http: ForgeHTTP;
  /** `:id` in every path: the numeric id, or the URL-encoded path (`group%2Fsub%2Fproject`). */
  readonly #id: string;

  constructor(http: ForgeHTTP, project: string) {
    this.#http = http;
    this.#id = encodeURIComponent(project);
  }

  async check(): Promise<void> {
    const where = { method: 'GET', path: `/projects/${this.#id}` } as const;
    const { status, body } = await this.#http.request({ ...where, pass: [404] });
    if (status === 404) throw this.#http.notVisible(where);
    if (!isRecord(body) || typeof body.id !== 'number') {
      throw shapeError('gitlab', 'a project', where, status);
    }
  }

  async openOrUpdate(change: ChangeRequest): Promise<OpenedChange> {
    checkChange(change, 'gitlab');
    const base = `/projects/${this.#id}/merge_requests`;
    const found = await this.#http.request({
      method: 'GET',
      path: base,
      query: { source_branch: change.sourceBranch, state: 'opened', per_page: '100' },
    });
    if (!Array.isArray(found.body)) {
      throw shapeError(
        'gitlab',
        'a merge request list',
        { method: 'GET', path: base },
        found.status,
      );
    }
    const open = found.body.map((item) => this.#mergeRequest(item, 'GET', base));
    // GitLab allows one open MR per source and target branch; prefer the one for our target.
    const existing = open.find((mr) => mr.targetBranch === change.targetBranch) ?? open[0];
    const labels = change.labels.join(',');

    let mr: MergeRequest;
    let state: OpenedChange['state'];
    if (existing === undefined) {
      const created = await this.#http.request({
        method: 'POST',
        path: base,
        json: {
          source_branch: change.sourceBranch,
          target_branch: change.targetBranch,
          title: change.title,
          description: change.body,
          labels,
          remove_source_branch: true,
        },
      });
      mr = this.#mergeRequest(created.body, 'POST', base);
      state = 'opened';
    } else if (
      existing.title !== change.title ||
      existing.description !== change.body ||
      existing.targetBranch !== change.targetBranch ||
      !sameLabels(existing.labels, change.labels)
    ) {
      const path = `${base}/${existing.iid}`;
      try {
        const updated = await this.#http.request({
          method: 'PUT',
          path,
          json: {
            title: change.title,
            description: change.body,
            target_branch: change.targetBranch,
            labels,
          },
        });
        mr = this.#mergeRequest(updated.body, 'PUT', path);
      } catch (error) {
        throw withChange(error, { number: existing.iid, url: existing.url });
      }
      state = 'updated';
    } else {
      mr = existing;
      state = 'unchanged';
    }

    try {
      return await this.#autoMerge(mr, change.autoMerge, state);
    } catch (error) {
      throw withChange(error, { number: mr.iid, url: mr.url });
    }
  }

  async #autoMerge(
    mr: MergeRequest,
    wanted: boolean,
    state: OpenedChange['state'],
  ): Promise<OpenedChange> {
    const result = { number: mr.iid, url: mr.url };
    if (mr.autoMerge === wanted) return { ...result, state, autoMerge: wanted };
    const changed = state === 'unchanged' ? 'updated' : state;
    const path = `/projects/${this.#id}/merge_requests/${mr.iid}`;
    if (wanted) {
      const merged = await this.#http.request({
        method: 'PUT',
        path: `${path}/merge`,
        json: {
          auto_merge: true,
          merge_when_pipeline_succeeds: true,
          should_remove_source_branch: true,
        },
        pass: MERGE_REFUSALS,
      });
      if (MERGE_REFUSALS.includes(merged.status)) {
        const said = this.#http.explain(merged.body);
        return {
          ...result,
          state,
          autoMerge: false,
          autoMergeRefused: `GitLab would not set auto-merge (HTTP ${merged.status})${said === '' ? '' : `: ${said}`}`,
        };
      }
      const after = this.#mergeRequest(merged.body, 'PUT', `${path}/merge`);
      return { ...result, state: changed, autoMerge: after.autoMerge || after.merged };
    }
    // 406: auto-merge was not set after all (it finished or was cancelled meanwhile).
    const cancelled = await this.#http.request({
      method: 'POST',
      path: `${path}/cancel_merge_when_pipeline_succeeds`,
      pass: [406],
    });
    return { ...result, state: cancelled.status === 406 ? state : changed, autoMerge: false };
  }

  #mergeRequest(value: unknown, method: string, path: string): MergeRequest {
    if (
      !isRecord(value) ||
      typeof value.iid !== 'number' ||
      typeof value.web_url !== 'string' ||
      typeof value.title !== 'string' ||
      typeof value.target_branch !== 'string'
    ) {
      throw shapeError('gitlab', 'a merge request', { method, path });
    }
    const labels = Array.isArray(value.labels)
      ? value.labels.filter((label): label is string => typeof label === 'string')
      : [];
    return {
      iid: value.iid,
      url: value.web_url,
      title: value.title,
      // GitLab answers null for an MR created without a description.
      description: typeof value.description === 'string' ? value.description : '',
      labels,
      targetBranch: value.target_branch,
      autoMerge: value.merge_when_pipeline_succeeds === true,
      merged: value.state === 'merged',
    };
  }
}

/** What a GitLab token needs, and why a CI job token is not enough. */
export function gitlabAuthHelp(variable: string, project: string): string[] {
  if (variable === 'CI_JOB_TOKEN') {
    return [
      'A CI/CD job token cannot reach the project or merge request API (see the list at https://docs.gitlab.com/ci/jobs/ci_job_token/).',
      `Set GITLAB_TOKEN to a project or group access token of ${project} with the api scope and the Developer role.`,
    ];
  }
  return [
    `${variable} needs the api scope and at least the Developer role on ${project} (the Maintainer role, or merge rights on the target branch, to set auto-merge).`,
  ];
}

export function checkGitLabProject(project: string): void {
  if (
    project === '' ||
    project.startsWith('/') ||
    project.endsWith('/') ||
    project.includes('//')
  ) {
    throw new AirlockError(
      'INPUT_INVALID',
      `"${escapeControl(project)}" is not a GitLab project: expected group/sub/project or a numeric id`,
      { data: { option: 'project' } },
    );
  }
}
