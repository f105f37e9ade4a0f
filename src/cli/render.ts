import { type BatchItem, type BatchReport, escapeControl } from '../core/index.ts';
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { flagHint } from './flags.ts';
import type { Output } from './output.ts';

/**
 * The exit status of a batch: 0 when nothing failed; the failures' own status when they agree
 * (all refused → 3, all bad input → 2); otherwise 1.
 */
export function exitCodeForReport(report: BatchReport): number {
  const failed = report.items.filter((i) => i.outcome === 'failed');
  if (failed.length === 0) return ExitCode.ok;
  const codes = new Set(
    failed.map((i) => (i.error ? exitCodeFor(i.error.code) : ExitCode.failure)),
  );
  return codes.size === 1 ? ([...codes][0] ?? ExitCode.failure) : ExitCode.failure;
}

export interface RenderBatchOptions<Item extends BatchItem> {
  /** The words after the outcome on an item's line (default: reference@digest). */
  readonly line?: (item: Item) => string;
  /** The closing summary line. */
  readonly summary: string;
  /** Print `present` and `skipped` items too (default: only with --verbose). */
  readonly showAll?: boolean;
}

const OUTCOME_WIDTH = 8;

/**
 * Renders a batch report: one line per item on stdout (failures with their code, once, on one
 * stream), then the summary; with --json the report itself, and each failure as one line on stderr
 * so a CI log still shows it. Exits with exitCodeForReport.
 */
export function renderBatch<Item extends BatchItem>(
  out: Output,
  report: BatchReport<Item>,
  options: RenderBatchOptions<Item>,
): number {
  const line =
    options.line ??
    ((item: Item) => `${item.reference}${item.digest === undefined ? '' : `@${item.digest}`}`);
  const lines: string[] = [];
  const hints: string[] = [];
  for (const item of report.items) {
    if (item.outcome === 'failed') {
      const text = `${escapeControl(line(item))}: ${escapeControl(item.error?.message ?? 'failed')} (${item.error?.code ?? 'INTERNAL'})`;
      if (out.json) out.info(`airlock: failed ${text}`);
      else lines.push(`${'failed'.padEnd(OUTCOME_WIDTH)} ${text}`);
      // What to do about it, from the error's data (the flag to drop or add), once per hint.
      for (const hint of item.error?.data ? flagHint({ data: item.error.data }) : [])
        if (!hints.includes(hint)) hints.push(hint);
      continue;
    }
    const shown = item.outcome === 'done' || options.showAll === true || out.verbose;
    if (!shown) continue;
    const reason = item.reason === undefined ? '' : ` (${escapeControl(item.reason)})`;
    lines.push(`${item.outcome.padEnd(OUTCOME_WIDTH)} ${escapeControl(line(item))}${reason}`);
  }
  lines.push(options.summary);
  out.result(lines, report);
  for (const hint of hints) out.info(`  ${hint}`);
  return exitCodeForReport(report);
}
