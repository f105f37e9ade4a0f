import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError } from '../errors.ts';
import { parsePromotionConfig } from './config.ts';

describe('parsePromotionConfig: YAML that does not parse', () => {
  it('names the line and column of the syntax error, not 1:1', () => {
    try {
      parsePromotionConfig('environments:\n  - name: dev\n    paths: [a\n', 'promotion.yaml');
      assert.fail('expected CONFIG_INVALID');
    } catch (error) {
      assert.ok(error instanceof AirlockError);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /promotion\.yaml:4:1: /);
    }
  });
});
