// A bundle report (create, verify) as JUnit XML: one test case per item, for CI dashboards.
import type { BatchReport } from '../core/index.ts';
import type { BundleItem } from './create.ts';

const xml = (text: string): string =>
  text
    // XML 1.0 has no place for these control characters at all.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

export function bundleJUnit(report: BatchReport<BundleItem>): string {
  const suite = `airlock ${report.operation}`;
  const cases = report.items.map((item) => {
    const head = `    <testcase classname="${xml(suite)}" name="${xml(item.reference)}" time="${(item.durationMs / 1000).toFixed(3)}">`;
    if (item.outcome === 'failed') {
      const error = item.error;
      const text = [error?.message ?? '', ...(error?.details ?? [])].join('\n');
      return `${head}\n      <failure type="${xml(error?.code ?? 'INTERNAL')}" message="${xml(error?.message ?? '')}">${xml(text)}</failure>\n    </testcase>`;
    }
    if (item.outcome === 'skipped')
      return `${head}\n      <skipped message="${xml(item.reason ?? '')}"/>\n    </testcase>`;
    const verified =
      item.verified === undefined
        ? ''
        : ` ${item.verified.format} ${item.verified.keyName ?? item.verified.subject ?? ''}`;
    return `${head}\n      <system-out>${xml(`${item.outcome} ${item.digest ?? ''}${verified}`)}</system-out>\n    </testcase>`;
  });
  const s = report.summary;
  const counts = `tests="${s.total}" failures="${s.failed}" errors="0" skipped="${s.skipped}" time="${(s.durationMs / 1000).toFixed(3)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(suite)}" ${counts}>`,
    `  <testsuite name="${xml(suite)}" ${counts}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
