import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../harness/tools.ts';
import { type CommandRun, runCommand } from '../helpers/command.ts';
import { fleetBuildResourceSetCommand } from '../../src/cli/commands/fleet.ts';
import { exitCodeFor } from '../../src/cli/exit-codes.ts';

// `airlock fleet build resourceset` against what `flux-operator build resourceset` prints
// (FO @17c6aea cmd/cli/build_resourceset.go, ../shared/reference/resourceset.md §2.1). The
// command is run through its own flags parser and run(), as the CLI table would.

type Run = CommandRun;

const build = (args: readonly string[], stdin = ''): Promise<Run> =>
  runCommand(fleetBuildResourceSetCommand, args, { env: {}, stdin });

const RSET_STANDALONE = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: apps
  namespace: test
spec:
  commonMetadata:
    annotations:
      fluxcd.controlplane.io/id: "340788154"
  inputs:
    - tenant: team1
      env: staging
      tag: v1.0.1
    - tenant: team1
      env: production
      tag: v1.0.0
  resources:
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: app1
        namespace: << inputs.tenant >>-<< inputs.env >>
      data:
        tag: << inputs.tag >>
        provider: << inputs.provider.kind >>/<< inputs.provider.name >>
`;

const expectedStandalone = (env: string, tag: string): string => `---
apiVersion: v1
data:
  provider: ResourceSet/apps
  tag: ${tag}
kind: ConfigMap
metadata:
  annotations:
    fluxcd.controlplane.io/id: "340788154"
  labels:
    resourceset.fluxcd.controlplane.io/name: apps
    resourceset.fluxcd.controlplane.io/namespace: test
  name: app1
  namespace: team1-${env}
`;

const RSET_WITH_PROVIDERS = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: apps
spec:
  inputsFrom:
    - name: team1-apps
    - selector:
        matchLabels:
          env: prod
        matchExpressions:
          - key: tier
            operator: NotIn
            values: [db]
  resources:
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: app-<< inputs.id >>
        namespace: << inputs.provider.namespace >>
      data:
        tenant: << inputs.tenant >>
        from: << inputs.provider.name >>
`;

const PROVIDERS = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: team1-apps
spec:
  type: Static
  defaultValues:
    tenant: team1
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: b-prod
  labels:
    env: prod
spec:
  type: Static
  defaultValues:
    tenant: team2
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: a-prod-db
  labels:
    env: prod
    tier: db
spec:
  type: Static
  defaultValues:
    tenant: db
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: elsewhere
  namespace: other
  labels:
    env: prod
spec:
  type: GitHubPullRequest
`;

const RSET_STEPS = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: app
  namespace: apps
spec:
  inputs:
    - tenant: team1
  steps:
    - name: empty
      resourcesTemplate: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: skipped
          annotations:
            fluxcd.controlplane.io/reconcile: disabled
    - name: deploy
      resourcesTemplate: |
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: app-<< inputs.tenant >>
`;

describe('airlock fleet build resourceset', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const file = (name: string): string => join(dir.path, name);
  before(async () => {
    dir = await tempDir('airlock-fleet-build-');
    await writeFile(file('standalone.yaml'), RSET_STANDALONE);
    await writeFile(file('providers-rset.yaml'), RSET_WITH_PROVIDERS);
    await writeFile(file('providers.yaml'), PROVIDERS);
    await writeFile(file('steps.yaml'), RSET_STEPS);
    await writeFile(
      file('inputs.yaml'),
      '- tenant: team1\n  env: staging\n  tag: v2\n- tenant: team1\n  env: dev\n  tag: v3\n',
    );
    await writeFile(
      file('both.yaml'),
      'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: x\nspec:\n  resources: [{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}]\n  steps: [{name: s, resourcesTemplate: "x"}]\n',
    );
    await writeFile(
      file('nothing.yaml'),
      'apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: x\nspec:\n  resourcesTemplate: "# nothing"\n',
    );
  });
  after(() => dir.remove());

  it('prints --- before each object, commonMetadata, then the owner labels', async () => {
    const run = await build(['-f', file('standalone.yaml')]);
    assert.equal(run.code, 0, run.error?.message);
    assert.equal(
      run.stdout,
      expectedStandalone('staging', 'v1.0.1') + expectedStandalone('production', 'v1.0.0'),
    );
  });

  it('reads - from standard input, and --inputs-from replaces the inline inputs', async () => {
    const stdin = await build(['-f', '-'], `${RSET_STANDALONE}\n\n`);
    assert.equal(
      stdin.stdout,
      expectedStandalone('staging', 'v1.0.1') + expectedStandalone('production', 'v1.0.0'),
    );
    const replaced = await build(['-f', file('standalone.yaml'), '-i', file('inputs.yaml')]);
    assert.equal(
      replaced.stdout,
      expectedStandalone('staging', 'v2') + expectedStandalone('dev', 'v3'),
    );
  });

  it('selects Static providers by name and label selector, sorted by name, ids from their names', async () => {
    const run = await build([
      '-f',
      file('providers-rset.yaml'),
      '--inputs-from-provider',
      file('providers.yaml'),
      '-n',
      'apps',
    ]);
    assert.equal(run.code, 0, run.error?.message);
    const names = [...run.stdout.matchAll(/^ {2}name: (.*)$/gm)].map((m) => m[1]);
    // b-prod sorts before team1-apps; a-prod-db fails NotIn; elsewhere is in another namespace
    // (so its unsupported type does not matter).
    assert.deepEqual(names, ['app-126550597', 'app-340788154']);
    assert.match(run.stdout, /from: b-prod\n {2}tenant: team2\n/);
    assert.match(run.stdout, /namespace: apps\n/);
  });

  it('prints # step: before named steps with objects only', async () => {
    const run = await build(['-f', file('steps.yaml')]);
    assert.equal(
      run.stdout,
      '# step: deploy\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    resourceset.fluxcd.controlplane.io/name: app\n    resourceset.fluxcd.controlplane.io/namespace: apps\n  name: app-team1\n',
    );
  });

  it('--json gives the objects and the steps', async () => {
    const run = await build(['-f', file('steps.yaml'), '--json']);
    const result = JSON.parse(run.stdout) as {
      objects: { metadata: { name: string } }[];
      steps: { name: string; objects: unknown[] }[];
    };
    assert.deepEqual(
      result.objects.map((o) => o.metadata.name),
      ['app-team1'],
    );
    assert.deepEqual(
      result.steps.map((s) => [s.name, s.objects.length]),
      [
        ['empty', 0],
        ['deploy', 1],
      ],
    );
  });

  it('fails as the flux-operator CLI does', async () => {
    assert.equal((await build([])).error?.code, 'USAGE');
    const missing = await build(['-f', file('nonexistent.yaml')]);
    assert.equal(missing.error?.code, 'FILE_UNREADABLE');
    assert.equal(missing.code, exitCodeFor('FILE_UNREADABLE'));
    const noInputs = await build(['-f', file('providers-rset.yaml')]);
    assert.equal(noInputs.error?.code, 'RESOURCESET_INVALID');
    assert.equal(
      noInputs.error.message,
      "ResourceSet has '.spec.inputsFrom', please provide the inputs with --inputs-from or --inputs-from-provider",
    );
    const both = await build(['-f', file('both.yaml')]);
    assert.equal(both.error?.code, 'RESOURCESET_INVALID');
    assert.equal(
      both.error.message,
      'spec.steps is mutually exclusive with spec.resources and spec.resourcesTemplate',
    );
    const nothing = await build(['-f', file('nothing.yaml')]);
    assert.equal(nothing.error?.code, 'RESOURCESET_INVALID');
    assert.equal(nothing.error.message, 'no objects were generated');
    const badInputs = await build(['-f', file('standalone.yaml'), '-i', file('providers.yaml')]);
    assert.equal(badInputs.error?.code, 'RESOURCESET_INVALID');
  });
});
