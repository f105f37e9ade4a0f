// `airlock policy kyverno` and `airlock policy cilium` as a user runs them (issue 12 Acceptance):
// the Kyverno policy from a cache.yaml, the egress policies from a fleet rendered offline with the
// real kustomize in kubectl (test/harness/kube-tools.ts), both validated against their CRDs; and
// the bad input the issue names — a cache rule mapping two registries to one path, a bad
// egress.yaml — as exit 2 with the file, line and column.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYAML } from 'yaml';
import { gated, tempDir } from '../harness/tools.ts';
import { kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type CommandRun, runCommand } from '../helpers/command.ts';
import { crdErrors, loadCRD } from '../helpers/crd-schema.ts';
import { policyCiliumCommand, policyKyvernoCommand } from '../../src/cli/commands/policy.ts';
import { kyvernoPolicy, parseCacheConfig } from '../../src/images/index.ts';
import { initFleet } from '../../src/fleet/index.ts';

const kyvernoCRD = loadCRD(
  await readFile(new URL('../data/crds/kyverno.io_clusterpolicies.yaml', import.meta.url), 'utf8'),
);
const ciliumCRD = loadCRD(
  await readFile(
    new URL('../data/crds/cilium.io_ciliumnetworkpolicies.yaml', import.meta.url),
    'utf8',
  ),
);

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const CACHE = `rules:
  - {upstream: docker.io, to: registry.internal/dockerhub}
  - {upstream: quay.io, to: registry.internal/quay}
`;
const TWO_ON_ONE_PATH = `rules:
  - {upstream: docker.io, to: registry.internal/cache}
  - {upstream: quay.io, to: registry.internal/cache}
`;

describe('airlock policy kyverno', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  const at = async (name: string, text: string): Promise<string> => {
    dir ??= await tempDir('airlock-policy-kyverno-');
    const file = join(dir.path, name);
    await writeFile(file, text);
    return file;
  };
  const cli = (args: readonly string[]): Promise<CommandRun> =>
    runCommand(policyKyvernoCommand, args);

  it('prints the ClusterPolicy as YAML, the one the library builds, valid for the CRD', async () => {
    const cache = await at('cache.yaml', CACHE);
    const run = await cli(['--cache', cache]);
    assert.equal(run.code, 0, run.error?.message);
    const expected = kyvernoPolicy(parseCacheConfig(CACHE, cache)).yaml;
    assert.equal(run.stdout, expected);
    assert.deepEqual(crdErrors(kyvernoCRD, parseYAML(run.stdout)), []);
  });

  it('-o FILE writes it, --json gives the object', async () => {
    const cache = await at('cache.yaml', CACHE);
    const out = join(dir?.path ?? '', 'image-cache.yaml');
    const run = await cli(['--cache', cache, '--name', 'pull-through', '-o', out, '--json']);
    assert.equal(run.code, 0, run.error?.message);
    const json = JSON.parse(run.stdout) as { file: string; policy: { metadata: { name: string } } };
    assert.equal(json.file, out);
    assert.equal(json.policy.metadata.name, 'pull-through');
    assert.deepEqual(parseYAML(await readFile(out, 'utf8')), json.policy);
  });

  it('a cache rule that maps two registries to one path: exit 2, CONFIG_INVALID at file:line:col', async () => {
    const cache = await at('bad-cache.yaml', TWO_ON_ONE_PATH);
    const run = await cli(['--cache', cache]);
    assert.equal(run.code, 2);
    assert.equal(run.error?.code, 'CONFIG_INVALID');
    assert.ok(run.error.message.startsWith(`${cache}:3:29: rules[1].to: `), run.error.message);
    assert.equal(run.stdout, '');
  });

  it('--cache is required (USAGE, exit 2); a missing file is FILE_UNREADABLE', async () => {
    assert.equal((await cli([])).error?.code, 'USAGE');
    const missing = await cli(['--cache', join(dir?.path ?? '/nonexistent', 'none.yaml')]);
    assert.equal(missing.code, 2);
    assert.equal(missing.error?.code, 'FILE_UNREADABLE');
    await dir?.remove();
  });
});

const { it: kit, before, after } = gated(kubeToolsSkipReason());

/** A fleet without a FluxInstance: clusters/dev is the root, built by kustomize as Flux builds it. */
const FLEET: Record<string, string> = {
  'clusters/dev/apps.yaml': `apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
  'clusters/dev/operator.yaml': `apiVersion: v1
kind: ServiceAccount
metadata: {name: operator, namespace: operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: operator, namespace: operator}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: operator, namespace: operator}
spec:
  selector: {matchLabels: {app: operator}}
  template:
    metadata: {labels: {app: operator}}
    spec:
      serviceAccountName: operator
      containers: [{name: op, image: "quay.io/acme/operator:1.0"}]
`,
};

interface PolicyJSON {
  cluster: string;
  egressFile?: string;
  dns: { namespace: string; matchLabels: Record<string, string>; reason: string };
  skipped: { namespace: string; workloads: string[]; reason: string }[];
  policies: {
    namespace: string;
    workloads: string[];
    kubeAPI: { allowed: boolean; reason: string };
    policy: Record<string, unknown>;
  }[];
  files?: string[];
}

describe('airlock policy cilium --offline on a fleet', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: string;
  let cache: string;
  before(async () => {
    dir = await tempDir('airlock-policy-cilium-');
    fleet = join(dir.path, 'fleet');
    await write(fleet, FLEET);
    cache = join(dir.path, 'cache.yaml');
    await writeFile(cache, CACHE);
  });
  after(() => dir.remove());

  const cli = (args: readonly string[]): Promise<CommandRun> =>
    runCommand(policyCiliumCommand, [
      '--fleet',
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      ...args,
    ]);
  const documents = (text: string): Record<string, unknown>[] =>
    text
      .split(/^---\n/m)
      .filter((d) => d.trim() !== '')
      .map((d) => parseYAML(d) as Record<string, unknown>);

  kit('one policy per namespace with workloads, as a YAML stream the CRD accepts', async () => {
    const run = await cli(['--cache', cache]);
    assert.equal(run.code, 0, run.error?.message);
    const docs = documents(run.stdout);
    assert.deepEqual(
      docs.map((d) => (d.metadata as { namespace: string }).namespace),
      ['apps', 'operator'],
    );
    for (const d of docs) assert.deepEqual(crdErrors(ciliumCRD, d), []);
    const egress = (d: Record<string, unknown> | undefined): unknown[] =>
      (d?.spec as { egress: unknown[] }).egress;
    assert.deepEqual(
      egress(docs[0]),
      [
        egress(docs[1])[0],
        { toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'apps' } }] },
      ],
      'apps: DNS and its own pods only',
    );
    assert.deepEqual(egress(docs[1])[2], { toEntities: ['kube-apiserver'] });
  });

  kit('--json names why: the binding that grants the operator its API access', async () => {
    const run = await cli(['--json']);
    assert.equal(run.code, 0, run.error?.message);
    const json = JSON.parse(run.stdout) as PolicyJSON;
    assert.equal(json.cluster, 'dev');
    const operator = json.policies.find((p) => p.namespace === 'operator');
    assert.ok(operator);
    assert.deepEqual(operator.workloads, ['Deployment/operator/operator']);
    assert.equal(
      operator.kubeAPI.reason,
      'ServiceAccount operator/operator (Deployment/operator/operator) is bound by ClusterRoleBinding/operator',
    );
  });

  kit('egress.yaml in the fleet directory is read by default', async () => {
    await writeFile(
      join(fleet, 'egress.yaml'),
      'namespaces:\n  apps:\n    to:\n      - {fqdn: api.example.com, ports: [443]}\n  tenant-b: {}\n',
    );
    try {
      const run = await cli(['--json']);
      assert.equal(run.code, 0, run.error?.message);
      const json = JSON.parse(run.stdout) as PolicyJSON;
      assert.equal(json.egressFile, join(fleet, 'egress.yaml'));
      assert.deepEqual(
        json.policies.map((p) => p.namespace),
        ['apps', 'operator', 'tenant-b'],
      );
      const apps = json.policies[0]?.policy;
      assert.deepEqual((apps?.spec as { egress: unknown[] }).egress.at(-1), {
        toFQDNs: [{ matchName: 'api.example.com' }],
        toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }],
      });
      for (const p of json.policies) assert.deepEqual(crdErrors(ciliumCRD, p.policy), []);
    } finally {
      await rm(join(fleet, 'egress.yaml'));
    }
  });

  kit('a bad egress file: exit 2, CONFIG_INVALID with every problem at file:line:col', async () => {
    const file = join(dir.path, 'bad-egress.yaml');
    await writeFile(
      file,
      'namespaces:\n  apps:\n    to:\n      - {cidr: 10.0.0.1/8}\n      - {fqdn: a.example, cidr: 10.0.0.0/8}\n  Bad_Name: {}\n',
    );
    const run = await cli(['--egress', file]);
    assert.equal(run.code, 2);
    assert.equal(run.error?.code, 'CONFIG_INVALID');
    assert.deepEqual(run.error.details, [
      `${file}:4:16: namespaces.apps.to[0].cidr: 10.0.0.1/8 has host bits set: write 10.0.0.0/8`,
      `${file}:5:9: namespaces.apps.to[1]: has fqdn and cidr: one destination per entry`,
      `${file}:6:3: namespaces.Bad_Name: is not a namespace name (a DNS label: a-z, 0-9 and "-")`,
    ]);
    assert.equal(run.stdout, '');
    const missing = await cli(['--egress', join(dir.path, 'none.yaml')]);
    assert.equal(missing.error?.code, 'FILE_UNREADABLE');
  });

  kit('-o DIR writes NAMESPACE.yaml, replaces its own files and removes stale ones', async () => {
    const out = join(dir.path, 'policies');
    const first = await cli(['-o', out, '--json']);
    assert.equal(first.code, 0, first.error?.message);
    assert.deepEqual((await readdir(out)).sort(), ['apps.yaml', 'operator.yaml']);
    const text = await readFile(join(out, 'operator.yaml'), 'utf8');
    assert.match(text, /^---\n# CiliumNetworkPolicy generated by airlock policy cilium\n/);
    assert.deepEqual(crdErrors(ciliumCRD, parseYAML(text.slice(4))), []);

    // The operator leaves the fleet: its policy file goes with it.
    await rm(join(fleet, 'clusters/dev/operator.yaml'));
    try {
      const second = await cli(['-o', out]);
      assert.equal(second.code, 0, second.error?.message);
      assert.deepEqual(await readdir(out), ['apps.yaml']);
      // A file airlock did not write: refused, nothing touched.
      await writeFile(join(out, 'README.md'), 'hand-written\n');
      const refused = await cli(['-o', out]);
      assert.equal(refused.code, 2);
      assert.equal(refused.error?.code, 'INPUT_INVALID');
      assert.equal(refused.error.data.option, 'outDir');
      assert.deepEqual((await readdir(out)).sort(), ['README.md', 'apps.yaml']);
    } finally {
      await write(fleet, {
        'clusters/dev/operator.yaml': FLEET['clusters/dev/operator.yaml'] ?? '',
      });
    }
  });

  kit('-o FILE.yaml writes the stream into one file', async () => {
    const out = join(dir.path, 'dev-egress.yaml');
    const run = await cli(['-o', out]);
    assert.equal(run.code, 0, run.error?.message);
    const docs = documents(await readFile(out, 'utf8'));
    assert.equal(docs.length, 2);
  });

  kit('kube-system is left alone unless egress.yaml declares it: listed as skipped', async () => {
    await write(fleet, {
      'clusters/dev/system.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: hubble-relay, namespace: kube-system}
spec:
  selector: {matchLabels: {app: hubble-relay}}
  template:
    metadata: {labels: {app: hubble-relay}}
    spec:
      containers: [{name: relay, image: "quay.io/cilium/hubble-relay:v1.16.15"}]
`,
    });
    try {
      const run = await cli(['--json']);
      assert.equal(run.code, 0, run.error?.message);
      const json = JSON.parse(run.stdout) as PolicyJSON;
      assert.deepEqual(
        json.policies.map((p) => p.namespace),
        ['apps', 'operator'],
      );
      assert.deepEqual(
        json.skipped.map((k) => [k.namespace, k.workloads]),
        [['kube-system', ['Deployment/kube-system/hubble-relay']]],
      );
      // The YAML stream holds no policy for it either.
      const text = await cli([]);
      assert.equal(text.code, 0, text.error?.message);
      assert.deepEqual(
        documents(text.stdout).map((d) => (d.metadata as { namespace: string }).namespace),
        ['apps', 'operator'],
      );
      const egressFile = join(dir.path, 'system-egress.yaml');
      await writeFile(egressFile, 'namespaces:\n  kube-system: {kubeAPI: true}\n');
      const declared = JSON.parse(
        (await cli(['--json', '--egress', egressFile])).stdout,
      ) as PolicyJSON;
      assert.deepEqual(
        declared.policies.map((p) => p.namespace),
        ['apps', 'kube-system', 'operator'],
      );
    } finally {
      await rm(join(fleet, 'clusters/dev/system.yaml'));
    }
  });

  kit(
    'a rendered namespace that would leave -o DIR: exit 2, INPUT_INVALID naming the object, nothing written',
    async () => {
      await write(fleet, {
        'clusters/dev/escape.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ../../escaped}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
      });
      const out = join(dir.path, 'deep', 'er', 'policies');
      try {
        const run = await cli(['-o', out]);
        assert.equal(run.code, 2);
        assert.equal(run.error?.code, 'INPUT_INVALID');
        assert.ok(
          run.error.message.startsWith('Deployment/../../escaped/web: '),
          run.error.message,
        );
        assert.deepEqual(
          (await readdir(dir.path)).filter((n) => n.startsWith('escaped') || n === 'deep'),
          [],
        );
      } finally {
        await rm(join(fleet, 'clusters/dev/escape.yaml'));
      }
    },
  );

  kit('--fleet and --cluster are required (USAGE)', async () => {
    const run = await runCommand(policyCiliumCommand, ['--cluster', 'dev', '--offline']);
    assert.equal(run.code, 2);
    assert.equal(run.error?.code, 'USAGE');
  });
});

describe('airlock policy cilium on the fleet fleet init writes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fleet: string;
  before(async () => {
    dir = await tempDir('airlock-policy-init-');
    fleet = join(dir.path, 'fleet');
    await initFleet(fleet, { registry: 'registry.internal:5000' });
  });
  after(() => dir.remove());

  kit('DNS goes to CoreDNS in its coredns tenant namespace, not to kube-system', async () => {
    const run = await runCommand(policyCiliumCommand, [
      '--fleet',
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--json',
    ]);
    assert.equal(run.code, 0, run.error?.message);
    const json = JSON.parse(run.stdout) as PolicyJSON;
    assert.equal(json.dns.namespace, 'coredns');
    assert.ok(json.policies.length > 0);
    for (const p of json.policies) {
      const [dns] = (p.policy.spec as { egress: { toEndpoints?: unknown }[] }).egress;
      assert.deepEqual(
        dns?.toEndpoints,
        [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'coredns' } }],
        p.namespace,
      );
      assert.deepEqual(crdErrors(ciliumCRD, p.policy), []);
    }
  });
});
