import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { canonicalJSON, type Digest, MediaType, sha256 } from '../core/index.ts';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { LayoutRepository, REF_NAME } from './index.ts';

function artifact(seed: string): {
  manifest: Buffer;
  blobs: { digest: Digest; size: number; mediaType: string; bytes: Buffer }[];
} {
  const config = Buffer.from(canonicalJSON({ seed }));
  const layer = Buffer.from(`layer of ${seed}`.repeat(100));
  const blobs = [
    { mediaType: MediaType.fluxConfig, digest: sha256(config), size: config.length, bytes: config },
    { mediaType: MediaType.fluxContent, digest: sha256(layer), size: layer.length, bytes: layer },
  ];
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: blobs[0]!.mediaType, digest: blobs[0]!.digest, size: blobs[0]!.size },
      layers: [{ mediaType: blobs[1]!.mediaType, digest: blobs[1]!.digest, size: blobs[1]!.size }],
    }),
  );
  return { manifest, blobs };
}

async function store(layout: LayoutRepository, seed: string, tag?: string): Promise<Digest> {
  const a = artifact(seed);
  for (const b of a.blobs)
    await layout.pushBlob(b, () => Promise.resolve(Readable.from([b.bytes])));
  return (await layout.pushManifest(a.manifest, MediaType.ociManifest, tag)).digest;
}

describe('OCI image layout', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-layout-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the image-layout structure and reads tags back', async () => {
    const layout = new LayoutRepository(join(dir, 'basic'));
    const digest = await store(layout, 'one', 'v1');
    assert.equal(
      await readFile(join(dir, 'basic', 'oci-layout'), 'utf8'),
      '{"imageLayoutVersion":"1.0.0"}',
    );
    const index = JSON.parse(await readFile(join(dir, 'basic', 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    assert.deepEqual(
      index.manifests.map((m) => [m.digest, m.annotations[REF_NAME]]),
      [[digest, 'v1']],
    );
    assert.deepEqual(await layout.listTags(), ['v1']);
    assert.equal((await layout.resolve('v1'))?.digest, digest);
    assert.equal((await layout.fetchManifest('v1')).descriptor.digest, digest);
  });

  it('moves a tag to a new manifest without duplicating it', async () => {
    const layout = new LayoutRepository(join(dir, 'retag'));
    await store(layout, 'a', 'latest');
    const second = await store(layout, 'b', 'latest');
    assert.deepEqual(await layout.listTags(), ['latest']);
    assert.equal((await layout.resolve('latest'))?.digest, second);
  });

  it('reads a missing layout as empty but refuses a directory that is not a layout', async () => {
    assert.deepEqual(await new LayoutRepository(join(dir, 'absent')).listTags(), []);
    const notLayout = join(dir, 'not-a-layout');
    await mkdir(notLayout);
    await writeFile(join(notLayout, 'README'), 'hello');
    await assertRejectsCode(() => new LayoutRepository(notLayout).listTags(), 'LAYOUT_INVALID');
  });

  it('refuses a corrupt index.json and a wrong layout version', async () => {
    const path = join(dir, 'corrupt');
    const layout = new LayoutRepository(path);
    await store(layout, 'c', 'v1');
    await writeFile(
      join(path, 'index.json'),
      '{"schemaVersion":2,"manifests":[{"digest":"nope"}]}',
    );
    await assertRejectsCode(() => new LayoutRepository(path).resolve('v1'), 'LAYOUT_INVALID');
    await writeFile(join(path, 'oci-layout'), '{"imageLayoutVersion":"9.9"}');
    await assertRejectsCode(() => new LayoutRepository(path).listTags(), 'LAYOUT_INVALID');
  });

  it('detects a blob whose bytes changed on disk', async () => {
    const path = join(dir, 'tampered');
    const layout = new LayoutRepository(path);
    const a = artifact('t');
    await store(layout, 't', 'v1');
    const layer = a.blobs[1]!;
    await writeFile(
      join(path, 'blobs', 'sha256', layer.digest.slice(7)),
      Buffer.from(layer.bytes).fill(65, 0, 1),
    );
    const stream = await layout.fetchBlob(layer);
    await assertRejectsCode(async () => {
      for await (const _chunk of stream) {
        // drain
      }
    }, 'DIGEST_MISMATCH');
  });

  it('never leaves a partial blob when the source is wrong', async () => {
    const path = join(dir, 'partial');
    const layout = new LayoutRepository(path);
    const a = artifact('p');
    const layer = a.blobs[1]!;
    await assertRejectsCode(
      () =>
        layout.pushBlob(layer, () => Promise.resolve(Readable.from([Buffer.from('wrong bytes')]))),
      'SIZE_MISMATCH',
    );
    assert.equal(await layout.hasBlob(layer.digest), false);
    assert.deepEqual((await readdir(join(path, 'blobs', 'sha256'))).length, 0);
  });

  it('keeps every tag when many writers update index.json at once', async () => {
    const path = join(dir, 'concurrent');
    const writers = Array.from({ length: 4 }, () => new LayoutRepository(path));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => store(writers[i % 4]!, `seed-${i}`, `t${i}`)),
    );
    const tags = await new LayoutRepository(path).listTags();
    assert.equal(tags.length, 40);
  });

  it('collects garbage: unreferenced blobs go, referenced ones stay', async () => {
    const path = join(dir, 'gc');
    const layout = new LayoutRepository(path);
    const kept = await store(layout, 'keep', 'keep');
    const dropped = await store(layout, 'drop', 'drop');
    await layout.deleteManifest(dropped);
    const result = await layout.garbageCollect();
    assert.equal(result.removed.length, 3, 'manifest, config and layer of the dropped artifact');
    assert.ok(result.removed.includes(dropped));
    const again = await layout.fetchManifest('keep');
    assert.equal(again.descriptor.digest, kept);
    for (const blob of artifact('keep').blobs)
      assert.equal(await layout.hasBlob(blob.digest), true);
  });
});
