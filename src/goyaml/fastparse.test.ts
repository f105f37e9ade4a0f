import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixturesSkipReason, gated, SHARED_FIXTURES } from '../../test/harness/tools.ts';
import { fastParseGoYAML } from './fastparse.ts';
import { GoInt, type GoValue, marshalGoYAML, splitGoYAMLDocuments } from './index.ts';
import { parseGoYAMLFull } from './parse.ts';

// The fast path is only an optimisation: whatever it accepts must read exactly as the full parser
// reads it (GoInt kept apart from float, map keys in document order), and whatever it cannot
// read that way it must decline so the full parser (and its error messages) take over.

/** GoValue → data deepStrictEqual compares strictly: ints apart from floats, map order kept. */
function exact(v: GoValue): unknown {
  if (v instanceof GoInt) return { int: v.value.toString() };
  if (typeof v === 'number') return { float: v };
  if (Array.isArray(v)) return v.map(exact);
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [k, exact(x)]) };
  return v;
}

/** The full parser's reading, or the error code it fails with. */
function full(text: string): unknown {
  try {
    return exact(parseGoYAMLFull(text));
  } catch (error) {
    return { error: (error as { code?: string }).code };
  }
}

/** Asserts the fast path declines `text` or reads it as the full parser does; true if read. */
function agrees(text: string): boolean {
  const fast = fastParseGoYAML(text);
  if (fast === undefined) return false;
  assert.deepEqual(exact(fast), full(text), `fast path differs on ${JSON.stringify(text)}`);
  return true;
}

describe('fastParseGoYAML reads what it accepts as the full parser does', () => {
  const accepted: [string, string][] = [
    ['ints', 'a: 1\nb: -2\nc: +3\nd: 0\ne: 9223372036854775807\nf: 1_000\n'],
    ['uint64 and past int64', 'a: 18446744073709551615\nb: 9223372036854775808\n'],
    ['floats', 'a: 1.5\nb: 1.0\nc: .5\nd: -.5\ne: 1e3\nf: 6.02e+23\ng: 1.\nh: -0.0\n'],
    ['hex, octal, binary', 'a: 0x1f\nb: 0o17\nc: 017\nd: 0b101\ne: -0b11\nf: 08\n'],
    [
      'YAML 1.1 bools',
      'a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: Y\nh: NO\ni: True\nj: FALSE\n',
    ],
    ['bool-like strings that are not bools', 'a: yEs\nb: tRUE\nc: onn\n'],
    ['nulls', 'a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nul\n'],
    ['empty values before a sibling and at the end', 'a:\nb: 1\nc:\n'],
    ['timestamps stay text', 'a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-13-01\n'],
    ['quoted numbers are strings', 'a: "1"\nb: \'2.5\'\nc: "true"\nd: \'~\'\ne: ""\nf: \'\'\n'],
    ['single-quote escapes', "a: 'it''s'\nb: ''''\nc: 'a '' b'\n"],
    ['quoted text with indicators', 'a: "b: c # d"\nb: \'[x] {y} &z *w !v |u >t\'\n'],
    ['unicode', 'név: 你好\nb: "ünïcödé"\nc: emoji 😀 ok\nd: a\u00a0b\n'],
    ['plain text with inner spaces and symbols', 'a: b  c\nb: x#y\nc: http://h/p?q=1\nd: a,b\n'],
    ['plain text with brackets inside', 'a: b]\nb: c}\nc: x[0]\nd: "{"\n'],
    ['plain with colons not followed by space', 'a: b:c\nurl: oci://r/x:1.0\nk:v: w\n'],
    ['dash-led plain text', 'a: --port=80\nb: -x\n-c: d\n--: e\nf: ---\ng: -- x\n'],
    ['merge spelling as a value', 'a: <<\nb: <\n'],
    ['dots', 'a: ...\nb: .\nc: -.\nd: .inf1\n'],
    ['resolvable keys', '1: a\n-2: b\n1.5: c\ntrue: d\nno: e\n0x10: f\n2001-01-01: g\n'],
    ['quoted keys', '"a b": 1\n\'c\'\'d\': 2\n"1": 3\n"<<": 4\n"": 5\n'],
    ['nested maps', 'a:\n  b:\n    c: 1\n  d: 2\ne: 3\n'],
    ['sequences at the key indentation', 'a:\n- 1\n- x\nb:\n- - 1\n  - 2\n- []\n'],
    ['sequences indented', 'a:\n  - 1\n  - 2\nb: 3\n'],
    [
      'sequences of maps',
      'items:\n- name: a\n  value: 1\n- name: b\n  sub:\n  - x: 1\n    y: 2\n  - z\n',
    ],
    ['maps in sequences in maps', 'a:\n  - b:\n      c:\n        - d: e\n    f: g\n'],
    ['empty items', "a:\n-\n- ''\n-\n  b: 1\n-\n"],
    ['an item with extra spaces', '-   a: 1\n    b: 2\n-   c\n'],
    ['empty collections', 'a: {}\nb: []\nc:\n- {}\n- []\n'],
    ['four-space indentation', 'a:\n    b:\n        - c\n        - d\n    e: 1\n'],
    ['a top-level sequence', '- 1\n- a: b\n- - c\n'],
    ['an indented document', '  a: 1\n  b:\n    - 2\n'],
    ['a leading --- and blank lines', '---\na: 1\n\n\nb:\n\n  c: 2\n'],
    ['no final newline', 'a: 1'],
    ['empty documents', ''],
    ['only ---', '---\n'],
    ['only blank lines', '\n\n'],
    ['a lone scalar', 'hello\n'],
    ['a lone int', '42'],
    ['a lone {}', '{}\n'],
    ['a lone quoted', '"x"\n'],
    ['comment lines', '# c\na:\n  # c: 1\n  b: 1\n    #  - c\n# x\nd:\n#\n- y\n#\n'],
    ['only a comment', '# c\n'],
    ['a long key', `${'k'.repeat(1024)}: v\n`],
  ];
  for (const [name, text] of accepted) {
    it(`${name} is read, as the full parser reads it`, () => {
      assert.equal(agrees(text), true, `declined ${JSON.stringify(text)}`);
    });
  }

  it('reads a rendered Kubernetes object as the full parser does', () => {
    const text = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  annotations:',
      '    fluxcd.controlplane.io/reconcile: enabled',
      '  labels:',
      '    app.kubernetes.io/name: web',
      '  name: web',
      'spec:',
      '  replicas: 3',
      '  template:',
      '    spec:',
      '      containers:',
      '      - args:',
      '        - --port=8080',
      '        env:',
      '        - name: A',
      '          value: "1"',
      '        image: registry.internal/web:1.2.3',
      '        ports:',
      '        - containerPort: 8080',
      '          protocol: TCP',
      '        resources: {}',
      '',
    ].join('\n');
    assert.equal(agrees(text), true);
  });
});

describe('fastParseGoYAML declines what it cannot read exactly', () => {
  const declined: [string, string][] = [
    ['a trailing comment', 'a: 1 # c\n'],
    ['a comment after a key', 'a: # c\n  b: 1\n'],
    ['an anchor and alias', 'a: &x 1\nb: *x\n'],
    ['a merge key', 'a: {}\n<<: {}\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a literal block scalar', 'a: |\n  x\n'],
    ['a folded block scalar', 'a: >-\n  x\n'],
    ['a flow mapping with content', 'a: {b: 1}\n'],
    ['a flow sequence with content', 'a: [1, 2]\n'],
    ['a spaced empty flow mapping', 'a: { }\n'],
    ['a multi-line plain value', 'a: b\n  c\n'],
    ['a multi-line plain item', '- b\n  c\n'],
    ['a plain value on the next line', 'a:\n  b\n'],
    ['a multi-line quoted value', 'a: "b\n  c"\n'],
    ['a double-quoted escape', 'a: "b\\n"\n'],
    ['a tab', 'a:\tb\n'],
    ['tab indentation', 'a:\n\tb: 1\n'],
    ['CRLF', 'a: 1\r\nb: 2\r\n'],
    ['a BOM', '\ufeffa: 1\n'],
    ['a NEL', 'a: b\u0085c\n'],
    ['a line separator', 'a: b\u2028c\n'],
    ['a control character', 'a: b\u0007\n'],
    ['duplicate keys', 'a: 1\na: 2\n'],
    ['keys duplicate once converted', '1: a\n"1": b\n'],
    ['a second document', 'a: 1\n---\nb: 2\n'],
    ['a document end', 'a: 1\n...\n'],
    ['a --- with content', '--- a: 1\n'],
    ['a directive', '%YAML 1.1\n---\na: 1\n'],
    ['a complex key', '? a\n: b\n'],
    ['a key too long', `${'k'.repeat(1025)}: v\n`],
    ['trailing spaces', 'a: 1 \n'],
    ['a line of spaces', 'a: 1\n  \nb: 2\n'],
    ['a space before the colon', 'a : 1\n'],
    ['mapping values in a value', 'a: b: c\n'],
    ['a value ending in a colon', 'a: b:\n'],
    ['a sequence entry as a value', 'a: - b\n'],
    ['misaligned keys', 'a:\n    b: 1\n  c: 2\n'],
    ['a sequence entry after keys', 'a: 1\n- b\n'],
    ['a key after a top-level sequence', '- a\nb: 1\n'],
    ['an item map misaligned', '-   a: 1\n  b: 2\n'],
    ['a dedent below the document', '  a: 1\nb: 2\n'],
    ['a null key', '~: a\n'],
    ['an empty key', ': a\n'],
    ['a uint64 key', '18446744073709551615: a\n'],
    ['a NaN value', 'a: .nan\n'],
    ['an infinite value', 'a: -.inf\n'],
    ['an indicator-led plain value', 'a: @x\n'],
    ['an indicator-led plain key', '?a: x\n'],
    ['a lone dash value', 'a: -\n'],
    ['text after a quoted value', "a: 'b' c\n"],
    ['an unterminated quote', 'a: "b\n'],
    ['a quoted key without a space after the colon', '"a":b\n'],
    ['a lone scalar with another line', 'a\nb\n'],
  ];
  for (const [name, text] of declined) {
    it(`${name} is declined`, () => {
      assert.equal(fastParseGoYAML(text), undefined);
    });
  }
});

// --- conformance fixtures -------------------------------------------------------------------

const skip = fixturesSkipReason('flux-operator');
const fixtures = gated(skip);
const dir = join(SHARED_FIXTURES, 'flux-operator', 'builder');

describe('fastParseGoYAML on the flux-operator builder fixtures', () => {
  const files = skip === undefined ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  for (const name of files) {
    fixtures.it(`${name}: every document reads as the full parser reads it`, () => {
      const text = readFileSync(join(dir, name), 'utf8');
      for (const document of splitGoYAMLDocuments(text)) {
        agrees(document);
        // The rendered objects (without the `# step:` comment the build writes before a step)
        // are what the renderer produces: the fast path must take them.
        if (name.endsWith('.golden.yaml')) {
          const object = document.replace(/^# step: .*\n/gm, '');
          assert.equal(agrees(object), true, `declined a rendered object of ${name}`);
        }
      }
    });
  }
});

// --- random documents -----------------------------------------------------------------------

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings that resolve to something else, need quoting, or sit at the subset's edges.
const WORDS = [
  'a',
  'name',
  'tenant-0001',
  'Deployment',
  'apps/v1',
  '1',
  '-1',
  '1.0',
  '0x1f',
  '017',
  '1e3',
  '.5',
  'yes',
  'no',
  'on',
  'off',
  'y',
  'n',
  'true',
  'False',
  '~',
  'null',
  '',
  ' ',
  'a b',
  'a: b',
  'a #b',
  'a#b',
  "it's",
  'say "hi"',
  'C:\\dir',
  '2001-12-14',
  '<<',
  '-',
  '---',
  '...',
  '[x]',
  '{y}',
  'x,y',
  '&a',
  '*a',
  '!t',
  '|',
  '>',
  '%',
  '@',
  '`',
  '?',
  ':',
  'é',
  '你好',
  '😀',
  'trailing ',
  ' leading',
  'two\nlines',
  'tab\there',
  'nul\u0000',
  'x'.repeat(90),
  'many words that go on and on past the eighty column line where go-yaml folds long text',
  'oci://registry.internal/platform/x:1.2.3',
  '${ARTIFACT_TAG}',
  '1.2.3',
  '1:20',
  '+1',
  '0o17',
];
const NUMBERS = [0, 1, -1, 1.5, -0.25, 1e21, 1e-7, 3.40788154e8, 2 ** 53, 0.1];

function randomValue(next: () => number, depth: number): GoValue {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const r = next();
  if (depth < 4 && r < 0.25) {
    const map = new Map<string, GoValue>();
    const size = Math.floor(next() * 5);
    for (let i = 0; i < size; i++) map.set(pick(WORDS), randomValue(next, depth + 1));
    return map;
  }
  if (depth < 4 && r < 0.4) {
    return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
  }
  if (r < 0.7) return pick(WORDS);
  if (r < 0.8) return new GoInt(BigInt(Math.floor((next() - 0.5) * 2 ** 40)));
  if (r < 0.9) return pick(NUMBERS);
  return pick([true, false, null]);
}

describe('fastParseGoYAML on random marshalled documents', () => {
  it('reads 3,000 seeded documents as the full parser does, and most of them', () => {
    const next = random(0x5eed);
    let read = 0;
    const total = 3000;
    for (let i = 0; i < total; i++) {
      const value = randomValue(next, 0);
      const text = marshalGoYAML(value instanceof Map ? value : new Map([['root', value]]));
      if (agrees(text)) read++;
    }
    // Long, multi-line and escaped strings are declined; the rest must be taken.
    assert.ok(read > total / 3, `only ${read} of ${total} read`);
  });

  it('reads seeded hand-indented documents as the full parser does', () => {
    const next = random(42);
    let read = 0;
    const total = 2000;
    for (let i = 0; i < total; i++) {
      const step = 1 + Math.floor(next() * 4);
      const compact = next() < 0.5;
      const lines: string[] = [];
      const emit = (v: GoValue, indent: number, inItem: string): void => {
        const pad = ' '.repeat(indent);
        const scalarText = (s: Scalar): string =>
          typeof s === 'string' ? (next() < 0.5 ? s : `'${s.replaceAll("'", "''")}'`) : String(s);
        if (v instanceof Map && v.size > 0) {
          let first = true;
          for (const [k, x] of v) {
            const head = first && inItem !== '' ? inItem : pad;
            first = false;
            const key = next() < 0.8 ? k : `"${k}"`;
            if ((x instanceof Map && x.size > 0) || (Array.isArray(x) && x.length > 0)) {
              lines.push(`${head}${key}:`);
              emit(x, Array.isArray(x) && compact ? indent : indent + step, '');
            } else {
              lines.push(`${head}${key}: ${emptyOr(x, scalarText)}`);
            }
          }
        } else if (Array.isArray(v) && v.length > 0) {
          let first = true;
          for (const x of v) {
            const head = first ? inItem || pad : pad;
            first = false;
            if ((x instanceof Map && x.size > 0) || (Array.isArray(x) && x.length > 0)) {
              emit(x, indent + 2, `${head}- `);
            } else {
              lines.push(`${head}- ${emptyOr(x, scalarText)}`);
            }
          }
        } else {
          lines.push(`${inItem || pad}${emptyOr(v, scalarText)}`);
        }
      };
      emit(randomValue(next, 0), 0, '');
      if (agrees(`${lines.join('\n')}\n`)) read++;
    }
    assert.ok(read > total / 10, `only ${read} of ${total} read`);
  });
});

type Scalar = string | number | boolean | null;

function emptyOr(v: GoValue, text: (s: Scalar) => string): string {
  if (v instanceof Map) return '{}';
  if (Array.isArray(v)) return '[]';
  if (v instanceof GoInt) return v.toString();
  return text(v);
}
