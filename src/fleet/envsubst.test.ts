import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { type EnvsubstNode, envsubst, parseEnvsubst } from './envsubst.ts';

type Params = Record<string, string>;

/** envsubst/eval_test.go TestExpand: the mapping answers every name (unset reads as ''). */
const expand = (params: Params, input: string): string =>
  envsubst(input, (name) => params[name], { strict: false });

/** envsubst/eval_test.go TestExpandStrict: the mapping says whether the name exists. */
const expandStrict = (params: Params, input: string): string =>
  envsubst(input, (name) => params[name], { strict: true });

// fluxcd/pkg envsubst/eval_test.go, TestExpand (test cases the file sources from tldp.org).
const EXPAND: [params: Params, input: string, output: string][] = [
  [{}, 'abcdEFGH28ij', 'abcdEFGH28ij'],
  [{ var01: 'abcdEFGH28ij' }, '${#var01}', '12'],
  [{ var01: 'abcdEFGH28ij' }, '${var01^}', 'AbcdEFGH28ij'],
  [{ var01: 'abcdEFGH28ij' }, '${var01^^}', 'ABCDEFGH28IJ'],
  [{ var01: 'ABCDEFGH28IJ' }, '${var01,}', 'aBCDEFGH28IJ'],
  [{ var01: 'ABCDEFGH28IJ' }, '${var01,,}', 'abcdefgh28ij'],
  [
    { path_name: '/home/bozo/ideas/thoughts.for.today' },
    '${path_name:11}',
    'ideas/thoughts.for.today',
  ],
  [{ path_name: '/home/bozo/ideas/thoughts.for.today' }, '${path_name:11:5}', 'ideas'],
  [{ var: 'abc' }, '${var=xyz}', 'abc'],
  [{}, '${var=xyz}', 'xyz'],
  [{ default_var: 'foo' }, 'something ${var=${default_var}}', 'something foo'],
  [{ default_var: 'foo1' }, 'foo: ${var=${default_var}-suffix}', 'foo: foo1-suffix'],
  [{ default_var: 'foo1' }, 'foo: ${var=prefix${default_var}-suffix}', 'foo: prefixfoo1-suffix'],
  [{}, '${var:=xyz}', 'xyz'],
  [{ stringZ: 'abcABC123ABCabc' }, '${stringZ/%abc/XYZ}', 'abcABC123ABCXYZ'],
  [{ stringZ: 'abcABC123ABCabc' }, '${stringZ/#abc/XYZ}', 'XYZABC123ABCabc'],
  [{ stringZ: 'abcABC123ABCabc' }, '${stringZ//abc/xyz}', 'xyzABC123ABCxyz'],
  [{ stringZ: 'abcABC123ABCabc' }, '${stringZ/abc/xyz}', 'xyzABC123ABCabc'],
  [{ filename: 'bash.string.txt' }, '${filename#*.}', 'string.txt'],
  [{ filename: 'path/to/file' }, '${filename#*/}', 'to/file'],
  [{ filename: '/path/to/file' }, '${filename#*/}', 'path/to/file'],
  [{ filename: 'bash.string.txt' }, '${filename##*.}', 'txt'],
  [{ filename: 'path/to/file' }, '${filename##*/}', 'file'],
  [{ filename: '/path/to/file' }, '${filename##*/}', 'file'],
  [{ filename: 'bash.string.txt' }, '${filename%.*}', 'bash.string'],
  [{ filename: 'bash.string.txt' }, '${filename%%.*}', 'bash'],
  [{ var01: 'abcdEFGH28ij' }, '${var=${var01^^}}', 'ABCDEFGH28IJ'],
  [{ var01: 'abcdEFGH28ij' }, '$${var01}', '${var01}'],
  [
    { var01: 'abcdEFGH28ij' },
    'some text ${var01}$${var$${var01}$var01${var01}',
    'some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij',
  ],
  [{ default_var: 'foo' }, 'something $${var=${default_var}}', 'something ${var=foo}'],
  [{ stringZ: 'foo/bar' }, '${stringZ/\\//-}', 'foo-bar'],
  [{ stringZ: 'foo/bar/baz' }, '${stringZ//\\//-}', 'foo-bar-baz'],
  [{ default_var: 'foo' }, '\\\\something ${var=${default_var}}', '\\\\something foo'],
  [{ stringZ: 'foo.bar' }, '${stringZ/./}', 'foobar'],
];

// fluxcd/pkg envsubst/eval_test.go, TestExpandStrict.
const STRICT_OK: [params: Params, input: string, output: string][] = [
  [{}, 'abcdEFGH28ij', 'abcdEFGH28ij'],
  [{ foo: 'bar' }, '${foo}', 'bar'],
  [{ foo: '' }, '${foo}', ''],
  [{ foo: 'bar' }, '${missing:=default}', 'default'],
  [{}, '${missing:-fallback}', 'fallback'],
  [{}, '${missing:=assigned}', 'assigned'],
  [{}, '${missing=assigned}', 'assigned'],
];
// Missing with a transformation operator still fails (fluxcd/flux2#5836).
const STRICT_FAIL = [
  '${missing}',
  '${#missing}',
  '${missing^}',
  '${missing^^}',
  '${missing,}',
  '${missing,,}',
  '${missing:0}',
  '${missing:0:10}',
  '${missing/pattern/replacement}',
  '${missing//pattern/replacement}',
  '${missing/#pattern/replacement}',
  '${missing/%pattern/replacement}',
  '${missing#pattern}',
  '${missing##pattern}',
  '${missing%pattern}',
  '${missing%%pattern}',
];

describe('envsubst: eval_test.go vectors', () => {
  for (const [params, input, output] of EXPAND) {
    it(`expands ${input}`, () => {
      assert.equal(expand(params, input), output);
    });
  }
  for (const [params, input, output] of STRICT_OK) {
    it(`strict: expands ${input}`, () => {
      assert.equal(expandStrict(params, input), output);
    });
  }
  for (const input of STRICT_FAIL) {
    it(`strict: ${input} with the variable unset fails`, () => {
      const error = assertThrowsCode(() => expandStrict({}, input), 'TEMPLATE_FAILED');
      assert.equal(error.data['variable'], 'missing');
    });
  }
});

const text = (value: string): EnvsubstNode => ({ kind: 'text', value });
const fn = (param: string, name = '', args: EnvsubstNode[] = []): EnvsubstNode => ({
  kind: 'func',
  param,
  name,
  args,
  offset: 0,
});

/** Offsets are ours, not part of the Go tree: zero them for comparison. */
function shape(node: EnvsubstNode): EnvsubstNode {
  return node.kind === 'text' ? node : { ...node, offset: 0, args: node.args.map(shape) };
}

// fluxcd/pkg envsubst/parse/parse_test.go. Go nests the top level as ListNode{left, rest};
// parseEnvsubst returns the same nodes as a flat list.
const PARSE: [input: string, nodes: EnvsubstNode[]][] = [
  ['text', [text('text')]],
  ['}text', [text('}text')]],
  ['http://github.com', [text('http://github.com')]],
  ['$${string}', [text('${string}')]],
  ['$$string', [text('$string')]],
  ['\\\\.\\pipe\\pipename', [text('\\\\.\\pipe\\pipename')]],
  ['${string}', [fn('string')]],
  ['${string,}', [fn('string', ',')]],
  ['${string,,}', [fn('string', ',,')]],
  ['${string^}', [fn('string', '^')]],
  ['${string^^}', [fn('string', '^^')]],
  ['${string:position}', [fn('string', ':', [text('position')])]],
  ['${string:position:length}', [fn('string', ':', [text('position'), text('length')])]],
  ['${string#substring}', [fn('string', '#', [text('substring')])]],
  ['${string##substring}', [fn('string', '##', [text('substring')])]],
  ['${string%substring}', [fn('string', '%', [text('substring')])]],
  ['${string%%substring}', [fn('string', '%%', [text('substring')])]],
  [
    '${string/substring/replacement}',
    [fn('string', '/', [text('substring'), text('replacement')])],
  ],
  [
    '${string//substring/replacement}',
    [fn('string', '//', [text('substring'), text('replacement')])],
  ],
  [
    '${string/#substring/replacement}',
    [fn('string', '/#', [text('substring'), text('replacement')])],
  ],
  [
    '${string/%substring/replacement}',
    [fn('string', '/%', [text('substring'), text('replacement')])],
  ],
  ['${string=default}', [fn('string', '=', [text('default')])]],
  ['${string:=default}', [fn('string', ':=', [text('default')])]],
  ['${string:-default}', [fn('string', ':-', [text('default')])]],
  ['${string:?default}', [fn('string', ':?', [text('default')])]],
  ['${string:+default}', [fn('string', ':+', [text('default')])]],
  ['${#string}', [fn('string', '#')]],
  ['${string#$%:*{}', [fn('string', '#', [text('$%:*{')])]],
  ['hello ${#string} world', [text('hello '), fn('string', '#'), text(' world')]],
  [
    '\\\\ hello ${#string} world \\\\',
    [text('\\\\ hello '), fn('string', '#'), text(' world \\\\')],
  ],
  ['${string/\\/position/length}', [fn('string', '/', [text('/position'), text('length')])]],
  ['${string/\\/position\\\\/length}', [fn('string', '/', [text('/position\\'), text('length')])]],
  ['${string/position/\\/length}', [fn('string', '/', [text('position'), text('/length')])]],
  ['${string/position/\\/length\\\\}', [fn('string', '/', [text('position'), text('/length\\')])]],
  ['${string/position/\\/leng\\\\th}', [fn('string', '/', [text('position'), text('/leng\\th')])]],
  ['${string:${position}}', [fn('string', ':', [fn('position')])]],
  [
    '${string:${stringy:position:length}:${stringz,,}}',
    [
      fn('string', ':', [
        fn('stringy', ':', [text('position'), text('length')]),
        fn('stringz', ',,'),
      ]),
    ],
  ],
  ['${string#${stringz}}', [fn('string', '#', [fn('stringz')])]],
  ['${string=${stringz}}', [fn('string', '=', [fn('stringz')])]],
  ['${string=prefix-${var}}', [fn('string', '=', [text('prefix-'), fn('var')])]],
  ['${string=${var}-suffix}', [fn('string', '=', [fn('var'), text('-suffix')])]],
  [
    '${string=prefix-${var}-suffix}',
    [fn('string', '=', [text('prefix-'), fn('var'), text('-suffix')])],
  ],
  [
    '${string=prefix${var} suffix}',
    [fn('string', '=', [text('prefix'), fn('var'), text(' suffix')])],
  ],
  ['${string//${stringy}/${stringz}}', [fn('string', '//', [fn('stringy'), fn('stringz')])]],
];

describe('envsubst: parse_test.go vectors', () => {
  for (const [input, nodes] of PARSE) {
    it(`parses ${input}`, () => {
      assert.deepEqual(parseEnvsubst(input).map(shape), nodes);
    });
  }
  it('parses the empty text to nothing (Go: the empty TextNode)', () => {
    assert.deepEqual(parseEnvsubst(''), []);
  });
});

// fluxcd/pkg envsubst/funcs_test.go, through the expressions that call each function.
describe('envsubst: funcs_test.go vectors', () => {
  const v = (value: string, input: string, extra: Params = {}): string =>
    expand({ v: value, ...extra }, input);
  it('toLen', () => {
    assert.equal(v('Hello World', '${#v}'), '11');
  });
  it('toLower, toLowerFirst (empty does not fail)', () => {
    assert.equal(v('Hello World', '${v,,}'), 'hello world');
    assert.equal(v('HELLO WORLD', '${v,}'), 'hELLO WORLD');
    assert.equal(v('', '${v,}'), '');
  });
  it('toUpper, toUpperFirst (empty does not fail)', () => {
    assert.equal(v('Hello World', '${v^^}'), 'HELLO WORLD');
    assert.equal(v('hello world', '${v^}'), 'Hello world');
    assert.equal(v('', '${v^}'), '');
  });
  it('toDefault: the value, the default when empty, the arguments concatenated', () => {
    assert.equal(v('Hello World', '${v:=Hola Mundo}'), 'Hello World');
    assert.equal(v('', '${v:=Hola Mundo}'), 'Hola Mundo');
    assert.equal(
      v('', '${v:=Hola Mundo${b}${c}}', { b: '-Bonjour le monde', c: '-Halló heimur' }),
      'Hola Mundo-Bonjour le monde-Halló heimur',
    );
  });
  it('toSubstr', () => {
    const s = '123456789123456789';
    assert.equal(v(s, '${v:0:8}'), '12345678');
    assert.equal(v(s, '${v:1:8}'), '23456789');
    assert.equal(v(s, '${v:9}'), '123456789');
    assert.equal(v(s, '${v:9:50}'), '123456789');
    // `${v:-3:2}` would be the :- default operator: the offset comes from a variable.
    assert.equal(v(s, '${v:${p}:2}', { p: '-3' }), '78');
    assert.equal(v(s, '${v:${p}:3}', { p: '-300' }), '123');
    assert.equal(v('12345678', '${v:9:1}'), '');
  });
});

describe('envsubst: behaviour a manifest depends on', () => {
  it('collapses $$ anywhere in text, so shell scripts lose one dollar', () => {
    assert.equal(expand({}, 'echo $$HOME $$$$ $'), 'echo $HOME $$ $');
    assert.equal(expand({ a: 'x' }, '$$${a}'), '$x');
  });
  it('leaves $var without braces alone', () => {
    assert.equal(expand({ var: 'x' }, 'a $var b'), 'a $var b');
  });
  it('keeps $$ inside a default, and escapes it inside a replacement', () => {
    assert.equal(expand({}, '${v:=$$}'), '$$');
    assert.equal(expand({ v: 'a$b' }, '${v/$$/-}'), 'a-b');
  });
  it('treats ${var:+x} and ${var:?x} as ${var:-x} (not as bash does)', () => {
    assert.equal(expand({ v: 'set' }, '${v:+x}'), 'set');
    assert.equal(expand({}, '${v:+x}'), 'x');
    assert.equal(expand({}, '${v:?x}'), 'x');
    assert.equal(expandStrict({}, '${v:?x}'), 'x');
  });
  it('takes the default of ${var=x} for a set but empty variable (not as bash does)', () => {
    assert.equal(expandStrict({ v: '' }, '${v=x}'), 'x');
  });
  for (const input of ['${v-x}', '${v+x}', '${v?x}', '${v }', '${v']) {
    it(`refuses ${input}: missing closing brace`, () => {
      const error = assertThrowsCode(() => expand({ v: 'a' }, input), 'TEMPLATE_INVALID');
      assert.equal(error.message, 'missing closing brace');
    });
  }
  for (const [input, message] of [
    ['${}', 'unable to parse variable name'],
    ['${', 'unable to parse variable name'],
    ['${v:}', 'unable to parse substitution within function'],
    ['${v#}', 'unable to parse substitution within function'],
    ['${v:=x', 'unable to parse substitution within function'],
    ['${v^x}', 'bad substitution'],
    ['${#v:=x}', 'bad substitution'],
    ['${v#a${b}}', 'bad substitution'],
  ] as const) {
    it(`refuses ${input}: ${message}`, () => {
      const error = assertThrowsCode(() => expand({ v: 'a' }, input), 'TEMPLATE_INVALID');
      assert.equal(error.message, message);
    });
  }
  it('names the line and column of a strict-mode failure', () => {
    const error = assertThrowsCode(
      () => expandStrict({ a: '1' }, 'a: ${a}\nb: ${é:=x}\nc: x${missing}\n'),
      'TEMPLATE_FAILED',
    );
    assert.equal(error.message, 'variable not set (strict mode): "missing"');
    assert.deepEqual(
      { line: error.data['line'], column: error.data['column'] },
      { line: 3, column: 5 },
    );
  });
  it('evaluates a default before it looks the variable up (strict fails on an unused default)', () => {
    assertThrowsCode(() => expandStrict({ a: 'set' }, '${a:=${b}}'), 'TEMPLATE_FAILED');
    assert.equal(expand({ a: 'set' }, '${a:=${b}}'), 'set');
  });
  it('counts lengths and offsets in UTF-8 bytes, as Go strings do', () => {
    assert.equal(expand({ v: 'héllo' }, '${#v}'), '6');
    assert.equal(expand({ v: 'héllo' }, '${v:3}'), 'llo');
    assert.equal(expand({ v: 'héllo' }, '${v:0:3}'), 'hé');
    assert.equal(expand({ v: 'héllo wörld' }, '${v^^}'), 'HÉLLO WÖRLD');
    assert.equal(expand({ v: 'élan' }, '${v^}'), 'Élan');
  });
  it("maps case one rune to one rune, as Go's unicode.ToUpper does", () => {
    assert.equal(expand({ v: 'straße' }, '${v^^}'), 'STRAßE');
    assert.equal(expand({ v: 'İ' }, '${v,,}'), 'i');
  });
  it('ignores an offset or length that is not a number', () => {
    assert.equal(expand({ v: 'abc' }, '${v:x}'), 'abc');
    assert.equal(expand({ v: 'abc' }, '${v:1:x}'), 'abc');
    assert.equal(expand({ v: 'abc' }, '${v: 1}'), 'abc');
  });
  it('fails on a negative length (Go panics slicing)', () => {
    assertThrowsCode(() => expand({ v: 'abcdef', n: '-3' }, '${v:1:${n}}'), 'TEMPLATE_FAILED');
  });
  it('needs both arguments for /# and /% (otherwise the value is unchanged)', () => {
    assert.equal(expand({ v: 'abcabc' }, '${v/#abc/}'), 'abcabc');
    assert.equal(expand({ v: 'abcabc' }, '${v/%abc/}'), 'abcabc');
    assert.equal(expand({ v: 'abcabc' }, '${v/abc/}'), 'abc');
    assert.equal(expand({ v: 'abcabc' }, '${v//abc/}'), '');
  });
  it('replaces literally (no glob) and inserts around every rune for an empty pattern', () => {
    assert.equal(expand({ v: 'a*b' }, '${v/*/-}'), 'a-b');
    assert.equal(expand({ v: 'aé' }, '${v//${e}/-}'), '-a-é-');
  });
  it('matches globs where * and ? cross slashes, with classes and escapes', () => {
    assert.equal(expand({ v: 'a/b/c.txt' }, '${v#?/}'), 'b/c.txt');
    assert.equal(expand({ v: 'v1.2.3' }, '${v#[a-z]}'), '1.2.3');
    assert.equal(expand({ v: 'v1.2.3' }, '${v#[^0-9]}'), '1.2.3');
    assert.equal(expand({ v: '*x' }, '${v#\\*}'), 'x');
    assert.equal(expand({ v: 'abc' }, '${v#[}'), 'abc');
  });
  it('drops the text after a NUL character (the scanner reads it as the end)', () => {
    assert.equal(expand({ a: 'x' }, 'before\u0000${a} after'), 'before');
  });
});
