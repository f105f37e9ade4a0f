// Every batch command prints the one report shape docs/json.md documents (issue 8 §2): this
// validates the real --json output of copy, mirror, sign and verify against the JSON Schema, for
// success and for partial failure (chart push and artifact push: test/integration/artifacts.test.ts).
import assert from 'node:assert/strict';
import { appendFile, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from 'node:test';
import { Ajv } from 'ajv';
import { RegistryClient } from '../../src/oci/index.ts';
import { makeArtifact, pushArtifact } from '../harness/artifacts.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { gated, missingTools, tempDir } from '../harness/tools.ts';
import { airlock, type CLIResult } from '../helpers/cli.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const { it, before, after } = gated(missingTools(['docker-registry']));

interface Report {
  operation: string;
  items: { outcome: string; error?: { code: string } }[];
  summary: Record<string, number>;
}

describe('--json of every batch command validates against docs/schemas/batch-report.schema.json', () => {
  let registry: RegistryServer;
  let work: { path: string; remove: () => Promise<void> };
  let validate: (report: unknown) => boolean;
  let errors: () => unknown;
  let env: NodeJS.ProcessEnv;
  let flags: string[];

  before(async () => {
    registry = await startRegistry();
    work = await tempDir();
    env = { HOME: work.path, COSIGN_PASSWORD: 'schema-test-only' };
    flags = ['--json', '--insecure-registry', registry.host];
    const schema = JSON.parse(
      await readFile(join(ROOT, 'docs/schemas/batch-report.schema.json'), 'utf8'),
    ) as object;
    const compiled = new Ajv({ allErrors: true, strict: true, strictRequired: false }).compile(
      schema,
    );
    validate = (report) => compiled(report);
    errors = () => compiled.errors;
    const client = new RegistryClient({ insecureRegistries: [registry.host] });
    await pushArtifact(
      client.repository(registry.host, 'src/demo'),
      makeArtifact({ name: 'demo' }),
      '1.0.0',
    );
    client.close();
  });
  after(async () => {
    await registry.stop();
    await work.remove();
  });

  /** Runs a batch command and checks its report against the schema and the expected outcomes. */
  async function check(
    args: readonly string[],
    expected: { code: number; outcomes: string[]; operation: string },
  ): Promise<Report> {
    const result: CLIResult = await airlock([...args, ...flags], { env });
    const report = result.json<Report>();
    assert.ok(validate(report), `${args.join(' ')}: ${JSON.stringify(errors())}`);
    assert.equal(report.operation, expected.operation);
    assert.deepEqual(
      report.items.map((i) => i.outcome).sort(),
      [...expected.outcomes].sort(),
      `${args.join(' ')}\n${result.stderr}`,
    );
    assert.equal(result.code, expected.code, result.stderr);
    assert.equal(report.summary.total, report.items.length);
    return report;
  }

  it('copy', async () => {
    const source = `${registry.host}/src/demo:1.0.0`;
    await check(['copy', source, `${registry.host}/dst/demo`], {
      code: 0,
      outcomes: ['done'],
      operation: 'copy',
    });
    const list = join(work.path, 'copy-list.txt');
    await writeFile(
      list,
      `${source} ${registry.host}/dst/demo\n${registry.host}/src/missing:1 ${registry.host}/dst/missing\n`,
    );
    const partial = await check(['copy', '--from-file', list], {
      code: 1,
      outcomes: ['present', 'failed'],
      operation: 'copy',
    });
    assert.equal(
      partial.items.find((i) => i.outcome === 'failed')?.error?.code,
      'REGISTRY_NOT_FOUND',
    );
  });

  it('mirror', async () => {
    const inventory = join(ROOT, 'examples/inventory.csv');
    await check(['mirror', inventory, '--to', `${registry.host}/mirror`], {
      code: 0,
      outcomes: ['done', 'done'],
      operation: 'mirror',
    });
    // The same inventory plus a row whose local source does not exist.
    const dir = join(work.path, 'examples');
    await cp(join(ROOT, 'examples'), dir, { recursive: true });
    await appendFile(join(dir, 'inventory.csv'), './nowhere,hello,,helm,,\n');
    const partial = await check(
      ['mirror', join(dir, 'inventory.csv'), '--to', `${registry.host}/mirror`],
      { code: 1, outcomes: ['present', 'present', 'failed'], operation: 'mirror' },
    );
    assert.ok(partial.items.some((i) => i.error?.code.startsWith('UPSTREAM_') === true));
  });

  it('sign and verify', async () => {
    // key generate creates the folder its prefix names, as the quickstart relies on.
    const keys = join(work.path, 'keys', 'release', 'cosign');
    const generated = await airlock(['key', 'generate', '--output-key-prefix', keys], { env });
    assert.equal(generated.code, 0, generated.stderr);
    const artifact = `${registry.host}/src/demo:1.0.0`;
    const missing = `${registry.host}/src/demo:9.9.9`;
    await check(['sign', artifact, '--key', `${keys}.key`], {
      code: 0,
      outcomes: ['done'],
      operation: 'sign',
    });
    await check(['sign', artifact, missing, '--key', `${keys}.key`], {
      code: 1,
      outcomes: ['present', 'failed'],
      operation: 'sign',
    });
    await check(['verify', artifact, '--key', `${keys}.pub`], {
      code: 0,
      outcomes: ['done'],
      operation: 'verify',
    });
    const unsigned = `${registry.host}/dst/demo:1.0.0`;
    const partial = await check(['verify', artifact, unsigned, '--key', `${keys}.pub`], {
      code: 3,
      outcomes: ['done', 'failed'],
      operation: 'verify',
    });
    assert.equal(
      partial.items.find((i) => i.outcome === 'failed')?.error?.code,
      'VERIFICATION_FAILED',
    );
  });
});
