import assert from 'node:assert/strict';
import { AirlockError, type ErrorCode } from '../../src/errors.ts';

/** Asserts that `fn` rejects with an AirlockError of `code` (tests match codes, never messages). */
export async function assertRejectsCode(
  fn: () => Promise<unknown>,
  code: ErrorCode,
): Promise<AirlockError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof AirlockError,
    `expected an AirlockError with code ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}

export function assertThrowsCode(fn: () => unknown, code: ErrorCode): AirlockError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(
    caught instanceof AirlockError,
    `expected an AirlockError with code ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, `expected code ${code}, got ${caught.code}: ${caught.message}`);
  return caught;
}
