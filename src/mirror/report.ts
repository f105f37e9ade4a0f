import { junitXML } from '../core/index.ts';
import type { MirrorItem, MirrorReport } from './run.ts';

function caseName(item: MirrorItem): string {
  return `${item.chart}${item.version ? ` ${item.version}` : ''}${item.type === 'crds' ? ' (crds)' : ''} [${item.row}]`;
}

/** What a passing case did, for the CI test tab. */
function outcomeText(item: MirrorItem): string {
  const at = `${item.reference}${item.digest ? `@${item.digest}` : ''}`;
  if (item.outcome === 'done')
    return `${item.action === 'sign' ? 'signed' : item.signed === true ? 'mirrored and signed' : 'mirrored (unsigned)'} ${at}`;
  return `${item.outcome}${item.reason ? ` (${item.reason})` : ''} ${at}`;
}

/**
 * JUnit XML for CI test reports: one test case per report item (chart version, or a row that
 * failed or matched nothing), failures typed by error code, skipped items (planned, aborted,
 * fail-fast, no version matches) as skipped cases.
 */
export function junitReport(report: MirrorReport): string {
  return junitXML(report, {
    suite: 'airlock mirror',
    classname: (item) => `airlock.mirror.${item.chart}`,
    name: caseName,
    passed: outcomeText,
  });
}
