import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../errors.ts';
import { parseBundleManifest } from './manifest.ts';

// The bundle manifest is read on the isolated side: what it names becomes registry paths, so a
// repository or tag outside the grammar is refused before anything uses it.

const manifest = (
  artifact: Record<string, unknown>,
  fromBase: Record<string, unknown>[] = [],
): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 1,
      mediaType: 'application/vnd.airlock.bundle.manifest.v1+json',
      tool: { name: 'airlock', version: 'test' },
      created: '2026-12-02T00:00:00Z',
      artifacts: [
        {
          repository: 'charts/podinfo',
          tag: '6.5.0',
          source: 'registry.example/charts/podinfo:6.5.0',
          digest: `sha256:${'a'.repeat(64)}`,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...artifact,
        },
      ],
      entries: [],
      contents: [],
      fromBase,
    }),
  );

const refused = (bytes: Buffer): boolean => {
  try {
    parseBundleManifest(bytes, 'test');
    return false;
  } catch (error) {
    return error instanceof AirlockError && error.code === 'BUNDLE_INVALID';
  }
};

describe('parseBundleManifest', () => {
  it('reads a well-formed manifest', () => {
    assert.equal(
      parseBundleManifest(manifest({}), 'test').artifacts[0]?.repository,
      'charts/podinfo',
    );
  });
  it('refuses repositories and tags outside the grammar', () => {
    for (const repository of ['../etc', 'charts/../x', '/abs', 'Charts', 'a//b', ''])
      assert.ok(refused(manifest({ repository })), repository);
    for (const tag of ['../x', 'a b', '-x', '']) assert.ok(refused(manifest({ tag })), tag);
    assert.ok(refused(manifest({ digest: 'sha256:zz' })));
  });
  it('reads the base repository a delta mounts a blob from, and refuses one outside the grammar', () => {
    const blob = { digest: `sha256:${'b'.repeat(64)}`, size: 3, repository: 'images/new' };
    assert.equal(
      parseBundleManifest(manifest({}, [{ ...blob, kind: 'blob', from: 'images/old' }]), 'test')
        .fromBase[0]?.from,
      'images/old',
    );
    for (const from of ['../etc', 'Images', '', 7])
      assert.ok(refused(manifest({}, [{ ...blob, kind: 'blob', from }])), String(from));
    // Manifests are not mounted: only a blob names a base repository of its own.
    assert.ok(refused(manifest({}, [{ ...blob, kind: 'manifest', from: 'images/old' }])));
  });
});
