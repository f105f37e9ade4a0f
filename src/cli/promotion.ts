// Rendering shared by promote tag and release: one line per promotion and an honest summary.
import type { BatchReport } from '../core/index.ts';
import type { PromotionItem } from '../promote/index.ts';
import { exitCodeFor, ExitCode } from './exit-codes.ts';

export const promotedLine = (item: PromotionItem): string =>
  `${item.source} → ${item.tags.join(', ')}${item.digest === undefined ? '' : ` @ ${item.digest}`}${item.verification?.subject ? ` (was signed by ${item.verification.subject})` : item.verification?.key ? ` (was signed with ${item.verification.key})` : ''}`;

/** "refused" only for a policy refusal, and never "nothing was tagged" when a tag was written. */
export function promotionSummary(report: BatchReport<PromotionItem>, done: string): string {
  const failed = report.items.find((item) => item.outcome === 'failed');
  if (failed?.error === undefined) return done;
  const written = failed.error.data?.tagsWritten;
  if (Array.isArray(written) && written.length > 0)
    return `FAILED after tagging ${written.join(', ')}: run it again to write the other tags`;
  return exitCodeFor(failed.error.code) === ExitCode.refused
    ? 'refused: nothing was tagged'
    : 'failed: nothing was tagged';
}
