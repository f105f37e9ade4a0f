import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePromotionConfig } from '../promote/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { renovateConfig } from './index.ts';

const PROMOTION = `environments:
  - name: dev
    paths: [clusters/dev, ./shared/dev-sources.yaml]
    autoMerge: [patch, digest]
    labels: [team/platform]
  - name: test
    paths: [clusters/test/]
    autoMerge: [patch]
    soak: 24h
  - name: prod
    paths: [clusters/prod]
    soak: 48h
labels:
  environment: "environment: {environment}"
  update: "kind/{type}"
  promotion: "{state}"
resourceSetInputs:
  - resourceSet: tenants
    repositoryField: repository
    chartField: chart
    versionField: version
    digestField: digest
  - repository: oci://registry.internal/charts/
    versionField: app-version
`;

type Rule = Record<string, unknown>;

function rules(json: Record<string, unknown>): Rule[] {
  return json.packageRules as Rule[];
}

function rule(json: Record<string, unknown>, index: number): Rule {
  const found = rules(json).at(index);
  assert.ok(found, `packageRules[${index}]`);
  return found;
}

describe('renovateConfig', () => {
  const config = parsePromotionConfig(PROMOTION);

  it('reads only the first environment and labels its updates from promotion.yaml', () => {
    const { json } = renovateConfig(config);
    const dev = ['clusters/dev/**/*.{yaml,yml}', 'shared/dev-sources.yaml'];
    assert.deepEqual(json.flux, { managerFilePatterns: dev });
    const review = rule(json, 0);
    const auto = rule(json, 1);
    assert.deepEqual(review.matchFileNames, dev);
    assert.deepEqual(review.labels, [
      'environment: dev',
      'kind/{{updateType}}',
      'needs-review',
      'team/platform',
    ]);
    assert.equal(review.automerge, false);
    assert.deepEqual(auto.matchUpdateTypes, ['patch', 'digest']);
    assert.equal(auto.automerge, true);
    assert.deepEqual(auto.labels, [
      'environment: dev',
      'kind/{{updateType}}',
      'auto-merge',
      'team/platform',
    ]);
  });

  it('disables every later environment in the last rule, so it wins over an overlap', () => {
    const last = rule(renovateConfig(config).json, -1);
    assert.deepEqual(last.matchFileNames, [
      'clusters/test/**/*.{yaml,yml}',
      'clusters/prod/**/*.{yaml,yml}',
    ]);
    assert.equal(last.enabled, false);
  });

  it('gives the same bytes for the same input, as --check needs', () => {
    const a = renovateConfig(config, { registry: 'registry.internal:5000', plainHTTP: true });
    const b = renovateConfig(parsePromotionConfig(PROMOTION), {
      registry: 'registry.internal:5000',
      plainHTTP: true,
    });
    assert.equal(a.text, b.text);
    assert.ok(a.text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(a.text), a.json);
  });

  it('keeps lookups to the registry, over plain HTTP only when asked', () => {
    const secure = renovateConfig(config, { registry: 'registry.internal' }).json;
    assert.equal(secure.hostRules, undefined);
    const only = rules(secure).find((r) => r.matchPackageNames !== undefined);
    assert.deepEqual(only, {
      description:
        'Only registry.internal is looked up: the isolated network has no other registry',
      matchPackageNames: ['!registry.internal/**'],
      enabled: false,
    });
    const plain = renovateConfig(config, { registry: '127.0.0.1:5000', plainHTTP: true }).json;
    assert.deepEqual(plain.hostRules, [
      { matchHost: 'https://127.0.0.1:5000', hostType: 'docker', insecureRegistry: true },
    ]);
  });

  it('refuses a registry that is not host[:port], naming the option', () => {
    for (const registry of ['oci://registry.internal', 'registry.internal/charts', '', 'a b'])
      assert.equal(
        assertThrowsCode(() => renovateConfig(config, { registry }), 'INPUT_INVALID').data.option,
        'registry',
      );
    assert.equal(
      assertThrowsCode(() => renovateConfig(config, { plainHTTP: true }), 'INPUT_INVALID').data
        .option,
      'plainHTTP',
    );
    assert.doesNotThrow(() => renovateConfig(config, { registry: '[::1]:5000' }));
  });

  it('reads ResourceSet inputs with a JSONata manager built from the rule’s field names', () => {
    const managers = renovateConfig(config).json.customManagers as Rule[];
    assert.deepEqual(renovateConfig(config).json.enabledManagers, ['flux', 'custom.jsonata']);
    assert.equal(managers.length, 2);
    for (const m of managers) {
      assert.equal(m.customType, 'jsonata');
      assert.equal(m.fileFormat, 'yaml');
      assert.equal(m.datasourceTemplate, 'docker');
      assert.deepEqual(m.managerFilePatterns, [
        'clusters/dev/**/*.{yaml,yml}',
        'shared/dev-sources.yaml',
      ]);
    }
    const [tenants, fixed] = managers.map((m) => (m.matchStrings as string[])[0] ?? '');
    assert.match(tenants ?? '', /^\$\[kind = 'ResourceSet' and metadata\.name = "tenants"\]/);
    assert.match(tenants ?? '', /'currentDigest': \$string\(digest\)/);
    // A field name JSONata would read as subtraction is quoted; the fixed repository is a literal.
    assert.match(fixed ?? '', /'currentValue': \$string\(`app-version`\)/);
    assert.match(fixed ?? '', /'packageName': "registry\.internal\/charts"/);
    assert.doesNotMatch(fixed ?? '', /metadata\.name/);
  });

  it('uses the flux manager alone when there are no ResourceSet input rules', () => {
    const json = renovateConfig(
      parsePromotionConfig(
        'environments:\n  - name: a\n    paths: [.]\n  - name: b\n    paths: [b]\n',
      ),
    ).json;
    assert.deepEqual(json.enabledManagers, ['flux']);
    assert.equal(json.customManagers, undefined);
    assert.deepEqual(json.flux, { managerFilePatterns: ['**/*.{yaml,yml}'] });
  });

  it('warns when a first-environment path lies inside a later environment’s', () => {
    const { warnings } = renovateConfig(
      parsePromotionConfig(
        'environments:\n  - name: dev\n    paths: [clusters/dev]\n  - name: prod\n    paths: [clusters]\n',
      ),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /clusters\/dev is inside prod's clusters/);
  });

  it('writes minimumReleaseAge and schedule, and warns that OCI releases have no time', () => {
    const { json, warnings } = renovateConfig(
      parsePromotionConfig(
        `${PROMOTION}renovate:\n  minimumReleaseAge: 3 days\n  schedule: ["before 6am"]\n`,
      ),
    );
    assert.equal(json.minimumReleaseAge, '3 days');
    assert.equal(json.minimumReleaseAgeBehaviour, 'timestamp-required');
    assert.deepEqual(json.schedule, ['before 6am']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /minimumReleaseAge/);
    assert.deepEqual(renovateConfig(config).warnings, []);
  });
});
