// A bundle report (create, verify) as JUnit XML: one test case per item, for CI dashboards.
import { type BatchReport, junitXML } from '../core/index.ts';
import type { BundleItem } from './create.ts';

export function bundleJUnit(report: BatchReport<BundleItem>): string {
  const suite = `airlock ${report.operation}`;
  return junitXML(report, {
    suite,
    classname: () => suite,
    name: (item) => item.reference,
    passed: (item) =>
      `${item.outcome} ${item.digest ?? ''}${item.verified === undefined ? '' : ` ${item.verified.format} ${item.verified.keyName ?? item.verified.subject ?? ''}`}`,
  });
}
