import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.ts';
import { parseCSV, parseInventory, selectImageTags, selectVersions } from './index.ts';

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
      'source,chart,type\nhttps://x.example,y,oci\n',
      /^inv\.csv:2:21 type "oci" is not helm, crds or image/,
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

describe('image rows (type=image)', () => {
  it('names the image in source, normalised as a pod pulls it, mirrored below <registry>/<repository>', () => {
    const rows = parseInventory(
      [
        'source,chart,versions,type,tags,platforms,verify_key',
        'nginx,,">=1.26 <1.28",image,,linux/amd64 linux/arm64,',
        'quay.io/prometheus/node-exporter,,,image,v1.8.2 latest,,./quay.pub',
        'localhost:5000/team/app,,*,image,,,',
        'https://charts.example.com,podinfo,,,,,',
      ].join('\n'),
      'inv.csv',
    );
    assert.deepEqual(
      rows.map((r) => [
        r.where,
        r.type,
        r.sourceKind,
        r.chart,
        r.imagePath,
        r.versions,
        r.tags,
        r.platforms,
        r.verifyKey,
      ]),
      [
        [
          'inv.csv:2',
          'image',
          'image',
          'docker.io/library/nginx',
          'docker.io/library/nginx',
          '>=1.26 <1.28',
          undefined,
          ['linux/amd64', 'linux/arm64'],
          undefined,
        ],
        [
          'inv.csv:3',
          'image',
          'image',
          'quay.io/prometheus/node-exporter',
          'quay.io/prometheus/node-exporter',
          '',
          ['v1.8.2', 'latest'],
          undefined,
          './quay.pub',
        ],
        [
          'inv.csv:4',
          'image',
          'image',
          'localhost:5000/team/app',
          'localhost_5000/team/app',
          '*',
          undefined,
          undefined,
          undefined,
        ],
        ['inv.csv:5', 'helm', 'http', 'podinfo', undefined, '', undefined, undefined, undefined],
      ],
    );
  });

  it('needs no chart column when every row is an image row', () => {
    const rows = parseInventory(
      'source,type,tags\nghcr.io/fluxcd/source-controller,image,v1.4.1\n',
      'inv.csv',
    );
    assert.equal(rows[0]?.chart, 'ghcr.io/fluxcd/source-controller');
    assert.ok(
      issues('source,type\nghcr.io/fluxcd/flux-cli,image\nhttps://x.example,helm\n').some((i) =>
        /^inv\.csv:1:1 the header has no "chart" column/.test(i),
      ),
    );
  });

  const refused: [string, string, RegExp][] = [
    [
      'a tag in source',
      'source,chart,type\nnginx:1.27,,image\n',
      /^inv\.csv:2:1 "nginx:1\.27" names a tag or digest/,
    ],
    [
      'a digest in source',
      `source,chart,type\nnginx@sha256:${'a'.repeat(64)},,image\n`,
      /^inv\.csv:2:1 .* names a tag or digest/,
    ],
    [
      'an oci:// URL',
      'source,chart,type\noci://ghcr.io/x/y,,image\n',
      /^inv\.csv:2:1 write the image repository as a pod names it/,
    ],
    [
      'an invalid repository',
      'source,chart,type\nquay.io/Bad/Name,,image\n',
      /^inv\.csv:2:1 "quay\.io\/Bad\/Name" is not an image repository/,
    ],
    [
      'a chart name on an image row',
      'source,chart,type\nnginx,nginx,image\n',
      /^inv\.csv:2:7 an image row names its image in source/,
    ],
    [
      'a target on an image row',
      'source,chart,type,target\nnginx,,image,mirror/nginx\n',
      /^inv\.csv:2:14 an image row is mirrored to/,
    ],
    [
      'tests on an image row',
      'source,chart,type,tests\nnginx,,image,./t\n',
      /^inv\.csv:2:14 tests are injected into charts/,
    ],
    [
      'an invalid tag',
      'source,chart,type,tags\nnginx,,image,.hidden\n',
      /^inv\.csv:2:14 "\.hidden" is not a valid tag/,
    ],
    [
      'an invalid platform',
      'source,chart,type,platforms\nnginx,,image,amd64\n',
      /^inv\.csv:2:14 "amd64" is not a platform/,
    ],
    [
      'a bad range',
      'source,chart,type,versions\nnginx,,image,>>1\n',
      /^inv\.csv:2:14 ">>1" is not a semver range/,
    ],
    [
      'tags on a chart row',
      'source,chart,tags\nhttps://x.example,y,1.0\n',
      /^inv\.csv:2:21 tags is for type=image rows only/,
    ],
    [
      'platforms on a chart row',
      'source,chart,platforms\nhttps://x.example,y,linux/amd64\n',
      /^inv\.csv:2:21 platforms is for type=image rows only/,
    ],
    [
      'the same image twice under two names',
      'source,chart,type\nnginx,,image\ndocker.io/library/nginx,,image\n',
      /^inv\.csv:3:1 duplicate of line 2/,
    ],
  ];
  for (const [what, text, expected] of refused) {
    it(`refuses ${what} with line and column`, () => {
      const found = issues(text);
      assert.ok(
        found.some((i) => expected.test(i)),
        JSON.stringify(found),
      );
    });
  }

  it('selects tags: the range over semver tags newest first, then the listed tags', () => {
    const offered = [
      '1.25.4',
      '1.26.0',
      '1.26.2',
      'v1.27.1',
      '1.27.2-alpine',
      'latest',
      'stable',
      '1.28.0-rc.1',
    ];
    const row = (versions: string, tags?: string[]) =>
      parseInventory(
        `source,type,versions,tags\nnginx,image,"${versions}",${(tags ?? []).join(' ')}\n`,
        'inv.csv',
      )[0] ?? assert.fail('no row');
    assert.deepEqual(selectImageTags(row('>=1.26 <1.28'), offered), [
      'v1.27.1',
      '1.26.2',
      '1.26.0',
    ]);
    assert.deepEqual(selectImageTags(row(''), offered), ['v1.27.1'], 'empty: the newest stable');
    assert.deepEqual(selectImageTags(row('', ['stable']), offered), ['stable'], 'tags only');
    assert.deepEqual(selectImageTags(row('~1.26', ['latest']), offered), [
      '1.26.2',
      '1.26.0',
      'latest',
    ]);
    assert.deepEqual(selectImageTags(row('*'), offered), [
      '1.28.0-rc.1',
      '1.27.2-alpine',
      'v1.27.1',
      '1.26.2',
      '1.26.0',
      '1.25.4',
    ]);
    assert.deepEqual(selectImageTags(row('>=2'), offered), []);
  });
});
