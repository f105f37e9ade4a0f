import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { AirlockError } from '../errors.ts';
import { readAll } from './streams.ts';

const body = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

describe('readAll, the one bounded reader', () => {
  it('reads chunks whole, with or without a declared length', async () => {
    assert.equal((await readAll(body('ab', 'cd'), 10)).toString(), 'abcd');
    assert.equal((await readAll(body('ab', 'cd'), 10, { declared: 4 })).toString(), 'abcd');
  });

  it('refuses more than the limit, more or fewer bytes than declared, with the caller’s codes', async () => {
    const tooLarge = () => new AirlockError('SIZE_LIMIT_EXCEEDED', 'too large');
    const broken = () => new AirlockError('UPSTREAM_UNAVAILABLE', 'broken');
    await assertRejectsCode(
      () => readAll(body('abc', 'def'), 5, { tooLarge }),
      'SIZE_LIMIT_EXCEEDED',
    );
    await assertRejectsCode(() => readAll(body('abcdef'), 10, { declared: 4 }), 'MANIFEST_INVALID');
    await assertRejectsCode(
      () => readAll(body('ab'), 10, { declared: 4, broken }),
      'UPSTREAM_UNAVAILABLE',
    );
    const failing = new Readable({
      read() {
        this.destroy(new Error('ECONNRESET'));
      },
    });
    await assertRejectsCode(() => readAll(failing, 10, { broken }), 'UPSTREAM_UNAVAILABLE');
  });
});
