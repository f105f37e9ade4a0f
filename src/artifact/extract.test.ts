import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { extractLayer } from './index.ts';

/** One raw tar header + data, with any name and type flag (hostile archives need both). */
function rawEntry(
  name: string,
  typeflag: string,
  data = Buffer.alloc(0),
  linkname = '',
  mode = 0o644,
): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write(mode.toString(8).padStart(7, '0'), 100);
  block.write('0000000', 108);
  block.write('0000000', 116);
  block.write(data.length.toString(8).padStart(11, '0'), 124);
  block.write('00000000000', 136);
  block.write(typeflag, 156);
  block.write(linkname, 157, 100);
  block.write('ustar\x0000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([block, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function archive(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

describe('extracting untrusted artifacts', () => {
  let dir: string;
  let out: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-extract-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Everything that exists under `dir` outside `out`, to prove nothing escaped. */
  async function outside(): Promise<string[]> {
    return (await readdir(dir, { recursive: true })).filter((p) => !p.startsWith('out')).sort();
  }

  it('extracts regular files and directories with their modes', async () => {
    out = join(dir, 'out-ok');
    const result = await extractLayer(
      archive(
        rawEntry('.', '5', undefined, '', 0o755),
        rawEntry('app', '5', undefined, '', 0o755),
        rawEntry('app/run.sh', '0', Buffer.from('#!/bin/sh\n'), '', 0o755),
      ),
      out,
      'ok',
    );
    assert.deepEqual(result.files, ['app/run.sh']);
    assert.equal((await stat(join(out, 'app/run.sh'))).mode & 0o777, 0o755);
  });

  const refused: [string, Buffer][] = [
    ['an absolute path', archive(rawEntry('/etc/evil', '0', Buffer.from('x')))],
    ['a ../ escape', archive(rawEntry('../evil', '0', Buffer.from('x')))],
    ['a nested ../ escape', archive(rawEntry('a/../../evil', '0', Buffer.from('x')))],
    ['a backslash', archive(rawEntry('..\\evil', '0', Buffer.from('x')))],
    ['a hard link', archive(rawEntry('link', '1', undefined, '/etc/passwd'))],
    ['a character device', archive(rawEntry('null', '3'))],
    ['a block device', archive(rawEntry('disk', '4'))],
    ['a FIFO', archive(rawEntry('fifo', '6'))],
    [
      'a PAX global header',
      archive(rawEntry('pax_global_header', 'g', Buffer.from('20 comment=hello\n'))),
    ],
    ['not gzip at all', Buffer.from('plain text')],
  ];
  for (const [what, layer] of refused) {
    it(`refuses ${what} and writes nothing`, async () => {
      out = join(dir, `out-${what.replaceAll(/\W+/g, '-')}`);
      await assertRejectsCode(() => extractLayer(layer, out, what), 'MANIFEST_INVALID');
      assert.deepEqual(await outside(), []);
      assert.equal(existsSync(join(out, 'evil')), false);
    });
  }

  it('skips symlinks, including ones pointing outside', async () => {
    out = join(dir, 'out-symlink');
    const result = await extractLayer(
      archive(
        rawEntry('passwd', '2', undefined, '/etc/passwd'),
        rawEntry('up', '2', undefined, '../../..'),
        rawEntry('file', '0', Buffer.from('ok')),
      ),
      out,
      'symlinks',
    );
    assert.deepEqual(result.skippedSymlinks, ['passwd', 'up']);
    assert.deepEqual((await readdir(out)).sort(), ['file']);
  });

  it('refuses a gzip bomb by its decompressed size', async () => {
    out = join(dir, 'out-bomb');
    const bomb = archive(rawEntry('zeros', '0', Buffer.alloc(64 * 1024 * 1024)));
    assert.ok(bomb.length < 200 * 1024, 'the bomb is small compressed');
    await assertRejectsCode(
      () => extractLayer(bomb, out, 'bomb', { maxSize: 8 * 1024 * 1024 }),
      'MANIFEST_INVALID',
    );
    assert.equal(existsSync(join(out, 'zeros')), false);
  });

  it('does not write through a symlink already in the output directory', async () => {
    out = join(dir, 'out-preexisting');
    const target = join(dir, 'victim');
    await mkdir(out, { recursive: true });
    await mkdir(target);
    await symlink(target, join(out, 'sub'));
    await assertRejectsCode(
      () =>
        extractLayer(archive(rawEntry('sub/file', '0', Buffer.from('pwned'))), out, 'through-link'),
      'MANIFEST_INVALID',
    );
    assert.deepEqual(await readdir(target), []);
  });

  it('reports every unsafe entry at once', async () => {
    out = join(dir, 'out-many');
    const error = await assertRejectsCode(
      () =>
        extractLayer(
          archive(rawEntry('/abs', '0'), rawEntry('../up', '0'), rawEntry('dev', '3')),
          out,
          'many',
        ),
      'MANIFEST_INVALID',
    );
    assert.equal(error.details.length, 3);
    assert.equal(await readFile(join(out, 'abs')).catch(() => undefined), undefined);
  });
});
