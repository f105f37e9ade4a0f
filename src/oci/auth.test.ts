import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import {
  authFilePath,
  DockerConfigCredentials,
  eraseCredential,
  normaliseAuthKey,
  parseWWWAuthenticate,
  storeCredential,
} from './index.ts';

describe('parseWWWAuthenticate', () => {
  it('parses a Docker Hub bearer challenge', () => {
    const [c] = parseWWWAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    );
    assert.deepEqual(c, {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/nginx:pull',
      },
    });
  });
  it('parses basic, unquoted values, escapes and several challenges', () => {
    const challenges = parseWWWAuthenticate(
      'Basic realm="a \\"quoted\\" realm", Bearer realm=https://t.example/token,scope="a:b:pull,push"',
    );
    assert.equal(challenges.length, 2);
    assert.deepEqual(challenges[0], { scheme: 'basic', params: { realm: 'a "quoted" realm' } });
    assert.deepEqual(challenges[1]?.params, {
      realm: 'https://t.example/token',
      scope: 'a:b:pull,push',
    });
  });
});

describe('docker config.json credentials', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-auth-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('locates the file like podman and docker', () => {
    assert.equal(
      authFilePath({ REGISTRY_AUTH_FILE: '/a/auth.json', DOCKER_CONFIG: '/b' }),
      '/a/auth.json',
    );
    assert.equal(authFilePath({ DOCKER_CONFIG: '/b' }), '/b/config.json');
    assert.equal(authFilePath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
  });

  it('normalises auth keys', () => {
    assert.equal(normaliseAuthKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normaliseAuthKey('https://Reg.Example.com:5000/'), 'reg.example.com:5000');
    assert.equal(normaliseAuthKey('reg.example.com'), 'reg.example.com');
  });

  it('reads auths, helpers and the default store', async () => {
    const helper = join(dir, 'docker-credential-airlocktest');
    // A credential helper speaking the docker-credential-helpers protocol, as test data.
    await writeFile(
      helper,
      '#!/bin/sh\nread server\nif [ "$server" = "helped.example.com" ] || [ "$server" = "store.example.com" ]; then echo "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"h-user\\",\\"Secret\\":\\"h-$server\\"}"; else echo "credentials not found" >&2; exit 1; fi\n',
    );
    await chmod(helper, 0o755);
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpass').toString('base64') },
          'reg.example.com': { auth: Buffer.from('u:p:with:colons').toString('base64') },
        },
        credHelpers: { 'helped.example.com': 'airlocktest' },
        credsStore: 'airlocktest',
      }),
    );
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath ?? ''}`;
    try {
      const store = new DockerConfigCredentials(path);
      assert.deepEqual(await store.get('docker.io'), { username: 'hub', password: 'hubpass' });
      assert.deepEqual(await store.get('reg.example.com'), {
        username: 'u',
        password: 'p:with:colons',
      });
      assert.deepEqual(await store.get('helped.example.com'), {
        username: 'h-user',
        password: 'h-helped.example.com',
      });
      assert.deepEqual(await store.get('store.example.com'), {
        username: 'h-user',
        password: 'h-store.example.com',
      });
      assert.equal(await store.get('unknown.example.com'), undefined);
    } finally {
      process.env.PATH = oldPath;
    }
  });

  it('goes on anonymously when the default credsStore helper is not installed, but not a named credHelper', async () => {
    const path = join(dir, 'missing-helper.json');
    await writeFile(
      path,
      JSON.stringify({
        credsStore: 'airlock-missing-helper',
        credHelpers: { 'named.example.com': 'airlock-missing-helper' },
      }),
    );
    const store = new DockerConfigCredentials(path);
    assert.equal(await store.get('anything.example.com'), undefined);
    await assertRejectsCode(() => store.get('named.example.com'), 'CREDENTIAL_HELPER_FAILED');
  });

  it('refuses a config.json that is not JSON', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ not json');
    await assertRejectsCode(
      () => new DockerConfigCredentials(path).get('x.example.com'),
      'CREDENTIALS_INVALID',
    );
  });

  it('treats a missing config.json as no credentials', async () => {
    assert.equal(
      await new DockerConfigCredentials(join(dir, 'absent.json')).get('x.example.com'),
      undefined,
    );
  });

  it('stores and erases credentials in the standard format, keeping other keys', async () => {
    const path = join(dir, 'login', 'config.json');
    await storeCredential(path, 'reg.example.com', { username: 'ci', password: 'secret' });
    await storeCredential(path, 'other.example.com', { username: 'x', password: 'y' });
    const config = JSON.parse(await readFile(path, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(
      Buffer.from(config.auths['reg.example.com']?.auth ?? '', 'base64').toString(),
      'ci:secret',
    );
    assert.equal(await eraseCredential(path, 'reg.example.com'), true);
    assert.equal(await eraseCredential(path, 'reg.example.com'), false);
    const after = JSON.parse(await readFile(path, 'utf8')) as { auths: Record<string, unknown> };
    assert.deepEqual(Object.keys(after.auths), ['other.example.com']);
  });
});
