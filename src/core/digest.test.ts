import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { assertRejectsCode, assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { parseDigest, sha256, verifyBytes, VerifyingStream } from './index.ts';
import { tagsInRange, tagVersion } from './index.ts';

const sink = (): Writable => new Writable({ write: (_c, _e, cb) => cb() });

describe('digests', () => {
  const data = Buffer.from('hello airlock');
  const digest = sha256(data);

  it('computes sha256 digests in OCI form', () => {
    assert.equal(
      sha256(''),
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('validates digest syntax', () => {
    assertThrowsCode(() => parseDigest('sha256:ABC'), 'REF_INVALID');
    assert.equal(parseDigest(digest), digest);
  });

  it('verifies bytes against digest and size', () => {
    verifyBytes(data, { digest, size: data.length }, 'test');
    assertThrowsCode(
      () => verifyBytes(data, { digest, size: data.length + 1 }, 'test'),
      'SIZE_MISMATCH',
    );
    const flipped = Buffer.from(data);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assertThrowsCode(() => verifyBytes(flipped, { digest }, 'test'), 'DIGEST_MISMATCH');
  });

  it('fails a stream whose bytes do not match, at the end', async () => {
    await pipeline(
      Readable.from([data.subarray(0, 5), data.subarray(5)]),
      new VerifyingStream({ digest, size: data.length }, 't'),
      sink(),
    );
    const flipped = Buffer.from(data);
    flipped[3] = (flipped[3] ?? 0) ^ 1;
    await assertRejectsCode(
      () =>
        pipeline(
          Readable.from([flipped]),
          new VerifyingStream({ digest, size: data.length }, 't'),
          sink(),
        ),
      'DIGEST_MISMATCH',
    );
    await assertRejectsCode(
      () =>
        pipeline(
          Readable.from([data.subarray(0, 4)]),
          new VerifyingStream({ digest, size: data.length }, 't'),
          sink(),
        ),
      'SIZE_MISMATCH',
    );
    await assertRejectsCode(
      () =>
        pipeline(
          Readable.from([data, data]),
          new VerifyingStream({ digest, size: data.length }, 't'),
          sink(),
        ),
      'SIZE_MISMATCH',
    );
  });
});

describe('semver tags', () => {
  it('reads Helm tags with _ as +', () => {
    assert.equal(tagVersion('1.2.3_build.7'), '1.2.3+build.7');
    assert.equal(tagVersion('latest'), undefined);
    assert.equal(tagVersion('sha256-abc.sig'), undefined);
  });
  it('filters and orders newest first, excluding prereleases unless asked', () => {
    const tags = ['1.0.0', '1.2.0', '2.0.0', '2.1.0-rc.1', 'latest', '1.10.0', '0.9.0'];
    assert.deepEqual(tagsInRange(tags, '>=1 <2'), ['1.10.0', '1.2.0', '1.0.0']);
    assert.deepEqual(tagsInRange(tags, '*'), ['2.0.0', '1.10.0', '1.2.0', '1.0.0', '0.9.0']);
    assert.deepEqual(tagsInRange(tags, '>=2.1.0-rc.0'), ['2.1.0-rc.1']);
  });
});
