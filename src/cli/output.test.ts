import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonPieces } from './output.ts';

describe('JSON output in pieces', () => {
  it('writes exactly the bytes of JSON.stringify(data, null, 2), item by item for long reports', () => {
    const items = Array.from({ length: 1234 }, (_, i) => ({
      reference: `registry.internal/mirror/chart-${i}:1.0.${i}`,
      outcome: i % 7 === 0 ? 'failed' : 'done',
      ...(i % 7 === 0
        ? { error: { code: 'UPSTREAM_NOT_FOUND', message: 'gone\nline', details: ['a', 'b'] } }
        : {}),
      bytes: i,
      durationMs: i / 3,
      nested: { list: [1, [2, { deep: 'x' }]], empty: {}, none: [] },
      skippedField: undefined,
    }));
    const report = {
      operation: 'mirror',
      items,
      summary: { total: items.length },
      gone: undefined,
    };
    const pieces = [...jsonPieces(report)];
    assert.ok(pieces.length > 3, 'a long report is written in several pieces');
    assert.equal(pieces.join(''), JSON.stringify(report, null, 2));
    for (const small of [{ a: 1, items: [{ b: 2 }] }, [1, 2], 'text', null, { items: [] }])
      assert.equal([...jsonPieces(small)].join(''), JSON.stringify(small, null, 2));
  });
});
