import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { type BatchItem, runBatch } from './batch.ts';

describe('runBatch', () => {
  const work = (n: number) =>
    Promise.resolve({ reference: `item-${n}`, outcome: 'done' as const, bytes: n });
  const failed = (n: number) => ({ reference: `item-${n}` });

  it('runs every item once, in input order, and counts them', async () => {
    const report = await runBatch<number, BatchItem>('test', [1, 2, 3], work, failed, {
      concurrency: 2,
    });
    assert.deepEqual(
      report.items.map((i) => i.reference),
      ['item-1', 'item-2', 'item-3'],
    );
    assert.deepEqual([report.summary.total, report.summary.done, report.summary.bytes], [3, 3, 6]);
  });

  it('refuses a concurrency that would start no worker instead of reporting an empty success', async () => {
    for (const concurrency of [0, -1, Number.NaN, 1.5])
      await assertRejectsCode(
        () => runBatch<number, BatchItem>('test', [1], work, failed, { concurrency }),
        'INPUT_INVALID',
      );
  });
});
