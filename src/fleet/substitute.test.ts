import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import {
  type GoMap,
  type GoValue,
  isGoInt,
  isGoMap,
  marshalGoYAML,
  parseGoYAML,
} from '../goyaml/index.ts';
import { loadSubstituteVariables, substituteObjects } from './substitute.ts';

const object = (yaml: string): GoMap => {
  const value = parseGoYAML(yaml);
  assert.ok(isGoMap(value));
  return value;
};

/** kustomize ResMap.AsYaml: each object's YAML, separated by `---`. */
const asYaml = (objects: GoMap[]): string => objects.map(marshalGoYAML).join('---\n');

// fluxcd/pkg kustomize/testdata/resources/deployment.yaml and config.yaml (namespace apps, as the
// testdata kustomization.yml builds them).
const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: apps
  labels:
    environment: \${cluster_env:=dev}
    region: \${cluster_region}
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      annotations:
        prometheus.io/scrape: \${prometheus_scrape:=false}
        prometheus.io/port: \${prometheus_port}
      labels:
        app: app
    spec:
      containers:
      - name: nginx
        image: \${image}
        imagePullPolicy: IfNotPresent
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
`;
const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    kustomize.toolkit.fluxcd.io/substitute: disabled
    environment: \${cluster_env:=dev}
    region: \${cluster_region}
  name: app-vars
  namespace: apps
data:
  prometheus_scrape: \${prometheus_scrape:=false}
  prometheus_port: \${prometheus_port}
  image: \${image}
`;
// kustomize/testdata/configmap.yaml: the ConfigMap the Kustomization substitutes from.
const APP_VARS = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-vars
  namespace: apps
data:
  prometheus_scrape: '"true"'
  prometheus_port: '"9797"'
  image: "nginx:1.21.4"
`;
// kustomize/testdata/kustomization_varsub_expected.yaml.
const VARSUB_EXPECTED = `apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    environment: prod
    region: eu-central-1
  name: app
  namespace: apps
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      annotations:
        prometheus.io/port: "9797"
        prometheus.io/scrape: "true"
      labels:
        app: app
    spec:
      containers:
      - image: nginx:1.21.4
        imagePullPolicy: IfNotPresent
        name: nginx
        resources:
          limits:
            cpu: 2000m
            memory: 512Mi
          requests:
            cpu: 100m
            memory: 64Mi
---
apiVersion: v1
data:
  image: \${image}
  prometheus_port: \${prometheus_port}
  prometheus_scrape: \${prometheus_scrape:=false}
kind: ConfigMap
metadata:
  labels:
    environment: \${cluster_env:=dev}
    kustomize.toolkit.fluxcd.io/substitute: disabled
    region: \${cluster_region}
  name: app-vars
  namespace: apps
`;
// kustomize/testdata/varsubstrict/config.yaml.
const STRICT_CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    environment: \${cluster_env:=dev}
    region: \${cluster_region}
  name: app-vars-strict
  namespace: apps
data:
  missing: \${missing}
`;
// kustomize/testdata/varsubalways/config.yaml.
const ALWAYS_CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    environment: \${cluster_env:=dev}
  name: app-vars-always
  namespace: apps
data:
  region: \${cluster_region:=eu-central-1}
`;
// kustomize/testdata/varsubstrictempty/config.yaml, configmap_empty.yaml and secret_empty.yaml.
const STRICT_EMPTY_CONFIG = `apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    from-inline: "\${empty_inline}"
    from-configmap: "\${empty_cm}"
    from-secret: "\${empty_secret}"
  name: app-vars-strict-empty
  namespace: apps
`;
const EMPTY_CM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-vars-empty
  namespace: apps
data:
  empty_cm: ""
`;
const EMPTY_SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: app-vars-empty
  namespace: apps
stringData:
  empty_secret: ""
`;

// kustomize/kustomization_varsub.yaml: the postBuild of the testdata Kustomization.
const VARSUB = {
  namespace: 'apps',
  substitute: { cluster_env: 'prod', cluster_region: 'eu-central-1' },
  substituteFrom: [{ kind: 'ConfigMap', name: 'app-vars' }] as const,
  available: [object(APP_VARS)],
};

describe('substituteObjects: fluxcd/pkg kustomize_varsub_test.go', () => {
  it('TestKustomization_Varsub: substitutes, leaves the disabled ConfigMap alone', () => {
    const out = substituteObjects([object(DEPLOYMENT), object(CONFIG)], VARSUB);
    assert.equal(asYaml(out), VARSUB_EXPECTED);
  });
  it('TestKustomization_Varsub: strict mode fails on ${missing}, non-strict reads it as empty', () => {
    const error = assertThrowsCode(
      () => substituteObjects([object(STRICT_CONFIG)], { ...VARSUB, strict: true }),
      'TEMPLATE_FAILED',
    );
    assert.equal(error.data['variable'], 'missing');
    const [out] = substituteObjects([object(STRICT_CONFIG)], { ...VARSUB, strict: false });
    assert.ok(out !== undefined);
    assert.equal(
      marshalGoYAML(out),
      'apiVersion: v1\ndata:\n  missing: null\nkind: ConfigMap\nmetadata:\n  labels:\n' +
        '    environment: prod\n    region: eu-central-1\n  name: app-vars-strict\n  namespace: apps\n',
    );
  });
  it('TestKustomization_Varsub: strict is the default (Flux 2.9)', () => {
    assertThrowsCode(() => substituteObjects([object(STRICT_CONFIG)], VARSUB), 'TEMPLATE_FAILED');
  });
  it('TestKustomization_Varsub_Always: without variables defaults stay unless the strategy is Always', () => {
    const novars = { namespace: 'apps', available: [] };
    const input = object(ALWAYS_CONFIG);
    const [kept] = substituteObjects([input], novars);
    assert.equal(kept, input);
    assert.match(marshalGoYAML(input), /\$\{cluster_env:=dev\}/);
    const [always] = substituteObjects([input], { ...novars, strategy: 'Always' });
    assert.ok(always !== undefined);
    const yaml = marshalGoYAML(always);
    assert.doesNotMatch(yaml, /\$\{/);
    assert.match(yaml, /environment: dev/);
    assert.match(yaml, /region: eu-central-1/);
  });
  it('TestKustomization_Varsub_StrictEmptyValues: empty values are set, from every source', () => {
    const empty = {
      namespace: 'apps',
      substitute: { empty_inline: '' },
      substituteFrom: [
        { kind: 'ConfigMap', name: 'app-vars-empty' },
        { kind: 'Secret', name: 'app-vars-empty' },
      ] as const,
      available: [object(EMPTY_CM), object(EMPTY_SECRET)],
    };
    const [strict] = substituteObjects([object(STRICT_EMPTY_CONFIG)], { ...empty, strict: true });
    assert.ok(strict !== undefined);
    const yaml = marshalGoYAML(strict);
    assert.doesNotMatch(yaml, /\$\{/);
    assert.match(yaml, /from-inline: null/);
    assert.match(yaml, /from-configmap: null/);
    assert.match(yaml, /from-secret: null/);
    // kustomization_varsub_dummy.yaml: one unused variable, strict off, the others omitted.
    const [omitted] = substituteObjects([object(STRICT_EMPTY_CONFIG)], {
      namespace: 'apps',
      substitute: { dummy: 'unused' },
      available: [],
      strict: false,
    });
    assert.ok(omitted !== undefined);
    assert.equal(marshalGoYAML(omitted), yaml);
  });
});

const configMap = (name: string, data: Record<string, string>, namespace = 'apps'): GoMap =>
  new Map<string, GoValue>([
    ['apiVersion', 'v1'],
    ['kind', 'ConfigMap'],
    [
      'metadata',
      new Map([
        ['name', name],
        ['namespace', namespace],
      ]),
    ],
    ['data', new Map(Object.entries(data))],
  ]);

const secret = (
  name: string,
  data: Record<string, string>,
  stringData?: Record<string, string>,
): GoMap => {
  const value: GoMap = new Map<string, GoValue>([
    ['apiVersion', 'v1'],
    ['kind', 'Secret'],
    ['metadata', new Map([['name', name]])],
    ['data', new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))],
  ]);
  if (stringData !== undefined) value.set('stringData', new Map(Object.entries(stringData)));
  return value;
};

describe('loadSubstituteVariables', () => {
  it('reads sources in order, later keys winning, then the inline map; strips newlines', () => {
    const vars = loadSubstituteVariables({
      namespace: 'apps',
      substituteFrom: [
        { kind: 'ConfigMap', name: 'one' },
        { kind: 'Secret', name: 'two' },
      ],
      substitute: { c: 'inline\n' },
      available: [
        configMap('one', { a: 'cm-a', b: 'cm-b', c: 'cm-c' }),
        secret('two', { b: 'secret-b\n' }, { d: 'line1\nline2' }),
      ],
    });
    assert.deepEqual(Object.fromEntries(vars), {
      a: 'cm-a',
      b: 'secret-b',
      c: 'inline',
      d: 'line1line2',
    });
  });
  it('merges a Secret stringData over its data, as the API server stores it', () => {
    const vars = loadSubstituteVariables({
      namespace: 'apps',
      substituteFrom: [{ kind: 'Secret', name: 's' }],
      available: [secret('s', { k: 'from-data' }, { k: 'from-stringData' })],
    });
    assert.equal(vars.get('k'), 'from-stringData');
  });
  it('looks sources up in the Kustomization namespace only', () => {
    assertThrowsCode(
      () =>
        loadSubstituteVariables({
          namespace: 'apps',
          substituteFrom: [{ kind: 'ConfigMap', name: 'one' }],
          available: [configMap('one', { a: '1' }, 'other')],
        }),
      'CONFIG_INVALID',
    );
  });
  it('skips a missing optional source', () => {
    const vars = loadSubstituteVariables({
      namespace: 'apps',
      substituteFrom: [{ kind: 'Secret', name: 'absent', optional: true }],
      available: [],
    });
    assert.equal(vars.size, 0);
  });
  it('refuses Secret data that is not base64', () => {
    const bad = secret('s', {});
    bad.set('data', new Map([['k', 'not base64!']]));
    assertThrowsCode(
      () =>
        loadSubstituteVariables({
          namespace: 'apps',
          substituteFrom: [{ kind: 'Secret', name: 's' }],
          available: [bad],
        }),
      'CONFIG_INVALID',
    );
  });
});

describe('substituteObjects: behaviour a manifest depends on', () => {
  const deployment = (): GoMap =>
    object(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: \${replicas}
  paused: \${paused}
  template:
    spec:
      containers:
      - name: web
        args: ["--port=\${port}", "echo $$HOME"]
`);

  it('re-reads the substituted YAML: unquoted numbers and booleans change type', () => {
    const [out] = substituteObjects([deployment()], {
      namespace: 'apps',
      substitute: { replicas: '3', paused: 'false', port: '8080' },
      available: [],
    });
    const spec = out?.get('spec');
    assert.ok(isGoMap(spec));
    const replicas = spec.get('replicas');
    assert.ok(isGoInt(replicas));
    assert.equal(replicas.value, 3n);
    assert.equal(spec.get('paused'), false);
    assert.match(marshalGoYAML(out ?? new Map()), /- --port=8080\n\s+- echo \$HOME\n/);
  });
  it('leaves objects untouched when no variable resolved (no $$ collapse either)', () => {
    const input = deployment();
    const [out] = substituteObjects([input], {
      namespace: 'apps',
      substituteFrom: [{ kind: 'ConfigMap', name: 'absent', optional: true }],
      available: [],
    });
    assert.equal(out, input);
  });
  it('skips objects annotated substitute: disabled', () => {
    const input = deployment();
    const metadata = input.get('metadata');
    assert.ok(isGoMap(metadata));
    metadata.set('annotations', new Map([['kustomize.toolkit.fluxcd.io/substitute', 'disabled']]));
    const [out] = substituteObjects([input], {
      namespace: 'apps',
      substitute: { replicas: '3' },
      available: [],
    });
    assert.equal(out, input);
  });
  it('fails on a missing source, naming the object, unless every object is disabled', () => {
    const options = {
      namespace: 'apps',
      substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars' }] as const,
      available: [],
    };
    const error = assertThrowsCode(
      () => substituteObjects([deployment()], options),
      'CONFIG_INVALID',
    );
    assert.equal(error.data['object'], 'Deployment.v1.apps/web');
    assert.equal(error.data['source'], 'ConfigMap/cluster-vars');
    assert.deepEqual(substituteObjects([object(CONFIG)], options).length, 1);
  });
  it('refuses a variable name the rule does not allow', () => {
    const error = assertThrowsCode(
      () =>
        substituteObjects([deployment()], {
          namespace: 'apps',
          substitute: { 'cluster-name': 'x' },
          available: [],
        }),
      'CONFIG_INVALID',
    );
    assert.equal(error.data['variable'], 'cluster-name');
  });
  it('fails when the substituted text is no longer YAML', () => {
    assertThrowsCode(
      () =>
        substituteObjects([object('kind: ConfigMap\ndata:\n  a: ${v}\n')], {
          namespace: 'apps',
          substitute: { v: 'x: y: z' },
          available: [],
        }),
      'CONFIG_INVALID',
    );
  });
  it('fails on an expression that does not parse', () => {
    assertThrowsCode(
      () =>
        substituteObjects([object('kind: ConfigMap\ndata:\n  a: ${v-x}\n')], {
          namespace: 'apps',
          substitute: { v: '1' },
          available: [],
        }),
      'TEMPLATE_INVALID',
    );
  });
  it('in strict mode with strategy Always, an unset variable without default fails', () => {
    assertThrowsCode(
      () =>
        substituteObjects([deployment()], { namespace: 'apps', available: [], strategy: 'Always' }),
      'TEMPLATE_FAILED',
    );
  });
});
