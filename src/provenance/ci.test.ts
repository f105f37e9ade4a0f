import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { ciContext, provenanceAnnotations } from './index.ts';

const SHA = '4f1c2a9d0b3e5f60718293a4b5c6d7e8f9012345';

// A push to main in GitHub Actions, with the values the variables reference documents.
const GITHUB = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/fleet',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_REF_NAME: 'main',
  GITHUB_SHA: SHA,
  GITHUB_WORKFLOW: 'push-artifact',
  GITHUB_WORKFLOW_REF: 'acme/fleet/.github/workflows/push-artifact.yml@refs/heads/main',
  GITHUB_RUN_ID: '9001',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_ACTOR: 'octocat',
};

const GITLAB = {
  GITLAB_CI: 'true',
  CI_SERVER_URL: 'https://gitlab.internal',
  CI_PROJECT_PATH: 'platform/fleet',
  CI_PROJECT_URL: 'https://gitlab.internal/platform/fleet',
  CI_COMMIT_REF_NAME: 'main',
  CI_COMMIT_SHA: SHA,
  CI_PIPELINE_ID: '77',
  CI_PIPELINE_URL: 'https://gitlab.internal/platform/fleet/-/pipelines/77',
  CI_JOB_ID: '1234',
  CI_JOB_URL: 'https://gitlab.internal/platform/fleet/-/jobs/1234',
  CI_JOB_NAME: 'push',
  GITLAB_USER_LOGIN: 'alice',
};

describe('ciContext', () => {
  it('is undefined outside CI, and for platforms that only look alike', () => {
    assert.equal(ciContext({}), undefined);
    assert.equal(ciContext({ CI: 'true' }), undefined);
    assert.equal(ciContext({ ...GITHUB, GITHUB_ACTIONS: 'false' }), undefined);
  });

  it('reads a GitHub Actions push: repository URL, Flux revision and the run', () => {
    assert.deepEqual(ciContext(GITHUB), {
      platform: 'github-actions',
      source: 'https://github.com/acme/fleet',
      refName: 'main',
      sha: SHA,
      revision: `main@sha1:${SHA}`,
      workflow: 'push-artifact',
      workflowRef: 'acme/fleet/.github/workflows/push-artifact.yml@refs/heads/main',
      runId: '9001',
      runURL: 'https://github.com/acme/fleet/actions/runs/9001/attempts/2',
      actor: 'octocat',
    });
  });

  it('names a tag push by its tag, and a pull request by its full ref', () => {
    const tag = ciContext({
      ...GITHUB,
      GITHUB_REF: 'refs/tags/web/1.4.2',
      GITHUB_REF_NAME: 'web/1.4.2',
    });
    assert.equal(tag?.revision, `web/1.4.2@sha1:${SHA}`);
    const pr = ciContext({
      ...GITHUB,
      GITHUB_REF: 'refs/pull/7/merge',
      GITHUB_REF_NAME: '7/merge',
    });
    assert.equal(pr?.revision, `refs/pull/7/merge@sha1:${SHA}`);
  });

  it('uses GitHub Enterprise Server URLs as given', () => {
    const ghes = ciContext({ ...GITHUB, GITHUB_SERVER_URL: 'https://github.internal/' });
    assert.equal(ghes?.source, 'https://github.internal/acme/fleet');
    assert.equal(ghes.runURL, 'https://github.internal/acme/fleet/actions/runs/9001/attempts/2');
  });

  it('refuses a GitHub job whose commit or repository is not set, naming the variables', () => {
    const { GITHUB_SHA: _sha, GITHUB_REPOSITORY: _repo, ...partial } = GITHUB;
    const error = assertThrowsCode(() => ciContext(partial), 'INPUT_INVALID');
    assert.equal(error.data.option, 'revision');
    assert.deepEqual(error.data.missing, ['GITHUB_REPOSITORY', 'GITHUB_SHA']);
    const bad = assertThrowsCode(
      () => ciContext({ ...GITHUB, GITHUB_SHA: 'HEAD' }),
      'INPUT_INVALID',
    );
    assert.equal(bad.data.option, 'revision');
  });

  it('reads a GitLab pipeline: project URL, ref, pipeline and job', () => {
    assert.deepEqual(ciContext(GITLAB), {
      platform: 'gitlab-ci',
      source: 'https://gitlab.internal/platform/fleet',
      refName: 'main',
      sha: SHA,
      revision: `main@sha1:${SHA}`,
      runId: '1234',
      runURL: 'https://gitlab.internal/platform/fleet/-/pipelines/77',
      pipelineId: '77',
      job: 'push',
      jobURL: 'https://gitlab.internal/platform/fleet/-/jobs/1234',
      actor: 'alice',
    });
  });

  it('takes a GitLab tag pipeline from CI_COMMIT_TAG, and the project URL from server and path', () => {
    const { CI_PROJECT_URL: _url, ...noURL } = GITLAB;
    const tag = ciContext({
      ...noURL,
      CI_COMMIT_TAG: 'web/v1.4.2',
      CI_COMMIT_REF_NAME: 'web/v1.4.2',
    });
    assert.equal(tag?.source, 'https://gitlab.internal/platform/fleet');
    assert.equal(tag.revision, `web/v1.4.2@sha1:${SHA}`);
  });

  it('refuses a GitLab job without its commit', () => {
    const { CI_COMMIT_SHA: _sha, ...partial } = GITLAB;
    const error = assertThrowsCode(() => ciContext(partial), 'INPUT_INVALID');
    assert.deepEqual(error.data.missing, ['CI_COMMIT_SHA']);
  });

  it('writes a SHA-256 repository commit in Flux form', () => {
    const sha256 = 'a'.repeat(64);
    assert.equal(
      ciContext({ ...GITLAB, CI_COMMIT_SHA: sha256 })?.revision,
      `main@sha256:${sha256}`,
    );
  });
});

describe('provenanceAnnotations', () => {
  it('records the GitHub run under dev.airlock.ci.', () => {
    const ci = ciContext(GITHUB);
    assert.ok(ci);
    assert.deepEqual(provenanceAnnotations(ci), {
      'dev.airlock.ci.platform': 'github-actions',
      'dev.airlock.ci.workflow': 'push-artifact',
      'dev.airlock.ci.workflow.ref':
        'acme/fleet/.github/workflows/push-artifact.yml@refs/heads/main',
      'dev.airlock.ci.run.id': '9001',
      'dev.airlock.ci.run.url': 'https://github.com/acme/fleet/actions/runs/9001/attempts/2',
      'dev.airlock.ci.actor': 'octocat',
    });
  });

  it('records the GitLab pipeline and job, and only what is known', () => {
    const ci = ciContext({
      GITLAB_CI: 'true',
      CI_PROJECT_URL: 'https://gitlab.internal/platform/fleet',
      CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_SHA: SHA,
      CI_PIPELINE_ID: '77',
    });
    assert.ok(ci);
    assert.deepEqual(provenanceAnnotations(ci), {
      'dev.airlock.ci.platform': 'gitlab-ci',
      'dev.airlock.ci.pipeline.id': '77',
    });
    const full = ciContext(GITLAB);
    assert.ok(full);
    assert.equal(
      provenanceAnnotations(full)['dev.airlock.ci.job.url'],
      'https://gitlab.internal/platform/fleet/-/jobs/1234',
    );
  });
});
