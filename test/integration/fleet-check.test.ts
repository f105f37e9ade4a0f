import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { gated, tempDir } from '../harness/tools.ts';
import { kubectlBinary, kubeToolsSkipReason } from '../harness/kube-tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';
import { type CommandRun, runCommand } from '../helpers/command.ts';
import { ExitCode } from '../../src/cli/exit-codes.ts';
import { fleetCheckCommand } from '../../src/cli/commands/fleet-check.ts';
import {
  checkFleet,
  type FleetCheck,
  type FleetFinding,
  initFleet,
} from '../../src/fleet/index.ts';

// `fleet check --offline` on the fleet `fleet init` writes, rendered with the real kustomize that
// ships in kubectl (test/harness/kube-tools.ts): the clean fleet passes for every cluster, and each
// planted fault (one per test) is found with its rule, object and field, and exits 3.

const { it, before, after } = gated(kubeToolsSkipReason());

type Run = CommandRun;

const cli = (args: readonly string[]): Promise<Run> => runCommand(fleetCheckCommand, args);

const errors = (check: FleetCheck): FleetFinding[] =>
  check.clusters.flatMap((c) => c.findings.filter((f) => f.severity === 'error'));

describe('fleet check --offline: the fleet fleet init writes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let n = 0;
  before(async () => {
    dir = await tempDir('airlock-fleet-check-');
  });
  after(() => dir.remove());

  /** A fresh fleet with one file edited (the edit must change it). */
  async function planted(file: string, from: string, to: string): Promise<string> {
    const fleet = join(dir.path, `fleet-${++n}`);
    await initFleet(fleet, { registry: 'registry.internal:5000' });
    const path = join(fleet, file);
    const text = await readFile(path, 'utf8');
    assert.ok(text.includes(from), `${file} has no ${JSON.stringify(from)}`);
    await writeFile(path, text.replace(from, to));
    return fleet;
  }

  /** Checks dev through the CLI (--json), asserting exit 3 and the one expected error finding. */
  async function expectFinding(
    fleet: string,
    expected: Pick<FleetFinding, 'rule' | 'object' | 'field'> & {
      appliedBy?: string;
      file?: string;
    },
  ): Promise<FleetFinding> {
    const run = await cli([
      fleet,
      '--cluster',
      'dev',
      '--offline',
      '--kustomize-bin',
      kubectlBinary(),
      '--json',
    ]);
    assert.equal(run.code, ExitCode.refused, run.error?.message ?? run.stdout);
    const result = JSON.parse(run.stdout) as FleetCheck;
    assert.equal(result.failed, true);
    const found = errors(result).filter((f) => f.rule === expected.rule);
    assert.ok(found.length > 0, `no ${expected.rule} error in ${run.stdout}`);
    const hit = found.find((f) => f.object === expected.object && f.field === expected.field);
    assert.ok(hit, `no ${expected.rule} on ${expected.object} ${expected.field}: ${run.stdout}`);
    if (expected.appliedBy !== undefined) assert.equal(hit.appliedBy, expected.appliedBy);
    // The file of the fleet the object came from (the ResourceSet's own file for its objects).
    if (expected.file !== undefined) assert.equal(hit.file, expected.file);
    return hit;
  }

  it('the clean fleet passes for --all: no error findings, tenant sources listed as unresolved', async () => {
    const fleet = join(dir.path, 'clean');
    await initFleet(fleet, { registry: 'registry.internal:5000' });
    const check = await checkFleet({
      dir: fleet,
      all: true,
      offline: true,
      kustomizeBin: kubectlBinary(),
    });
    assert.deepEqual(
      check.clusters.map((c) => c.cluster),
      ['dev', 'prod', 'test'],
    );
    assert.deepEqual(errors(check), []);
    assert.equal(check.failed, false);
    for (const c of check.clusters) {
      assert.ok(c.objects > 0);
      // Each tenant's own OCIRepository artifact is not pulled offline: a warning, not an error.
      const unresolved = c.findings.filter((f) => f.rule === 'source-unresolved');
      assert.ok(unresolved.some((f) => f.object === 'Kustomization/cilium/platform'));
      assert.ok(unresolved.every((f) => f.severity === 'warning'));
    }
    const run = await cli([fleet, '--all', '--offline', '--kustomize-bin', kubectlBinary()]);
    assert.equal(run.code, ExitCode.ok, run.error?.message);
    assert.match(run.stdout, /^passed: 3 clusters, 0 errors, \d+ warnings$/m);
    assert.match(
      run.stdout,
      /^ {2}warning source-unresolved Kustomization\/cilium\/platform spec\.sourceRef: .*\(applied by ResourceSet\/flux-system\/core\)$/m,
    );
  });

  it('an OCIRepository without spec.verify: verify-missing', async () => {
    const fleet = await planted(
      'platform/2-security.yaml',
      '        verify:\n          provider: cosign\n          secretRef:\n            name: cosign-pub\n',
      '',
    );
    await expectFinding(fleet, {
      rule: 'verify-missing',
      object: 'OCIRepository/rbac/platform',
      file: 'platform/2-security.yaml',
      field: 'spec.verify',
      appliedBy: 'ResourceSet/flux-system/security',
    });
  });

  it("a source URL outside the fleet's own allowlist: admission-denied, by the policy's CEL", async () => {
    const fleet = await planted(
      'platform/2-security.yaml',
      'url: "oci://registry.internal:5000/platform/<< inputs.tenant >>"',
      'url: "oci://ghcr.io/elsewhere/<< inputs.tenant >>"',
    );
    const hit = await expectFinding(fleet, {
      rule: 'admission-denied',
      object: 'OCIRepository/rbac/platform',
      file: 'platform/2-security.yaml',
      field: 'spec.url',
      appliedBy: 'ResourceSet/flux-system/security',
    });
    assert.match(hit.message, /oci:\/\/ghcr\.io\/elsewhere\/rbac is not allowed/);
  });

  it('a Kustomization without the prune its CRD requires: schema-invalid', async () => {
    const fleet = await planted('platform/2-security.yaml', '        prune: true\n', '');
    await expectFinding(fleet, {
      rule: 'schema-invalid',
      object: 'Kustomization/rbac/platform',
      file: 'platform/2-security.yaml',
      field: 'spec.prune',
      appliedBy: 'ResourceSet/flux-system/security',
    });
  });

  it('an OCIRepository interval that is not a duration: schema-invalid', async () => {
    const fleet = await planted(
      'platform/2-security.yaml',
      '        interval: 5m\n',
      '        interval: five minutes\n',
    );
    await expectFinding(fleet, {
      rule: 'schema-invalid',
      object: 'OCIRepository/rbac/platform',
      field: 'spec.interval',
    });
  });

  it('a key Secret that is not rendered: verify-key-missing', async () => {
    const fleet = await planted(
      'platform/2-security.yaml',
      '          secretRef:\n            name: cosign-pub\n',
      '          secretRef:\n            name: other-key\n',
    );
    await expectFinding(fleet, {
      rule: 'verify-key-missing',
      object: 'OCIRepository/rbac/platform',
      field: 'spec.verify.secretRef.name',
    });
  });

  it('phase 1 depending on phase 4: depends-on-cycle, the path reported once', async () => {
    const fleet = await planted(
      'platform/1-core.yaml',
      'spec:\n  inputs:',
      [
        'spec:',
        '  dependsOn:',
        '    - apiVersion: fluxcd.controlplane.io/v1',
        '      kind: ResourceSet',
        '      name: observability',
        '      namespace: flux-system',
        '  inputs:',
      ].join('\n'),
    );
    const hit = await expectFinding(fleet, {
      rule: 'depends-on-cycle',
      object: 'ResourceSet/flux-system/core',
      field: 'spec.dependsOn[0]',
    });
    assert.ok(
      hit.message.includes(
        'ResourceSet/flux-system/core → ResourceSet/flux-system/observability → ResourceSet/flux-system/network → ResourceSet/flux-system/security → ResourceSet/flux-system/core',
      ),
      hit.message,
    );
    const check = await checkFleet({
      dir: fleet,
      cluster: 'dev',
      offline: true,
      kustomizeBin: kubectlBinary(),
    });
    assert.equal(errors(check).filter((f) => f.rule === 'depends-on-cycle').length, 1);
  });

  it('a dependency on a ResourceSet that does not exist: depends-on-missing', async () => {
    const fleet = await planted(
      'platform/3-network.yaml',
      '      name: security\n',
      '      name: no-such-phase\n',
    );
    await expectFinding(fleet, {
      rule: 'depends-on-missing',
      object: 'ResourceSet/flux-system/network',
      field: 'spec.dependsOn[0]',
      appliedBy: 'Kustomization/flux-system/platform',
    });
  });

  it('a readyExpr that does not parse: ready-expr-invalid', async () => {
    const fleet = await planted(
      'platform/4-observability.yaml',
      "readyExpr: status.conditions.filter(e, e.type == 'Ready').all(e, e.status == 'True')",
      'readyExpr: status.conditions.filter(',
    );
    await expectFinding(fleet, {
      rule: 'ready-expr-invalid',
      object: 'ResourceSet/flux-system/observability',
      field: 'spec.dependsOn[0].readyExpr',
    });
  });

  it('a copyFrom source that does not exist: copy-from-missing', async () => {
    const fleet = await planted(
      'platform/1-core.yaml',
      'fluxcd.controlplane.io/copyFrom: "flux-system/flux-runtime-info"',
      'fluxcd.controlplane.io/copyFrom: "flux-system/nope"',
    );
    const hit = await expectFinding(fleet, {
      rule: 'copy-from-missing',
      object: 'ConfigMap/cilium/flux-runtime-info',
      field: 'metadata.annotations[fluxcd.controlplane.io/copyFrom]',
      appliedBy: 'ResourceSet/flux-system/core',
    });
    assert.ok(hit.message.includes('ConfigMap/flux-system/nope'), hit.message);
  });

  it('a tenant Kustomization without serviceAccountName: service-account-missing', async () => {
    const fleet = await planted(
      'platform/2-security.yaml',
      '        targetNamespace: << inputs.tenant >>\n        serviceAccountName: flux\n',
      '        targetNamespace: << inputs.tenant >>\n',
    );
    await expectFinding(fleet, {
      rule: 'service-account-missing',
      object: 'Kustomization/rbac/platform',
      field: 'spec.serviceAccountName',
    });
  });

  it('a FluxInstance synced from a non-OCI URL: flux-instance-invalid', async () => {
    const fleet = await planted(
      'clusters/dev/flux-system/flux-instance.yaml',
      '    url: oci://',
      '    url: https://',
    );
    await expectFinding(fleet, {
      rule: 'flux-instance-invalid',
      object: 'FluxInstance/flux-system/flux',
      file: 'clusters/dev/flux-system/flux-instance.yaml',
      field: 'spec.sync.url',
      appliedBy: 'Kustomization/flux-system/flux-system',
    });
  });

  it('online, the placeholder key is a finding before any registry is asked; no cluster is usage', async () => {
    const fleet = join(dir.path, 'clean');
    // The scaffold's cosign-pub Secret holds a placeholder, not a key: every source that verifies
    // with it fails (artifact-unverified), decided before the registry (which does not exist).
    const online = await cli([
      fleet,
      '--cluster',
      'dev',
      '--kustomize-bin',
      kubectlBinary(),
      '--json',
    ]);
    assert.equal(online.code, ExitCode.refused, online.error?.message);
    const unverified = errors(JSON.parse(online.stdout) as FleetCheck).filter(
      (f) => f.rule === 'artifact-unverified',
    );
    assert.ok(
      unverified.length > 0 && unverified.every((f) => f.field === 'spec.verify.secretRef.name'),
      online.stdout,
    );
    const none = await cli([fleet, '--offline']);
    assert.equal(none.code, ExitCode.invalidInput);
    assert.equal(none.error?.code, 'USAGE');
    await assertRejectsCode(
      () => checkFleet({ dir: fleet, offline: true, cluster: 'dev', all: true }),
      'INPUT_INVALID',
    );
    await assertRejectsCode(
      () => checkFleet({ dir: fleet, offline: true, cluster: 'staging' }),
      'INPUT_INVALID',
    );
  });
});
