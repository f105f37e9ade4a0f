import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AirlockError, ConfigError } from '../errors.ts';
import { openSession } from '../session/index.ts';
import {
  mirrorImages,
  mirrorPath,
  normalizeImage,
  parseImageList,
  parsePlatform,
  platformMatches,
} from './index.ts';

describe('mirror paths', () => {
  const cases: [string, string][] = [
    ['nginx:1.27', 'docker.io/library/nginx'],
    ['index.docker.io/bitnami/redis', 'docker.io/bitnami/redis'],
    [
      'quay.io/prometheus/node-exporter@sha256:' + 'a'.repeat(64),
      'quay.io/prometheus/node-exporter',
    ],
    ['localhost:5000/team/app', 'localhost_5000/team/app'],
    ['Registry.Example.com:8443/x/y:1', 'registry.example.com_8443/x/y'],
    ['127.0.0.1:5000/a', '127.0.0.1_5000/a'],
  ];
  for (const [reference, path] of cases)
    it(`${reference} is mirrored below ${path}`, () => {
      assert.equal(mirrorPath(normalizeImage(reference)), path);
    });

  it('refuses an IPv6 registry, which no repository path can name', () => {
    assert.throws(
      () => mirrorPath(normalizeImage('[::1]:5000/x:1')),
      (e) => e instanceof AirlockError && e.code === 'REF_INVALID',
    );
  });
});

describe('platforms', () => {
  it('parses os/arch[/variant]', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm/v7'), {
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
    for (const bad of ['amd64', 'linux/', 'Linux/amd64', 'linux/arm/v7/x', ''])
      assert.throws(
        () => parsePlatform(bad),
        (e) =>
          e instanceof AirlockError && e.code === 'INPUT_INVALID' && e.data.option === 'platforms',
        bad,
      );
  });

  it('matches a variant only when the filter names one; arm64 defaults to v8', () => {
    const arm64 = { os: 'linux', architecture: 'arm64' };
    assert.ok(platformMatches(arm64, parsePlatform('linux/arm64')));
    assert.ok(platformMatches(arm64, parsePlatform('linux/arm64/v8')));
    assert.ok(platformMatches({ ...arm64, variant: 'v8' }, parsePlatform('linux/arm64')));
    const armv6 = { os: 'linux', architecture: 'arm', variant: 'v6' };
    assert.ok(platformMatches(armv6, parsePlatform('linux/arm')));
    assert.ok(!platformMatches(armv6, parsePlatform('linux/arm/v7')));
    assert.ok(
      !platformMatches({ os: 'windows', architecture: 'amd64' }, parsePlatform('linux/amd64')),
    );
  });
});

describe('image lists', () => {
  it('reads one reference per line, with comments (as images list prints them)', () => {
    const images = parseImageList(
      '# images\nnginx:1.27  # chart web 1.0.0\n\n  quay.io/x/y@sha256:' + 'b'.repeat(64) + '\r\n',
      'images.txt',
    );
    assert.deepEqual(
      images.map((i) => [i.where, i.reference]),
      [
        ['images.txt:2', 'nginx:1.27'],
        ['images.txt:4', `quay.io/x/y@sha256:${'b'.repeat(64)}`],
      ],
    );
  });

  it('reports every bad line with file:line before anything is copied', () => {
    try {
      parseImageList('nginx\nnginx:\nok/one\nquay.io/Bad/Name\ntwo refs here\n', 'images.txt');
      assert.fail('expected CONFIG_INVALID');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.issues.map((i) => i.where),
        ['images.txt:2', 'images.txt:4', 'images.txt:5'],
      );
    }
  });
});

describe('mirrorImages fromFile', () => {
  // Both fail before any request: no registry answers registry.invalid.
  const attempt = async (write: (dir: string) => Promise<string>, images?: string[]) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-mirror-list-'));
    const session = openSession({});
    try {
      const fromFile = await write(dir);
      await mirrorImages({
        session,
        fromFile,
        to: 'registry.invalid/m',
        ...(images && { images }),
      });
    } finally {
      session.close();
      await rm(dir, { recursive: true, force: true });
    }
  };

  it('an image list that cannot be read is FILE_UNREADABLE, naming the option', async () => {
    await assert.rejects(
      attempt((dir) => Promise.resolve(join(dir, 'missing.txt'))),
      (e) =>
        e instanceof AirlockError && e.code === 'FILE_UNREADABLE' && e.data.option === 'fromFile',
    );
  });

  it('bad lines of the list are CONFIG_INVALID by file:line, beside the images given', async () => {
    let file = '';
    await assert.rejects(
      attempt(
        async (dir) => {
          file = join(dir, 'images.txt');
          await writeFile(file, 'nginx:1.27\nnginx:\n');
          return file;
        },
        ['quay.io/x/y:1'],
      ),
      (e) => e instanceof ConfigError && e.issues.map((i) => i.where).join() === `${file}:2`,
    );
  });
});
