// Conformance with the Flux Operator builder goldens (../shared/fixtures/flux-operator/builder,
// FO internal/builder/testdata/resourceset): each `resources` entry is re-emitted as YAML
// (sigs.k8s.io/yaml JSONToYAML), rendered with `<< >>`, missingkey=error and the operator's
// function map once per input set, then read back. The whole build (dedup, exclusion, output
// form) is the fleet module's; this checks the template engine's share of it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'node:test';
import { type GoValue, marshalGoYAML, parseGoYAML, parseGoYAMLDocuments } from '../goyaml/index.ts';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { fixturesSkipReason, gated, SHARED_FIXTURES } from '../../test/harness/tools.ts';
import { fluxOperatorFuncs, parseTemplate } from './index.ts';

const fixtures = gated(fixturesSkipReason('flux-operator/builder'));
const dir = join(SHARED_FIXTURES, 'flux-operator/builder');

const get = (value: GoValue, ...path: string[]): GoValue =>
  path.reduce<GoValue>((v, key) => (v instanceof Map ? (v.get(key) ?? null) : null), value);

function renderResources(file: string): GoValue[] {
  const rset = parseGoYAML(readFileSync(join(dir, file), 'utf8'));
  const inputs = get(rset, 'spec', 'inputs') as GoValue[];
  const resources = get(rset, 'spec', 'resources') as GoValue[];
  const out: GoValue[] = [];
  for (const resource of resources) {
    for (const input of inputs) {
      const template = parseTemplate(marshalGoYAML(resource), {
        name: 'resources',
        leftDelim: '<<',
        rightDelim: '>>',
        funcs: fluxOperatorFuncs(() => input),
      });
      out.push(parseGoYAML(template.execute(null, { missingKey: 'error' })));
    }
  }
  return out;
}

describe('Flux Operator builder goldens', () => {
  fixtures.it('slugify.yaml renders the golden objects', () => {
    const golden = parseGoYAMLDocuments(
      readFileSync(join(dir, 'slugify.golden.yaml'), 'utf8'),
    ).filter((d) => d !== null);
    // Compare as YAML text: marshalGoYAML is deterministic, so equal text is equal objects.
    assert.deepEqual(renderResources('slugify.yaml').map(marshalGoYAML), golden.map(marshalGoYAML));
  });

  fixtures.it('nestedinputs.yaml: toYaml | nindent 2 makes a nested map', () => {
    const golden = parseGoYAMLDocuments(
      readFileSync(join(dir, 'nestedinputs.golden.yaml'), 'utf8'),
    ).filter((d) => d !== null);
    assert.deepEqual(
      renderResources('nestedinputs.yaml').map(marshalGoYAML),
      golden.map(marshalGoYAML),
    );
  });

  fixtures.it('missing-inputs.yaml fails with the substring the builder test expects', () => {
    const error = assertThrowsCode(() => renderResources('missing-inputs.yaml'), 'TEMPLATE_FAILED');
    assert.ok(error.message.includes('<inputs>: map has no entry for key "semver"'), error.message);
  });

  fixtures.it(
    'multi-doc-template.yaml: range, if and trim markers give the golden documents',
    () => {
      const rset = parseGoYAML(readFileSync(join(dir, 'multi-doc-template.yaml'), 'utf8'));
      const text = get(rset, 'spec', 'resourcesTemplate') as string;
      const docs: GoValue[] = [];
      for (const input of get(rset, 'spec', 'inputs') as GoValue[]) {
        const template = parseTemplate(text, {
          name: 'resourcesTemplate',
          leftDelim: '<<',
          rightDelim: '>>',
          funcs: fluxOperatorFuncs(() => input),
        });
        docs.push(
          ...parseGoYAMLDocuments(template.execute(null, { missingKey: 'error' })).filter(
            (d) => d !== null,
          ),
        );
      }
      const golden = parseGoYAMLDocuments(
        readFileSync(join(dir, 'multi-doc-template.golden.yaml'), 'utf8'),
      ).filter((d) => d !== null);
      assert.deepEqual(docs.map(marshalGoYAML), golden.map(marshalGoYAML));
    },
  );
});
