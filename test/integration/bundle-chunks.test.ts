import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cp,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  canonicalJSON,
  MediaType,
  paxRecord,
  sha256,
  TAR_TRAILER,
  tarHeader,
  tarPadding,
} from '../../src/core/index.ts';
import { LayoutRepository } from '../../src/oci/index.ts';
import {
  generateKeyPair,
  resolveSigner,
  resolveVerifyPolicy,
  signLegacy,
  type Signer,
  type VerifyPolicy,
} from '../../src/sign/index.ts';
import {
  CHUNKS_MEDIA_TYPE,
  CHUNKS_TAG,
  packBundle,
  type PackResult,
  parseSize,
  readChunkList,
  unpackBundle,
  type UnpackEvent,
} from '../../src/bundle/index.ts';
import { tempDir } from '../harness/tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';

// Chunked pack/unpack of a bundle directory (issue 11 §3), on a synthetic OCI layout: round trip,
// chunk sizes, a missing chunk and the resume after it arrives, a corrupt chunk, a chunk list
// re-signed with another key, unsafe tar entries, and a kill -9 in the middle of an unpack.

const PASSWORD = 'chunks-test';
const CHUNK = 64 * 1024;
// Sizes around the tar block size and across several chunks.
const BLOB_SIZES = [0, 1, 511, 512, 513, 4096, 70_000, 200_000, 1_000_000, 2_500_000];

async function makeBundle(dir: string): Promise<void> {
  const repository = new LayoutRepository(dir);
  const layers = [];
  for (const size of BLOB_SIZES) {
    const bytes = randomBytes(size);
    const descriptor = {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: sha256(bytes),
      size,
    };
    await repository.pushBlob(descriptor, () => Promise.resolve(Readable.from([bytes])));
    layers.push(descriptor);
  }
  const config = Buffer.from('{}');
  const configDescriptor = { mediaType: MediaType.ociEmpty, digest: sha256(config), size: 2 };
  await repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
  const manifest = Buffer.from(
    canonicalJSON({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: configDescriptor,
      layers,
    }),
  );
  await repository.pushManifest(manifest, MediaType.ociManifest, 'synthetic:1.0.0');
}

/** Every regular file under `dir` (relative path → content digest), airlock's own files included. */
async function tree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(path.slice(dir.length + 1), sha256(await readFile(path)));
  }
  return files;
}

/** Every file visible under its real name must be byte-identical to the source's: nothing partial. */
function assertPartialTree(
  partial: Map<string, string>,
  source: Map<string, string>,
  what: string,
): void {
  for (const [name, digest] of partial) {
    // The journal, and a file cut off by a kill under its temporary name, are airlock's own.
    if ((name.split('/').pop() ?? '').startsWith('.airlock-')) continue;
    assert.equal(digest, source.get(name), `${what}: ${name} is not the source's`);
  }
}

async function inodes(dir: string, names: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of names) {
    if (name.startsWith('.airlock-')) continue;
    const info = await stat(join(dir, name));
    out.set(name, `${info.ino}:${info.mtimeMs}`);
  }
  return out;
}

/** A packed directory holding an arbitrary tar (for hostile entries), its chunk list signed. */
async function packRaw(tar: Buffer, dir: string, signer: Signer): Promise<void> {
  await mkdir(dir, { recursive: true });
  const chunks = [];
  for (let i = 0, at = 0; at < tar.length; i++, at += CHUNK) {
    const part = tar.subarray(at, at + CHUNK);
    const name = `bundle.${String(i).padStart(6, '0')}`;
    await writeFile(join(dir, name), part);
    chunks.push({ name, size: part.length, digest: sha256(part) });
  }
  const document = Buffer.from(
    JSON.stringify({
      schemaVersion: 1,
      mediaType: CHUNKS_MEDIA_TYPE,
      chunkSize: CHUNK,
      totalSize: tar.length,
      chunks,
      bundle: {},
    }),
  );
  const repository = new LayoutRepository(join(dir, 'chunks.oci'));
  const config = Buffer.from('{}');
  const configDescriptor = { mediaType: MediaType.ociEmpty, digest: sha256(config), size: 2 };
  const layer = { mediaType: CHUNKS_MEDIA_TYPE, digest: sha256(document), size: document.length };
  await repository.pushBlob(configDescriptor, () => Promise.resolve(Readable.from([config])));
  await repository.pushBlob(layer, () => Promise.resolve(Readable.from([document])));
  const pushed = await repository.pushManifest(
    Buffer.from(
      canonicalJSON({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDescriptor,
        layers: [layer],
      }),
    ),
    MediaType.ociManifest,
    CHUNKS_TAG,
  );
  await signLegacy(repository, pushed.digest, signer);
}

/** A header with another type flag (symlinks, devices), its checksum recomputed. */
function typedHeader(name: string, typeflag: string, size = 0): Buffer {
  const block = tarHeader({ name, type: 'file', mode: 0o644, size });
  block[156] = typeflag.charCodeAt(0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

function fileEntry(name: string, content: Buffer): Buffer {
  return Buffer.concat([
    tarHeader({ name, type: 'file', mode: 0o644, size: content.length }),
    content,
    tarPadding(content.length),
  ]);
}

describe('bundle pack and unpack in chunks', () => {
  let work: { path: string; remove: () => Promise<void> };
  let bundle: string;
  let packed: string;
  let source: Map<string, string>;
  let signer: Signer;
  let otherSigner: Signer;
  let policy: VerifyPolicy;
  let pack: PackResult;
  const packEvents: number[] = [];

  before(async () => {
    work = await tempDir('airlock-chunks-');
    bundle = join(work.path, 'bundle');
    packed = join(work.path, 'packed');
    await makeBundle(bundle);
    source = await tree(bundle);
    const key = generateKeyPair(PASSWORD);
    const other = generateKeyPair(PASSWORD);
    signer = resolveSigner({ key: { pem: key.privateKeyPEM, password: PASSWORD } });
    otherSigner = resolveSigner({ key: { pem: other.privateKeyPEM, password: PASSWORD } });
    policy = resolveVerifyPolicy({
      keys: [{ name: 'b.pub', pem: key.publicKeyPEM }],
      ignoreTlog: true,
    });
    pack = await packBundle({
      dir: bundle,
      outDir: packed,
      chunkSize: CHUNK,
      signer,
      onEvent: (e) => packEvents.push(e.index),
    });
  });
  after(async () => {
    await work.remove();
  });

  it('parses sizes and refuses bad chunk sizes', async () => {
    assert.equal(parseSize('4GiB'), 4 * 1024 ** 3);
    assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
    assert.equal(parseSize('100MB'), 100_000_000);
    assert.equal(parseSize('1048576'), 1048576);
    assert.equal(parseSize('1.5kib'), 1536);
    for (const bad of ['', 'GiB', '-1', '1.5', '4 parsecs', '1e6'])
      assert.equal(
        (
          await assertRejectsCode(
            () => Promise.resolve().then(() => parseSize(bad)),
            'INPUT_INVALID',
          )
        ).data.option,
        'chunkSize',
      );
    for (const chunkSize of [0, 100, 511, 1024.5, Number.NaN]) {
      const error = await assertRejectsCode(
        () => packBundle({ dir: bundle, outDir: join(work.path, 'bad'), chunkSize, signer }),
        'INPUT_INVALID',
      );
      assert.equal(error.data.option, 'chunkSize');
    }
    const error = await assertRejectsCode(
      () => packBundle({ dir: bundle, outDir: bundle, chunkSize: CHUNK, signer }),
      'INPUT_INVALID',
    );
    assert.equal(error.data.option, 'outDir');
  });

  it('writes fixed-size chunks and a signed chunk list', async () => {
    const files = BLOB_SIZES.length + 1 + 2; // blobs, the config, the manifest
    // oci-layout, index.json, the blobs: header + data + padding each; 2 directories; the trailer.
    let expected = 2 * 512 + TAR_TRAILER.length;
    for (const name of source.keys()) {
      const size = (await stat(join(bundle, name))).size;
      expected += 512 + size + ((512 - (size % 512)) % 512);
    }
    assert.equal(pack.files, source.size);
    assert.ok(pack.files >= files);
    assert.equal(pack.totalSize, expected);
    const count = Math.ceil(expected / CHUNK);
    assert.equal(pack.chunks.length, count);
    assert.deepEqual(
      packEvents,
      pack.chunks.map((_, i) => i),
    );
    const names = (await readdir(packed)).sort();
    assert.deepEqual(names, [...pack.chunks.map((c) => c.name), 'chunks.json', 'chunks.oci']);
    for (const [i, chunk] of pack.chunks.entries()) {
      const bytes = await readFile(join(packed, chunk.name));
      assert.equal(chunk.name, `bundle.${String(i).padStart(6, '0')}`);
      assert.equal(bytes.length, i < count - 1 ? CHUNK : expected - CHUNK * (count - 1));
      assert.equal(chunk.size, bytes.length);
      assert.equal(chunk.digest, sha256(bytes));
    }
    // The plain chunks.json is the signed document, byte for byte.
    const plain = await readFile(join(packed, 'chunks.json'));
    const read = await readChunkList(packed, { policy });
    assert.equal(read.digest, sha256(plain));
    assert.equal(read.digest, pack.chunkListDigest);
    assert.equal(read.manifestDigest, pack.manifestDigest);
    assert.equal(read.list.chunkSize, CHUNK);
    assert.equal(read.list.totalSize, expected);
    assert.deepEqual(read.list.bundle, {});
    assert.ok(read.verified);
    // Deterministic: packing again gives the same chunks.
    const again = await packBundle({
      dir: bundle,
      outDir: join(work.path, 'packed-again'),
      chunkSize: CHUNK,
      signer,
    });
    assert.deepEqual(again.chunks, pack.chunks);
    // No staging directory is left beside the output.
    assert.ok(!(await readdir(work.path)).some((n) => n.includes('airlock-pack')));
  });

  it('unpacks to byte-identical files', async () => {
    const out = join(work.path, 'unpacked');
    const events: UnpackEvent[] = [];
    const result = await unpackBundle({
      packed,
      outDir: out,
      policy,
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(await tree(out), source);
    assert.equal(result.chunks, pack.chunks.length);
    assert.equal(result.files.length, source.size);
    assert.equal(result.totalFiles, source.size);
    assert.equal(result.resumedFrom, undefined);
    assert.equal(result.chunkListDigest, pack.chunkListDigest);
    assert.ok(result.verified);
    let bytes = 0;
    for (const name of source.keys()) bytes += (await stat(join(bundle, name))).size;
    assert.equal(result.bytes, bytes);
    assert.equal(events.filter((e) => e.type === 'chunk').length, pack.chunks.length);
    assert.equal(events.filter((e) => e.type === 'file').length, source.size);
    // An unpacked bundle is a layout again.
    assert.deepEqual(await new LayoutRepository(out).listTags(), ['synthetic:1.0.0']);
    // A finished output is not unpacked into again.
    await assertRejectsCode(() => unpackBundle({ packed, outDir: out }), 'INPUT_INVALID');
  });

  it('names a missing chunk and continues from it once it arrives', async () => {
    const out = join(work.path, 'missing-out');
    const middle = pack.chunks[Math.floor(pack.chunks.length / 2)];
    const later = pack.chunks[pack.chunks.length - 2];
    assert.ok(middle && later);
    const aside = join(work.path, 'aside');
    await mkdir(aside);
    await rename(join(packed, middle.name), join(aside, middle.name));
    await rename(join(packed, later.name), join(aside, later.name));
    try {
      const error = await assertRejectsCode(
        () => unpackBundle({ packed, outDir: out, policy }),
        'CHUNK_MISSING',
      );
      assert.equal(error.data.chunk, middle.name);
      assert.deepEqual(error.data.missing, [middle.name, later.name]);
      assert.ok(error.message.includes(middle.name));
      const first = await tree(out);
      assert.ok(first.has('.airlock-unpack.json'));
      assert.ok(first.has('oci-layout') && first.has('index.json'));
      assertPartialTree(first, source, 'after the missing chunk');
      const done = [...first.keys()].filter((n) => !n.startsWith('.'));
      const before = await inodes(out, done);
      // Only the first missing chunk arrives: the next run stops at the second one.
      await rename(join(aside, middle.name), join(packed, middle.name));
      const second = await assertRejectsCode(
        () => unpackBundle({ packed, outDir: out, policy }),
        'CHUNK_MISSING',
      );
      assert.equal(second.data.chunk, later.name);
      await rename(join(aside, later.name), join(packed, later.name));
      const result = await unpackBundle({ packed, outDir: out, policy });
      assert.deepEqual(await tree(out), source);
      assert.ok(result.resumedFrom);
      assert.equal(result.totalFiles, source.size);
      // Files finished before were neither extracted nor rewritten again.
      for (const name of done) assert.ok(!result.files.includes(name), `${name} extracted twice`);
      assert.deepEqual(await inodes(out, done), before);
      assert.ok(result.chunks < pack.chunks.length);
    } finally {
      for (const name of await readdir(aside)) await rename(join(aside, name), join(packed, name));
    }
  });

  it('refuses a corrupt chunk before extracting any of it', async () => {
    const corrupt = join(work.path, 'corrupt');
    await cp(packed, corrupt, { recursive: true });
    const victim = pack.chunks[3];
    const short = pack.chunks[5];
    assert.ok(victim && short);
    const bytes = await readFile(join(corrupt, victim.name));
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await writeFile(join(corrupt, victim.name), bytes);
    const out = join(work.path, 'corrupt-out');
    const error = await assertRejectsCode(
      () => unpackBundle({ packed: corrupt, outDir: out, policy }),
      'BUNDLE_INVALID',
    );
    assert.equal(error.data.chunk, victim.name);
    assert.ok(error.message.includes(victim.name));
    assertPartialTree(await tree(out), source, 'after the corrupt chunk');
    // A chunk of the wrong size, once the first is copied again.
    await cp(join(packed, victim.name), join(corrupt, victim.name));
    await truncate(join(corrupt, short.name), short.size - 1);
    const truncated = await assertRejectsCode(
      () => unpackBundle({ packed: corrupt, outDir: out, policy }),
      'BUNDLE_INVALID',
    );
    assert.equal(truncated.data.chunk, short.name);
    assertPartialTree(await tree(out), source, 'after the truncated chunk');
    await cp(join(packed, short.name), join(corrupt, short.name));
    await unpackBundle({ packed: corrupt, outDir: out, policy });
    assert.deepEqual(await tree(out), source);
  });

  it('leaves nothing of a corrupt chunk behind, not even files it completed', async () => {
    // Chunks are hashed while they are extracted: what a corrupt chunk held must not stay.
    const dir = join(work.path, 'corrupt-whole');
    const content = randomBytes(1000);
    const tar = Buffer.concat([
      fileEntry('oci-layout', Buffer.from('{}')),
      tarHeader({ name: 'blobs/', type: 'dir', mode: 0o755, size: 0 }),
      tarHeader({ name: 'blobs/extra/', type: 'dir', mode: 0o755, size: 0 }),
      fileEntry('blobs/extra/a', content),
      fileEntry('blobs/extra/b', content),
      TAR_TRAILER,
    ]);
    await packRaw(tar, dir, signer);
    const chunk = join(dir, 'bundle.000000');
    const bytes = await readFile(chunk);
    const at = bytes.indexOf(content) + 10;
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(chunk, bytes);
    const out = join(dir, 'out');
    const error = await assertRejectsCode(
      () => unpackBundle({ packed: dir, outDir: out, policy }),
      'BUNDLE_INVALID',
    );
    assert.equal(error.data.chunk, 'bundle.000000');
    assert.deepEqual(await readdir(out), ['.airlock-unpack.json']);
  });

  it('refuses a chunk list re-signed with another key', async () => {
    const resigned = join(work.path, 'resigned');
    const other = join(work.path, 'packed-other');
    await packBundle({ dir: bundle, outDir: other, chunkSize: CHUNK, signer: otherSigner });
    await cp(packed, resigned, { recursive: true });
    await rm(join(resigned, 'chunks.oci'), { recursive: true });
    await cp(join(other, 'chunks.oci'), join(resigned, 'chunks.oci'), { recursive: true });
    const out = join(work.path, 'resigned-out');
    await assertRejectsCode(
      () => unpackBundle({ packed: resigned, outDir: out, policy }),
      'VERIFICATION_FAILED',
    );
    assert.equal(await stat(out).catch(() => undefined), undefined, 'nothing was extracted');
    // The plain chunks.json is for people: what counts is the signed copy.
    const edited = join(work.path, 'edited');
    await cp(packed, edited, { recursive: true });
    await writeFile(join(edited, 'chunks.json'), '{"chunks":[]}');
    await unpackBundle({ packed: edited, outDir: join(work.path, 'edited-out'), policy });
    assert.deepEqual(await tree(join(work.path, 'edited-out')), source);
    // An interrupted unpack is not resumed with another chunk list.
    const mixed = join(work.path, 'mixed-out');
    await rename(join(packed, pack.chunks[2]?.name ?? ''), join(work.path, 'held'));
    try {
      await assertRejectsCode(() => unpackBundle({ packed, outDir: mixed }), 'CHUNK_MISSING');
    } finally {
      await rename(join(work.path, 'held'), join(packed, pack.chunks[2]?.name ?? ''));
    }
    const small = join(work.path, 'packed-small');
    await packBundle({ dir: bundle, outDir: small, chunkSize: CHUNK / 2, signer });
    const error = await assertRejectsCode(
      () => unpackBundle({ packed: small, outDir: mixed }),
      'INPUT_INVALID',
    );
    assert.equal(error.data.option, 'outDir');
  });

  it('refuses unsafe tar entries', async () => {
    const cases: [string, Buffer][] = [
      ['dot-dot', fileEntry('../evil', Buffer.from('x'))],
      ['absolute', fileEntry('/tmp/airlock-evil', Buffer.from('x'))],
      ['backslash', fileEntry('a\\b', Buffer.from('x'))],
      ['reserved', fileEntry('.airlock-unpack.json', Buffer.from('{}'))],
      ['symlink', typedHeader('link', '2')],
      ['hardlink', typedHeader('hard', '1')],
      ['fifo', typedHeader('fifo', '6')],
    ];
    for (const [label, entry] of cases) {
      const dir = join(work.path, `hostile-${label}`);
      const tar = Buffer.concat([fileEntry('oci-layout', Buffer.from('{}')), entry, TAR_TRAILER]);
      await packRaw(tar, dir, signer);
      const out = join(dir, 'out');
      const error = await assertRejectsCode(
        () => unpackBundle({ packed: dir, outDir: out, policy }),
        'BUNDLE_INVALID',
      );
      assert.ok(error.data.chunk, label);
    }
    assert.equal(await stat(join(work.path, 'evil')).catch(() => undefined), undefined);
    assert.equal(await stat('/tmp/airlock-evil').catch(() => undefined), undefined);
    // A stream cut short is refused too.
    const dir = join(work.path, 'hostile-truncated');
    await packRaw(fileEntry('oci-layout', Buffer.from('{}')), dir, signer);
    await assertRejectsCode(
      () => unpackBundle({ packed: dir, outDir: join(dir, 'out'), policy }),
      'BUNDLE_INVALID',
    );
  });

  it('reads PAX size records (as written for files of 8 GiB and more)', async () => {
    const content = Buffer.from('large');
    const record = Buffer.from(paxRecord('size', String(content.length)));
    const tar = Buffer.concat([
      fileEntry('oci-layout', Buffer.from('{}')),
      typedHeader('PaxHeaders.0/large', 'x', record.length),
      record,
      tarPadding(record.length),
      tarHeader({ name: 'blobs/large', type: 'file', mode: 0o644, size: 0 }),
      content,
      tarPadding(content.length),
      TAR_TRAILER,
    ]);
    const dir = join(work.path, 'pax');
    await packRaw(tar, dir, signer);
    const result = await unpackBundle({ packed: dir, outDir: join(dir, 'out'), policy });
    assert.deepEqual(result.files, ['oci-layout', 'blobs/large']);
    assert.deepEqual(await readFile(join(dir, 'out', 'blobs', 'large')), content);
  });

  it('continues after a kill -9 in the middle of an unpack', async () => {
    const out = join(work.path, 'killed-out');
    const script = join(work.path, 'unpack-child.mjs');
    const module = new URL('../../src/bundle/index.ts', import.meta.url).href;
    await writeFile(
      script,
      [
        `import { unpackBundle } from ${JSON.stringify(module)};`,
        'const pause = new Int32Array(new SharedArrayBuffer(4));',
        'await unpackBundle({',
        '  packed: process.argv[2],',
        '  outDir: process.argv[3],',
        '  onEvent: (event) => {',
        "    process.stdout.write(JSON.stringify(event) + '\\n');",
        '    Atomics.wait(pause, 0, 0, 40);',
        '  },',
        '});',
        "process.stdout.write('done\\n');",
      ].join('\n'),
    );
    const child = spawn(process.execPath, [script, packed, out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.stdout.on('data', (data: Buffer) => {
      lines += data.toString().split('\n').length - 1;
      if (lines >= 12) child.kill('SIGKILL');
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
      child.on('exit', (c, s) => done([c, s])),
    );
    assert.equal(signal, 'SIGKILL', `the child ended on its own (${String(code)}): ${stderr}`);
    const partial = await tree(out);
    assert.ok(partial.has('.airlock-unpack.json'));
    assertPartialTree(partial, source, 'after kill -9');
    const result = await unpackBundle({ packed, outDir: out, policy });
    assert.ok(result.resumedFrom);
    assert.ok(result.files.length < source.size);
    assert.equal(result.totalFiles, source.size);
    assert.deepEqual(await tree(out), source);
  });
});
