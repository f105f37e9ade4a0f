// Every CI template in ci/ validates against the published schema of its platform (issue 9,
// acceptance): GitLab's own `.gitlab-ci.yml` schema (gitlab-org/gitlab
// app/assets/javascripts/editor/schema/ci.json, the one GitLab's pipeline editor uses) and
// SchemaStore's GitHub workflow and action schemas (what editors and actionlint-like tools use).
// The schema files are third-party test data kept unmodified in test/data/schemas/ (its
// README.md names each file's source repository, path, commit and licence), as the issue asks.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const CI = join(ROOT, 'ci');
const SCHEMAS = join(ROOT, 'test', 'data', 'schemas');

type Platform = 'gitlab-ci' | 'github-workflow' | 'github-action';

/** Which schema a template file answers to: by its name, as each platform finds its files. */
function platformOf(file: string): Platform {
  if (/^action\.ya?ml$/.test(file)) return 'github-action';
  if (file.startsWith('github-')) return 'github-workflow';
  if (file.startsWith('gitlab-')) return 'gitlab-ci';
  throw new Error(`${file}: name it github-*.yml or gitlab-*.yml so its schema is known`);
}

describe('CI templates validate against their platforms’ published schemas', () => {
  const validators = new Map<Platform, ValidateFunction>();
  let templates: string[];

  before(async () => {
    // All three schemas are draft-07 (their "$schema"), Ajv's default dialect. They use keywords
    // and formats of their own ("markdownDescription", "deprecationMessage"), hence strict: false.
    for (const platform of ['gitlab-ci', 'github-workflow', 'github-action'] as const) {
      const schema = JSON.parse(await readFile(join(SCHEMAS, `${platform}.json`), 'utf8')) as {
        $schema?: string;
      };
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#', platform);
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats.default(ajv);
      validators.set(platform, ajv.compile(schema));
    }
    templates = (await readdir(CI)).filter((f) => /\.ya?ml$/.test(f)).sort();
  });

  it('knows the schema of every file in ci/, and there are templates for both platforms', () => {
    const platforms = new Set(templates.map(platformOf));
    assert.ok(platforms.has('gitlab-ci') && platforms.has('github-workflow'), templates.join());
    for (const file of [
      'github-push-artifact.yml',
      'github-release-artifact.yml',
      'gitlab-release.yml',
    ])
      assert.ok(templates.includes(file), file);
  });

  it('every ci/*.yml is valid YAML and validates against its schema', async () => {
    for (const file of templates) {
      const text = await readFile(join(CI, file), 'utf8');
      assert.ok(
        parseAllDocuments(text).every((d) => d.errors.length === 0),
        `${file}: YAML`,
      );
      const validate = validators.get(platformOf(file))!;
      const valid = validate(parse(text));
      assert.ok(
        valid,
        `${file} against ${platformOf(file)}.json:\n${JSON.stringify(validate.errors, null, 2)}`,
      );
    }
  });

  it('the schemas do refuse what their platform refuses (the check is not vacuous)', () => {
    const gitlab = validators.get('gitlab-ci')!;
    const workflow = validators.get('github-workflow')!;
    // A misspelt job keyword; an id_tokens entry without its audience (`aud`).
    assert.equal(gitlab({ build: { stage: 'build', scripts: ['true'] } }), false);
    assert.equal(gitlab({ job: { script: ['true'], id_tokens: { T: { audience: 'x' } } } }), false);
    // A workflow without jobs; a job without runs-on; a misspelt permission.
    assert.equal(workflow({ on: 'push' }), false);
    assert.equal(workflow({ on: 'push', jobs: { a: { steps: [{ run: 'true' }] } } }), false);
    assert.equal(
      workflow({
        on: 'push',
        permissions: { 'id-tokens': 'write' },
        jobs: { a: { 'runs-on': 'ubuntu-latest', steps: [{ run: 'true' }] } },
      }),
      false,
    );
  });

  it('the release templates run the commands issue 9 specifies, keyless', async () => {
    const read = (file: string) => readFile(join(CI, file), 'utf8');
    const push = await read('github-push-artifact.yml');
    assert.match(push, /airlock artifact push "components\/\$\{\{ matrix\.component \}\}"/);
    assert.match(push, /--sign --keyless/);
    assert.match(push, /id-token: write/);
    const release = await read('github-release-artifact.yml');
    assert.match(
      release,
      /airlock release --tag "\$GITHUB_REF_NAME" --repository-prefix "\$REG" --keyless/,
    );
    assert.match(
      release,
      /--certificate-oidc-issuer https:\/\/token\.actions\.githubusercontent\.com/,
    );
    assert.match(release, /push-artifact\\\.yml@refs\/heads\/main\$'/);
    assert.match(release, /--trusted-root trusted_root\.json/);
    const gitlab = parse(await read('gitlab-release.yml')) as Record<
      string,
      { id_tokens?: Record<string, { aud?: string }>; rules?: { if?: string }[]; script?: string[] }
    >;
    assert.equal(gitlab['.airlock']?.id_tokens?.SIGSTORE_ID_TOKEN?.aud, 'sigstore');
    assert.equal(
      gitlab['push-artifact']?.rules?.[0]?.if,
      '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH',
    );
    const releaseJob = gitlab['release-artifact'];
    assert.equal(releaseJob?.rules?.[0]?.if, '$CI_COMMIT_TAG =~ /^[a-z0-9-]+\\/v?[0-9]/');
    assert.match(releaseJob.script?.join('\n') ?? '', /airlock release --tag "\$CI_COMMIT_TAG"/);
  });
});
