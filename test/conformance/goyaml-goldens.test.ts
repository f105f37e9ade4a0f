import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { marshalGoYAML, parseGoYAMLDocuments } from '../../src/goyaml/index.ts';
import { fixturesSkipReason, gated, SHARED_FIXTURES } from '../harness/tools.ts';

// The Flux operator builder goldens (FO internal/builder/testdata/resourceset/*.golden.yaml) are
// ssautil.ObjectsToYAML output: each object marshalled by sigs.k8s.io/yaml, then `---\n`, with a
// `# step: <name>` line before each step. Reading each object back and marshalling it again must
// give the same bytes: the go-yaml v2 key order, quoting and indentation, end to end.

const skip = fixturesSkipReason('flux-operator');
const fixtures = gated(skip);
const dir = join(SHARED_FIXTURES, 'flux-operator', 'builder');

describe('goyaml against the flux-operator builder goldens', () => {
  const goldens =
    skip === undefined ? readdirSync(dir).filter((f) => f.endsWith('.golden.yaml')) : [];
  for (const name of goldens) {
    fixtures.it(`${name}: every object re-marshals byte for byte`, () => {
      const text = readFileSync(join(dir, name), 'utf8');
      const objects = text
        .split(/^---\n/m)
        .map((chunk) => chunk.replace(/^# step: .*\n/gm, ''))
        .filter((chunk) => chunk !== '');
      assert.ok(objects.length > 0);
      for (const object of objects) {
        const [value, ...rest] = parseGoYAMLDocuments(object, name);
        assert.equal(rest.length, 0);
        assert.equal(marshalGoYAML(value ?? null), object);
      }
    });
  }
});
