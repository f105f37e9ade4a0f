// The Kyverno policy (issue 12 §3) applies rewriteImage's mapping: its rules are run, as Kyverno
// runs them (test/helpers/kyverno.ts), over the rewrite corpus in every place an image can be —
// Pod containers, init and ephemeral containers, pod templates, CronJobs, unowned ReplicaSets —
// and every result must equal rewriteImage's (an image it refuses must be left as it is). A
// policy with one rule wrong fails this test (the last cases prove it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../errors.ts';
import { type GoValue, isGoInt, isGoMap, parseGoYAML } from '../goyaml/index.ts';
import {
  type AdmissionRequest,
  jmespath,
  KyvernoSimulationError,
  mutate,
} from '../../test/helpers/kyverno.ts';
import {
  AUTOGEN_ANNOTATION,
  ImageReferenceError,
  kyvernoPolicy,
  parseCacheConfig,
  rewriteImage,
} from './index.ts';

/** A decoded Go YAML value as plain JSON. */
const toPlain = (value: GoValue): unknown =>
  isGoMap(value)
    ? Object.fromEntries([...value].map(([k, v]) => [k, toPlain(v)]))
    : Array.isArray(value)
      ? value.map(toPlain)
      : isGoInt(value)
        ? Number(value.value)
        : value;

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha512:${'b'.repeat(128)}`;

const config = parseCacheConfig(
  `rules:
  - {upstream: docker.io, to: registry.internal/dockerhub}
  - {upstream: quay.io, to: registry.internal/quay}
  - {upstream: registry.k8s.io, to: "registry.internal:5000/k8s"}
  - {upstream: "localhost:5000", to: cache.internal}
  - {upstream: "[::1]:5001", to: registry.internal/v6}
`,
  'cache.yaml',
);
const { policy, yaml } = kyvernoPolicy(config);

/** References as pod specs write them: the rewrite corpus, and what else can trip a regex. */
const CORPUS: readonly string[] = [
  'nginx',
  'nginx:1.27',
  'nginx:Latest',
  'docker.io/nginx',
  'docker.io/library/nginx',
  'index.docker.io/nginx',
  'index.docker.io/library/nginx:1.27',
  'library/nginx',
  'bitnami/redis:7.2',
  'registry-1.docker.io/library/nginx:1.27',
  'registry-1.docker.io/nginx',
  'Docker.IO/nginx',
  'Index.Docker.IO/library/nginx',
  'a/b/c/d/e',
  'a_b/c',
  'a__b/c--d/e.f',
  'registry.k8s.io/a/b/c/d/e:v1',
  'registry.k8s.io/pause:3.10',
  `quay.io/prometheus/prometheus@${A}`,
  `quay.io/x/y@${B}`,
  'quay.io/x/y:V1.0-RC_1',
  'Quay.IO/x/y:1',
  `nginx@${A}`,
  `nginx:1.27@${A}`,
  `docker.io/library/nginx:1.27@${A}`,
  'localhost:5000/x',
  `localhost:5000/x:1@${A}`,
  'localhost/x',
  'localhost',
  'localhost:5000',
  'quay.io',
  'docker.io',
  'registry.internal:5000/team/app:1.0',
  'ghcr.io/fluxcd/flux-cli:v2.4.0',
  '[::1]:5001/team/app:2',
  '[::1]:5000/x',
  'registry.internal/dockerhub/library/nginx:1.27',
  'registry.internal/dockerhub',
  `registry.internal/dockerhub@${A}`,
  'Registry.Internal/dockerhub/x',
  'registry.internal:5000/k8s/pause:3.10',
  'cache.internal/anything/at/all',
  'registry.internal/dockerhubx/app',
  'registry.internal/v6/x',
  `${'x'.repeat(200)}/${'y'.repeat(40)}`,
  // registry.internal/quay/ adds 5 path characters: 250 still fit in 255, 251 do not.
  `quay.io/${'a'.repeat(250)}`,
  `quay.io/${'a'.repeat(251)}`,
  `quay.io/${'a'.repeat(256)}`,
  // Refused by normalizeImage: left alone by the policy too.
  'ghcr.io/OWNER/x',
  'docker.io/Library/nginx',
  'UPPER',
  'nginx:',
  ':1.0',
  `@${A}`,
  'nginx@sha256:abc',
  `nginx@SHA256:${'a'.repeat(64)}`,
  'a_b.com/x',
  'quay.io//x',
  'quay.io/x/',
  '-x',
  'x-',
  'quay.io/x:.bad',
  `quay.io/x:${'t'.repeat(129)}`,
  'a'.repeat(64),
  ' nginx',
];

/** What rewriteImage says the image is pulled as: the rewritten reference, or itself. */
function expected(image: string): string {
  try {
    return rewriteImage(image, config).rewritten ?? image;
  } catch (error) {
    assert.ok(error instanceof ImageReferenceError, String(error));
    return image;
  }
}

const containers = (images: readonly string[], prefix: string): { name: string; image: string }[] =>
  images.map((image, i) => ({ name: `${prefix}${i}`, image }));

/** Each place an image can be, as an admission request and where its images come back. */
const PLACES: readonly {
  name: string;
  request: (images: readonly string[]) => AdmissionRequest;
  images: (object: unknown) => string[];
}[] = [
  {
    name: 'Pod containers, initContainers and ephemeralContainers',
    request: (images) => ({
      kind: 'Pod',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', namespace: 'apps' },
        spec: {
          initContainers: containers(images, 'i'),
          containers: containers(images, 'c'),
          ephemeralContainers: containers(images, 'e'),
        },
      },
    }),
    images: (o) => {
      const spec = (o as { spec: Record<string, { image: string }[]> }).spec;
      return ['initContainers', 'containers', 'ephemeralContainers'].flatMap((l) =>
        (spec[l] ?? []).map((c) => c.image),
      );
    },
  },
  ...(['Deployment', 'StatefulSet', 'DaemonSet', 'Job'] as const).map((kind) => ({
    name: `${kind} template`,
    request: (images: readonly string[]): AdmissionRequest => ({
      kind,
      operation: 'UPDATE',
      object: {
        kind,
        metadata: { name: 'w', namespace: 'apps' },
        spec: {
          template: {
            spec: { initContainers: containers(images, 'i'), containers: containers(images, 'c') },
          },
        },
      },
    }),
    images: (o: unknown) => {
      const spec = (o as { spec: { template: { spec: Record<string, { image: string }[]> } } }).spec
        .template.spec;
      return [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c) => c.image);
    },
  })),
  {
    name: 'CronJob job template',
    request: (images) => ({
      kind: 'CronJob',
      operation: 'CREATE',
      object: {
        kind: 'CronJob',
        metadata: { name: 'cj', namespace: 'apps' },
        spec: {
          schedule: '@daily',
          jobTemplate: { spec: { template: { spec: { containers: containers(images, 'c') } } } },
        },
      },
    }),
    images: (o) =>
      (
        o as {
          spec: {
            jobTemplate: { spec: { template: { spec: { containers: { image: string }[] } } } };
          };
        }
      ).spec.jobTemplate.spec.template.spec.containers.map((c) => c.image),
  },
  {
    name: 'ReplicaSet nothing owns',
    request: (images) => ({
      kind: 'ReplicaSet',
      operation: 'CREATE',
      object: {
        kind: 'ReplicaSet',
        metadata: { name: 'rs', namespace: 'apps' },
        spec: { template: { spec: { containers: containers(images, 'c') } } },
      },
    }),
    images: (o) =>
      (
        o as { spec: { template: { spec: { containers: { image: string }[] } } } }
      ).spec.template.spec.containers.map((c) => c.image),
  },
];

describe('kyvernoPolicy: the rules rewrite as rewriteImage does', () => {
  for (const place of PLACES)
    it(`${place.name}: every corpus image pulled as rewriteImage maps it`, () => {
      const { object } = mutate(policy, place.request(CORPUS));
      const got = place.images(object);
      const lists = got.length / CORPUS.length;
      assert.equal(got.length, CORPUS.length * lists);
      for (let i = 0; i < got.length; i++) {
        const input = CORPUS[i % CORPUS.length] ?? '';
        assert.equal(got[i], expected(input), `${place.name}: ${input}`);
      }
    });

  it('hand-checked: the tricky references land where the corpus says', () => {
    const cases: [string, string][] = [
      ['nginx', 'registry.internal/dockerhub/library/nginx:latest'],
      ['docker.io/nginx', 'registry.internal/dockerhub/library/nginx:latest'],
      ['index.docker.io/nginx', 'registry.internal/dockerhub/library/nginx:latest'],
      ['registry-1.docker.io/nginx', 'registry.internal/dockerhub/nginx:latest'],
      ['localhost:5000/x', 'cache.internal/x:latest'],
      ['localhost:5000', 'registry.internal/dockerhub/library/localhost:5000'],
      ['quay.io', 'registry.internal/dockerhub/library/quay.io:latest'],
      [`nginx@${A}`, `registry.internal/dockerhub/library/nginx@${A}`],
      [`nginx:1.27@${A}`, `registry.internal/dockerhub/library/nginx:1.27@${A}`],
      ['registry.k8s.io/a/b/c/d/e:v1', 'registry.internal:5000/k8s/a/b/c/d/e:v1'],
      ['Quay.IO/x/y:1', 'registry.internal/quay/x/y:1'],
      ['[::1]:5001/team/app:2', 'registry.internal/v6/team/app:2'],
      [
        'registry.internal/dockerhub/library/nginx:1.27',
        'registry.internal/dockerhub/library/nginx:1.27',
      ],
      ['ghcr.io/fluxcd/flux-cli:v2.4.0', 'ghcr.io/fluxcd/flux-cli:v2.4.0'],
      ['ghcr.io/OWNER/x', 'ghcr.io/OWNER/x'],
      [`quay.io/${'a'.repeat(250)}`, `registry.internal/quay/${'a'.repeat(250)}:latest`],
      [`quay.io/${'a'.repeat(251)}`, `quay.io/${'a'.repeat(251)}`],
    ];
    const { object } = mutate(
      policy,
      PLACES[0]?.request(cases.map(([i]) => i)) as AdmissionRequest,
    );
    const got = PLACES[0]?.images(object).slice(0, cases.length);
    assert.deepEqual(
      got,
      cases.map(([, out]) => out),
    );
    // And the same as rewriteImage, so the two hand-checked lists agree.
    for (const [input, out] of cases) assert.equal(expected(input), out, input);
  });

  it('a rewritten pod passes the policy again unchanged (no rule applies twice)', () => {
    const first = mutate(policy, PLACES[0]?.request(CORPUS) as AdmissionRequest);
    assert.ok(first.applied.length > 0);
    const again = mutate(policy, {
      kind: 'Pod',
      operation: 'UPDATE',
      object: first.object,
    });
    assert.deepEqual(again.object, first.object);
    assert.deepEqual(again.applied, []);
  });

  it('names the rule per upstream that rewrote an image', () => {
    const { applied } = mutate(
      policy,
      PLACES[0]?.request(['quay.io/x/y:1', 'nginx']) as AdmissionRequest,
    );
    assert.deepEqual(applied, ['cache-docker-io', 'cache-quay-io']);
  });

  it('kubectl debug: an ephemeral container added through the subresource is rewritten', () => {
    const { object } = mutate(policy, {
      kind: 'Pod',
      subresource: 'ephemeralcontainers',
      operation: 'UPDATE',
      object: {
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: {
          containers: [{ name: 'app', image: 'registry.internal/quay/app:1' }],
          ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }],
        },
      },
    });
    assert.equal(
      (object as { spec: { ephemeralContainers: { image: string }[] } }).spec.ephemeralContainers[0]
        ?.image,
      'registry.internal/dockerhub/library/busybox:1.36',
    );
  });

  it('a ReplicaSet a Deployment owns is left to its Deployment', () => {
    const request = PLACES.find((p) => p.name.startsWith('ReplicaSet'))?.request(['nginx']);
    assert.ok(request);
    const owned = structuredClone(request.object) as { metadata: Record<string, unknown> };
    owned.metadata.ownerReferences = [
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'w', uid: 'u', controller: true },
    ];
    const { object, applied } = mutate(policy, { ...request, object: owned as never });
    assert.deepEqual(object, owned);
    assert.deepEqual(applied, []);
  });

  it('DELETE and other kinds are not matched', () => {
    const request = PLACES[0]?.request(['nginx']) as AdmissionRequest;
    assert.deepEqual(mutate(policy, { ...request, operation: 'DELETE' }).applied, []);
    assert.deepEqual(
      mutate(policy, {
        kind: 'ConfigMap',
        operation: 'CREATE',
        object: { data: { image: 'nginx' } },
      }).applied,
      [],
    );
  });
});

describe('kyvernoPolicy: the object', () => {
  it('is a ClusterPolicy with autogen off, admission only, failing closed', () => {
    assert.equal(policy.apiVersion, 'kyverno.io/v1');
    assert.equal(policy.kind, 'ClusterPolicy');
    const metadata = policy.metadata as { name: string; annotations: Record<string, string> };
    assert.equal(metadata.name, 'airlock-image-cache');
    assert.equal(metadata.annotations[AUTOGEN_ANNOTATION], 'none');
    const spec = policy.spec as Record<string, unknown>;
    assert.equal(spec.background, false);
    assert.deepEqual(spec.webhookConfiguration, { failurePolicy: 'Fail' });
  });

  it('has two rules per cache rule, unique names of at most 63 characters', () => {
    const rules = (policy.spec as { rules: { name: string }[] }).rules;
    assert.equal(rules.length, 2 * config.rules.length);
    const names = rules.map((r) => r.name);
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.ok(name.length <= 63 && /^[a-z0-9-]+$/.test(name), name);
    assert.deepEqual(names.slice(0, 2), ['cache-docker-io', 'cache-docker-io-replicasets']);
  });

  it('the YAML text is the object, as a Go YAML reader decodes it', () => {
    assert.match(
      yaml,
      /^# Kyverno ClusterPolicy generated by airlock policy kyverno from cache\.yaml:/,
    );
    assert.deepEqual(toPlain(parseGoYAML(yaml)), JSON.parse(JSON.stringify(policy)));
  });

  it('is the same for the same cache.yaml', () => {
    assert.equal(kyvernoPolicy(config).yaml, yaml);
  });

  it('takes a name, and refuses one that is not a DNS subdomain (INPUT_INVALID, option name)', () => {
    assert.equal(
      (kyvernoPolicy(config, { name: 'pull-through.cache' }).policy.metadata as { name: string })
        .name,
      'pull-through.cache',
    );
    assert.throws(
      () => kyvernoPolicy(config, { name: 'Bad_Name' }),
      (error: unknown) =>
        error instanceof AirlockError &&
        error.code === 'INPUT_INVALID' &&
        error.data.option === 'policyName',
    );
  });
});

describe('the simulation can fail', () => {
  it('a policy whose Docker Hub rule forgets library/ is caught on the corpus', () => {
    const broken = structuredClone(policy) as {
      spec: {
        rules: { mutate: { foreach: { context: { variable: { jmesPath: string } }[] }[] } }[];
      };
    };
    for (const rule of broken.spec.rules)
      for (const entry of rule.mutate.foreach)
        for (const context of entry.context)
          context.variable.jmesPath = context.variable.jmesPath.replace(
            "'docker.io/library/${1}${2}'",
            "'docker.io/${1}${2}'",
          );
    const place = PLACES[0];
    assert.ok(place);
    const got = place.images(mutate(broken, place.request(['nginx'])).object);
    assert.notEqual(got[0], expected('nginx'));
  });

  it('syntax outside the simulated subset is refused, not guessed', () => {
    assert.throws(() => jmespath("regex_match('a\\.b', x)", { x: 'a.b' }), KyvernoSimulationError);
    assert.throws(() => jmespath('items[?kind]', {}), KyvernoSimulationError);
    assert.throws(() => jmespath("base64_decode('eA==')", {}), KyvernoSimulationError);
  });
});
