import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import {
  formatFloatG,
  GoInt,
  type GoValue,
  goKeyCompare,
  marshalGoYAML,
  parseGoYAML,
  parseGoYAMLDocuments,
} from './index.ts';

// Expected strings come from go-yaml/yaml@v2.4.0 encode_test.go / decode_test.go and from
// kubernetes-sigs/yaml yaml_test.go (cited per case), not from this implementation's output.

const m = (entries: Record<string, GoValue>): Map<string, GoValue> =>
  new Map(Object.entries(entries));
const int = (n: number | bigint): GoInt => new GoInt(n);

/** GoValue → plain JSON-ish data for deepEqual (GoInt kept apart from float as {int}). */
function plain(v: GoValue): unknown {
  if (v instanceof GoInt) return { int: v.value.toString() };
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('marshalGoYAML (go-yaml v2 encode_test.go marshalTests, via sigs.k8s.io/yaml)', () => {
  const cases: [string, GoValue, string][] = [
    ['L43 nil', null, 'null\n'],
    ['L49 empty map', m({}), '{}\n'],
    ['L55 plain string', m({ v: 'hi' }), 'v: hi\n'],
    ['L58 string true is quoted', m({ v: 'true' }), 'v: "true"\n'],
    ['L61 string false is quoted', m({ v: 'false' }), 'v: "false"\n'],
    ['L64 bool', m({ v: true }), 'v: true\n'],
    ['L70 int', m({ v: int(10) }), 'v: 10\n'],
    ['L73 negative int', m({ v: int(-10) }), 'v: -10\n'],
    ['L79 int64', m({ v: int(4294967296) }), 'v: 4294967296\n'],
    ['L88 numeric string is quoted', m({ v: '10' }), 'v: "10"\n'],
    ['L91 float', m({ v: 0.1 }), 'v: 0.1\n'],
    ['L100 negative float', m({ v: -0.1 }), 'v: -0.1\n'],
    ['L112 null value', m({ v: null }), 'v: null\n'],
    ['L115 empty string', m({ v: '' }), 'v: ""\n'],
    ['L118 sequence flush with its key', m({ v: ['A', 'B'] }), 'v:\n- A\n- B\n'],
    ['L121 multi-line item as literal', m({ v: ['A', 'B\nC'] }), 'v:\n- A\n- |-\n  B\n  C\n'],
    [
      'L124 map in sequence',
      m({ v: ['A', int(1), m({ B: [int(2), int(3)] })] }),
      'v:\n- A\n- 1\n- B:\n  - 2\n  - 3\n',
    ],
    ['L127 nested map', m({ a: m({ b: 'c' }) }), 'a:\n  b: c\n'],
    ['L130 lone dash single-quoted', m({ a: '-' }), "a: '-'\n"],
    ['L313 angle brackets stay plain', m({ a: '<foo>' }), 'a: <foo>\n'],
    ['L320 base 60 float quoted', m({ a: '1:1' }), 'a: "1:1"\n'],
    ['L326 NUL escaped', m({ a: '\x00' }), 'a: "\\0"\n'],
    ['L344 unicode kept as UTF-8', m({ a: '你好' }), 'a: 你好\n'],
    [
      'L368 timestamp-like string quoted',
      m({ a: '2015-02-24T18:19:39Z' }),
      'a: "2015-02-24T18:19:39Z"\n',
    ],
    ['L373 ": " single-quoted', m({ a: 'b: c' }), "a: 'b: c'\n"],
    ['L378 " #" single-quoted', m({ a: 'Hello #comment' }), "a: 'Hello #comment'\n"],
    ['L382 unicode " #"', m({ a: '你好 #comment' }), "a: '你好 #comment'\n"],
    ['L390 number 100.5', m({ a: 100.5 }), 'a: 100.5\n'],
  ];
  for (const [name, value, want] of cases) {
    it(name, () => assert.equal(marshalGoYAML(value), want));
  }

  it('encode_test.go:397 TestLineWrapping: single-quoted text folds after column 80', () => {
    const v = m({
      a: 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 ',
    });
    assert.equal(
      marshalGoYAML(v),
      "a: 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 abcdefghijklmnopqrstuvwxyz\n" +
        "  ABCDEFGHIJKLMNOPQRSTUVWXYZ 1234567890 '\n",
    );
  });

  it('sigs.k8s.io/yaml yaml_test.go:680 line-wrapped plain string', () => {
    const t =
      'this is very long line with spaces and it must be longer than 80 so we will repeat that it must be longer that 80';
    assert.equal(
      marshalGoYAML(m({ t })),
      't: this is very long line with spaces and it must be longer than 80 so we will repeat\n  that it must be longer that 80\n',
    );
  });

  it('sigs.k8s.io/yaml yaml_test.go:674 big integers go through JSON as 1e+36', () => {
    assert.equal(marshalGoYAML(m({ t: 1e36 })), 't: 1e+36\n');
  });

  it('sigs.k8s.io/yaml yaml_test.go:669 2^53+1 keeps every digit as an int64', () => {
    assert.equal(marshalGoYAML(m({ t: int(9007199254740993n) })), 't: 9007199254740993\n');
  });

  it('sigs.k8s.io/yaml yaml_test.go:688-712: keys that read as other types are quoted', () => {
    assert.equal(marshalGoYAML(m({ true: 'a' })), '"true": a\n');
    assert.equal(marshalGoYAML(m({ 1: 'a' })), '"1": a\n');
    assert.equal(marshalGoYAML(m({ '1.2': 'a' })), '"1.2": a\n');
    assert.equal(marshalGoYAML(m({ '1e+36': 'a' })), '"1e+36": a\n');
  });

  it('sigs.k8s.io/yaml yaml_test.go:212 MaxFloat64 prints as FormatFloat g -1', () => {
    assert.equal(marshalGoYAML(m({ D: 1.7976931348623157e308 })), 'D: 1.7976931348623157e+308\n');
  });

  it('integral floats come back as ints through JSON (json.Marshal writes 1e6 as 1000000)', () => {
    // encode.go floatv would print float64 1e6 as 1e+06; JSON turns it into the int 1000000 first.
    assert.equal(
      marshalGoYAML(m({ a: 1e6, b: 1.5e-7, c: 1234567.5 })),
      'a: 1000000\nb: 1.5e-07\nc: 1.2345675e+06\n',
    );
  });

  it('NaN and infinities fail like json.Marshal does', () => {
    assertThrowsCode(() => marshalGoYAML(m({ v: NaN })), 'INPUT_INVALID');
    assertThrowsCode(() => marshalGoYAML(m({ v: Infinity })), 'INPUT_INVALID');
  });

  it('emitterc.go analyze_scalar/select_scalar_style: indicators, spaces and specials', () => {
    assert.equal(marshalGoYAML(m({ a: '*' })), "a: '*'\n"); // leading '*' is an indicator
    assert.equal(marshalGoYAML(m({ a: '>=1.0.0' })), "a: '>=1.0.0'\n"); // builder golden slugify
    assert.equal(marshalGoYAML(m({ a: ' x' })), "a: ' x'\n"); // leading space
    assert.equal(marshalGoYAML(m({ a: "it's" })), "a: it's\n"); // quote inside is fine plain
    assert.equal(marshalGoYAML(m({ a: "'x" })), "a: '''x'\n"); // leading quote, doubled
    assert.equal(marshalGoYAML(m({ a: 'tab\there' })), 'a: "tab\\there"\n'); // tab not printable
    assert.equal(marshalGoYAML(m({ a: '😀' })), 'a: "\\U0001F600"\n'); // is_printable: no astral
    assert.equal(marshalGoYAML(m({ a: 'a:b' })), 'a: a:b\n'); // ':' not followed by space
    assert.equal(marshalGoYAML(m({ a: 'a #b' })), "a: 'a #b'\n");
    assert.equal(marshalGoYAML(m({ a: '---' })), "a: '---'\n");
    assert.equal(marshalGoYAML(m({ a: '~' })), 'a: "~"\n');
    assert.equal(
      marshalGoYAML(m({ a: 'yes', b: 'on', c: 'y', d: 'NO' })),
      'a: "yes"\nb: "on"\nc: "y"\nd: "NO"\n',
    );
    assert.equal(
      marshalGoYAML(m({ a: '0x1f', b: '1_000', c: '.5', d: '1e3' })),
      'a: "0x1f"\nb: "1_000"\nc: ".5"\nd: "1e3"\n',
    );
    // resolve.go:111-117: '<' has no resolveTable hint, so "<<" never reaches the map lookup.
    assert.equal(marshalGoYAML(m({ a: '<<' })), 'a: <<\n');
    assert.equal(marshalGoYAML(m({ a: '2001-12-14' })), 'a: "2001-12-14"\n'); // timestamp
    assert.equal(marshalGoYAML(m({ a: 'True1' })), 'a: True1\n');
  });

  it('emitterc.go write_block_scalar_hints: |-, |, |+ and the indentation hint', () => {
    assert.equal(marshalGoYAML(m({ a: 'x\ny' })), 'a: |-\n  x\n  y\n');
    assert.equal(marshalGoYAML(m({ a: 'x\ny\n' })), 'a: |\n  x\n  y\n');
    assert.equal(marshalGoYAML(m({ a: 'x\n\n' })), 'a: |+\n  x\n\n');
    assert.equal(marshalGoYAML(m({ a: ' x\ny' })), 'a: |2-\n   x\n  y\n');
    // A space before a line break forbids block style (space_break): double-quoted with \n.
    assert.equal(marshalGoYAML(m({ a: 'x \ny' })), 'a: "x \\ny"\n');
  });

  it('emitterc.go emit_block_sequence_item / mapping: nesting and empty collections', () => {
    assert.equal(marshalGoYAML([[int(1), int(2)], m({}), []]), '- - 1\n  - 2\n- {}\n- []\n');
    assert.equal(marshalGoYAML(m({ a: [], b: m({}) })), 'a: []\nb: {}\n');
    assert.equal(marshalGoYAML(m({ a: [m({ b: [m({ c: 'd' })] })] })), 'a:\n- b:\n  - c: d\n');
  });

  it('check_simple_key: a key over 128 bytes is written as "? key"', () => {
    const key = 'k'.repeat(129);
    assert.equal(marshalGoYAML(m({ [key]: 'v' })), `? ${key}\n: v\n`);
  });
});

describe('goKeyLess (go-yaml v2 sorter.go, encode_test.go:572 TestSortedOutput)', () => {
  it('sorts the string keys of TestSortedOutput in its order', () => {
    // encode_test.go:585-616, the string part of the expected order.
    const order = [
      '',
      '.1',
      '.2',
      '.a',
      '1',
      '2',
      'a!10',
      'a/0001',
      'a/002',
      'a/3',
      'a/10',
      'a/11',
      'a/0012',
      'a/100',
      'a~10',
      'ab/1',
      'b/1',
      'b/01',
      'b/2',
      'b/02',
      'b/3',
      'b/03',
      'b1',
      'b01',
      'b3',
      'c2.10',
      'c10.2',
      'd1',
      'd7',
      'd7abc',
      'd12',
      'd12a',
    ];
    const shuffled = [...order].reverse();
    shuffled.push(shuffled.shift() ?? '');
    assert.deepEqual(shuffled.sort(goKeyCompare), order);
  });

  it('orders Kubernetes-style keys as the operator prints them', () => {
    const keys = [
      'spec',
      'metadata',
      'kind',
      'apiVersion',
      'app.kubernetes.io/name',
      'app10',
      'app9',
    ];
    assert.deepEqual(keys.sort(goKeyCompare), [
      'apiVersion',
      'app.kubernetes.io/name',
      'app9',
      'app10',
      'kind',
      'metadata',
      'spec',
    ]);
  });
});

describe('parseGoYAML (go-yaml v2 decode_test.go unmarshalTests, through JSON)', () => {
  const cases: [string, string, unknown][] = [
    ['L22 empty document', '', null],
    ['L33 bool', 'v: true', { v: true }],
    ['L39 int', 'v: 10', { v: { int: '10' } }],
    ['L42 0b binary', 'v: 0b10', { v: { int: '2' } }],
    ['L45 hex', 'v: 0xA', { v: { int: '10' } }],
    ['L51 float', 'v: 0.1', { v: 0.1 }],
    ['L54 leading dot float', 'v: .1', { v: 0.1 }],
    ['L66 negative float', 'v: -.1', { v: -0.1 }],
    [
      'L78 canonical float is integral: JSON makes it an int',
      'canonical: 6.8523e+5',
      { canonical: { int: '685230' } },
    ],
    ['L81 underscores in floats', 'expo: 685.230_15e+03', { expo: 685230.15 }],
    ['L84 fixed', 'fixed: 685_230.15', { fixed: 685230.15 }],
    ['L98 y', 'canonical: y', { canonical: true }],
    ['L101 NO', 'answer: NO', { answer: false }],
    ['L104 True', 'logical: True', { logical: true }],
    ['L107 on', 'option: on', { option: true }],
    ['L118 signed underscores', 'decimal: +685_230', { decimal: { int: '685230' } }],
    ['L121 leading-zero octal', 'octal: 02472256', { octal: { int: '685230' } }],
    ['L124 hex with underscores', 'hexa: 0x_0A_74_AE', { hexa: { int: '685230' } }],
    ['L127 binary with underscores', 'bin: 0b1010_0111_0100_1010_1110', { bin: { int: '685230' } }],
    ['L130 negative binary', 'bin: -0b101010', { bin: { int: '-42' } }],
    ['L144 empty value is null', 'empty:', { empty: null }],
    ['L147 ~', 'canonical: ~', { canonical: null }],
    ['L150 null', 'english: null', { english: null }],
    ['L162 flow sequence', 'seq: [A,B]', { seq: ['A', 'B'] }],
    [
      'L197 literal block',
      'scalar: | # Comment\n\n literal\n\n \ttext\n\n',
      { scalar: '\nliteral\n\n\ttext\n' },
    ],
    [
      'L203 folded block',
      'scalar: > # Comment\n\n folded\n line\n \n next\n line\n  * one\n  * two\n\n last\n line\n\n',
      { scalar: '\nfolded line\nnext line\n * one\n * two\n\nlast line\n' },
    ],
    ['L406 !!float tag', "v: !!float '1.1'", { v: 1.1 }],
    ['L415 !!null tag', "v: !!null ''", { v: null }],
    [
      'L430 aliases',
      'a: &x 1\nb: &y 2\nc: *x\nd: *y\n',
      { a: { int: '1' }, b: { int: '2' }, c: { int: '1' }, d: { int: '2' } },
    ],
    ['L446 quoted empty string', "foo: ''", { foo: '' }],
    ['L553 1:1 stays a string (no base 60)', 'a: 1:1\n', { a: '1:1' }],
    ['L600 timestamps stay strings', 'a: 2015-01-01\n', { a: '2015-01-01' }],
    ['L696 123456e1 is a float, integral through JSON', 'a: 123456e1\n', { a: { int: '1234560' } }],
    [
      'L704 anchors redefined',
      'First occurrence: &anchor Foo\nSecond occurrence: *anchor\nOverride anchor: &anchor Bar\nReuse anchor: *anchor\n',
      {
        'First occurrence': 'Foo',
        'Second occurrence': 'Foo',
        'Override anchor': 'Bar',
        'Reuse anchor': 'Bar',
      },
    ],
    ['L714 only the first document is read', '---\nhello\n...\n}not yaml', 'hello'],
    [
      'quoted scalars are strings',
      'a: "true"\nb: \'1\'\nc: "null"',
      { a: 'true', b: '1', c: 'null' },
    ],
    [
      '1.0 is the int 1, 1.10 the float 1.1 (resourceset.md §1.3.5)',
      'a: 1.0\nb: 1.10',
      { a: { int: '1' }, b: 1.1 },
    ],
    ['uint64 past int64 reads as float64', 'a: 18446744073709551615', { a: 2 ** 64 }],
    ['out-of-range float stays a string', 'a: 1e400', { a: '1e400' }],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => assert.deepEqual(plain(parseGoYAML(text)), want));
  }

  it('sigs.k8s.io/yaml yaml_test.go:686-717: non-string keys are stringified', () => {
    assert.deepEqual(plain(parseGoYAML('True: a')), { true: 'a' });
    assert.deepEqual(plain(parseGoYAML('no: a')), { false: 'a' });
    assert.deepEqual(plain(parseGoYAML('1: a')), { 1: 'a' });
    assert.deepEqual(plain(parseGoYAML('1.2: a')), { '1.2': 'a' });
    assert.deepEqual(plain(parseGoYAML('1000000000000000000000000000000000000: a')), {
      '1e+36': 'a',
    });
    assert.deepEqual(plain(parseGoYAML('1e+36: a')), { '1e+36': 'a' });
    assert.deepEqual(plain(parseGoYAML('.inf: a')), { '.inf': 'a' });
  });

  it('sigs.k8s.io/yaml yaml_test.go:750-760: null keys are errors', () => {
    assertThrowsCode(() => parseGoYAML('~: a'), 'CONFIG_INVALID');
    assertThrowsCode(() => parseGoYAML('null: a'), 'CONFIG_INVALID');
  });

  it('sigs.k8s.io/yaml yaml_test.go:742 !!binary decodes to bytes (invalid UTF-8 becomes U+FFFD)', () => {
    assert.deepEqual(plain(parseGoYAML('a: !!binary gIGC')), { a: '\ufffd\ufffd\ufffd' });
  });

  it('decode_test.go:1096 mergeTests: <<, lists of maps, earlier wins, explicit keys override', () => {
    const text = [
      'anchors:',
      '  list:',
      '    - &CENTER { "x": 1, "y": 2 }',
      '    - &LEFT   { "x": 0, "y": 2 }',
      '    - &BIG    { "r": 10 }',
      '    - &SMALL  { "r": 1 }',
      'mergeOne:',
      '  << : *CENTER',
      '  "r": 10',
      '  label: center/big',
      'mergeMultiple:',
      '  << : [ *CENTER, *BIG ]',
      '  label: center/big',
      'override:',
      '  << : [ *BIG, *LEFT, *SMALL ]',
      '  "x": 1',
      '  label: center/big',
      'shortTag:',
      '  !!merge "<<" : [ *CENTER, *BIG ]',
      '  label: center/big',
      '',
    ].join('\n');
    const want = { x: { int: '1' }, y: { int: '2' }, r: { int: '10' }, label: 'center/big' };
    const got = plain(parseGoYAML(text)) as Record<string, unknown>;
    for (const name of ['mergeOne', 'mergeMultiple', 'override', 'shortTag']) {
      assert.deepEqual(got[name], want, name);
    }
  });

  it('go-yaml v2 merge overwrites keys set before the << (decode.go mapping)', () => {
    assert.deepEqual(plain(parseGoYAML('base: &b {a: 1}\nm:\n  a: 2\n  <<: *b\n')), {
      base: { a: { int: '1' } },
      m: { a: { int: '1' } },
    });
  });

  it('decode_test.go:854 unmarshalErrorTests fail as CONFIG_INVALID', () => {
    for (const text of [
      "v: !!float 'error'",
      'v: [A,',
      'a: *b\n',
      'a: &x null\n<<:\n- *x\nb: &x {}\n',
      'a: !!binary ==',
      '{[.]}',
      'b: *a\na: &a {c: 1}',
    ]) {
      assertThrowsCode(() => parseGoYAML(text), 'CONFIG_INVALID');
    }
  });

  it('decode_test.go:871 billion laughs: excessive aliasing is refused', () => {
    const rows = ['a: &a [00,00,00,00,00,00,00,00,00]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
      ['g', 'f'],
      ['h', 'g'],
      ['i', 'h'],
    ]) {
      rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    assertThrowsCode(() => parseGoYAML(rows.join('\n') + '\n'), 'CONFIG_INVALID');
  });

  it('NaN values cannot become JSON (json: unsupported value)', () => {
    assertThrowsCode(() => parseGoYAML('a: .nan'), 'CONFIG_INVALID');
  });

  it('a block scalar indicator followed by text is the builder invalid-output error', () => {
    const error = assertThrowsCode(
      () => parseGoYAML('spec:\n  semver: >=1.0.0-rc.0\n', 'resources[0]'),
      'CONFIG_INVALID',
    );
    // FO internal/builder/testdata/resourceset/invalid-output.yaml expects this substring.
    assert.match(error.message, /error converting YAML to JSON: yaml: line 2: /);
  });
});

describe('parseGoYAMLDocuments (apimachinery YAMLReader split)', () => {
  it('splits on column-0 --- lines, skips empty chunks, keeps comment-only chunks as null', () => {
    const docs = parseGoYAMLDocuments(
      '---\na: 1\n---\n---   # note\nb: 2\n--- \n# only a comment\n',
    );
    assert.deepEqual(docs.map(plain), [{ a: { int: '1' } }, { b: { int: '2' } }, null]);
  });

  it('an indented --- is content, not a separator', () => {
    assert.deepEqual(parseGoYAMLDocuments('a: |\n  ---\n  x\n').map(plain), [{ a: '---\nx\n' }]);
  });
});

describe('formatFloatG (strconv.FormatFloat g -1)', () => {
  it('uses %e when the exponent is below -4 or at least 6 (eprec 6 when shortest)', () => {
    assert.equal(formatFloatG(1e6), '1e+06');
    assert.equal(formatFloatG(123456), '123456');
    assert.equal(formatFloatG(0.0001), '0.0001');
    assert.equal(formatFloatG(0.00001), '1e-05');
    assert.equal(formatFloatG(340788154), '3.40788154e+08'); // resourceset.md §1.3.5
    assert.equal(formatFloatG(1e100), '1e+100');
    assert.equal(formatFloatG(0.1, 32), '0.1');
    assert.equal(formatFloatG(-0), '-0');
  });
});
