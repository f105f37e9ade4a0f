// Forge clients: one merge request (GitLab) or pull request (GitHub) per promoted change.
//
// Decision: plain `fetch` (Node's built-in) rather than @gitbeaker/rest / @octokit/rest. We call a
// handful of endpoints per forge (project, list, create, update, labels, auto-merge) and need exact
// control of what the well-kept clients decide for us: per-request timeouts combined with the
// caller's AbortSignal, the mapping of statuses to airlock's codes (FORGE_AUTH / FORGE_CONFLICT /
// FORGE_FAILED), the token kept out of every message and of every cross-origin redirect (fetch
// forwards a custom PRIVATE-TOKEN header on one), bounded response bodies, and a request log that
// offline tests assert on. The two clients would also bring two large dependency trees (octokit's
// plugins, gitbeaker's requester) into a CLI whose start-up time is budgeted.
//
// This module imports only core and errors (eslint.config.js): it knows nothing of artifacts.

import { AirlockError } from '../errors.ts';
import { GitHubForge, GITHUB_AUTH_HELP } from './github.ts';
import { checkGitLabProject, GitLabForge, gitlabAuthHelp } from './gitlab.ts';
import { checkToken, ForgeHTTP, parseApiURL } from './http.ts';
import type { Forge, ForgeKind, ForgeOptions } from './types.ts';

export type {
  ChangeRequest,
  Forge,
  ForgeKind,
  ForgeOptions,
  ForgeRequestLog,
  OpenedChange,
} from './types.ts';

/** The variables a token is read from, in order (the first one set wins). */
export const FORGE_TOKEN_VARIABLES: Readonly<Record<ForgeKind, readonly string[]>> = {
  // CI_JOB_TOKEN is the last resort: GitLab does not let job tokens use the merge request API
  // (https://docs.gitlab.com/ci/jobs/ci_job_token/), so check() fails with FORGE_AUTH and says so.
  gitlab: ['GITLAB_TOKEN', 'CI_JOB_TOKEN'],
  github: ['GITHUB_TOKEN'],
};

export interface ForgeToken {
  readonly token: string;
  /** The variable it came from: pass it as ForgeOptions.tokenVariable. */
  readonly variable: string;
}

/** Finds the forge token in the environment, and says which variable held it. */
export function findForgeToken(
  kind: ForgeKind,
  env: Readonly<Record<string, string | undefined>>,
): ForgeToken {
  const variables = FORGE_TOKEN_VARIABLES[kind];
  for (const variable of variables) {
    const token = env[variable];
    if (token !== undefined && token !== '') return { token, variable };
  }
  const help =
    kind === 'gitlab'
      ? 'Set GITLAB_TOKEN to a project, group or personal access token with the api scope.'
      : 'Set GITHUB_TOKEN (in a workflow: ${{ secrets.GITHUB_TOKEN }} with contents: write and pull-requests: write).';
  throw new AirlockError(
    'INPUT_INVALID',
    `no ${kind === 'gitlab' ? 'GitLab' : 'GitHub'} token: ${variables.join(' and ')} ${
      variables.length > 1 ? 'are' : 'is'
    } not set`,
    { data: { option: 'forgeToken', variables: [...variables] }, details: [help] },
  );
}

/** The token alone (GITLAB_TOKEN, else CI_JOB_TOKEN; GITHUB_TOKEN); missing → INPUT_INVALID. */
export function forgeToken(
  kind: ForgeKind,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return findForgeToken(kind, env).token;
}

/** A client for one project; nothing is sent until check() or openOrUpdate(). */
export function openForge(options: ForgeOptions): Forge {
  const apiURL = parseApiURL(options);
  const tokenVariable = options.tokenVariable ?? FORGE_TOKEN_VARIABLES[options.kind][0] ?? 'token';
  checkToken(options.token, tokenVariable);
  switch (options.kind) {
    case 'gitlab': {
      checkGitLabProject(options.project);
      // Personal, project and group access tokens go in PRIVATE-TOKEN, a CI/CD job token in
      // JOB-TOKEN (https://docs.gitlab.com/api/rest/authentication/).
      const header = tokenVariable === 'CI_JOB_TOKEN' ? 'job-token' : 'private-token';
      const http = new ForgeHTTP({
        kind: 'gitlab',
        apiURL,
        authHeaders: { [header]: options.token },
        token: options.token,
        tokenVariable,
        authHelp: gitlabAuthHelp(tokenVariable, options.project),
        extraHeaders: { accept: 'application/json' },
        options,
      });
      return new GitLabForge(http, options.project);
    }
    case 'github': {
      const http = new ForgeHTTP({
        kind: 'github',
        apiURL,
        authHeaders: { authorization: `Bearer ${options.token}` },
        token: options.token,
        tokenVariable,
        authHelp: GITHUB_AUTH_HELP,
        extraHeaders: {
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
        },
        options,
      });
      return new GitHubForge(http, options.project, apiURL);
    }
  }
}
