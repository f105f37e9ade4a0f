// Expectations from the sprig documentation (masterminds.github.io/sprig, whose examples slim-sprig
// v3 shares), go-task/slim-sprig@v3.0.0 sources and tests, Go's regexp package examples
// (pkg.go.dev/regexp), gosimple/slug v1.15.0 slug_test.go, and ../shared/reference/resourceset.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GoInt, type GoValue } from '../goyaml/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { parseTemplate, slugify, sprigHermeticFuncs } from './index.ts';

const funcs = sprigHermeticFuncs();
const render = (text: string, data: GoValue = null): string =>
  parseTemplate(text, { name: 't', funcs }).execute(data, { missingKey: 'error' });
const failure = (text: string, data: GoValue = null): string =>
  assertThrowsCode(() => render(text, data), 'TEMPLATE_FAILED').message;

describe('slim-sprig hermetic map', () => {
  it('has no clock, environment or randomness beyond randInt, and no functions slim-sprig lacks', () => {
    for (const name of [
      'now',
      'date',
      'env',
      'expandenv',
      'uuidv4',
      'randAlphaNum',
      'getHostByName',
      'deepCopy',
      'semverCompare',
      'required',
      'toYaml',
      'nospace',
    ]) {
      assertThrowsCode(() => render(`{{${name}}}`), 'TEMPLATE_INVALID');
    }
    assert.equal(render('{{randInt 1 2}}'), '1');
  });
  it('time functions that need time.Time fail clearly', () => {
    assert.match(
      failure('{{toDate "2006-01-02" "2024-01-01"}}'),
      /error calling toDate: function toDate needs the clock/,
    );
    assert.equal(render('{{duration 95}} {{duration 3600}} {{duration 0}}'), '1m35s 1h0m0s 0s');
  });
});

describe('strings', () => {
  it('quote: Go %q of each non-nil argument, joined by spaces', () => {
    assert.equal(render('{{quote "a" 1 nil "x\\ny\\"z"}}'), '"a" "1" "x\\ny\\"z"');
    assert.equal(render('{{quote .}}', new GoInt(340788154)), '"340788154"');
    assert.equal(render('{{squote "a" 2}}'), "'a' '2'");
  });
  it('trim family, case, replace, repeat, substr, trunc', () => {
    assert.equal(render('[{{trim "   hello    "}}]'), '[hello]');
    assert.equal(
      render('{{trimAll "$" "$5.00$"}} {{trimSuffix "-" "hello-"}} {{trimPrefix "-" "-hello"}}'),
      '5.00 hello hello',
    );
    assert.equal(
      render('{{upper "hello"}} {{lower "HELLO"}} {{title "hello world"}}'),
      'HELLO hello Hello World',
    );
    assert.equal(render('{{"I Am Henry VIII" | replace " " "-"}}'), 'I-Am-Henry-VIII');
    assert.equal(
      render('{{repeat 3 "hello"}} {{substr 0 5 "hello world"}}'),
      'hellohellohello hello',
    );
    assert.equal(render('{{trunc 5 "hello world"}} {{trunc -5 "hello world"}}'), 'hello world');
    assert.equal(render('{{cat "hello" "beautiful" "world"}}'), 'hello beautiful world');
    assert.equal(
      render('{{contains "cat" "catch"}} {{hasPrefix "cat" "catch"}} {{hasSuffix "cat" "catch"}}'),
      'true true false',
    );
  });
  it('indent and nindent pad every line', () => {
    assert.equal(render('{{indent 2 "a\\nb"}}'), '  a\n  b');
    assert.equal(render('{{nindent 2 "a\\nb"}}'), '\n  a\n  b');
  });
  it('split, splitList, join, toStrings, sortAlpha', () => {
    assert.equal(render('{{split "$" "foo$bar$baz"}}'), 'map[_0:foo _1:bar _2:baz]');
    assert.equal(render('{{(split "$" "foo$bar$baz")._1}}'), 'bar');
    assert.equal(render('{{splitList "$" "foo$bar$baz"}}'), '[foo bar baz]');
    assert.equal(render('{{list 1 "a" nil | join "-"}}'), '1-a');
    assert.equal(
      render('{{list "c" "a" "b" | sortAlpha}} {{typeOf (list 1 2 | toStrings)}}'),
      '[a b c] []string',
    );
  });
  it('encodings and hashes', () => {
    assert.equal(render('{{b64enc "hello"}} {{b64dec "aGVsbG8="}}'), 'aGVsbG8= hello');
    assert.equal(render('{{b32enc "hello"}} {{b32dec "NBSWY3DP"}}'), 'NBSWY3DP hello');
    assert.equal(
      render('{{sha256sum "Hello world!"}}'),
      'c0535e4be2b79ffd93291305436bf889314e4a3faec05ecffcbb7df31ad9e51a',
    );
    assert.equal(render('{{sha1sum "Hello world!"}}'), 'd3486ae9136e7856bc42212385ea797094475802');
    // resourceset.md §1.3: adler32("team1-apps") = 340788154.
    assert.equal(render('{{adler32sum "team1-apps"}}'), '340788154');
  });
});

describe('conversions and defaults', () => {
  it('int, int64, float64, atoi follow the cast rules', () => {
    assert.equal(
      render('{{int "12"}} {{int "1.5"}} {{int 1.9}} {{int true}} {{int "x"}}'),
      '12 0 1 1 0',
    );
    assert.equal(
      render(
        '{{typeOf (int "1")}} {{typeOf (int64 "1")}} {{typeOf (atoi "1")}} {{typeOf (float64 "1")}}',
      ),
      'int int64 int float64',
    );
    assert.equal(render('{{float64 "1.5"}} {{atoi "42"}} {{atoi "4x"}}'), '1.5 42 0');
  });
  it('toString, toJson (sorted keys, HTML escaped), toRawJson, toPrettyJson, fromJson', () => {
    assert.equal(render('{{toString 1.5}} {{toString nil}}'), '1.5 <nil>');
    assert.equal(
      render('{{toJson (dict "b" 1 "a" "<&>")}}'),
      '{"a":"\\u003c\\u0026\\u003e","b":1}',
    );
    assert.equal(render('{{toRawJson (dict "a" "<&>")}}'), '{"a":"<&>"}');
    assert.equal(render('{{toPrettyJson (dict "a" (list 1))}}'), '{\n  "a": [\n    1\n  ]\n}');
    assert.equal(render('{{(fromJson "{\\"n\\": 1}").n | typeOf}}'), 'float64');
  });
  it('default, empty, coalesce, ternary, all, any', () => {
    assert.equal(
      render('{{default "foo" ""}} {{default "foo" "bar"}} {{"" | default "x"}} {{0 | default 5}}'),
      'foo bar x 5',
    );
    assert.equal(
      render('{{empty ""}} {{empty 0}} {{empty (list)}} {{empty "a"}}'),
      'true true true false',
    );
    assert.equal(
      render('{{coalesce 0 "" "x" "y"}} {{ternary "a" "b" true}} {{ternary "a" "b" false}}'),
      'x a b',
    );
    assert.equal(
      render('{{all 1 "a"}} {{all 1 ""}} {{any 0 ""}} {{any 0 "a"}}'),
      'true false false true',
    );
  });
  it('typeOf, kindOf, kindIs, typeIs, deepEqual', () => {
    assert.equal(
      render(
        '{{typeOf 1}} {{typeOf .}} {{typeOf 1.5}} {{typeOf (list)}} {{typeOf (dict)}}',
        new GoInt(1),
      ),
      'int int64 float64 []interface {} map[string]interface {}',
    );
    assert.equal(
      render('{{kindOf (list)}} {{kindIs "map" (dict)}} {{typeIs "string" "x"}}'),
      'slice true true',
    );
    // reflect.DeepEqual: int 1 and int64 1 differ.
    assert.equal(render('{{deepEqual 1 1}} {{deepEqual . 1}}', new GoInt(1)), 'true false');
  });
});

describe('numbers', () => {
  it('int64 arithmetic', () => {
    assert.equal(
      render('{{add 1 2 3}} {{add1 1}} {{sub 3 2}} {{mul 2 3 4}} {{div 7 2}} {{mod 7 2}}'),
      '6 2 1 24 3 1',
    );
    assert.equal(
      render(
        '{{max 1 5 3}} {{min 4 2 6}} {{maxf 1 2.5}} {{floor 1.5}} {{ceil 1.2}} {{round 3.14159 2}}',
      ),
      '5 2 2.5 1 2 3.14',
    );
    assert.match(failure('{{div 1 0}}'), /integer divide by zero/);
  });
  it('until, untilStep, seq (sprig docs)', () => {
    assert.equal(render('{{until 5}} {{untilStep 3 6 2}}'), '[0 1 2 3 4] [3 5]');
    assert.equal(
      render('{{seq 5}}|{{seq -3}}|{{seq 0 2}}|{{seq 2 -2}}|{{seq 0 2 10}}|{{seq 0 -2 -5}}'),
      '1 2 3 4 5|1 0 -1 -2 -3|0 1 2|2 1 0 -1 -2|0 2 4 6 8 10|0 -2 -4',
    );
  });
});

describe('lists and dicts', () => {
  it('list functions', () => {
    assert.equal(
      render(
        '{{first (list 1 2 3)}} {{last (list 1 2 3)}} {{rest (list 1 2 3)}} {{initial (list 1 2 3)}}',
      ),
      '1 3 [2 3] [1 2]',
    );
    assert.equal(
      render('{{append (list 1 2) 3}} {{prepend (list 1 2) 0}} {{concat (list 1) (list 2 3)}}'),
      '[1 2 3] [0 1 2] [1 2 3]',
    );
    assert.equal(
      render(
        '{{uniq (list 1 1 2 "a" "a")}} {{without (list 1 2 3) 2}} {{compact (list 1 "" 0 "a")}} {{reverse (list 1 2)}}',
      ),
      '[1 2 a] [1 3] [1 a] [2 1]',
    );
    assert.equal(
      render(
        '{{has 4 (list 1 2 3 4)}} {{has "x" nil}} {{slice (list 1 2 3 4) 1 3}} {{chunk 2 (list 1 2 3)}}',
      ),
      'true false [2 3] [[1 2] [3]]',
    );
    assert.equal(render('{{first (list)}}'), '<no value>');
    assert.match(failure('{{first "abc"}}'), /Cannot find first on type string/);
  });
  it('dict functions', () => {
    assert.equal(
      render(
        '{{$d := dict "name1" "value1" "name2" "value2"}}{{get $d "name1"}} [{{get $d "x"}}] {{hasKey $d "name2"}}',
      ),
      'value1 [] true',
    );
    assert.equal(
      render('{{$d := dict "a" 1}}{{$_ := set $d "b" 2}}{{$_ := unset $d "a"}}{{$d}}'),
      'map[b:2]',
    );
    assert.equal(
      render(
        '{{keys (dict "b" 1 "a" 2) | sortAlpha}} {{pick (dict "a" 1 "b" 2 "c" 3) "a" "c"}} {{omit (dict "a" 1 "b" 2) "a"}}',
      ),
      '[a b] map[a:1 c:3] map[b:2]',
    );
    assert.equal(
      render(
        '{{dig "user" "role" "name" "guest" .}} {{dig "user" "x" "guest" .}}',
        new Map([['user', new Map([['role', new Map([['name', 'admin']])]])]]),
      ),
      'admin guest',
    );
    assert.equal(render('{{dict "a"}}'), 'map[a:]');
  });
});

describe('regular expressions (RE2)', () => {
  it('match, find, findAll', () => {
    assert.equal(
      render('{{regexMatch "^[a-z]+\\\\.[a-z]+$" "abc.def"}} {{regexMatch "(?i)^ABC$" "abc"}}'),
      'true true',
    );
    assert.equal(render('{{regexFind "[a-zA-Z][1-9]" "abcd1234"}}'), 'd1');
    // regexp ExampleRegexp_FindAllString.
    assert.equal(
      render(
        '{{regexFindAll "a." "paranormal" -1}} {{regexFindAll "a." "paranormal" 2}} {{regexFindAll "a." "graal" -1}} {{regexFindAll "a." "none" -1}}',
      ),
      '[ar an al] [ar an] [aa] []',
    );
  });
  it('replaceAll expands $1 and ${name}; the literal form does not', () => {
    // regexp ExampleRegexp_ReplaceAllString.
    assert.equal(
      render(
        '{{regexReplaceAll "a(x*)b" "-ab-axxb-" "T"}}|{{regexReplaceAll "a(x*)b" "-ab-axxb-" "$1"}}|{{regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W"}}|{{regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W"}}',
      ),
      '-T-T-|--xx-|---|-W-xxW-',
    );
    assert.equal(
      render(
        '{{regexReplaceAll "a(?P<x>x*)b" "-axb-" "${x}!"}} {{regexReplaceAllLiteral "a(x*)b" "-ab-axxb-" "${1}"}}',
      ),
      '-x!- -${1}-${1}-',
    );
  });
  it('split as regexp.Split (ExampleRegexp_Split)', () => {
    assert.equal(render('{{regexSplit "a*" "abaabaccadaaae" 5}}'), '[ b b c cadaaae]');
    assert.equal(
      render(
        '{{regexSplit "z+" "pizza" -1}} {{regexSplit "z+" "pizza" 0}} {{regexSplit "z+" "pizza" 1}}',
      ),
      '[pi a] [] [pizza]',
    );
  });
  it('bad patterns panic in the non-must forms and error in the must forms', () => {
    assert.match(failure('{{regexFind "(" "x"}}'), /error calling regexFind: regexp: Compile/);
    assert.match(
      failure('{{mustRegexFind "(" "x"}}'),
      /error calling mustRegexFind: error parsing regexp/,
    );
    assert.equal(render('{{regexMatch "(" "x"}}'), 'false');
  });
});

describe('paths, urls, flow', () => {
  it('path functions are Go path (lexical)', () => {
    assert.equal(
      render(
        '{{base "foo/bar.txt"}} {{dir "foo/bar.txt"}} {{ext "bar.tar.gz"}} {{clean "a//b/../c/"}} {{isAbs "/x"}}',
      ),
      'bar.txt foo .gz a/c true',
    );
  });
  it('fail stops with its message', () => {
    assert.match(failure('{{fail "bad input"}}'), /error calling fail: bad input$/);
  });
});

describe('slugify (gosimple/slug v1.15.0, MaxLength 63, smart truncate)', () => {
  const cases: [string, string][] = [
    ['>=1.0.0-rc.0', '1-0-0-rc-0'], // FO slugify.golden.yaml
    ['>=1.0.0', '1-0-0'],
    ['DOBROSLAWZYBORT', 'dobroslawzybort'],
    ['  Dobroslaw     Zybort  ?', 'dobroslaw-zybort'],
    ['Dobrosław Żybort', 'dobroslaw-zybort'],
    ['Ala ma 6 kotów.', 'ala-ma-6-kotow'],
    ['ćĆĉĈçÇ', 'cccccc'],
    ['łŁ', 'll'],
    ['2000–2013', '2000-2013'],
    ['style—not', 'style-not'],
    ['test_slug', 'test_slug'],
    ['_test_slug_', 'test_slug'],
    ['-test-slug-', 'test-slug'],
    ['Ich heiße', 'ich-heisse'],
    ['This & that', 'this-and-that'],
    ['me@example', 'meatexample'],
    ['"C\'est déjà l’été."', 'cest-deja-lete'],
    ['Hellö Wörld хелло ворлд', 'hello-world-khello-vorld'],
    ['jaja---lol-méméméoo--a', 'jaja-lol-mememeoo-a'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => assert.equal(slugify(input), want));
  }
  it('truncates at the last dash within 63 characters, else hard at 63', () => {
    const words = `${'a'.repeat(30)}-${'b'.repeat(30)}-${'c'.repeat(10)}`; // 72 chars, dash at 61
    assert.equal(slugify(words), `${'a'.repeat(30)}-${'b'.repeat(30)}`);
    assert.equal(slugify('x'.repeat(70)), 'x'.repeat(63));
  });
});
