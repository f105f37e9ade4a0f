// Limits for templates from untrusted repositories (a fleet repository is changed through merge
// requests): regular expressions match in linear time, as Go's RE2 does, and a template cannot
// make a build loop or allocate without bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTemplate, sprigHermeticFuncs } from './index.ts';

const run = (text: string): string =>
  parseTemplate(text, { name: 't', funcs: sprigHermeticFuncs() }).execute(null);

describe('template limits', () => {
  // With a backtracking engine this pattern takes exponential time (2^60 steps here); RE2 is
  // linear. The timeout only keeps a regression from hanging the suite.
  it(
    'regexMatch is linear: a catastrophic pattern for backtracking engines answers at once',
    { timeout: 10_000 },
    () => {
      assert.equal(run(`{{ regexMatch "^(a+)+$" "${'a'.repeat(60)}b" }}`), 'false');
      assert.equal(
        run(`{{ regexReplaceAll "(a+)+$" "${'a'.repeat(60)}b" "x" }}`),
        `${'a'.repeat(60)}b`,
      );
    },
  );

  it('Go regexp syntax and errors: named groups, \\A, POSIX classes; a bad pattern fails with Go wording', () => {
    assert.equal(
      run('{{ regexReplaceAll "(?P<first>\\\\w+) (\\\\w+)" "hello world" "${2} $first" }}'),
      'world hello',
    );
    assert.equal(run('{{ regexMatch "\\\\A[[:alpha:]]+\\\\z" "abc" }}'), 'true');
    assert.throws(
      () => run('{{ mustRegexMatch "(" "x" }}'),
      (e: { code: string; message: string }) => {
        assert.equal(e.code, 'TEMPLATE_FAILED');
        return e.message.includes('missing closing )');
      },
    );
  });

  it('range and list builders have a budget: past it the template fails instead of stalling', () => {
    assert.throws(() => run('{{ range 20000000 }}{{ end }}'), { code: 'TEMPLATE_FAILED' });
    assert.throws(() => run('{{ range 5000 }}{{ range 5000 }}{{ end }}{{ end }}'), {
      code: 'TEMPLATE_FAILED',
    });
    assert.throws(() => run('{{ len (until 2000000) }}'), { code: 'TEMPLATE_FAILED' });
    assert.equal(run('{{ len (until 1000) }}'), '1000');
    assert.equal(run('{{ range 3 }}{{ . }}{{ end }}'), '012');
  });
});
