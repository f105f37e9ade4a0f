import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReference, parseReference, ReferenceError } from './index.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  const valid: [string, string, Record<string, unknown>][] = [
    ['nginx', 'docker.io/library/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    ['nginx:1.27', 'docker.io/library/nginx:1.27', { tag: '1.27' }],
    ['bitnami/redis', 'docker.io/bitnami/redis', { repository: 'bitnami/redis' }],
    ['index.docker.io/library/alpine:3', 'docker.io/library/alpine:3', { registry: 'docker.io' }],
    [
      'ghcr.io/stefanprodan/charts/podinfo:6.5.0',
      'ghcr.io/stefanprodan/charts/podinfo:6.5.0',
      { registry: 'ghcr.io', repository: 'stefanprodan/charts/podinfo' },
    ],
    [
      'oci://ghcr.io/stefanprodan/charts/podinfo',
      'ghcr.io/stefanprodan/charts/podinfo',
      { tag: undefined },
    ],
    ['localhost:5000/a/b:v1', 'localhost:5000/a/b:v1', { registry: 'localhost:5000' }],
    ['localhost/a', 'localhost/a', { registry: 'localhost' }],
    ['127.0.0.1:5000/x@' + D, '127.0.0.1:5000/x@' + D, { digest: D, tag: undefined }],
    [
      'reg.example.com/a/b:1.0.0@' + D,
      'reg.example.com/a/b:1.0.0@' + D,
      { tag: '1.0.0', digest: D },
    ],
    ['[::1]:5000/repo:tag', '[::1]:5000/repo:tag', { registry: '[::1]:5000' }],
    [
      'reg.example.com/a__b/c-d/e.f:1.2.3_build.1',
      'reg.example.com/a__b/c-d/e.f:1.2.3_build.1',
      { tag: '1.2.3_build.1' },
    ],
    ['oci-layout:./store', 'oci-layout:./store', { kind: 'layout', path: './store' }],
    [
      'oci-layout:/tmp/out:1.0.0',
      'oci-layout:/tmp/out:1.0.0',
      { kind: 'layout', path: '/tmp/out', tag: '1.0.0' },
    ],
    [
      'oci-layout:store@' + D,
      'oci-layout:store@' + D,
      { kind: 'layout', path: 'store', digest: D },
    ],
  ];
  for (const [input, formatted, fields] of valid) {
    it(`parses ${input}`, () => {
      const ref = parseReference(input);
      assert.equal(formatReference(ref), formatted);
      for (const [key, value] of Object.entries(fields))
        assert.equal((ref as unknown as Record<string, unknown>)[key], value, key);
    });
  }

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['   ', 'empty'],
    ['https://reg.example.com/a', 'bad-scheme'],
    ['reg.example.com/A/b', 'uppercase'],
    ['reg.example.com/a//b', 'bad-repository'],
    ['reg.example.com/-a', 'bad-repository'],
    ['reg.example.com/a:', 'bad-tag'],
    ['reg.example.com/a:.bad', 'bad-tag'],
    [`reg.example.com/a:${'x'.repeat(129)}`, 'bad-tag'],
    ['reg.example.com/a@sha256:abc', 'bad-digest'],
    ['reg.example.com:99999/a', 'bad-port'],
    ['bad_host.example.com/a', 'bad-host'],
    [`reg.example.com/${'a'.repeat(250)}`, 'name-too-long'],
    ['oci-layout:', 'missing-path'],
    ['oci-layout::tag', 'missing-path'],
  ];
  for (const [input, problem] of invalid) {
    it(`rejects ${JSON.stringify(input)} as ${problem}`, () => {
      assert.throws(
        () => parseReference(input),
        (error: unknown) =>
          error instanceof ReferenceError &&
          error.code === 'REF_INVALID' &&
          error.problem === problem,
      );
    });
  }

  it('enforces repository-only and tag-required options', () => {
    assert.throws(() => parseReference('r.io/a:1', { repositoryOnly: true }), ReferenceError);
    assert.throws(() => parseReference('r.io/a', { requireTagOrDigest: true }), ReferenceError);
    assert.equal(parseReference('r.io/a', { repositoryOnly: true }).kind, 'registry');
  });
});
