// The one batch-report shape (docs/json.md), checked against its JSON Schema: every batch
// command's --json must pass, for success and for failure alike.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

const schema = JSON.parse(
  readFileSync(new URL('../../docs/schemas/batch-report.schema.json', import.meta.url), 'utf8'),
) as object;
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(schema);

export function assertBatchReport(report: unknown): void {
  assert.ok(validate(report), JSON.stringify(validate.errors, null, 2));
}
