import assert from 'node:assert/strict';
import { AirlockError, type ErrorCode } from '../../src/errors.ts';

/** Asserts `caught` is an AirlockError of `code` (tests match codes, never messages). */
function assertCode(caught: unknown, code: ErrorCode): AirlockError {
  assert.ok(
    caught instanceof AirlockError,
    `expected an AirlockError with code ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

/** Asserts that `fn` rejects with an AirlockError of `code`. */
export async function assertRejectsCode(
  fn: () => Promise<unknown>,
  code: ErrorCode,
): Promise<AirlockError> {
  try {
    await fn();
  } catch (error) {
    return assertCode(error, code);
  }
  return assertCode(undefined, code);
}

/** Asserts that `fn` throws an AirlockError of `code`. */
export function assertThrowsCode(fn: () => unknown, code: ErrorCode): AirlockError {
  try {
    fn();
  } catch (error) {
    return assertCode(error, code);
  }
  return assertCode(undefined, code);
}
