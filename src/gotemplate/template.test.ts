// Expectations come from Go's documentation and tests, not from this implementation:
// text/template package doc (pkg.go.dev/text/template: "Text and spaces", "Actions",
// "Arguments", "Pipelines", "Variables", "Examples", "Functions"), golang/go
// src/text/template/exec_test.go and parse/parse_test.go, and the Flux Operator builder goldens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GoInt, type GoValue } from '../goyaml/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { type FuncMap, fluxOperatorFuncs, parseTemplate, sprigHermeticFuncs } from './index.ts';

const map = (entries: Record<string, GoValue>): Map<string, GoValue> =>
  new Map(Object.entries(entries));

function render(
  text: string,
  data: GoValue = null,
  options: { funcs?: FuncMap; missingKey?: 'error' | 'default'; delims?: [string, string] } = {},
): string {
  const template = parseTemplate(text, {
    name: 'test',
    funcs: options.funcs ?? sprigHermeticFuncs(),
    ...(options.delims ? { leftDelim: options.delims[0], rightDelim: options.delims[1] } : {}),
  });
  return template.execute(data, { missingKey: options.missingKey ?? 'default' });
}

function failure(
  text: string,
  data: GoValue = null,
  options: Parameters<typeof render>[2] = {},
): string {
  return assertThrowsCode(() => render(text, data, options), 'TEMPLATE_FAILED').message;
}

function invalid(text: string, options: Parameters<typeof render>[2] = {}): string {
  return assertThrowsCode(() => render(text, null, options), 'TEMPLATE_INVALID').message;
}

describe('text and spaces (package doc "Text and spaces")', () => {
  it('trim markers remove the white space next to them', () => {
    assert.equal(render('{{23 -}} < {{- 45}}'), '23<45');
    assert.equal(render('a \n\t {{- "b" -}} \n c'), 'abc');
  });
  it('a minus without a following space is a number, not a trim marker', () => {
    assert.equal(render('{{-3}}'), '-3');
  });
  it('comments produce nothing and may carry trim markers', () => {
    assert.equal(render('a {{/* a comment */}} b'), 'a  b');
    assert.equal(render('a {{- /* a comment */ -}} b'), 'ab');
    assert.match(invalid('{{/* unclosed'), /unclosed comment/);
  });
  it('actions may span lines (Go 1.16)', () => {
    assert.equal(render('{{ print\n  1\n  2 }}'), '1 2');
  });
  it('uses configured delimiters and leaves the default ones as text', () => {
    const funcs = sprigHermeticFuncs();
    assert.equal(
      render('{{ x }} << "y" >> <<- " z" >>', null, { funcs, delims: ['<<', '>>'] }),
      '{{ x }} y z',
    );
  });
});

describe('pipelines and variables (package doc "Examples")', () => {
  const examples = [
    '{{"\\"output\\""}}',
    '{{`"output"`}}',
    '{{printf "%q" "output"}}',
    '{{"output" | printf "%q"}}',
    '{{printf "%q" (print "out" "put")}}',
    '{{"put" | printf "%s%s" "out" | printf "%q"}}',
    '{{"output" | printf "%s" | printf "%q"}}',
    '{{with "output"}}{{printf "%q" .}}{{end}}',
    '{{with $x := "output" | printf "%q"}}{{$x}}{{end}}',
    '{{with $x := "output"}}{{printf "%q" $x}}{{end}}',
    '{{with $x := "output"}}{{$x | printf "%q"}}{{end}}',
  ];
  for (const example of examples) {
    it(`${example} prints "output" in quotes`, () => {
      assert.equal(render(example), '"output"');
    });
  }
  it('assigns with = to a declared variable', () => {
    assert.equal(render('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}'), '2');
  });
  it('$ is the data passed to Execute', () => {
    assert.equal(
      render('{{range .list}}{{$.name}}{{.}}{{end}}', map({ name: 'n', list: ['a', 'b'] })),
      'nanb',
    );
  });
  it('rejects undeclared variables at parse time (parse_test.go)', () => {
    assert.match(invalid('{{$x}}'), /^template: test:1: undefined variable "\$x"$/);
  });
  it('rejects unknown functions at parse time, as the operator does for now/env', () => {
    assert.match(invalid('{{now}}'), /^template: test:1: function "now" not defined$/);
    assert.match(invalid('{{env "HOME"}}'), /function "env" not defined/);
    assert.match(invalid('line1\n{{uuidv4}}'), /^template: test:2: function "uuidv4" not defined$/);
  });
  it('reports unclosed actions', () => {
    assert.match(invalid('{{if true}}'), /unexpected EOF/);
    assert.match(invalid('{{print 1'), /unclosed action/);
  });
  it('rejects non-executable pipeline stages (parse_test.go)', () => {
    assert.match(invalid('{{print 1 | 2}}'), /non executable command in pipeline stage 2/);
  });
});

describe('fields on maps and function results', () => {
  const inputs = map({ tenant: 'team1', foo: map({ bar: map({ k1: 'v1' }) }), nothing: null });
  const funcs = fluxOperatorFuncs(() => inputs);
  const operator = (text: string, missingKey: 'error' | 'default' = 'error'): string =>
    render(text, null, { funcs, delims: ['<<', '>>'], missingKey });

  it('chains fields on a zero-argument function result (inputs.a.b)', () => {
    assert.equal(operator('<< inputs.tenant >>-<< inputs.foo.bar.k1 >>'), 'team1-v1');
  });
  it('missingkey=error names the function node, as the operator golden expects', () => {
    // FO internal/builder/testdata/resourceset/missing-inputs.yaml: `<inputs>: map has no entry
    // for key "semver"`; the column is the 0-based byte offset of `inputs` (parse.go ErrorContext).
    const message = assertThrowsCode(
      () => operator('ref:\n  semver: << inputs.semver >>'),
      'TEMPLATE_FAILED',
    ).message;
    assert.equal(
      message,
      'template: test:2:13: executing "test" at <inputs>: map has no entry for key "semver"',
    );
  });
  it('missingkey=error applies to nested keys too', () => {
    assert.match(
      assertThrowsCode(() => operator('<< inputs.foo.nope >>'), 'TEMPLATE_FAILED').message,
      /at <inputs>: map has no entry for key "nope"$/,
    );
  });
  it('missingkey=default prints <no value>', () => {
    assert.equal(operator('<< inputs.semver >>', 'default'), '<no value>');
  });
  it('a present key holding nil prints <no value>', () => {
    assert.equal(operator('<< inputs.nothing >>'), '<no value>');
  });
  it('index, get, hasKey and dig read missing keys without failing', () => {
    assert.equal(operator('<< index inputs "semver" >>'), '<no value>');
    assert.equal(operator('[<< get inputs "semver" >>]'), '[]');
    assert.equal(operator('<< hasKey inputs "semver" >>'), 'false');
    assert.equal(
      operator('<< dig "foo" "bar" "k1" "d" inputs >> << dig "foo" "x" "d" inputs >>'),
      'v1 d',
    );
  });
  it('.Field on nil data fails under missingkey=error (exec.go evalField)', () => {
    assert.match(
      failure('{{.x}}', null, { missingKey: 'error' }),
      /at <\.x>: nil data; no entry for key "x"$/,
    );
    assert.equal(render('{{.x}}'), '<no value>');
  });
  it('a field of a non-map is an error', () => {
    assert.match(failure('{{$x := "s"}}{{$x.y}}'), /can't evaluate field y in type string/);
  });
});

describe('control structures (package doc "Actions")', () => {
  it('if / else if / else', () => {
    const t = '{{if eq . 1}}one{{else if eq . 2}}two{{else}}many{{end}}';
    assert.equal(render(t, new GoInt(1)), 'one');
    assert.equal(render(t, new GoInt(2)), 'two');
    assert.equal(render(t, new GoInt(3)), 'many');
  });
  it('truth is Go zero-ness: empty strings, 0, empty lists and maps are false', () => {
    for (const value of ['', new GoInt(0), 0, [], new Map(), null, false] as GoValue[]) {
      assert.equal(render('{{if .}}t{{else}}f{{end}}', value), 'f');
    }
    for (const value of ['x', new GoInt(-1), 0.5, [null], map({ a: null }), true] as GoValue[]) {
      assert.equal(render('{{if .}}t{{else}}f{{end}}', value), 't');
    }
  });
  it('with sets dot and has else / else with', () => {
    assert.equal(render('{{with .a}}{{.}}{{else}}none{{end}}', map({ a: 'x' })), 'x');
    assert.equal(
      render('{{with .a}}{{.}}{{else with .b}}b={{.}}{{else}}none{{end}}', map({ b: 'y' })),
      'b=y',
    );
  });
  it('ranges over maps in sorted key order', () => {
    assert.equal(
      render('{{range $k, $v := .}}{{$k}}={{$v}};{{end}}', map({ b: '2', a: '1', c: '3' })),
      'a=1;b=2;c=3;',
    );
  });
  it('ranges over slices with index and element, and runs else when empty', () => {
    assert.equal(render('{{range $i, $e := .}}{{$i}}:{{$e}} {{end}}', ['x', 'y']), '0:x 1:y ');
    assert.equal(render('{{range .}}x{{else}}empty{{end}}', []), 'empty');
    assert.equal(render('{{range .}}x{{else}}empty{{end}}', null), 'empty');
  });
  it('ranges over an integer (Go 1.22)', () => {
    assert.equal(render('{{range 3}}{{.}}{{end}}'), '012');
    assert.equal(render('{{range $i := 2}}[{{$i}}]{{end}}'), '[0][1]');
  });
  it('break and continue (Go 1.18)', () => {
    assert.equal(
      render(
        '{{range .}}{{if eq . "b"}}{{continue}}{{end}}{{if eq . "d"}}{{break}}{{end}}{{.}}{{end}}',
        ['a', 'b', 'c', 'd', 'e'],
      ),
      'ac',
    );
    assert.match(invalid('{{break}}'), /\{\{break\}\} outside \{\{range\}\}/);
  });
  it('range over a string is an error', () => {
    assert.match(failure('{{range .}}{{end}}', 'abc'), /range can't iterate over abc/);
  });
  it('variables declared in a block end with it', () => {
    assert.match(invalid('{{if true}}{{$x := 1}}{{end}}{{$x}}'), /undefined variable "\$x"/);
  });
  it('define, template and block', () => {
    assert.equal(
      render('{{define "t"}}[{{.}}]{{end}}{{template "t" "a"}}{{template "t" 1}}'),
      '[a][1]',
    );
    assert.equal(render('{{block "b" .}}<{{.}}>{{end}}', 'x'), '<x>');
    assert.match(failure('{{template "nope"}}'), /template "nope" not defined/);
  });
});

describe('builtin functions (package doc "Functions", funcs.go)', () => {
  it('and / or return the deciding argument and short-circuit', () => {
    assert.equal(render('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}}'), '0 2 z ');
    assert.equal(render('{{or true (fail "not evaluated")}}'), 'true');
    assert.equal(render('{{and false (fail "not evaluated")}}'), 'false');
  });
  it('not, len, index, slice', () => {
    assert.equal(render('{{not 0}} {{not "a"}}'), 'true false');
    assert.equal(render('{{len .}}', ['a', 'b']), '2');
    assert.equal(render('{{len "héllo"}}'), '6'); // bytes, as Go's len
    assert.equal(render('{{index . 1 0}}', [['a'], ['b', 'c']]), 'b');
    assert.match(failure('{{index . 5}}', ['a']), /error calling index: index out of range: 5/);
    assert.equal(render('{{slice "abcdef" 1 3}}', null, { funcs: {} }), 'bc');
    // sprig's own `slice` replaces the builtin (Funcs overrides builtins) and takes lists only.
    assert.match(
      failure('{{slice "abcdef" 1 3}}'),
      /list should be type of slice or array but string/,
    );
  });
  it('eq takes several operands; ints of different sizes compare', () => {
    assert.equal(render('{{eq . 1 2 3}}', new GoInt(3)), 'true');
    assert.equal(render('{{eq "a" "b"}} {{ne "a" "b"}}'), 'false true');
    assert.equal(render('{{eq .x nil}}', map({ x: null })), 'true');
  });
  it('comparing int with float is an error (funcs.go errBadComparison)', () => {
    assert.match(
      failure('{{lt 1 1.5}}'),
      /at <lt 1 1.5>: error calling lt: incompatible types for comparison$/,
    );
    assert.match(
      failure('{{eq .n 1.0}}', map({ n: new GoInt(1) })),
      /incompatible types for comparison/,
    );
    assert.match(failure('{{lt true false}}'), /invalid type for comparison/);
  });
  it('lt le gt ge on ints, floats and strings', () => {
    assert.equal(
      render('{{lt 1 2}} {{le 2 2}} {{gt 1.5 1.25}} {{ge "a" "b"}}'),
      'true true true false',
    );
  });
  it('print, println, printf', () => {
    assert.equal(render('{{print 1 2 "a" "b" 3}}'), '1 2ab3'); // fmt.Sprint: a space only between two non-strings
    assert.equal(render('{{println 1 "a"}}'), '1 a\n');
    assert.equal(
      render('{{printf "%5.2f|%-4d|%x|%X|%o|%t|%T" 3.14159 7 255 255 8 true 1}}'),
      ' 3.14|7   |ff|FF|10|true|int',
    );
    assert.equal(render('{{printf "%d" "x"}}'), '%!d(string=x)');
    assert.equal(render('{{printf "%d %d" 1}}'), '1 %!d(MISSING)');
    assert.equal(render('{{printf "%d" 1 2}}'), '1%!(EXTRA int=2)');
  });
  it('html, js, urlquery', () => {
    assert.equal(render('{{html "<a href=\\"x\\">&\'"}}'), '&lt;a href=&#34;x&#34;&gt;&amp;&#39;');
    assert.equal(render('{{urlquery "a b&c"}}'), 'a+b%26c');
    assert.equal(render('{{js "it\'s"}}'), "it\\'s");
  });
  it('checks argument types as Go does', () => {
    assert.match(
      failure('{{indent .n "x"}}', map({ n: new GoInt(2) })),
      /wrong type for value; expected int; got int64/,
    );
    assert.match(failure('{{upper 3}}'), /expected string; found 3/);
    assert.match(failure('{{upper}}'), /wrong number of args for upper: want 1 got 0/);
  });
  it('function errors are "error calling NAME: …" at the command', () => {
    assert.equal(
      failure('x\n  {{fail "boom"}}'),
      'template: test:2:4: executing "test" at <fail "boom">: error calling fail: boom',
    );
  });
});

describe('constants (package doc "Arguments": Go syntax for numbers, strings, characters)', () => {
  it('integers in every base, with underscores, characters and floats', () => {
    assert.equal(
      render("{{0x1F}} {{1_000}} {{0o17}} {{017}} {{0b101}} {{-0.5}} {{'\\n'}}"),
      '31 1000 15 15 5 -0.5 10',
    );
  });
  it('raw strings may span lines; quoted strings may not', () => {
    assert.equal(render('{{`a\nb`}}'), 'a\nb');
    assert.match(invalid('{{"a\nb"}}'), /unterminated quoted string/);
    assert.match(invalid('{{3x}}'), /bad number syntax: "3x"/);
  });
});

describe('printing (fmt %v)', () => {
  it('prints int64 and float64 as Go does', () => {
    // resourceset.md §1.3.5: int64 340788154 vs float64 3.40788154e+08; strconv 'g' shortest.
    assert.equal(render('{{.}}', new GoInt(340788154)), '340788154');
    assert.equal(render('{{.}}', 340788154), '3.40788154e+08');
    assert.equal(render('{{.}}', 1e6), '1e+06');
    assert.equal(render('{{.}}', 123456), '123456');
    assert.equal(render('{{.}}', 0.0001), '0.0001');
    assert.equal(render('{{.}}', 0.00001), '1e-05');
    assert.equal(render('{{.}}', 1.5), '1.5');
    assert.equal(render("{{1e6}} {{1.0}} {{0x10}} {{'a'}}"), '1e+06 1 16 97');
  });
  it('prints maps sorted and slices with spaces', () => {
    assert.equal(
      render('{{.}}', map({ b: new GoInt(2), a: ['x', null, true] })),
      'map[a:[x <nil> true] b:2]',
    );
  });
});
