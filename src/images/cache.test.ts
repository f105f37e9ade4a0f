// cache.yaml: docs/cache.schema.json and parseCacheConfig agree. Files both accept, files both
// refuse, and the rules only the parser can check (uniqueness, overlap), as the schema says.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYAML } from 'yaml';
import { AirlockError } from '../errors.ts';
import { parseCacheConfig } from './index.ts';

const SCHEMA = new URL('../../docs/cache.schema.json', import.meta.url);
const schema = JSON.parse(await readFile(SCHEMA, 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(
  schema,
);

const schemaAccepts = (text: string): boolean => validate(parseYAML(text) as unknown);

function parserAccepts(text: string): boolean {
  try {
    parseCacheConfig(text, 'cache.yaml');
    return true;
  } catch (error) {
    assert.ok(error instanceof AirlockError);
    assert.equal(error.code, 'CONFIG_INVALID', error.message);
    for (const line of error.details.length > 0 ? error.details : [error.message])
      assert.match(line, /^cache\.yaml:\d+:\d+: /);
    return false;
  }
}

/** The example, and the shapes the schema documents. */
const GOOD: Record<string, string> = {
  'the issue example':
    'rules: [{upstream: docker.io, to: registry.internal/dockerhub}, {upstream: quay.io, to: registry.internal/quay}]\n',
  'block style, ports, a bare host':
    'rules:\n  - upstream: registry.k8s.io\n    to: registry.internal:5000/cache/k8s\n  - upstream: localhost:5000\n    to: cache.internal\n  - upstream: "[::1]:5001"\n    to: registry.internal/v6\n',
  'a Docker Hub alias': 'rules:\n  - {upstream: index.docker.io, to: registry.internal/hub}\n',
  'modes: a cache and a mirror':
    'rules:\n  - {upstream: docker.io, to: r.internal/hub, mode: cache}\n  - {upstream: ghcr.io, to: r.internal/mirror/ghcr.io, mode: mirror}\n',
};

const BAD: Record<string, string> = {
  'no rules': 'other: 1\n',
  'rules empty': 'rules: []\n',
  'rules not a list': 'rules: {upstream: docker.io, to: r.internal/x}\n',
  'a rule not a mapping': 'rules: [docker.io]\n',
  'an unknown top-level field': 'rules: [{upstream: docker.io, to: r.internal/x}]\nmirrors: []\n',
  'an unknown rule field': 'rules: [{upstream: docker.io, to: r.internal/x, insecure: true}]\n',
  'upstream missing': 'rules: [{to: r.internal/x}]\n',
  'to missing': 'rules: [{upstream: docker.io}]\n',
  'upstream a URL': 'rules: [{upstream: "https://quay.io", to: r.internal/x}]\n',
  'upstream with a path': 'rules: [{upstream: docker.io/bitnami, to: r.internal/x}]\n',
  'upstream no registry host': 'rules: [{upstream: quay, to: r.internal/x}]\n',
  'upstream a number': 'rules: [{upstream: 5000, to: r.internal/x}]\n',
  'upstream empty': 'rules: [{upstream: "", to: r.internal/x}]\n',
  'to a URL': 'rules: [{upstream: docker.io, to: "https://r.internal/x"}]\n',
  'to ends with /': 'rules: [{upstream: docker.io, to: r.internal/x/}]\n',
  'to upper-case path': 'rules: [{upstream: docker.io, to: r.internal/Hub}]\n',
  'to with a tag': 'rules: [{upstream: docker.io, to: "r.internal/x:1"}]\n',
  'to no registry host': 'rules: [{upstream: docker.io, to: cache/x}]\n',
  'to bad port': 'rules: [{upstream: docker.io, to: "r.internal:http/x"}]\n',
  'not a mapping': '- upstream: docker.io\n',
  'an unknown mode': 'rules: [{upstream: docker.io, to: r.internal/x, mode: proxy}]\n',
};

/** Valid for the schema; refused by the parser (the schema's description lists these). */
const PARSER_ONLY: Record<string, string> = {
  'two registries to one path':
    'rules:\n  - {upstream: docker.io, to: r.internal/x}\n  - {upstream: quay.io, to: r.internal/x}\n',
  'one path inside another':
    'rules:\n  - {upstream: docker.io, to: r.internal/x}\n  - {upstream: quay.io, to: r.internal/x/q}\n',
  'a duplicate upstream':
    'rules:\n  - {upstream: docker.io, to: r.internal/x}\n  - {upstream: docker.io, to: r.internal/y}\n',
  'a duplicate upstream through an alias':
    'rules:\n  - {upstream: docker.io, to: r.internal/x}\n  - {upstream: registry-1.docker.io, to: r.internal/y}\n',
  'a path on an upstream':
    'rules:\n  - {upstream: docker.io, to: quay.io/mirror}\n  - {upstream: quay.io, to: r.internal/q}\n',
  'a path over 255 characters': `rules: [{upstream: docker.io, to: r.internal/${'a'.repeat(256)}}]\n`,
};

describe('cache.yaml: docs/cache.schema.json and parseCacheConfig', () => {
  for (const [name, text] of Object.entries(GOOD)) {
    it(`accepted by both: ${name}`, () => {
      assert.ok(schemaAccepts(text), JSON.stringify(validate.errors, null, 2));
      assert.ok(parserAccepts(text));
    });
  }
  for (const [name, text] of Object.entries(BAD)) {
    it(`refused by both: ${name}`, () => {
      assert.equal(schemaAccepts(text), false, `the schema accepts:\n${text}`);
      assert.equal(parserAccepts(text), false, `the parser accepts:\n${text}`);
    });
  }
  for (const [name, text] of Object.entries(PARSER_ONLY)) {
    it(`refused by the parser only, as the schema says: ${name}`, () => {
      assert.ok(schemaAccepts(text), JSON.stringify(validate.errors, null, 2));
      assert.equal(parserAccepts(text), false);
    });
  }
  it('normalises what it accepts', () => {
    const config = parseCacheConfig(
      'rules:\n  - {upstream: Index.Docker.IO, to: Registry.Internal/hub}\n',
      'c.yaml',
    );
    assert.deepEqual(config, {
      file: 'c.yaml',
      rules: [
        { upstream: 'docker.io', to: 'registry.internal/hub', where: 'c.yaml:2:5', mode: 'cache' },
      ],
    });
    const modes = parseCacheConfig(
      'rules:\n  - {upstream: ghcr.io, to: r.internal/mirror/ghcr.io, mode: mirror}\n',
      'c.yaml',
    );
    assert.equal(modes.rules[0]?.mode, 'mirror');
  });
  it('reports every problem at once, each with file:line:col and field', () => {
    assert.throws(
      () =>
        parseCacheConfig(
          'rules:\n  - {upstream: quay, to: r.internal/x/}\n  - {upstream: docker.io}\n',
          'cache.yaml',
        ),
      (error: unknown) => {
        assert.ok(error instanceof AirlockError);
        assert.equal(error.message, 'cache.yaml: 3 problems');
        assert.deepEqual(
          error.details.map((d) => d.split(': ').slice(0, 2).join(': ')),
          [
            'cache.yaml:2:16: rules[0].upstream',
            'cache.yaml:2:26: rules[0].to',
            'cache.yaml:3:5: rules[1].to',
          ],
        );
        return true;
      },
    );
  });
});
