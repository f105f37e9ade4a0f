import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('the README quickstart', () => {
  it('runs end to end on the local layout store with no registry and no network', () => {
    const result = spawnSync(process.execPath, ['examples/quickstart.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^2 mirrored and signed, 0 already present, 0 failed/m);
    assert.equal((result.stdout.match(/^done .*cosign-legacy/gm) ?? []).length, 2);
    assert.match(result.stdout, /^0 mirrored and signed, 2 already present, 0 failed/m);
  });
});
