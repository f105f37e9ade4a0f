import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../test/harness/tools.ts';
import {
  commitAll,
  exampleReleasesRepo,
  git,
  makeReleasesRepo,
  type ExampleComponent,
} from '../../test/harness/releases-repo.ts';
import { parsePromotionConfig } from './config.ts';
import { pinSince } from './history.ts';
import { findPins } from './pins.ts';

const NOW = new Date('2024-06-01T12:00:00Z');
const hoursAgo = (h: number): Date => new Date(NOW.getTime() - h * 3_600_000);

async function allPins(root: string) {
  const config = parsePromotionConfig(await readFile(join(root, 'promotion.yaml'), 'utf8'));
  const found = await Promise.all(
    config.environments.map((env) => findPins(root, env, config.resourceSetInputs)),
  );
  return found.flatMap((f) => f.pins);
}

describe('pinSince', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('airlock-history-');
  });
  after(() => dir.remove());

  it('dates each pin by the commit that gave it its current value', async () => {
    const repo = await exampleReleasesRepo(join(dir.path, 'example'), {
      registry: 'localhost:5000',
      now: NOW,
    });
    const pins = await allPins(repo.root);
    const since = await pinSince(repo.root, pins);
    const byKey = Object.fromEntries(
      pins.map((p) => [`${p.environment}/${p.component}`, since.get(p)?.toISOString()]),
    );
    const initial = hoursAgo(30 * 24 + 1).toISOString();
    assert.deepEqual(byKey, {
      'dev/podinfo': hoursAgo(72).toISOString(),
      'dev/api': hoursAgo(1).toISOString(),
      'dev/web': hoursAgo(72).toISOString(),
      'test/podinfo': initial,
      'test/api': initial,
      'test/web': initial,
      'prod/podinfo': initial,
      'prod/api': initial,
      'prod/web': initial,
    });
  });

  it('follows the unbroken run: comment edits keep the date, a change back restarts it, uncommitted values have none', async () => {
    const oci = (tag: string, comment = ''): string =>
      `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app, namespace: apps}\nspec:\n  url: oci://r/app${comment}\n  ref: {tag: ${tag}}\n`;
    const rs = (inputs: string[]): string =>
      `apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata: {name: tenants}\nspec:\n  inputs:\n${inputs.map((i) => `    - ${i}\n`).join('')}`;
    const a = '{repo: "oci://r/c", chart: a, version: 1.0.0}';
    const b = '{repo: "oci://r/c", chart: b, version: 2.0.0}';
    const repo = await makeReleasesRepo(join(dir.path, 'runs'), {
      environments: [{ name: 'dev', files: { 'app.yaml': oci('1.0.0'), 'rs.yaml': rs([a, b]) } }],
      initialDate: '2024-01-01T00:00:00Z',
      history: [
        {
          date: '2024-02-01T00:00:00Z',
          files: { 'clusters/dev/app.yaml': oci('1.1.0') },
          message: 'up',
        },
        {
          date: '2024-03-01T00:00:00Z',
          files: { 'clusters/dev/app.yaml': oci('1.0.0') },
          message: 'back',
        },
        {
          date: '2024-04-01T00:00:00Z',
          files: {
            'clusters/dev/app.yaml': oci('1.0.0', ' # comment'),
            'clusters/dev/rs.yaml': rs([b, a]),
          },
          message: 'comment and reorder',
        },
      ],
    });
    const env = {
      name: 'dev',
      paths: ['clusters/dev'],
      autoMerge: [],
      soakMs: 0,
      soak: '0',
      pinDigests: false,
      labels: [],
    };
    const rules = [{ repositoryField: 'repo', chartField: 'chart', versionField: 'version' }];
    const { pins } = await findPins(repo.root, env, rules);
    const dates = async (): Promise<(string | undefined)[]> => {
      const since = await pinSince(repo.root, pins);
      return pins.map((p) => since.get(p)?.toISOString());
    };
    // app.yaml: 1.0.0 since "back"; rs.yaml: both inputs unchanged since the start (reordered only).
    assert.deepEqual(await dates(), [
      '2024-03-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z',
    ]);
    // Older history only (ref): at "up", app had 1.1.0, so the current 1.0.0 pin has no date there.
    const atUp = await pinSince(repo.root, pins, { ref: 'HEAD~2' });
    assert.equal(atUp.get(pins[0] ?? pins[1]!), undefined);

    // A value edited in the work tree but not committed: the pin read from disk has no date.
    await writeFile(join(repo.root, 'clusters/dev/app.yaml'), oci('1.2.0'));
    const edited = await findPins(repo.root, env, rules);
    const sinceEdited = await pinSince(repo.root, edited.pins);
    assert.equal(sinceEdited.get(edited.pins[0]!), undefined);
    assert.equal(sinceEdited.get(edited.pins[1]!)?.toISOString(), '2024-01-01T00:00:00.000Z');
    // A new file not committed at all.
    await writeFile(
      join(repo.root, 'clusters/dev/new.yaml'),
      oci('3.0.0').replace('name: app', 'name: new'),
    );
    const added = await findPins(repo.root, env, rules);
    const sinceAdded = await pinSince(repo.root, added.pins);
    const newPin = added.pins.find((p) => p.object === 'apps/new');
    assert.ok(newPin);
    assert.equal(sinceAdded.get(newPin), undefined);
  });

  it('dates a change merged into main by the merge commit, not the branch commit', async () => {
    const oci = (tag: string): string =>
      `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: app}\nspec:\n  url: oci://r/app\n  ref: {tag: ${tag}}\n`;
    const repo = await makeReleasesRepo(join(dir.path, 'merge'), {
      environments: [{ name: 'test', files: { 'app.yaml': oci('1.0.0') } }],
      initialDate: '2024-01-01T00:00:00Z',
    });
    await git(repo.root, ['checkout', '-q', '-b', 'promote']);
    await writeFile(join(repo.root, 'clusters/test/app.yaml'), oci('1.1.0'));
    await commitAll(repo.root, '2024-02-01T00:00:00Z', 'promote app');
    await git(repo.root, ['checkout', '-q', 'main']);
    await writeFile(join(repo.root, 'other.txt'), 'unrelated\n');
    await commitAll(repo.root, '2024-02-02T00:00:00Z', 'unrelated');
    const date = '2024-02-05T00:00:00Z';
    await git(repo.root, ['merge', '-q', '--no-ff', '-m', 'Merge promote', 'promote'], {
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    });
    const env = {
      name: 'test',
      paths: ['clusters/test'],
      autoMerge: [],
      soakMs: 0,
      soak: '0',
      pinDigests: false,
      labels: [],
    };
    const { pins } = await findPins(repo.root, env, []);
    const since = await pinSince(repo.root, pins);
    assert.equal(since.get(pins[0]!)?.toISOString(), '2024-02-05T00:00:00.000Z');
  });

  it('answers for 200 components in 3 environments (600 pins) at once', async () => {
    const components: ExampleComponent[] = Array.from({ length: 200 }, (_, i) => ({
      name: `app${String(i).padStart(3, '0')}`,
      kind: i % 3 === 0 ? 'helmrepository' : i % 3 === 1 ? 'ocirepository' : 'resourceset',
      versions: { dev: '1.0.1', test: '1.0.0', prod: '1.0.0' },
      ...(i % 10 === 0 ? { changedHoursAgo: { dev: 200 - i }, previousVersion: '1.0.0' } : {}),
    }));
    const repo = await exampleReleasesRepo(join(dir.path, 'bench'), {
      registry: 'localhost:5000',
      now: NOW,
      components,
    });
    const pins = await allPins(repo.root);
    assert.equal(pins.length, 600);
    const since = await pinSince(repo.root, pins);
    assert.equal([...since.values()].filter((d) => d === undefined).length, 0);
    const changed = pins.find((p) => p.environment === 'dev' && p.component === 'app010');
    assert.equal(since.get(changed!)?.toISOString(), hoursAgo(190).toISOString());
    // Its time is bench:promote's to measure (docs/performance.md), not a test's.
  });
});

describe('pinSince on value-only history (the line-level fast path)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('airlock-history-fast-');
  });
  after(() => dir.remove());

  it('dates every input of a many-input ResourceSet as a full parse would, flip-backs and comment edits included', async () => {
    const input = (name: string, version: string, comment = ''): string =>
      [
        `    - name: ${name}`,
        '      repository: "oci://r/charts"',
        `      chart: ${name}`,
        `      version: '${version}'${comment}`,
      ].join('\n');
    const file = (
      versions: Record<string, string>,
      comments: Record<string, string> = {},
    ): string =>
      [
        'apiVersion: fluxcd.controlplane.io/v1',
        'kind: ResourceSet',
        'metadata:',
        '  name: tenants',
        '  namespace: apps',
        'spec:',
        '  inputs:',
        ...Object.entries(versions).map(([n, v]) => input(n, v, comments[n] ?? '')),
        '',
      ].join('\n');
    const names = ['a', 'b', 'c', 'd'];
    const state: Record<string, string> = Object.fromEntries(names.map((n) => [n, '1.0.0']));
    const comments: Record<string, string> = {};
    const history: { date: string; files: Record<string, string>; message: string }[] = [];
    const step = (date: string, change: () => void): void => {
      change();
      history.push({
        date,
        files: { 'clusters/dev/rs.yaml': file(state, comments) },
        message: date,
      });
    };
    step('2024-02-01T00:00:00Z', () => (state.a = '1.1.0'));
    step('2024-03-01T00:00:00Z', () => (state.b = '1.1.0'));
    step('2024-04-01T00:00:00Z', () => (state.c = '2.0.0')); // c: 2.0.0, then back to 1.0.0
    step('2024-05-01T00:00:00Z', () => (state.c = '1.0.0'));
    step('2024-05-15T00:00:00Z', () => (comments.a = ' # reviewed')); // comment only: a keeps its date
    const repo = await makeReleasesRepo(join(dir.path, 'fast'), {
      environments: [
        {
          name: 'dev',
          files: { 'rs.yaml': file(Object.fromEntries(names.map((n) => [n, '1.0.0']))) },
        },
      ],
      files: {
        'promotion.yaml': [
          'environments:',
          '  - name: dev',
          '    paths: [clusters/dev]',
          '  - name: test',
          '    paths: [clusters/test]',
          'resourceSetInputs:',
          '  - repositoryField: repository',
          '    chartField: chart',
          '    versionField: version',
          '',
        ].join('\n'),
      },
      initialDate: '2024-01-01T00:00:00Z',
      history,
    });
    const config = parsePromotionConfig(await readFile(join(repo.root, 'promotion.yaml'), 'utf8'));
    const dev = config.environments[0];
    assert.ok(dev);
    const { pins } = await findPins(repo.root, dev, config.resourceSetInputs);
    const since = await pinSince(repo.root, pins);
    const byName = Object.fromEntries(pins.map((p) => [p.component, since.get(p)?.toISOString()]));
    assert.deepEqual(byName, {
      a: '2024-02-01T00:00:00.000Z',
      b: '2024-03-01T00:00:00.000Z',
      c: '2024-05-01T00:00:00.000Z',
      d: '2024-01-01T00:00:00.000Z',
    });
  });
});
