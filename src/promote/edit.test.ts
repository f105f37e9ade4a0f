import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { editPin } from './edit.ts';
import type { Pin } from './pin.ts';
import { pinsInFiles } from './pins.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const RULE = {
  resourceSet: 'tenants',
  repositoryField: 'repository',
  chartField: 'chart',
  versionField: 'version',
  digestField: 'digest',
};

function only(path: string, text: string, index = 0): Pin {
  const pin = pinsInFiles('test', [{ path, text }], [RULE]).pins[index];
  assert.ok(pin, 'the fixture has the pin');
  return pin;
}

describe('editPin', () => {
  it('changes a double-quoted HelmRelease version and nothing else (comments, other documents)', () => {
    const text = `# Managed by the platform team.
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts   # the private registry
spec:
  type: oci
  url: oci://registry.example/charts
---
# podinfo
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
spec:
  chart:
    spec:
      chart: podinfo
      version: "6.5.0"   # promoted by airlock
      sourceRef: {kind: HelmRepository, name: charts}
  values:
    version: "6.5.0"
`;
    const pin = only('podinfo.yaml', text);
    assert.equal(
      editPin(text, pin, { version: '6.5.1' }),
      text.replace('version: "6.5.0"   #', 'version: "6.5.1"   #'),
    );
  });

  it('keeps single quotes and plain style; a plain value that would read as a number is quoted', () => {
    const single = `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: a}\nspec:\n  url: oci://r/a\n  ref:\n    tag: '1.0.0'\n`;
    assert.equal(
      editPin(single, only('a.yaml', single), { version: "1.0.1-it's" }),
      single.replace("tag: '1.0.0'", "tag: '1.0.1-it''s'"),
    );
    const plain = single.replace("tag: '1.0.0'", 'tag: v1.0.0 # plain');
    assert.equal(
      editPin(plain, only('a.yaml', plain), { version: 'v1.1.0' }),
      plain.replace('tag: v1.0.0 #', 'tag: v1.1.0 #'),
    );
    assert.equal(
      editPin(plain, only('a.yaml', plain), { version: '1.10' }),
      plain.replace('tag: v1.0.0 #', 'tag: "1.10" #'),
    );
  });

  it('writes an existing digest in place and adds a missing one under the version, same indentation, CRLF kept', () => {
    const text = [
      'apiVersion: source.toolkit.fluxcd.io/v1',
      'kind: OCIRepository',
      'metadata:',
      '  name: web-chart',
      'spec:',
      '  url: oci://r/charts/web',
      '  ref:',
      '    tag: 1.2.0 # the version under test',
      '  interval: 5m',
      '',
    ].join('\r\n');
    const pin = only('web.yaml', text);
    const added = editPin(text, pin, { version: '1.3.0', digest: D1 });
    assert.equal(
      added,
      [
        'apiVersion: source.toolkit.fluxcd.io/v1',
        'kind: OCIRepository',
        'metadata:',
        '  name: web-chart',
        'spec:',
        '  url: oci://r/charts/web',
        '  ref:',
        '    tag: 1.3.0 # the version under test',
        `    digest: ${D1}`,
        '  interval: 5m',
        '',
      ].join('\r\n'),
    );
    const again = editPin(added, only('web.yaml', added), { version: '1.3.1', digest: D2 });
    assert.equal(again, added.replace('tag: 1.3.0', 'tag: 1.3.1').replace(D1, D2));
  });

  it('edits ResourceSet inputs in flow and block maps, one entry only', () => {
    const text = `apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: tenants
spec:
  inputs:
    # api tenant
    - {name: api, repository: "oci://r/charts", chart: api, version: '2.0.0'}
    - name: web
      repository: "oci://r/charts"
      chart: web
      version: 2.0.0
  resources: []
`;
    const api = only('t.yaml', text, 0);
    const web = only('t.yaml', text, 1);
    assert.equal(
      editPin(text, api, { version: '2.0.1', digest: D1 }),
      text.replace("version: '2.0.0'}", `version: '2.0.1', digest: ${D1}}`),
    );
    assert.equal(
      editPin(text, web, { version: '2.1.0', digest: D1 }),
      text.replace('      version: 2.0.0\n', `      version: 2.1.0\n      digest: ${D1}\n`),
    );
  });

  it('adds the digest at the end of a file without a final newline', () => {
    const text =
      'apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: a}\nspec:\n  url: oci://r/a\n  ref:\n    tag: 1.0.0';
    assert.equal(
      editPin(text, only('a.yaml', text), { version: '1.0.1', digest: D1 }),
      `${text.replace('1.0.0', '1.0.1')}\n    digest: ${D1}`,
    );
  });

  it('refuses changes the pin cannot take, and a file that no longer holds it', () => {
    const hr = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts}
spec: {type: oci, url: "oci://r/charts"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: app}
spec:
  chart:
    spec: {chart: app, version: 1.0.0, sourceRef: {kind: HelmRepository, name: charts}}
`;
    const pin = only('hr.yaml', hr);
    assertThrowsCode(() => editPin(hr, pin, { version: '1.0.1', digest: D1 }), 'INPUT_INVALID');
    assertThrowsCode(
      () => editPin('kind: ConfigMap\n', pin, { version: '1.0.1' }),
      'CONFIG_INVALID',
    );
    const withDigest = `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: a}\nspec:\n  url: oci://r/a\n  ref: {tag: 1.0.0, digest: "${D1}"}\n`;
    assertThrowsCode(
      () => editPin(withDigest, only('a.yaml', withDigest), { version: '1.0.1' }),
      'INPUT_INVALID',
    );
    const ranged = `apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: a}\nspec:\n  url: oci://r/a\n  ref: {tag: 1.0.0, semver: ">=1.0.0"}\n`;
    assertThrowsCode(
      () => editPin(ranged, only('a.yaml', ranged), { version: '1.0.1' }),
      'INPUT_INVALID',
    );
  });
});
