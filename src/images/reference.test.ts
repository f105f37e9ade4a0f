// normalizeImage against a hand-checked corpus: each expectation was worked out from
// distribution/reference's ParseNormalizedNamed (normalize.go: splitDockerDomain) and the
// grammar in reference.go/regexp.go, then TagNameOnly's ":latest", not from this code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '../core/index.ts';
import { type ImageReference, ImageReferenceError, normalizeImage } from './index.ts';

const A: Digest = `sha256:${'a'.repeat(64)}`;
const B: Digest = `sha512:${'b'.repeat(128)}`;

type Expected = Omit<ImageReference, 'normalized'>;
/** [input, normalized, fields]: the fields are checked exactly (absent tag or digest included). */
const VALID: readonly [string, string, Expected][] = [
  // No registry: Docker Hub, official images under library/, ":latest" added.
  [
    'nginx',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  [
    'nginx:1.27',
    'docker.io/library/nginx:1.27',
    { registry: 'docker.io', repository: 'library/nginx', tag: '1.27' },
  ],
  [
    'library/nginx',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  [
    'bitnami/redis:7.2',
    'docker.io/bitnami/redis:7.2',
    { registry: 'docker.io', repository: 'bitnami/redis', tag: '7.2' },
  ],
  // docker.io written out, and the legacy index name.
  [
    'docker.io/nginx',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  [
    'docker.io/library/nginx:latest',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  [
    'index.docker.io/library/nginx',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  [
    'index.docker.io/nginx',
    'docker.io/library/nginx:latest',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'latest' },
  ],
  // registry-1.docker.io is no alias to distribution: a host like any other, no library/.
  [
    'registry-1.docker.io/nginx',
    'registry-1.docker.io/nginx:latest',
    { registry: 'registry-1.docker.io', repository: 'nginx', tag: 'latest' },
  ],
  // Hosts: ".", ":" or localhost make the first component a registry; ports are kept.
  [
    'localhost:5000/x',
    'localhost:5000/x:latest',
    { registry: 'localhost:5000', repository: 'x', tag: 'latest' },
  ],
  ['localhost/x', 'localhost/x:latest', { registry: 'localhost', repository: 'x', tag: 'latest' }],
  [
    'registry.internal:5000/team/app:1.0',
    'registry.internal:5000/team/app:1.0',
    { registry: 'registry.internal:5000', repository: 'team/app', tag: '1.0' },
  ],
  [
    '127.0.0.1:5000/x',
    '127.0.0.1:5000/x:latest',
    { registry: '127.0.0.1:5000', repository: 'x', tag: 'latest' },
  ],
  ['[::1]:5000/x:v1', '[::1]:5000/x:v1', { registry: '[::1]:5000', repository: 'x', tag: 'v1' }],
  [
    'ghcr.io/fluxcd/source-controller:v1.4.1',
    'ghcr.io/fluxcd/source-controller:v1.4.1',
    { registry: 'ghcr.io', repository: 'fluxcd/source-controller', tag: 'v1.4.1' },
  ],
  // A dotless first component is a Docker Hub namespace, however long the path.
  [
    'a/b/c/d/e',
    'docker.io/a/b/c/d/e:latest',
    { registry: 'docker.io', repository: 'a/b/c/d/e', tag: 'latest' },
  ],
  [
    'registry.k8s.io/a/b/c/d/e:1',
    'registry.k8s.io/a/b/c/d/e:1',
    { registry: 'registry.k8s.io', repository: 'a/b/c/d/e', tag: '1' },
  ],
  // localhost without "/" is an image name on Docker Hub; ":5000" is then its tag.
  [
    'localhost:5000',
    'docker.io/library/localhost:5000',
    { registry: 'docker.io', repository: 'library/localhost', tag: '5000' },
  ],
  // An upper-case first component is a registry (namespaces cannot be upper case).
  ['Foo/bar', 'Foo/bar:latest', { registry: 'Foo', repository: 'bar', tag: 'latest' }],
  // Digests: alone (no ":latest"), with a tag (both kept), sha512.
  [
    `nginx@${A}`,
    `docker.io/library/nginx@${A}`,
    { registry: 'docker.io', repository: 'library/nginx', digest: A },
  ],
  [
    `quay.io/prometheus/prometheus@${A}`,
    `quay.io/prometheus/prometheus@${A}`,
    { registry: 'quay.io', repository: 'prometheus/prometheus', digest: A },
  ],
  [
    `nginx:1.27@${A}`,
    `docker.io/library/nginx:1.27@${A}`,
    { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: A },
  ],
  [
    `localhost:5000/x:v1@${B}`,
    `localhost:5000/x:v1@${B}`,
    { registry: 'localhost:5000', repository: 'x', tag: 'v1', digest: B },
  ],
  // Tags may hold upper case, "_", "." and "-"; components "__", "-" runs and ".".
  [
    'nginx:Latest_1.0-rc.1',
    'docker.io/library/nginx:Latest_1.0-rc.1',
    { registry: 'docker.io', repository: 'library/nginx', tag: 'Latest_1.0-rc.1' },
  ],
  [
    'quay.io/a__b/c---d/e.f_g:x',
    'quay.io/a__b/c---d/e.f_g:x',
    { registry: 'quay.io', repository: 'a__b/c---d/e.f_g', tag: 'x' },
  ],
  // 255 path characters (without the domain) is the limit, not more.
  [
    `quay.io/${'a'.repeat(255)}`,
    `quay.io/${'a'.repeat(255)}:latest`,
    { registry: 'quay.io', repository: 'a'.repeat(255), tag: 'latest' },
  ],
  [
    `nginx:${'t'.repeat(128)}`,
    `docker.io/library/nginx:${'t'.repeat(128)}`,
    { registry: 'docker.io', repository: 'library/nginx', tag: 't'.repeat(128) },
  ],
];

/** [input, problem]: each invalid for the reason named. */
const INVALID: readonly [string, string][] = [
  ['', 'empty'],
  ['ghcr.io/OWNER/x', 'uppercase'],
  ['Nginx', 'uppercase'],
  ['docker.io/Library/nginx', 'uppercase'],
  ['nginx:', 'bad-tag'],
  ['nginx:.1', 'bad-tag'],
  ['nginx:-1', 'bad-tag'],
  [`nginx:${'t'.repeat(129)}`, 'bad-tag'],
  ['nginx:1:2', 'bad-tag'],
  ['nginx@', 'bad-digest'],
  ['nginx@sha256:abc', 'bad-digest'],
  [`nginx@sha256:${'A'.repeat(64)}`, 'bad-digest'],
  [`nginx@sha256:${'a'.repeat(63)}`, 'bad-digest'],
  [`nginx@sha384:${'a'.repeat(96)}`, 'bad-digest'],
  [`nginx@${A}@${A}`, 'bad-digest'],
  [`@${A}`, 'bad-repository'],
  ['a'.repeat(64), 'identifier'],
  ['docker.io//nginx', 'bad-repository'],
  ['docker.io/nginx/', 'bad-repository'],
  ['/nginx', 'bad-repository'],
  ['-nginx', 'bad-repository'],
  ['ngi nx', 'bad-repository'],
  [' nginx', 'bad-repository'],
  ['a_b.com/x', 'bad-host'],
  ['-reg.io/x', 'bad-host'],
  ['localhost:/x', 'bad-host'],
  ['reg.io:http/x', 'bad-host'],
  ['nginx:1.0/x', 'bad-host'],
  ['https://quay.io/x', 'bad-host'],
  [`quay.io/${'a'.repeat(256)}`, 'name-too-long'],
];

describe('normalizeImage: the corpus', () => {
  for (const [input, normalized, fields] of VALID) {
    it(`${input.length > 60 ? `${input.slice(0, 40)}…` : input} → ${normalized.length > 60 ? `${normalized.slice(0, 40)}…` : normalized}`, () => {
      assert.deepEqual(normalizeImage(input), { ...fields, normalized });
    });
  }
  it('normalising the normalised form changes nothing', () => {
    for (const [, normalized] of VALID)
      assert.equal(normalizeImage(normalized).normalized, normalized);
  });
  for (const [input, problem] of INVALID) {
    it(`refuses ${JSON.stringify(input.length > 60 ? `${input.slice(0, 40)}…` : input)} (${problem})`, () => {
      assert.throws(
        () => normalizeImage(input),
        (error: unknown) =>
          error instanceof ImageReferenceError &&
          error.code === 'REF_INVALID' &&
          error.problem === problem &&
          error.input === input,
      );
    });
  }
});

describe('normalizeImage: messages', () => {
  it('names where the reference was read, the reference and the reason', () => {
    assert.throws(
      () => normalizeImage('ghcr.io/OWNER/x', 'charts/app/values.yaml:12:10 image.repository'),
      (error: unknown) => {
        assert.ok(error instanceof ImageReferenceError);
        assert.equal(
          error.message,
          'charts/app/values.yaml:12:10 image.repository: invalid image reference "ghcr.io/OWNER/x": repository name "OWNER/x" must be lowercase',
        );
        assert.equal(error.data.where, 'charts/app/values.yaml:12:10 image.repository');
        return true;
      },
    );
  });
  it('says which part is wrong', () => {
    const message = (input: string): string => {
      try {
        normalizeImage(input);
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    assert.match(message('nginx:'), /the tag is empty$/);
    assert.match(message(`nginx@sha256:${'A'.repeat(64)}`), /lowercase hex$/);
    assert.match(message(`nginx@sha384:${'a'.repeat(96)}`), /"sha384" is not supported/);
    assert.match(message(`quay.io/${'a'.repeat(256)}`), /256 characters, longer than 255$/);
    assert.match(message('a_b.com/x'), /"a_b\.com" is not a valid registry host$/);
  });
  it('escapes control characters in the reference', () => {
    assert.throws(
      () => normalizeImage('nginx\n:1'),
      (error: Error) => {
        assert.ok(!error.message.includes('\n'));
        assert.match(error.message, /nginx\\n/);
        return true;
      },
    );
  });
});
