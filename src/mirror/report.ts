import type { MirrorReport } from './run.ts';

function xml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}

/** JUnit XML for CI test reports: one testcase per chart version, failures with their code. */
export function junitReport(report: MirrorReport): string {
  const cases = report.records.map((r) => {
    const name = `${r.chart}${r.version ? ` ${r.version}` : ''}${r.type === 'crds' ? ' (crds)' : ''}`;
    const head = `    <testcase classname="airlock.mirror.${xml(r.chart)}" name="${xml(name)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
    if (r.action === 'failed') {
      return `${head}\n      <failure type="${xml(r.error?.code ?? 'ERROR')}" message="${xml(r.error?.message ?? '')}">${xml([r.error?.message ?? '', ...(r.error?.details ?? [])].join('\n'))}</failure>\n    </testcase>`;
    }
    return `${head}\n      <system-out>${xml(`${r.action} ${r.target ?? ''}${r.targetDigest ? `@${r.targetDigest}` : ''}`)}</system-out>\n    </testcase>`;
  });
  const s = report.summary;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="airlock mirror" tests="${report.records.length}" failures="${s.failed}" time="${s.seconds.toFixed(3)}">`,
    `  <testsuite name="airlock mirror" tests="${report.records.length}" failures="${s.failed}" errors="0" skipped="0" time="${s.seconds.toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
