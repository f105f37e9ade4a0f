import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLUX_DEFAULT_IGNORE, goJSON, GoMap, IgnoreMatcher } from './index.ts';

describe('gitignore matching with go-git semantics', () => {
  const cases: { patterns: string[]; path: string; dir?: boolean; ignored: boolean }[] = [
    // Flux's default list
    { patterns: [...FLUX_DEFAULT_IGNORE], path: '.git', dir: true, ignored: true },
    { patterns: [...FLUX_DEFAULT_IGNORE], path: '.git/config', ignored: true },
    { patterns: [...FLUX_DEFAULT_IGNORE], path: 'docs/logo.png', ignored: true },
    { patterns: [...FLUX_DEFAULT_IGNORE], path: 'bundle.tar.gz', ignored: true },
    { patterns: [...FLUX_DEFAULT_IGNORE], path: 'deploy/app.yaml', ignored: false },
    // a name pattern matches any component, so a matched directory excludes its children
    { patterns: ['ignore-dir/'], path: 'ignore-dir', dir: true, ignored: true },
    { patterns: ['ignore-dir/'], path: 'ignore-dir/file.yaml', ignored: true },
    { patterns: ['ignore-dir/'], path: 'a/ignore-dir/file.yaml', ignored: true },
    { patterns: ['ignore-dir/'], path: 'ignore-dir', dir: false, ignored: false },
    { patterns: ['ignore.txt'], path: 'sub/ignore.txt', ignored: true },
    // patterns with a slash are anchored; ** spans directories
    { patterns: ['somedir/git'], path: 'somedir/git/repo.yaml', ignored: true },
    { patterns: ['somedir/git'], path: 'other/somedir/git', ignored: false },
    { patterns: ['**/secret.yaml'], path: 'a/b/secret.yaml', ignored: true },
    { patterns: ['a/**/z.yaml'], path: 'a/b/c/z.yaml', ignored: true },
    { patterns: ['/root.yaml'], path: 'root.yaml', ignored: true },
    { patterns: ['/root.yaml'], path: 'sub/root.yaml', ignored: false },
    // last match wins; "!" re-includes; comments and blank lines are skipped
    { patterns: ['*.png', '!keep.png'], path: 'keep.png', ignored: false },
    { patterns: ['!keep.png', '*.png'], path: 'keep.png', ignored: true },
    { patterns: ['/*', '!/deploy'], path: 'deploy', dir: true, ignored: false },
    { patterns: ['/*', '!/deploy'], path: 'other.yaml', ignored: true },
    { patterns: ['# comment', '', 'x?.yaml'], path: 'xy.yaml', ignored: true },
    { patterns: ['[ab].yaml'], path: 'b.yaml', ignored: true },
    { patterns: ['[ab].yaml'], path: 'c.yaml', ignored: false },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.patterns.length > 3 ? 'flux defaults' : c.patterns)} ${c.ignored ? 'ignores' : 'keeps'} ${c.path}${c.dir ? '/' : ''}`, () => {
      assert.equal(new IgnoreMatcher(c.patterns).ignores(c.path, c.dir ?? false), c.ignored);
    });
  }
});

describe('Go encoding/json output', () => {
  it('keeps struct order, sorts map keys bytewise and escapes like Go', () => {
    assert.equal(
      goJSON({
        schemaVersion: 2,
        b: 'x<y>&z\u2028',
        skipped: undefined,
        annotations: new GoMap({ b: '1', B: '2', a: '3' }),
      }),
      '{"schemaVersion":2,"b":"x\\u003cy\\u003e\\u0026z\\u2028","annotations":{"B":"2","a":"3","b":"1"}}',
    );
  });
});
