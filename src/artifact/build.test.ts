import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTar, sha256 } from '../core/index.ts';
import {
  buildLayer,
  fluxManifest,
  packLayer,
  REPRODUCIBLE_CREATED,
  stdinEntries,
} from './index.ts';

const LONG_DIR = `long-${'d'.repeat(60)}`;
const LONG_FILE = `${'f'.repeat(60)}.yaml`;

/** A tree that exercises every rule of Flux's tar (flux-oci.md §1.4). */
async function makeTree(root: string, variant: { mtime: number; owner: number }): Promise<void> {
  const files: [string, string, number][] = [
    ['a/x', 'a-x', 0o644],
    ['a-b/x', 'a-b-x', 0o644],
    ['a/nested/deep.yaml', 'deep: true\n', 0o644],
    [`${LONG_DIR}/${LONG_FILE}`, 'long: name\n', 0o644],
    ['grüße/ñ.yaml', 'unicode: true\n', 0o644],
    ['run.sh', '#!/bin/sh\necho hi\n', 0o755],
    ['logo.png', 'not really a png', 0o644],
    ['keep.png', 'kept by a negated pattern', 0o644],
    ['.git/config', '[core]\n', 0o644],
    ['.gitignore', 'x\n', 0o644],
  ];
  for (const [path, content, mode] of files) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
    await chmod(join(root, path), mode);
  }
  await symlink('/etc/passwd', join(root, 'outside-link'));
  await symlink('a', join(root, 'dir-link'));
  for (const dir of ['', 'a', 'a-b', 'a/nested', LONG_DIR, 'grüße', '.git'])
    await chmod(join(root, dir), 0o755);
  // Different checkouts: other mtimes and owners must not change a byte.
  const stamp = new Date(variant.mtime * 1000);
  for (const [path] of files) {
    await utimes(join(root, path), stamp, stamp);
    await chown(join(root, path), variant.owner, variant.owner);
  }
}

describe('Flux artifact layer build', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-build-'));
    await makeTree(join(dir, 'one'), { mtime: 1_000_000, owner: 0 });
    await makeTree(join(dir, 'two'), { mtime: 1_700_000_000, owner: 1234 });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const options = { addIgnorePaths: ['!keep.png'] };

  it('walks, names and filters entries exactly as Flux does', async () => {
    const layer = await buildLayer(join(dir, 'one'), options);
    assert.deepEqual(
      layer.entries.map((e) => `${e.type === 'dir' ? 'd' : 'f'} ${e.mode.toString(8)} ${e.name}`),
      [
        'd 755 .',
        'd 755 a', // "a" sorts before "a-b" by name, although "a/x" > "a-b/x" as paths
        'd 755 a/nested',
        'f 644 a/nested/deep.yaml',
        'f 644 a/x',
        'd 755 a-b',
        'f 644 a-b/x',
        'd 755 grüße',
        'f 644 grüße/ñ.yaml',
        'f 644 keep.png', // re-included by "!keep.png"
        `d 755 ${LONG_DIR}`,
        `f 644 ${LONG_DIR}/${LONG_FILE}`,
        'f 755 run.sh',
        // .git/, .gitignore and logo.png are ignored by the default list; symlinks are skipped
      ],
    );
  });

  it('gives the same layer digest for two checkouts with different mtimes and owners', async () => {
    const one = await buildLayer(join(dir, 'one'), options);
    const two = await buildLayer(join(dir, 'two'), options);
    assert.equal(one.diffID, two.diffID);
    assert.equal(one.digest, two.digest);
    assert.deepEqual(one.tgz, two.tgz);
    const meta = {
      source: 'https://git.example/x',
      revision: `main@sha1:${'a'.repeat(40)}`,
      created: REPRODUCIBLE_CREATED,
    };
    assert.equal(
      sha256(fluxManifest({ digest: one.digest, size: one.tgz.length }, meta)),
      sha256(fluxManifest({ digest: two.digest, size: two.tgz.length }, meta)),
    );
  });

  it('writes Go archive/tar USTAR headers: octal fields, ustar magic, zero ids and times', async () => {
    const layer = await buildLayer(join(dir, 'one'), options);
    const header = (offset: number): Buffer => layer.tar.subarray(offset, offset + 512);
    const root = header(0);
    const field = (b: Buffer, start: number, length: number): string =>
      b.subarray(start, start + length).toString('latin1');
    assert.equal(field(root, 0, 2), '.\0');
    assert.equal(field(root, 100, 8), '0000755\0');
    assert.equal(field(root, 108, 8), '0000000\0'); // uid
    assert.equal(field(root, 116, 8), '0000000\0'); // gid
    assert.equal(field(root, 124, 12), '00000000000\0'); // size
    assert.equal(field(root, 136, 12), '00000000000\0'); // mtime 0
    assert.match(field(root, 148, 8), /^[0-7]{6}\0 $/); // checksum "dddddd\0 "
    assert.equal(field(root, 156, 1), '5');
    assert.equal(field(root, 257, 8), 'ustar\x0000');
    assert.equal(field(root, 265, 64), '\0'.repeat(64)); // uname, gname empty
    assert.equal(field(root, 329, 16), '0000000\x000000000\0'); // devmajor, devminor
    // The archive ends with exactly two zero blocks, no record padding.
    assert.equal(layer.tar.length % 512, 0);
    assert.ok(layer.tar.subarray(-1024).every((b) => b === 0));
    assert.notEqual(layer.tar.length % 10240, 0);
    // gzip header as Go writes it: no name, MTIME 0, XFL 0, OS 255.
    assert.deepEqual([...layer.tgz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it('splits long ASCII names into the USTAR prefix and uses PAX only for non-ASCII names', async () => {
    const layer = await buildLayer(join(dir, 'one'), options);
    const entries = readTar(layer.tar, 'test');
    const long = entries.find((e) => e.name.endsWith(LONG_FILE));
    assert.ok(long);
    let offset = 0;
    const blocks: { name: string; prefix: string; type: string }[] = [];
    while (offset < layer.tar.length - 1024) {
      const block = layer.tar.subarray(offset, offset + 512);
      const size = parseInt(block.subarray(124, 135).toString('latin1'), 8);
      blocks.push({
        name: block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, ''),
        prefix: block.subarray(345, 500).toString('utf8').replace(/\0.*$/s, ''),
        type: String.fromCharCode(block[156] ?? 0),
      });
      offset += 512 + Math.ceil(size / 512) * 512;
    }
    assert.ok(
      blocks.some((b) => b.type === '0' && b.prefix === LONG_DIR && b.name === LONG_FILE),
      'prefix split',
    );
    const pax = blocks.filter((b) => b.type === 'x');
    // Go names the 'x' entry <dir>/PaxHeaders.0/<file> with non-ASCII characters dropped.
    assert.deepEqual(
      pax.map((b) => b.name),
      ['PaxHeaders.0/gre', 'gre/PaxHeaders.0/.yaml'],
    );
    assert.ok(!blocks.some((b) => b.type === 'g'), 'no PAX global headers');
    assert.ok(
      entries.some((e) => e.name === 'grüße/ñ.yaml'),
      'the PAX path record carries the real name',
    );
  });

  it('is read back identically by GNU tar, an independent reader', async () => {
    const layer = await buildLayer(join(dir, 'one'), options);
    const listing = execFileSync('tar', ['-tzvf', '-', '--numeric-owner'], {
      input: layer.tgz,
      encoding: 'utf8',
    });
    const names = listing
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/).slice(5).join(' '));
    // Directory names are stored without a trailing slash, as Flux stores them.
    assert.deepEqual(
      names,
      layer.entries.map((e) => e.name),
    );
    assert.ok(listing.split('\n').every((line) => line === '' || line.includes(' 0/0 ')));
  });

  it('packs a single file like Flux 2.9 and stdin under a stable name', async () => {
    const single = await buildLayer(join(dir, 'one', 'run.sh'));
    assert.deepEqual(
      single.entries.map((e) => `${e.name} ${e.mode.toString(8)}`),
      ['. 700', 'run.sh 755'],
    );
    const a = packLayer(stdinEntries('kind: ConfigMap\n\n'));
    const b = packLayer(stdinEntries('kind: ConfigMap'));
    assert.equal(a.digest, b.digest, 'trailing newlines are trimmed, the name is stable');
  });
});
