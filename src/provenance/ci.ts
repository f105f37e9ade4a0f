// Where a CI job's content comes from, read from the variables the CI platform sets for every job:
// the repository URL, the ref and commit (as Flux's `<ref>@sha1:<commit>` revision), and the run
// itself (workflow, run, pipeline, job, actor), recorded as manifest annotations so a pushed
// artifact says which job produced it.
//
// Variable names and meanings:
// - GitHub Actions, "Variables reference" → "Default environment variables"
//   (https://docs.github.com/en/actions/reference/variables-reference#default-environment-variables):
//   GITHUB_ACTIONS ("true" when GitHub Actions runs the workflow), GITHUB_SERVER_URL
//   ("https://github.com"), GITHUB_REPOSITORY ("owner/repo"), GITHUB_REF ("refs/heads/main",
//   "refs/tags/v1", "refs/pull/7/merge"), GITHUB_REF_NAME (the short name: "main", "v1",
//   "7/merge"), GITHUB_SHA, GITHUB_WORKFLOW (the workflow's name), GITHUB_WORKFLOW_REF
//   ("owner/repo/.github/workflows/x.yml@refs/heads/main"), GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT,
//   GITHUB_ACTOR.
// - GitLab CI, "Predefined CI/CD variables reference"
//   (https://docs.gitlab.com/ci/variables/predefined_variables/): GITLAB_CI ("true" in GitLab CI),
//   CI_PROJECT_URL (the project's HTTP(S) address), CI_SERVER_URL, CI_PROJECT_PATH,
//   CI_COMMIT_REF_NAME (the branch or tag), CI_COMMIT_TAG (tag pipelines only), CI_COMMIT_SHA,
//   CI_PIPELINE_ID, CI_PIPELINE_URL, CI_JOB_ID, CI_JOB_URL, CI_JOB_NAME, GITLAB_USER_LOGIN (who
//   started the pipeline).
import { AirlockError } from '../errors.ts';

export type CIPlatform = 'github-actions' | 'gitlab-ci';

/** The environment a process runs in (process.env, or a map in tests). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** What a CI job knows about the content it pushes and about itself. */
export interface CIContext {
  readonly platform: CIPlatform;
  /** The repository's web URL (`https://github.com/org/repo`), for `org.opencontainers.image.source`. */
  readonly source: string;
  /** The branch or tag the job runs for (a full ref such as `refs/pull/7/merge` otherwise). */
  readonly refName: string;
  /** The commit, 40 hex digits (64 for a SHA-256 repository). */
  readonly sha: string;
  /** Flux's form, `<refName>@sha1:<sha>`, for `org.opencontainers.image.revision`. */
  readonly revision: string;
  /** GitHub: the workflow's name (GITHUB_WORKFLOW). */
  readonly workflow?: string;
  /** GitHub: the workflow file at its ref (GITHUB_WORKFLOW_REF), what keyless identities name. */
  readonly workflowRef?: string;
  /** GitHub: the run id; GitLab: the job id. */
  readonly runId?: string;
  /** GitHub: the run's page (with its attempt); GitLab: the pipeline's page. */
  readonly runURL?: string;
  /** GitLab: the pipeline id. */
  readonly pipelineId?: string;
  /** GitLab: the job's name and page. */
  readonly job?: string;
  readonly jobURL?: string;
  /** Who started the run (GITHUB_ACTOR, GITLAB_USER_LOGIN). */
  readonly actor?: string;
}

/** A commit id as git prints it: SHA-1, or SHA-256 in a repository created with that format. */
const COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Flux's revision string (flux-oci.md §1.1): `<ref>@sha1:<commit>` (`sha256:` for SHA-256 git). */
export function fluxRevision(refName: string, sha: string): string {
  return `${refName}@${sha.length === 64 ? 'sha256' : 'sha1'}:${sha}`;
}

const value = (env: Environment, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v === undefined || v === '' ? undefined : v;
};

/** Only the fields that are set, so the context carries no empty keys. */
type Known<T> = { [K in keyof T]?: Exclude<T[K], undefined> };
function defined<T extends Record<string, string | undefined>>(fields: T): Known<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Known<T>;
}

/**
 * A CI job whose platform is known but whose commit cannot be told: refusing is better than
 * pushing an artifact whose provenance is half empty.
 */
function incomplete(platform: CIPlatform, missing: readonly string[]): AirlockError {
  return new AirlockError(
    'INPUT_INVALID',
    `${platform === 'github-actions' ? 'GitHub Actions' : 'GitLab CI'} is detected, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set: the source and revision cannot be told from the job`,
    {
      details: [
        'Give the source and revision explicitly, or run the command where the CI platform sets its variables.',
      ],
      data: { option: 'revision', missing: [...missing] },
    },
  );
}

function checkCommit(platform: CIPlatform, name: string, sha: string): void {
  if (!COMMIT.test(sha))
    throw new AirlockError(
      'INPUT_INVALID',
      `${name} is "${sha}", not a commit id (40 or 64 lowercase hex digits)`,
      { data: { option: 'revision', platform } },
    );
}

function github(env: Environment): CIContext {
  const server = value(env, 'GITHUB_SERVER_URL');
  const repository = value(env, 'GITHUB_REPOSITORY');
  const sha = value(env, 'GITHUB_SHA');
  const ref = value(env, 'GITHUB_REF');
  const refShort = value(env, 'GITHUB_REF_NAME');
  const missing = [
    ...(server ? [] : ['GITHUB_SERVER_URL']),
    ...(repository ? [] : ['GITHUB_REPOSITORY']),
    ...((refShort ?? ref) ? [] : ['GITHUB_REF_NAME']),
    ...(sha ? [] : ['GITHUB_SHA']),
  ];
  if (server === undefined || repository === undefined || sha === undefined || missing.length > 0)
    throw incomplete('github-actions', missing);
  checkCommit('github-actions', 'GITHUB_SHA', sha);
  // A branch or tag is named as Flux's GitRepository names it (its short name); any other ref
  // (a pull request's merge ref) keeps its full name, as GITHUB_REF_NAME "7/merge" would be
  // mistaken for a branch called that.
  const short = ref === undefined || /^refs\/(heads|tags)\//.test(ref);
  const refName = (short ? refShort : ref) ?? ref ?? '';
  const base = `${server.replace(/\/+$/, '')}/${repository}`;
  const runId = value(env, 'GITHUB_RUN_ID');
  const attempt = value(env, 'GITHUB_RUN_ATTEMPT');
  return {
    platform: 'github-actions',
    source: base,
    refName,
    sha,
    revision: fluxRevision(refName, sha),
    ...defined({
      workflow: value(env, 'GITHUB_WORKFLOW'),
      workflowRef: value(env, 'GITHUB_WORKFLOW_REF'),
      runId,
      runURL:
        runId === undefined
          ? undefined
          : `${base}/actions/runs/${runId}${attempt === undefined ? '' : `/attempts/${attempt}`}`,
      actor: value(env, 'GITHUB_ACTOR'),
    }),
  };
}

function gitlab(env: Environment): CIContext {
  const server = value(env, 'CI_SERVER_URL');
  const path = value(env, 'CI_PROJECT_PATH');
  // CI_PROJECT_URL is the project's page; older runners' jobs may only have server and path.
  const source =
    value(env, 'CI_PROJECT_URL') ??
    (server !== undefined && path !== undefined
      ? `${server.replace(/\/+$/, '')}/${path}`
      : undefined);
  // A tag pipeline's ref name is the tag already; CI_COMMIT_TAG says so explicitly.
  const refName = value(env, 'CI_COMMIT_TAG') ?? value(env, 'CI_COMMIT_REF_NAME');
  const sha = value(env, 'CI_COMMIT_SHA');
  const missing = [
    ...(source ? [] : ['CI_PROJECT_URL']),
    ...(refName ? [] : ['CI_COMMIT_REF_NAME']),
    ...(sha ? [] : ['CI_COMMIT_SHA']),
  ];
  if (source === undefined || refName === undefined || sha === undefined)
    throw incomplete('gitlab-ci', missing);
  checkCommit('gitlab-ci', 'CI_COMMIT_SHA', sha);
  return {
    platform: 'gitlab-ci',
    source,
    refName,
    sha,
    revision: fluxRevision(refName, sha),
    ...defined({
      runId: value(env, 'CI_JOB_ID'),
      runURL: value(env, 'CI_PIPELINE_URL'),
      pipelineId: value(env, 'CI_PIPELINE_ID'),
      job: value(env, 'CI_JOB_NAME'),
      jobURL: value(env, 'CI_JOB_URL'),
      actor: value(env, 'GITLAB_USER_LOGIN'),
    }),
  };
}

/**
 * The CI job this process runs in, from its environment: GitHub Actions (GITHUB_ACTIONS=true) or
 * GitLab CI (GITLAB_CI=true); `undefined` outside CI. A detected platform whose repository, ref or
 * commit variables are missing is refused (INPUT_INVALID, `data.missing` naming them).
 */
export function ciContext(env: Environment): CIContext | undefined {
  if (value(env, 'GITHUB_ACTIONS') === 'true') return github(env);
  if (value(env, 'GITLAB_CI') === 'true') return gitlab(env);
  return undefined;
}

/** Annotation keys of the CI run, all under one prefix (docs/artifacts.md, "Provenance"). */
export const CI_ANNOTATION_PREFIX = 'dev.airlock.ci.';

/**
 * The CI run as manifest annotations: `dev.airlock.ci.platform`, `.workflow`, `.workflow.ref`,
 * `.run.id`, `.run.url`, `.pipeline.id`, `.job.name`, `.job.url`, `.actor` (those that are known).
 */
export function provenanceAnnotations(ci: CIContext): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    platform: ci.platform,
    workflow: ci.workflow,
    'workflow.ref': ci.workflowRef,
    'run.id': ci.runId,
    'run.url': ci.runURL,
    'pipeline.id': ci.pipelineId,
    'job.name': ci.job,
    'job.url': ci.jobURL,
    actor: ci.actor,
  };
  return Object.fromEntries(
    Object.entries(fields)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, v]) => [`${CI_ANNOTATION_PREFIX}${key}`, v]),
  );
}
