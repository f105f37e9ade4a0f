import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { fleetCheckCommand } from '../../src/cli/commands/fleet-check.ts';
import {
  type FleetCheck,
  type FleetFinding,
  initFleet,
  registryImageHolder,
} from '../../src/fleet/index.ts';
import { RegistryClient } from '../../src/oci/index.ts';
import { openSession } from '../../src/session/index.ts';
import { pushTestImage } from '../harness/images.ts';
import { kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { runCommand } from '../helpers/command.ts';

// fleet check --cache: the isolation rules (issue 12 §5) on the fleet `fleet init` writes (Cilium
// and Kyverno in the first phase, every other phase after it), rendered with the real kustomize;
// each planted fault is found with its rule, object and field, and exits 3.

const { it, before, after } = gated(kubeToolsSkipReason() ?? missingTools(['docker-registry']));

const CACHE =
  'rules:\n  - {upstream: docker.io, to: registry.internal:5000/dockerhub}\n  - {upstream: quay.io, to: registry.internal:5000/quay}\n';

describe('fleet check --cache: isolation rules', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let cacheFile: string;
  let n = 0;
  before(async () => {
    dir = await tempDir('airlock-fleet-isolation-');
    cacheFile = join(dir.path, 'cache.yaml');
    await writeFile(cacheFile, CACHE);
  });
  after(() => dir.remove());

  async function fleet(edit?: (fleet: string) => Promise<void>): Promise<string> {
    const path = join(dir.path, `fleet-${++n}`);
    await initFleet(path, { registry: 'registry.internal:5000' });
    await edit?.(path);
    return path;
  }

  async function check(path: string, extra: string[] = []) {
    const run = await runCommand(fleetCheckCommand, [
      path,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--cache',
      cacheFile,
      '--json',
      ...extra,
    ]);
    const result = run.stdout === '' ? undefined : (JSON.parse(run.stdout) as FleetCheck);
    const errors: FleetFinding[] =
      result?.clusters.flatMap((c) => c.findings.filter((f) => f.severity === 'error')) ?? [];
    return { run, errors, keys: errors.map((f) => `${f.rule} ${f.object} ${f.field}`).sort() };
  }

  it('the fleet fleet init writes passes: Cilium and Kyverno first, every phase after them', async () => {
    const { run, errors } = await check(await fleet());
    assert.equal(run.code, ExitCode.ok, run.stdout + (run.error?.message ?? ''));
    assert.deepEqual(errors, []);
  });

  it('Kyverno in a later phase: it, and the phases that no longer wait for it, are named', async () => {
    const path = await fleet(async (f) => {
      const core = join(f, 'platform/1-core.yaml');
      const observability = join(f, 'platform/4-observability.yaml');
      const kyverno =
        '    - tenant: kyverno\n      tag: "${ARTIFACT_TAG}"\n      environment: "${ENVIRONMENT}"\n';
      const coreText = await readFile(core, 'utf8');
      assert.ok(coreText.includes(kyverno));
      await writeFile(core, coreText.replace(kyverno, ''));
      const obsText = await readFile(observability, 'utf8');
      assert.ok(obsText.includes('  inputs:\n'));
      await writeFile(observability, obsText.replace('  inputs:\n', `  inputs:\n${kyverno}`));
    });
    const { run, keys, errors } = await check(path);
    assert.equal(run.code, ExitCode.refused);
    // observability declares the wait that puts Kyverno late; monitoring shares its phase and
    // security and network come before it: none of them waits for Kyverno.
    assert.deepEqual(keys, [
      'isolation-phase Kustomization/monitoring/platform spec.dependsOn',
      'isolation-phase ResourceSet/flux-system/network spec.dependsOn',
      'isolation-phase ResourceSet/flux-system/observability spec.dependsOn',
      'isolation-phase ResourceSet/flux-system/security spec.dependsOn',
    ]);
    const kyvernoLate = errors.find((f) => f.object === 'ResourceSet/flux-system/observability');
    assert.equal(kyvernoLate?.file, 'platform/4-observability.yaml');
  });

  it('a workload in the fleet: public image, no egress policy, not after the first phase', async () => {
    const path = await fleet(async (f) => {
      await writeFile(
        join(f, 'platform/shop.yaml'),
        `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers:
        - {name: init, image: busybox}
      containers:
        - {name: web, image: ghcr.io/acme/web:1.0}
`,
      );
    });
    const { run, keys, errors } = await check(path);
    assert.equal(run.code, ExitCode.refused);
    assert.deepEqual(keys, [
      'egress-policy-missing Deployment/shop/web metadata.namespace',
      'image-public Deployment/shop/web spec.template.spec.containers[0].image',
      'isolation-phase Kustomization/flux-system/platform spec.dependsOn',
    ]);
    // busybox is Docker Hub, which the cache covers; the finding names the file it came from.
    assert.equal(errors.find((f) => f.rule === 'image-public')?.file, 'platform/shop.yaml');
  });

  it('a cache rule that maps two registries to one path is a usage error naming the file', async () => {
    await writeFile(
      cacheFile + '.bad',
      'rules:\n  - {upstream: docker.io, to: registry.internal/cache}\n  - {upstream: quay.io, to: registry.internal/cache}\n',
    );
    const run = await runCommand(fleetCheckCommand, [
      await fleet(),
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--cache',
      cacheFile + '.bad',
    ]);
    assert.equal(run.code, ExitCode.invalidInput);
    assert.equal(run.error?.code, 'CONFIG_INVALID');
  });

  describe('online: the private registry is asked for images outside the cache paths', () => {
    let registry: RegistryServer;
    before(async () => {
      registry = await startRegistry();
    });
    after(() => registry.stop());

    it('registryImageHolder through the registry map: present, absent, by digest', async () => {
      const session = openSession({ insecureRegistries: [registry.host] });
      const client = new RegistryClient({ insecureRegistries: [registry.host] });
      const pushed = await pushTestImage(
        client.repository(registry.host, 'apps/web'),
        [Buffer.from('layer')],
        '1.0',
      );
      const holds = registryImageHolder({
        session,
        registryMap: [{ from: 'registry.internal:5000', to: registry.host }],
      });
      assert.equal(await holds('registry.internal:5000/apps/web:1.0'), true);
      assert.equal(await holds(`registry.internal:5000/apps/web@${pushed.digest}`), true);
      assert.equal(await holds('registry.internal:5000/apps/web:2.0'), false);
      assert.equal(await holds('registry.internal:5000/apps/none:1.0'), false);
    });
  });
});
