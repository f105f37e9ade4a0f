import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../errors.ts';
import { readObjects, releaseName, releaseValues } from './index.ts';
import { templateRelease } from './helm.ts';
import { marshalGoYAML } from '../goyaml/index.ts';

// HelmReleases as helm-controller installs them: the release name, the values merge, and a
// release name that is not a DNS-1123 label never reaching helm's command line.

const [release] = readObjects(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: apps
spec:
  targetNamespace: prod
  valuesFrom:
    - kind: ConfigMap
      name: base
    - kind: Secret
      name: tls
      valuesKey: cert
      targetPath: ingress.tls.cert
    - kind: ConfigMap
      name: absent
      optional: true
  values:
    replicas: 3
    image:
      tag: "2.0"
`);
const available = readObjects(`apiVersion: v1
kind: ConfigMap
metadata:
  name: base
  namespace: apps
data:
  values.yaml: |
    replicas: 1
    image:
      repository: ghcr.io/acme/web
      tag: "1.0"
---
apiVersion: v1
kind: Secret
metadata:
  name: tls
  namespace: apps
stringData:
  cert: PEM
`);

describe('HelmRelease values and names, as helm-controller', () => {
  it('merges valuesFrom in order, then spec.values over them', () => {
    assert.ok(release);
    const values = releaseValues(release, available, 'HelmRelease/apps/web');
    assert.equal(
      marshalGoYAML(values),
      'image:\n  repository: ghcr.io/acme/web\n  tag: "2.0"\ningress:\n  tls:\n    cert: PEM\nreplicas: 3\n',
    );
  });

  it('names the release targetNamespace-name, shortened past 53 characters', () => {
    assert.ok(release);
    assert.equal(releaseName(release), 'prod-web');
    const [long] = readObjects(
      `apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: ${'a'.repeat(60)}\n`,
    );
    assert.ok(long);
    assert.equal(releaseName(long).length, 53);
  });

  it('a missing valuesFrom source that is not optional is CONFIG_INVALID naming the field', () => {
    assert.ok(release);
    assert.throws(
      () => releaseValues(release, available.slice(0, 1), 'HelmRelease/apps/web'),
      (e: unknown) =>
        e instanceof AirlockError &&
        e.code === 'CONFIG_INVALID' &&
        e.data.field === 'spec.valuesFrom[1]',
    );
  });

  it('a release name that helm would read as a flag is refused before helm runs', async () => {
    const [hostile] = readObjects(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: x
  namespace: apps
spec:
  releaseName: --set-file=leak=/etc/hostname
`);
    assert.ok(hostile);
    await assert.rejects(
      templateRelease(
        { path: '/nonexistent/helm' },
        Buffer.alloc(0),
        hostile,
        new Map(),
        'HelmRelease/apps/x',
      ),
      (e: unknown) =>
        e instanceof AirlockError &&
        e.code === 'CONFIG_INVALID' &&
        e.data.field === 'spec.releaseName',
    );
  });
});
