import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { tempDir } from '../../test/harness/tools.ts';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { initFleet, PHASES, scaffoldFleet } from './init.ts';

const objects = (text: string): Record<string, unknown>[] =>
  parseAllDocuments(text).map((doc) => {
    assert.deepEqual(doc.errors, []);
    return doc.toJS() as Record<string, unknown>;
  });

describe('fleet init', () => {
  let work: { path: string; remove: () => Promise<void> };
  before(async () => {
    work = await tempDir('airlock-fleet-init-');
  });
  after(() => work.remove());

  it('scaffolds three clusters and the four phases chained by dependsOn, every file valid YAML', () => {
    const files = scaffoldFleet({ registry: 'registry.internal:5000' });
    for (const env of ['dev', 'test', 'prod'])
      for (const file of [
        'flux-instance.yaml',
        'runtime-info.yaml',
        'cosign-pub.yaml',
        'kustomization.yaml',
      ])
        assert.ok(files.has(`clusters/${env}/flux-system/${file}`), `${env}/${file}`);
    for (const text of files.values()) objects(text);
    const [instance] = objects(files.get('clusters/prod/flux-system/flux-instance.yaml') ?? '');
    const spec = instance?.spec as {
      sync: { ref: string; url: string };
      cluster: { multitenant: boolean };
    };
    assert.equal(instance?.metadata && (instance.metadata as { name: string }).name, 'flux');
    assert.equal(spec.sync.ref, 'latest-stable');
    assert.equal(spec.sync.url, 'oci://registry.internal:5000/fleet');
    assert.equal(spec.cluster.multitenant, true);
    const phases = PHASES.map(
      (p, i) => objects(files.get(`platform/${i + 1}-${p.name}.yaml`) ?? '')[0],
    );
    phases.forEach((rs, i) => {
      const dependsOn = (rs?.spec as { dependsOn?: { name: string }[] }).dependsOn;
      assert.deepEqual(
        dependsOn?.map((d) => d.name),
        i === 0 ? undefined : [PHASES[i - 1]?.name],
      );
    });
  });

  it('keyless fleets verify by identity and carry no key Secret', () => {
    const files = scaffoldFleet({
      verify: {
        kind: 'keyless',
        issuer: '^https://gitlab.internal$',
        subject: '^https://gitlab.internal/platform/',
      },
    });
    assert.equal(files.has('clusters/dev/flux-system/cosign-pub.yaml'), false);
    assert.match(files.get('platform/1-core.yaml') ?? '', /matchOIDCIdentity/);
  });

  it('writes a new directory and refuses a non-empty one, leaving it untouched', async () => {
    const dir = join(work.path, 'fleet');
    const written = await initFleet(dir, {});
    assert.deepEqual((await readdir(join(dir, 'platform'))).sort(), [
      '1-core.yaml',
      '2-security.yaml',
      '3-network.yaml',
      '4-observability.yaml',
      'policies.yaml',
    ]);
    assert.ok(written.includes('clusters/dev/platform.yaml'));
    const busy = join(work.path, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'keep.txt'), 'mine');
    await assertRejectsCode(() => initFleet(busy, {}), 'INPUT_INVALID');
    assert.deepEqual(await readdir(busy), ['keep.txt']);
    assert.equal(await readFile(join(busy, 'keep.txt'), 'utf8'), 'mine');
    assert.deepEqual(
      (await readdir(work.path)).filter((e) => e.includes('airlock-init')),
      [],
    );
  });

  it('refuses a registry or environment name that would corrupt the YAML', () => {
    assert.throws(() => scaffoldFleet({ registry: 'reg.internal\nkind: Secret' }), {
      code: 'INPUT_INVALID',
    });
    assert.throws(() => scaffoldFleet({ environments: ['Prod EU'] }), { code: 'INPUT_INVALID' });
  });
});
