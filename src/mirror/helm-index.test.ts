import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse as parseYAML } from 'yaml';
import { INDEX_ENTRY_FIELDS, parseHelmIndex, scanHelmIndex } from './helm-index.ts';

const FIXTURE = new URL('../../../shared/fixtures/upstream-helm/index.yaml', import.meta.url);

/** What the general YAML parser gives for the fields the scanner keeps. */
function expected(text: string): unknown {
  const doc = parseYAML(text) as { entries: Record<string, Record<string, unknown>[]> };
  return {
    entries: Object.fromEntries(
      Object.entries(doc.entries).map(([chart, list]) => [
        chart,
        list.map((entry) =>
          Object.fromEntries(
            Object.entries(entry).filter(([key]) => INDEX_ENTRY_FIELDS.includes(key)),
          ),
        ),
      ]),
    ),
  };
}

function assertScansLikeYAML(text: string): void {
  const scanned = scanHelmIndex(text);
  assert.ok(scanned, `the scanner read it:\n${text}`);
  assert.deepEqual(scanned, expected(text));
}

/** Falls back: the scanner declines, and parseHelmIndex gives exactly what YAML gives (or throws). */
function assertFallsBack(text: string): void {
  assert.equal(scanHelmIndex(text), undefined, text);
  let yamlResult: unknown;
  try {
    yamlResult = parseYAML(text);
  } catch {
    assert.throws(() => parseHelmIndex(text));
    return;
  }
  assert.deepEqual(parseHelmIndex(text), yamlResult);
}

const HELM_STYLE = `apiVersion: v1
entries:
  alertmanager:
  - apiVersion: v2
    name: alertmanager
    version: 1.42.0
    appVersion: v0.34.0
    description: The Alertmanager handles alerts sent by client applications such
      as the Prometheus server.
    kubeVersion: '>=1.25.0-0'
    keywords:
    - monitoring
    annotations:
      artifacthub.io/links: "- name: Chart Source\\n  url: https://github.com/x\\n"
    created: '2026-08-16T20:33:42+00:00'
    digest: 48ced5300c14a33047fda29c1a0ab0e5ab8111edca517b32334f0d216f93814e
    urls:
    - alertmanager-1.42.0.tgz
  - name: alertmanager
    version: 1.41.1
    created: "2026-08-10T18:00:31.123456789Z"
    urls:
    - https://mirror.example/alertmanager-1.41.1.tgz
    - alertmanager-1.41.1.tgz
  empty: []
generated: "2026-11-23T00:00:00Z"
serverInfo:
  contextPath: /charts
`;

describe('Helm index scanner', () => {
  it(
    'reads the fixture index exactly as the YAML parser does',
    { skip: !existsSync(FIXTURE) },
    () => {
      assertScansLikeYAML(readFileSync(FIXTURE, 'utf8'));
    },
  );

  it("reads Helm's layout: compact sequences, folded descriptions, skipped nested fields", () => {
    assertScansLikeYAML(HELM_STYLE);
  });

  it('reads indented sequences, CRLF line ends, a BOM, comments and blank lines', () => {
    const text = `\uFEFF# generated\r\napiVersion: v1\r\n\r\nentries:\r\n  # charts\r\n  podinfo:\r\n    - name: podinfo # the name\r\n      version: "6.5.0"\r\n\r\n      digest: 'abc'   # trailing\r\n      urls:\r\n        - podinfo-6.5.0.tgz\r\n      home: https://x#y\r\n`;
    assertScansLikeYAML(text);
  });

  it('resolves plain scalars by the YAML 1.2 core schema, as the YAML parser does', () => {
    const versions = [
      '1.0',
      '1',
      '0x10',
      '1e3',
      '.5',
      'null',
      '~',
      'true',
      '1.2.3+build.1',
      "'1.0'",
      '"1.0"',
      "'it''s'",
      '"a\\u0041\\tb"',
    ];
    const text = `entries:\n  c:\n${versions.map((v) => `  - version: ${v}\n    urls:\n    - c.tgz #x\n    - https://h/c.tgz#frag\n`).join('')}`;
    assertScansLikeYAML(text);
  });

  it('skips block scalars and nested structures in fields it does not keep', () => {
    const text = `entries:\n  c:\n  - description: |\n      line one\n      - looks like an item\n      key: looks like a key\n    maintainers:\n    - name: a\n      email: b\n    dependencies:\n      - name: d\n        version: 1.0.0\n    version: 2.0.0\n    notes: >-\n      folded\n    urls:\n    - c-2.0.0.tgz\n`;
    assertScansLikeYAML(text);
  });

  it('hands anything outside its subset to the YAML parser, with the same result or error', () => {
    for (const text of [
      'entries:\n  c:\n  - version: &v 1.0.0\n    urls: [c.tgz]\n',
      'entries:\n  c:\n  - version: 1.0.0\n      continued\n',
      'entries:\n  c:\n  - version: "multi\n      line"\n',
      'entries:\n  c:\n  - version: 1.0.0\n    version: 2.0.0\n',
      'entries:\n  c: []\n  c: []\n',
      'entries:\n  c:\n  - home: a\n    version: 1.0.0\n    home: b\n',
      'entries:\n  c:\n  - 1.5: a\n    version: 1.0.0\n',
      'entries:\n  c:\n  - .hidden: a\n    version: 1.0.0\n',
      'entries:\n  c:\n  - __proto__: a\n    version: 1.0.0\n',
      'entries:\n  c:\n  - true: a\n    version: 1.0.0\n',
      'entries:\n\tc: []\n',
      '---\nentries:\n  c: []\n',
      '{"apiVersion": "v1", "entries": {"c": [{"version": "1.0.0", "urls": ["c.tgz"]}]}}',
      'entries:\n  c:\n  - version: a: b\n',
      'entries:\n  "quoted": []\n',
      'entries:\n  c:\n  - plain item\n',
      'entries: {}\n',
      'apiVersion: v1\n',
      '',
    ])
      assertFallsBack(text);
  });

  it('a generated index of many charts reads the same', () => {
    const parts = ['apiVersion: v1\nentries:\n'];
    for (let i = 0; i < 300; i++) {
      parts.push(`  chart-${i}:\n`);
      for (let j = 0; j < 6; j++)
        parts.push(
          `  - name: chart-${i}\n    version: ${j}.${i % 7}.0\n    description: text that folds\n      onto a second line\n    digest: ${String(i).padStart(64, '0')}\n    created: '2026-01-0${1 + (j % 9)}T00:00:00Z'\n    urls:\n    - chart-${i}-${j}.tgz\n`,
        );
    }
    assertScansLikeYAML(parts.join(''));
  });
});
