// JUnit XML for CI test tabs, one shape for every batch report (mirror, bundle verify, …): one
// test case per item, failures typed by error code, skipped items as skipped cases.
import type { BatchItem, BatchReport } from './batch.ts';

/** XML 1.0 allows no C0 controls but tab, newline and CR: remote text could carry them. */
export function xmlText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\uFFFD')
      .replace(
        /[<>&"']/g,
        (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
      )
  );
}

export interface JUnitNames<Item extends BatchItem> {
  /** The suite: `airlock mirror`, `airlock bundle verify`. */
  readonly suite: string;
  readonly classname: (item: Item) => string;
  readonly name: (item: Item) => string;
  /** What a passing case did, for its system-out. */
  readonly passed: (item: Item) => string;
}

export function junitXML<Item extends BatchItem>(
  report: BatchReport<Item>,
  names: JUnitNames<Item>,
): string {
  const cases = report.items.map((item) => {
    const head = `    <testcase classname="${xmlText(names.classname(item))}" name="${xmlText(names.name(item))}" time="${(item.durationMs / 1000).toFixed(3)}">`;
    if (item.outcome === 'failed') {
      const error = item.error;
      const text = [error?.message ?? '', ...(error?.details ?? [])].join('\n');
      return `${head}\n      <failure type="${xmlText(error?.code ?? 'INTERNAL')}" message="${xmlText(error?.message ?? '')}">${xmlText(text)}</failure>\n    </testcase>`;
    }
    if (item.outcome === 'skipped')
      return `${head}\n      <skipped message="${xmlText(item.reason ?? '')}"/>\n    </testcase>`;
    return `${head}\n      <system-out>${xmlText(names.passed(item))}</system-out>\n    </testcase>`;
  });
  const s = report.summary;
  const counts = `tests="${s.total}" failures="${s.failed}" errors="0" skipped="${s.skipped}" time="${(s.durationMs / 1000).toFixed(3)}"`;
  const suite = xmlText(names.suite);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${suite}" ${counts}>`,
    `  <testsuite name="${suite}" ${counts}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
