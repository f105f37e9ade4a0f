import type { MirrorItem, MirrorReport } from './run.ts';

function xml(text: string): string {
  // XML 1.0 allows no C0 controls but tab, newline and CR: remote text could carry them.
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
  const cases = report.items.map((item) => {
    const head = `    <testcase classname="airlock.mirror.${xml(item.chart)}" name="${xml(caseName(item))}" time="${(item.durationMs / 1000).toFixed(3)}">`;
    if (item.outcome === 'failed') {
      const error = item.error;
      const text = [error?.message ?? '', ...(error?.details ?? [])].join('\n');
      return `${head}\n      <failure type="${xml(error?.code ?? 'INTERNAL')}" message="${xml(error?.message ?? '')}">${xml(text)}</failure>\n    </testcase>`;
    }
    if (item.outcome === 'skipped')
      return `${head}\n      <skipped message="${xml(item.reason ?? '')}"/>\n    </testcase>`;
    return `${head}\n      <system-out>${xml(outcomeText(item))}</system-out>\n    </testcase>`;
  });
  const s = report.summary;
  const counts = `tests="${s.total}" failures="${s.failed}" errors="0" skipped="${s.skipped}" time="${(s.durationMs / 1000).toFixed(3)}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="airlock mirror" ${counts}>`,
    `  <testsuite name="airlock mirror" ${counts}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
