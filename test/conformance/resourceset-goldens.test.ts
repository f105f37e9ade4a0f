import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { buildResourceSet, renderBuildGolden } from '../../src/fleet/index.ts';
import { parseGoYAML } from '../../src/goyaml/index.ts';
import { fixturesSkipReason, gated, SHARED_FIXTURES } from '../harness/tools.ts';
import { assertThrowsCode } from '../helpers/assert-code.ts';

// Issue 10 §3: the Flux Operator's own builder goldens (FO @17c6aea
// internal/builder/testdata/resourceset, copied to ../shared/fixtures/flux-operator/builder with
// its COMMIT), byte for byte. The operator's test (internal/builder/resourceset_test.go) builds
// with the inline inputs as they are (ToCombined: no `provider` key) and prints
// ssautil.ObjectsToYAML, with `# step: NAME` before every step of a steps golden
// (../shared/reference/resourceset.md §7 B). That is buildResourceSet without `cli`.

const DIR = join(SHARED_FIXTURES, 'flux-operator', 'builder');
const { it } = gated(fixturesSkipReason('flux-operator/builder'));

async function build(name: string) {
  const text = await readFile(join(DIR, name), 'utf8');
  return buildResourceSet(parseGoYAML(text, name));
}

describe('ResourceSet builder goldens (Flux Operator testdata)', () => {
  it('covers every golden pair of the fixture directory', async () => {
    const files = await readdir(DIR);
    const goldens = files.filter((f) => f.endsWith('.golden.yaml')).sort();
    assert.deepEqual(goldens, [
      'dedup.golden.yaml',
      'exclude.golden.yaml',
      'multi-doc-template.golden.yaml',
      'nestedinputs.golden.yaml',
      'noinputs.golden.yaml',
      'slugify.golden.yaml',
      'steps-noinputs.golden.yaml',
      'steps.golden.yaml',
    ]);
  });

  for (const name of [
    'slugify',
    'dedup',
    'exclude',
    'noinputs',
    'nestedinputs',
    'multi-doc-template',
    'steps',
    'steps-noinputs',
  ])
    it(`${name}.yaml builds ${name}.golden.yaml byte for byte`, async () => {
      const golden = await readFile(join(DIR, `${name}.golden.yaml`), 'utf8');
      assert.equal(renderBuildGolden(await build(`${name}.yaml`)), golden);
    });

  it('steps.yaml keeps every step, the empty one included, in spec order', async () => {
    const result = await build('steps.yaml');
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.objects.length]),
      [
        ['pre-deploy', 2],
        ['deploy', 3],
        ['post-deploy', 1],
        ['cleanup', 0],
      ],
    );
  });

  it('empty.yaml generates no objects and no error', async () => {
    const result = await build('empty.yaml');
    assert.deepEqual(result.objects, []);
    assert.equal(renderBuildGolden(result), '');
  });

  it('invalid-output.yaml fails as the operator does: the output is not YAML', async () => {
    const text = await readFile(join(DIR, 'invalid-output.yaml'), 'utf8');
    const error = assertThrowsCode(
      () => buildResourceSet(parseGoYAML(text)),
      'RESOURCESET_INVALID',
    );
    assert.ok(
      error.message.includes(
        'failed to build resources[0]: failed to read object: error converting YAML to JSON',
      ),
      error.message,
    );
  });

  it('missing-inputs.yaml fails on the missing key with missingkey=error', async () => {
    const text = await readFile(join(DIR, 'missing-inputs.yaml'), 'utf8');
    const error = assertThrowsCode(() => buildResourceSet(parseGoYAML(text)), 'TEMPLATE_FAILED');
    assert.ok(error.message.includes('<inputs>: map has no entry for key "semver"'), error.message);
  });

  it('steps-duplicate.yaml fails with the operator message, verbatim', async () => {
    const text = await readFile(join(DIR, 'steps-duplicate.yaml'), 'utf8');
    const error = assertThrowsCode(
      () => buildResourceSet(parseGoYAML(text)),
      'RESOURCESET_INVALID',
    );
    assert.equal(
      error.message,
      'duplicate resource ConfigMap/apps/app-config in step "deploy", already defined in step "pre-deploy"',
    );
  });
});
