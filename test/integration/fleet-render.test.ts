import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe } from 'node:test';
import { gated, tempDir } from '../harness/tools.ts';
import { kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';
import { type CommandRun, runCommand } from '../helpers/command.ts';
import { fleetRenderCommand } from '../../src/cli/commands/fleet-render.ts';
import { type GoMap, type GoValue, isGoMap, parseGoYAMLDocuments } from '../../src/goyaml/index.ts';
import { type FleetRender, initFleet, PHASES, renderFleet } from '../../src/fleet/index.ts';

// `fleet render --offline` on the fleet `fleet init` writes, with the real kustomize that ships in
// kubectl (test/harness/kube-tools.ts): per cluster the objects of each applier (the FluxInstance
// sync Kustomization, the platform Kustomization, each phase ResourceSet), runtime-info
// substituted, and the tenants' own sources listed as unresolved.

const { it, before, after } = gated(kubeToolsSkipReason());

const get = (value: GoValue | undefined, ...path: string[]): GoValue | undefined => {
  let current = value;
  for (const key of path) current = isGoMap(current) ? current.get(key) : undefined;
  return current;
};
const text = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');
const id = (o: GoMap): string => {
  const ns = get(o, 'metadata', 'namespace');
  return `${text(o.get('kind'))}/${typeof ns === 'string' ? `${ns}/` : ''}${text(get(o, 'metadata', 'name'))}`;
};
const ids = (objects: readonly GoMap[]): string[] => objects.map(id).sort();
const group = (render: FleetRender, appliedBy: string): GoMap[] => {
  const found = render.groups.find((g) => g.appliedBy === appliedBy);
  assert.ok(
    found,
    `no group ${appliedBy}; groups: ${render.groups.map((g) => g.appliedBy).join(', ')}`,
  );
  return found.objects;
};

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

/** Every file under a directory, relative, sorted (to prove nothing was written into it). */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

type Run = CommandRun;

const cli = (args: readonly string[]): Promise<Run> => runCommand(fleetRenderCommand, args);

describe('fleet render --offline: the fleet fleet init writes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: string;
  let before0: string[];
  before(async () => {
    dir = await tempDir('airlock-fleet-render-');
    fleet = join(dir.path, 'fleet');
    await initFleet(fleet, { registry: 'registry.internal:5000' });
    before0 = await tree(fleet);
  });
  after(() => dir.remove());

  const render = (cluster: string): Promise<FleetRender> =>
    renderFleet({ dir: fleet, cluster, kustomizeBin: kubectlBinary(), offline: true });

  for (const [cluster, tag] of [
    ['dev', 'latest'],
    ['prod', 'latest-stable'],
  ] as const)
    it(`${cluster}: every applier's objects, ARTIFACT_TAG substituted to ${tag}`, async () => {
      const result = await render(cluster);
      assert.equal(result.cluster, cluster);
      assert.deepEqual(
        result.groups.map((g) => g.appliedBy),
        [
          'Kustomization/flux-system/flux-system',
          'Kustomization/flux-system/platform',
          // Discovered in kustomize's output order (ResourceSets sorted by name).
          'ResourceSet/flux-system/core',
          'ResourceSet/flux-system/network',
          'ResourceSet/flux-system/observability',
          'ResourceSet/flux-system/security',
        ],
      );
      assert.equal(result.groups[0]?.path, `clusters/${cluster}`);
      assert.deepEqual(ids(group(result, 'Kustomization/flux-system/flux-system')), [
        'ConfigMap/flux-system/flux-runtime-info',
        'FluxInstance/flux-system/flux',
        'Kustomization/flux-system/platform',
        'Secret/flux-system/cosign-pub',
      ]);
      assert.deepEqual(ids(group(result, 'Kustomization/flux-system/platform')), [
        'ConfigMap/flux-system/flux-allowlist',
        'ResourceSet/flux-system/core',
        'ResourceSet/flux-system/network',
        'ResourceSet/flux-system/observability',
        'ResourceSet/flux-system/security',
        'ValidatingAdmissionPolicy/source.policy.airlock.dev',
        'ValidatingAdmissionPolicyBinding/airlock-tenant-sources',
      ]);
      // Per component: Namespace, runtime-info and the two Secrets (copyFrom), ServiceAccount,
      // RoleBinding, OCIRepository and Kustomization.
      let total = 11;
      for (const phase of PHASES) {
        const objects = group(result, `ResourceSet/flux-system/${phase.name}`);
        assert.equal(objects.length, 8 * phase.components.length, phase.name);
        total += objects.length;
        const expected = phase.components.flatMap((c) => [
          `ConfigMap/${c}/flux-runtime-info`,
          `Kustomization/${c}/platform`,
          `Namespace/${c}`,
          `OCIRepository/${c}/platform`,
          `RoleBinding/${c}/flux`,
          `Secret/${c}/cosign-pub`,
          `Secret/${c}/registry-auth`,
          `ServiceAccount/${c}/flux`,
        ]);
        assert.deepEqual(ids(objects), expected.sort());
        for (const o of objects) {
          // The operator's owner labels.
          assert.equal(
            get(o, 'metadata', 'labels', 'resourceset.fluxcd.controlplane.io/name'),
            phase.name,
          );
          if (o.get('kind') === 'OCIRepository') {
            assert.equal(get(o, 'spec', 'ref', 'tag'), tag, `${id(o)} ref.tag`);
            assert.equal(get(o, 'spec', 'verify', 'provider'), 'cosign');
          }
          if (o.get('kind') === 'Kustomization')
            assert.equal(get(o, 'spec', 'path'), `./${cluster}`, `${id(o)} path`);
          // copyFrom filled from flux-system/flux-runtime-info, as the operator applies it.
          if (o.get('kind') === 'ConfigMap')
            assert.equal(get(o, 'data', 'ARTIFACT_TAG'), tag, `${id(o)} copyFrom`);
        }
      }
      assert.equal(result.objects, total);
      // The tenants' Kustomizations use their own OCIRepositories: listed, not followed, offline.
      const components = PHASES.flatMap((p) => p.components);
      assert.deepEqual(
        result.unresolved.map((u) => [u.object, u.source]).sort(),
        components
          .map((c) => [`Kustomization/${c}/platform`, `OCIRepository/${c}/platform`])
          .sort(),
      );
      // Nothing was written into the fleet (the kustomization.yaml files are generated in a copy).
      assert.deepEqual(await tree(fleet), before0);
    });

  it('prints a YAML stream with an "applied by" line per group, or JSON', async () => {
    const run = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
    ]);
    assert.equal(run.code, 0);
    const lines = run.stdout.split('\n');
    assert.equal(lines[0], '# applied by Kustomization/flux-system/flux-system');
    assert.equal(lines[1], '---');
    assert.equal(lines.filter((l) => l.startsWith('# applied by ')).length, 6);
    assert.equal(lines.filter((l) => l.startsWith('# unresolved: ')).length, 7);
    const objects = parseGoYAMLDocuments(run.stdout).filter(isGoMap);
    assert.equal(objects.length, 11 + 8 * PHASES.flatMap((p) => p.components).length);
    const json = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--json',
    ]);
    const parsed = JSON.parse(json.stdout) as {
      objects: number;
      groups: { appliedBy: string }[];
      unresolved: unknown[];
    };
    assert.equal(parsed.objects, objects.length);
    assert.equal(parsed.groups.length, 6);
    assert.equal(parsed.unresolved.length, 7);
  });

  it('-o writes one file per applier, and refuses a directory that is not empty', async () => {
    const outDir = join(dir.path, 'rendered-dev');
    const run = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '-o',
      outDir,
    ]);
    assert.equal(run.code, 0);
    assert.deepEqual(await tree(outDir), [
      'Kustomization/flux-system/flux-system.yaml',
      'Kustomization/flux-system/platform.yaml',
      'ResourceSet/flux-system/core.yaml',
      'ResourceSet/flux-system/network.yaml',
      'ResourceSet/flux-system/observability.yaml',
      'ResourceSet/flux-system/security.yaml',
      'unresolved.yaml',
    ]);
    const core = await readFile(join(outDir, 'ResourceSet/flux-system/core.yaml'), 'utf8');
    assert.equal(parseGoYAMLDocuments(core).filter(isGoMap).length, 16);
    const again = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '-o',
      outDir,
    ]);
    assert.equal(again.error?.code, 'INPUT_INVALID');
  });

  it('online refuses an unloadable key Secret; a cluster that does not exist, a missing kustomize', async () => {
    // The scaffold's cosign-pub holds a placeholder: online, verification fails before any pull.
    const online = await cli([fleet, '--cluster', 'dev', '--kustomize-bin', kubectlBinary()]);
    assert.equal(online.error?.code, 'VERIFICATION_FAILED');
    assert.equal(online.error.data.field, 'spec.verify.secretRef.name');
    const error = await assertRejectsCode(
      () =>
        renderFleet({
          dir: fleet,
          cluster: 'staging',
          kustomizeBin: kubectlBinary(),
          offline: true,
        }),
      'INPUT_INVALID',
    );
    assert.equal(error.data.option, 'cluster');
    const none = await assertRejectsCode(
      () => renderFleet({ dir: fleet, cluster: 'dev', offline: true, env: { PATH: dir.path } }),
      'INPUT_INVALID',
    );
    assert.equal(none.data.option, 'kustomizeBin');
  });
});

describe('fleet render --offline: bad input', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('airlock-fleet-render-bad-');
  });
  after(() => dir.remove());

  it('a ResourceSet whose template fails: a coded error naming it, and no -o directory', async () => {
    const fleet = join(dir.path, 'template');
    await initFleet(fleet);
    const file = join(fleet, 'platform/1-core.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('name: << inputs.tenant >>', 'name: << inputs.missing >>'));
    const error = await assertRejectsCode(
      () =>
        renderFleet({ dir: fleet, cluster: 'dev', kustomizeBin: kubectlBinary(), offline: true }),
      'TEMPLATE_FAILED',
    );
    assert.equal(error.data.object, 'ResourceSet/flux-system/core');
    assert.ok(error.message.startsWith('ResourceSet/flux-system/core: '), error.message);
    const outDir = join(dir.path, 'out-template');
    const run = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '-o',
      outDir,
    ]);
    assert.equal(run.error?.code, 'TEMPLATE_FAILED');
    // Neither the directory nor a staging directory beside it.
    assert.deepEqual(
      (await readdir(dir.path)).filter((n) => n.includes('out-template')),
      [],
    );
  });

  it('kustomize failing: CONFIG_INVALID naming the Kustomization and its path', async () => {
    const fleet = join(dir.path, 'kustomize');
    await initFleet(fleet);
    await write(fleet, {
      'platform/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - missing.yaml\n',
    });
    const error = await assertRejectsCode(
      () =>
        renderFleet({ dir: fleet, cluster: 'dev', kustomizeBin: kubectlBinary(), offline: true }),
      'CONFIG_INVALID',
    );
    assert.equal(error.data.object, 'Kustomization/flux-system/platform');
    assert.equal(error.data.field, 'spec.path');
    assert.match(error.message, /missing\.yaml/);
    assert.doesNotMatch(error.message, /airlock-build-/, 'temporary paths are not shown');
  });

  it('a substitution variable that is not set: strict mode, naming the Kustomization', async () => {
    const fleet = join(dir.path, 'strict');
    await initFleet(fleet);
    await write(fleet, {
      'platform/extra.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: flux-system\ndata:\n  region: ${CLUSTER_REGION}\n',
    });
    const error = await assertRejectsCode(
      () =>
        renderFleet({ dir: fleet, cluster: 'dev', kustomizeBin: kubectlBinary(), offline: true }),
      'TEMPLATE_FAILED',
    );
    assert.equal(error.data.object, 'Kustomization/flux-system/platform');
  });
});

describe('fleet render --offline: Kustomizations of the fleet, without a FluxInstance', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: string;
  const ks = (name: string, path: string, extra = ''): string =>
    [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      `  name: ${name}`,
      '  namespace: flux-system',
      'spec:',
      `  path: ${path}`,
      '  prune: true',
      '  sourceRef:',
      '    kind: GitRepository',
      '    name: flux-system',
      extra,
      '',
    ].join('\n');
  const cm = (name: string, namespace?: string): string =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace === undefined ? '' : `  namespace: ${namespace}\n`}data:\n  a: b\n`;
  before(async () => {
    dir = await tempDir('airlock-fleet-render-ks-');
    fleet = join(dir.path, 'fleet');
    await write(fleet, {
      // clusters/edge has no kustomization.yaml: one is generated listing apps.yaml and loop.yaml.
      'clusters/edge/apps.yaml': ks('apps', './apps', '  targetNamespace: team'),
      'clusters/edge/loop.yaml': ks('loop-a', './loop/a'),
      'clusters/edge/README.md': 'not a manifest\n',
      // apps: a nested plain directory is walked; one with a kustomization.yaml is listed whole.
      'apps/one.yaml': cm('one'),
      'apps/nested/two.yml': cm('two'),
      'apps/nested/notes.txt': 'ignored',
      'apps/base/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - three.yaml\n',
      'apps/base/three.yaml': cm('three'),
      'apps/base/not-listed.yaml': cm('not-listed'),
      // a → b → a: the cycle ends where an applier is met again.
      'loop/a/b.yaml': ks('loop-b', './loop/b'),
      'loop/b/a.yaml': ks('loop-a', './loop/a'),
      'loop/b/other.yaml': ks('remote', './x')
        .replace('kind: GitRepository', 'kind: OCIRepository')
        .replace('name: flux-system\n', 'name: elsewhere\n'),
    });
  });
  after(() => dir.remove());

  it('generates kustomization.yaml as kustomize-controller does, follows the fleet source, stops at cycles', async () => {
    const result = await renderFleet({
      dir: fleet,
      cluster: 'edge',
      kustomizeBin: kubectlBinary(),
      offline: true,
    });
    assert.deepEqual(
      result.groups.map((g) => [g.appliedBy, ids(g.objects)]),
      [
        [
          'Kustomization/flux-system/flux-system',
          ['Kustomization/flux-system/apps', 'Kustomization/flux-system/loop-a'],
        ],
        [
          'Kustomization/flux-system/apps',
          ['ConfigMap/team/one', 'ConfigMap/team/three', 'ConfigMap/team/two'],
        ],
        ['Kustomization/flux-system/loop-a', ['Kustomization/flux-system/loop-b']],
        [
          'Kustomization/flux-system/loop-b',
          ['Kustomization/flux-system/loop-a', 'Kustomization/flux-system/remote'],
        ],
      ],
    );
    assert.deepEqual(
      result.unresolved.map((u) => [u.object, u.source]),
      [['Kustomization/flux-system/remote', 'OCIRepository/flux-system/elsewhere']],
    );
  });

  it('stops at the depth limit', async () => {
    const error = await assertRejectsCode(
      () =>
        renderFleet({
          dir: fleet,
          cluster: 'edge',
          kustomizeBin: kubectlBinary(),
          offline: true,
          maxDepth: 1,
        }),
      'CONFIG_INVALID',
    );
    assert.equal(error.data.object, 'Kustomization/flux-system/loop-b');
  });
});

describe('fleet render --offline: a fleet may not read outside itself or fetch remote bases', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir('airlock-fleet-render-escape-');
  });
  after(() => dir.remove());

  const fleetWith = async (name: string, kustomization: string): Promise<string> => {
    const fleet = join(dir.path, name);
    await write(fleet, {
      'clusters/edge/kustomization.yaml': kustomization,
      'clusters/edge/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n',
    });
    return fleet;
  };
  const header = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n';

  for (const [name, body] of [
    ['parent', 'resources:\n  - cm.yaml\n  - ../../../../../../etc/hostname\n'],
    ['absolute', 'configMapGenerator:\n  - name: leak\n    files:\n      - key=/etc/hostname\n'],
    ['remote', 'resources:\n  - https://github.com/org/repo//base?ref=main\n'],
    ['helm', 'helmCharts:\n  - name: podinfo\n    repo: https://stefanprodan.github.io/podinfo\n'],
  ] as const)
    it(`refuses ${name} references with PATH_OUTSIDE_SOURCE, before kustomize runs`, async () => {
      const fleet = await fleetWith(name, header + body);
      const error = await assertRejectsCode(
        () =>
          renderFleet({
            dir: fleet,
            cluster: 'edge',
            offline: true,
            kustomizeBin: kubectlBinary(),
          }),
        'PATH_OUTSIDE_SOURCE',
      );
      assert.equal(error.data.file, 'clusters/edge/kustomization.yaml');
    });

  it('a ../ that stays inside the fleet is fine', async () => {
    const fleet = join(dir.path, 'inside');
    await write(fleet, {
      'clusters/edge/kustomization.yaml': `${header}resources:\n  - ../../base\n`,
      'base/kustomization.yaml': `${header}resources:\n  - cm.yaml\n`,
      'base/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\ndata:\n  a: b\n',
    });
    const render = await renderFleet({
      dir: fleet,
      cluster: 'edge',
      offline: true,
      kustomizeBin: kubectlBinary(),
    });
    assert.equal(render.objects, 1);
  });
});
