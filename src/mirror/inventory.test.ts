import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.ts';
import { parseCSV, parseInventory, selectVersions } from './index.ts';

function issues(text: string): string[] {
  try {
    parseInventory(text, 'inv.csv');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((i) => `${i.where} ${i.message}`);
  }
  assert.fail('expected the inventory to be refused');
}

describe('inventory CSV', () => {
  it('parses RFC 4180 quoting, comments and blank lines, keeping line numbers', () => {
    const { records, problems } = parseCSV(
      '# comment\n\na,"b,c","say ""hi"""\r\n"multi\nline",x,y\n',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(
      records.map((r) => [r.line, r.fields.map((f) => f.value)]),
      [
        [3, ['a', 'b,c', 'say "hi"']],
        [4, ['multi\nline', 'x', 'y']],
      ],
    );
  });

  it('reads rows with defaults', () => {
    const rows = parseInventory(
      'source,chart,versions,type,target\nhttps://charts.example.com,podinfo,,,\noci://ghcr.io/acme/charts,cert-manager,">=1.14 <2",crds,platform/cert-manager\n./local,hello,*,helm,\n',
      'inv.csv',
    );
    assert.deepEqual(
      rows.map((r) => [r.where, r.sourceKind, r.chart, r.versions, r.type, r.target]),
      [
        ['inv.csv:2', 'http', 'podinfo', '', 'helm', undefined],
        ['inv.csv:3', 'oci', 'cert-manager', '>=1.14 <2', 'crds', 'platform/cert-manager'],
        ['inv.csv:4', 'local', 'hello', '*', 'helm', undefined],
      ],
    );
  });

  const corpus: [string, string, RegExp][] = [
    ['empty file', '', /^inv\.csv:1:1 no header row/],
    ['only comments', '# nothing\n', /^inv\.csv:1:1 no header row/],
    ['wrong header', 'url,name\nhttps://x.example,y\n', /^inv\.csv:1:1 unknown column "url"/],
    [
      'unknown column',
      'source,chart,colour\nhttps://x.example,y,blue\n',
      /^inv\.csv:1:14 unknown column "colour"/,
    ],
    [
      'bad range',
      'source,chart,versions\nhttps://x.example,y,>>1\n',
      /^inv\.csv:2:21 ">>1" is not a semver range/,
    ],
    [
      'bad URL',
      'source,chart\nftp://x.example,y\n',
      /^inv\.csv:2:1 "ftp:\/\/x\.example" is not an https:\/\/ or oci:\/\/ URL/,
    ],
    [
      'duplicate row',
      'source,chart\nhttps://x.example,y\nhttps://x.example,y\n',
      /^inv\.csv:3:1 duplicate of line 2/,
    ],
    [
      'unterminated quote',
      'source,chart\n"https://x.example,y\n',
      /^inv\.csv:2:1 unterminated quoted field/,
    ],
    [
      'bad type',
      'source,chart,type\nhttps://x.example,y,image\n',
      /^inv\.csv:2:21 type "image" is not helm or crds/,
    ],
    [
      'wrong field count',
      'source,chart\nhttps://x.example\n',
      /^inv\.csv:2:1 1 fields, but the header has 2/,
    ],
  ];
  for (const [what, text, expected] of corpus) {
    it(`refuses ${what} with line and column`, () => {
      assert.ok(
        issues(text).some((i) => expected.test(i)),
        JSON.stringify(issues(text)),
      );
    });
  }

  // Fields that would pass every other check: a local source and a tests path are free text.
  const controls: [string, string, string][] = [
    ['ESC in an unquoted source', 'source,chart\n./charts\u001b[2J,web\n', 'inv.csv:2:9'],
    ['a quoted newline in a source', 'source,chart\n"./charts\nforged",web\n', 'inv.csv:2:10'],
    ['a lone CR in a tests path', 'source,chart,tests\n./charts,web,./t\rx\n', 'inv.csv:2:17'],
    [
      'NUL in a verify_key path',
      'source,chart,verify_key\n./charts,web,./k\u0000.pub\n',
      'inv.csv:2:17',
    ],
    ['a C1 control (CSI) in a target', 'source,chart,target\n./c,web,a\u009bb\n', 'inv.csv:2:10'],
    ['ESC in the header', 'source,chart\u001b\n./c,web\n', 'inv.csv:1:13'],
    ['ESC on the line after a quoted newline', 'source,chart\n"./a\nb\u001b",web\n', 'inv.csv:2:5'],
  ];
  for (const [what, text, where] of controls) {
    it(`refuses ${what} at its line and column`, () => {
      const found = issues(text);
      assert.ok(
        found.some((i) => i.startsWith(`${where} control character`)),
        JSON.stringify(found),
      );
    });
  }

  it('keeps quoted newlines in plain CSV (the parser is RFC 4180) but marks where they are', () => {
    const fields = parseCSV('a,"x\ny"\n').records[0]?.fields ?? [];
    assert.equal(fields[0]?.control, undefined);
    assert.deepEqual(fields[1]?.control, { char: '\n', line: 1, column: 5 });
  });

  it('refuses a file:// source with a host', () => {
    assert.ok(
      issues('source,chart\nfile://evil/charts,web\n').some((i) => i.startsWith('inv.csv:2:1 ')),
    );
  });

  it('reports every problem at once', () => {
    const found = issues(
      'source,chart,versions,extra\nftp://x,Bad Name,>>1,\nhttps://x.example,y,,\nhttps://x.example,y,,\n',
    );
    assert.ok(found.length >= 5, JSON.stringify(found));
  });
});

describe('version constraints', () => {
  const versions = ['1.0.0', '1.1.0', '1.2.0-rc.1', '2.0.0', '2.1.0-beta.2', 'not-semver'];
  it('defaults to the newest stable version', () => {
    assert.deepEqual(selectVersions(versions, ''), ['2.0.0']);
  });
  it('takes every version in a range, prereleases only when the range names one', () => {
    assert.deepEqual(selectVersions(versions, '>=1.0.0 <2'), ['1.1.0', '1.0.0']);
    assert.deepEqual(selectVersions(versions, '>=1.2.0-rc.0 <2'), ['1.2.0-rc.1']);
  });
  it('takes everything with *', () => {
    assert.deepEqual(selectVersions(versions, '*'), [
      '2.1.0-beta.2',
      '2.0.0',
      '1.2.0-rc.1',
      '1.1.0',
      '1.0.0',
    ]);
  });
});
