// The rewrite corpus (issue 12 §3, Acceptance): tricky references through rewriteImage with an
// example cache.yaml, each expectation worked out by hand from the rules; and the bad input
// (two registries on one path, a duplicate upstream, malformed YAML) as clear errors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../errors.ts';
import { ImageReferenceError, normalizeImage, parseCacheConfig, rewriteImage } from './index.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha512:${'b'.repeat(128)}`;

const CACHE_YAML = `# cache.yaml
rules:
  - {upstream: docker.io, to: registry.internal/dockerhub}
  - {upstream: quay.io, to: registry.internal/quay}
  - upstream: registry.k8s.io
    to: registry.internal:5000/k8s
  - {upstream: localhost:5000, to: cache.internal}
`;
const config = parseCacheConfig(CACHE_YAML, 'cache.yaml');

/** [input, normalized, rewritten (undefined: left as it is), outcome]. */
const CORPUS: readonly [string, string, string | undefined, string][] = [
  // Docker Hub in every spelling lands on one cache path, library/ kept.
  [
    'nginx',
    'docker.io/library/nginx:latest',
    'registry.internal/dockerhub/library/nginx:latest',
    'rewritten',
  ],
  [
    'docker.io/nginx',
    'docker.io/library/nginx:latest',
    'registry.internal/dockerhub/library/nginx:latest',
    'rewritten',
  ],
  [
    'index.docker.io/library/nginx',
    'docker.io/library/nginx:latest',
    'registry.internal/dockerhub/library/nginx:latest',
    'rewritten',
  ],
  [
    'library/nginx',
    'docker.io/library/nginx:latest',
    'registry.internal/dockerhub/library/nginx:latest',
    'rewritten',
  ],
  [
    'bitnami/redis:7.2',
    'docker.io/bitnami/redis:7.2',
    'registry.internal/dockerhub/bitnami/redis:7.2',
    'rewritten',
  ],
  // registry-1.docker.io is Docker Hub for the rule, and keeps the path it asks for.
  [
    'registry-1.docker.io/library/nginx:1.27',
    'registry-1.docker.io/library/nginx:1.27',
    'registry.internal/dockerhub/library/nginx:1.27',
    'rewritten',
  ],
  // Long paths: a dotless first component is a Docker Hub namespace.
  [
    'a/b/c/d/e',
    'docker.io/a/b/c/d/e:latest',
    'registry.internal/dockerhub/a/b/c/d/e:latest',
    'rewritten',
  ],
  [
    'registry.k8s.io/a/b/c/d/e:v1',
    'registry.k8s.io/a/b/c/d/e:v1',
    'registry.internal:5000/k8s/a/b/c/d/e:v1',
    'rewritten',
  ],
  // Digests alone get no tag; tag and digest are both kept.
  [
    `quay.io/prometheus/prometheus@${A}`,
    `quay.io/prometheus/prometheus@${A}`,
    `registry.internal/quay/prometheus/prometheus@${A}`,
    'rewritten',
  ],
  [
    `nginx@${A}`,
    `docker.io/library/nginx@${A}`,
    `registry.internal/dockerhub/library/nginx@${A}`,
    'rewritten',
  ],
  [
    `nginx:1.27@${A}`,
    `docker.io/library/nginx:1.27@${A}`,
    `registry.internal/dockerhub/library/nginx:1.27@${A}`,
    'rewritten',
  ],
  // Ports: a rule for a host with a port, onto a bare host.
  ['localhost:5000/x', 'localhost:5000/x:latest', 'cache.internal/x:latest', 'rewritten'],
  // localhost without a port is another registry: no rule.
  ['localhost/x', 'localhost/x:latest', undefined, 'no-rule'],
  [
    'registry.internal:5000/team/app:1.0',
    'registry.internal:5000/team/app:1.0',
    undefined,
    'no-rule',
  ],
  ['ghcr.io/fluxcd/flux-cli:v2.4.0', 'ghcr.io/fluxcd/flux-cli:v2.4.0', undefined, 'no-rule'],
  // Already under a rule's "to": left alone, whatever its path.
  [
    'registry.internal/dockerhub/library/nginx:1.27',
    'registry.internal/dockerhub/library/nginx:1.27',
    undefined,
    'private',
  ],
  [
    'registry.internal:5000/k8s/pause:3.10',
    'registry.internal:5000/k8s/pause:3.10',
    undefined,
    'private',
  ],
  ['cache.internal/anything/at/all', 'cache.internal/anything/at/all:latest', undefined, 'private'],
  // registry.internal/dockerhubx is not under registry.internal/dockerhub.
  [
    'registry.internal/dockerhubx/app',
    'registry.internal/dockerhubx/app:latest',
    undefined,
    'no-rule',
  ],
  // The legacy index is docker.io, so a one-component path gets library/ there too.
  [
    'index.docker.io/nginx',
    'docker.io/library/nginx:latest',
    'registry.internal/dockerhub/library/nginx:latest',
    'rewritten',
  ],
  // registry-1.docker.io and an upper-case Docker.IO are Docker Hub for the rule but not
  // docker.io as written: distribution adds no library/, so the cache is asked for what the
  // runtime would ask.
  [
    'registry-1.docker.io/nginx',
    'registry-1.docker.io/nginx:latest',
    'registry.internal/dockerhub/nginx:latest',
    'rewritten',
  ],
  [
    'Docker.IO/nginx',
    'Docker.IO/nginx:latest',
    'registry.internal/dockerhub/nginx:latest',
    'rewritten',
  ],
  // A name without "/" has no registry: localhost:5000 is the image localhost with tag 5000, and
  // quay.io is an image called quay.io on Docker Hub.
  [
    'localhost:5000',
    'docker.io/library/localhost:5000',
    'registry.internal/dockerhub/library/localhost:5000',
    'rewritten',
  ],
  [
    'quay.io',
    'docker.io/library/quay.io:latest',
    'registry.internal/dockerhub/library/quay.io:latest',
    'rewritten',
  ],
  // A port, a tag and a digest together; sha512 digests; "_" in a Docker Hub namespace.
  [`localhost:5000/x:1@${A}`, `localhost:5000/x:1@${A}`, `cache.internal/x:1@${A}`, 'rewritten'],
  [`quay.io/x/y@${B}`, `quay.io/x/y@${B}`, `registry.internal/quay/x/y@${B}`, 'rewritten'],
  ['a_b/c', 'docker.io/a_b/c:latest', 'registry.internal/dockerhub/a_b/c:latest', 'rewritten'],
];

describe('rewriteImage: the corpus', () => {
  for (const [input, normalized, rewritten, outcome] of CORPUS) {
    it(`${input.length > 60 ? `${input.slice(0, 40)}…` : input} → ${rewritten ?? outcome}`, () => {
      const result = rewriteImage(input, config);
      assert.equal(result.image.normalized, normalized);
      assert.equal(result.rewritten, rewritten);
      assert.equal(result.outcome, outcome);
      if (outcome === 'no-rule') assert.equal(result.rule, undefined);
      else assert.ok(result.rule);
    });
  }
  it('a rewritten image is left alone when rewritten again', () => {
    for (const [input] of CORPUS) {
      const { rewritten } = rewriteImage(input, config);
      if (rewritten !== undefined)
        assert.equal(rewriteImage(rewritten, config).outcome, 'private', rewritten);
    }
  });
  it('names the rule that applied, with where it is written', () => {
    const { rule } = rewriteImage('quay.io/x/y:1', config);
    assert.deepEqual(rule, {
      upstream: 'quay.io',
      to: 'registry.internal/quay',
      where: 'cache.yaml:4:5',
      mode: 'cache',
    });
    assert.equal(rewriteImage('registry.k8s.io/pause', config).rule?.where, 'cache.yaml:5:5');
  });
  it('matches upstream hosts case-insensitively', () => {
    assert.equal(rewriteImage('Quay.IO/x/y:1', config).rewritten, 'registry.internal/quay/x/y:1');
  });
  for (const [input, problem] of [
    ['ghcr.io/OWNER/x', 'uppercase'],
    ['nginx:', 'bad-tag'],
  ] as const) {
    it(`${input}: REF_INVALID naming where it was read`, () => {
      assert.throws(
        () => rewriteImage(input, config, 'values.yaml:3:10 image'),
        (error: unknown) =>
          error instanceof ImageReferenceError &&
          error.code === 'REF_INVALID' &&
          error.problem === problem &&
          error.message.startsWith(`values.yaml:3:10 image: invalid image reference "${input}"`),
      );
    });
  }
  it('a rewritten name over 255 path characters is REF_INVALID naming the rule', () => {
    const long = `quay.io/${'a'.repeat(252)}`;
    assert.equal(normalizeImage(long).repository.length, 252);
    assert.throws(
      () => rewriteImage(long, config, 'pod.yaml:9:14 spec.containers[0].image'),
      (error: unknown) =>
        error instanceof ImageReferenceError &&
        error.problem === 'name-too-long' &&
        error.message.startsWith('pod.yaml:9:14 spec.containers[0].image: ') &&
        error.message.includes('the rule at cache.yaml:4:5 rewrites it to registry.internal/quay/'),
    );
  });
});

/** The CONFIG_INVALID parseCacheConfig throws for `text`, with its one problem as the message. */
function refused(text: string): AirlockError {
  try {
    parseCacheConfig(text, 'cache.yaml');
  } catch (error) {
    assert.ok(error instanceof AirlockError);
    assert.equal(error.code, 'CONFIG_INVALID');
    return error;
  }
  assert.fail(`accepted:\n${text}`);
}

describe('bad cache.yaml', () => {
  it('a rule that maps two registries to one path names the second rule by file:line:col', () => {
    const error = refused(
      'rules:\n  - {upstream: docker.io, to: registry.internal/cache}\n  - {upstream: quay.io, to: registry.internal/cache}\n',
    );
    assert.equal(
      error.message,
      'cache.yaml:3:29: rules[1].to: registry.internal/cache is already where rules[0] (line 2) caches docker.io: two upstream registries cannot share one path',
    );
    assert.equal(error.data.file, 'cache.yaml');
  });
  it('one path inside the other is two registries on one path too', () => {
    const error = refused(
      'rules:\n  - {upstream: docker.io, to: registry.internal}\n  - {upstream: quay.io, to: registry.internal/quay}\n',
    );
    assert.match(
      error.message,
      /^cache\.yaml:3:29: rules\[1\]\.to: registry\.internal\/quay is inside registry\.internal, /,
    );
  });
  it('two paths differing only in the host case are one path', () => {
    const error = refused(
      'rules:\n  - {upstream: docker.io, to: Registry.Internal/cache}\n  - {upstream: quay.io, to: registry.internal/cache}\n',
    );
    assert.match(error.message, /^cache\.yaml:3:29: rules\[1\]\.to: /);
  });
  it('a duplicate upstream, also through a Docker Hub alias', () => {
    assert.equal(
      refused(
        'rules:\n  - upstream: docker.io\n    to: registry.internal/a\n  - upstream: quay.io\n    to: registry.internal/q\n  - upstream: index.docker.io\n    to: registry.internal/b\n',
      ).message,
      'cache.yaml:6:15: rules[2].upstream: docker.io is already the upstream of rules[0] (line 2): one rule per upstream registry',
    );
    assert.match(
      refused(
        'rules:\n  - {upstream: registry-1.docker.io, to: r.internal/a}\n  - {upstream: docker.io, to: r.internal/b}\n',
      ).message,
      /^cache\.yaml:3:16: rules\[1\]\.upstream: docker\.io is already the upstream of rules\[0\]/,
    );
  });
  it('malformed YAML names the line', () => {
    assert.match(
      refused('rules:\n  - {upstream: docker.io, to: registry.internal/x\n').message,
      /^cache\.yaml:3:1: Flow map/,
    );
    assert.match(
      refused('rules:\n  - upstream: docker.io\n    upstream: quay.io\n    to: r.internal/x\n')
        .message,
      /^cache\.yaml:3:5: Map keys must be unique/,
    );
    assert.match(refused('rules: [\n').message, /^cache\.yaml:2:1: /);
  });
});
