import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { assertRejectsCode } from '../../test/helpers/assert-code.ts';
import { packLayer } from '../artifact/index.ts';
import { HTTPTransport } from '../oci/index.ts';
import { parseInventory } from './inventory.ts';
import { fetchChart, listUpstream, resolveReferenceURL, type UpstreamContext } from './upstream.ts';

function chart(name: string, version: string): Buffer {
  return packLayer([
    {
      name: `${name}/Chart.yaml`,
      type: 'file',
      mode: 0o644,
      data: Buffer.from(`apiVersion: v2\nname: ${name}\nversion: ${JSON.stringify(version)}\n`),
    },
  ]).tgz;
}

describe("chart URLs resolve as Helm's ResolveReferenceURL does", () => {
  const cases: [string, string, string][] = [
    [
      'https://charts.example.com/repo',
      'web-1.0.0.tgz',
      'https://charts.example.com/repo/web-1.0.0.tgz',
    ],
    [
      'https://charts.example.com/repo/',
      'web-1.0.0.tgz',
      'https://charts.example.com/repo/web-1.0.0.tgz',
    ],
    ['https://charts.example.com/a/b', '../../../../x.tgz', 'https://charts.example.com/x.tgz'],
    ['https://charts.example.com/repo', '/abs/x.tgz', 'https://charts.example.com/abs/x.tgz'],
    // The repository URL's query is kept for relative references (Helm sets RawQuery).
    [
      'https://charts.example.com/repo?token=1',
      'x.tgz',
      'https://charts.example.com/repo/x.tgz?token=1',
    ],
    // Absolute references are taken as they are.
    [
      'https://charts.example.com/repo',
      'https://cdn.example.net/x.tgz',
      'https://cdn.example.net/x.tgz',
    ],
    // A backslash is a path character in Go, not a slash that could change the host.
    [
      'https://charts.example.com/repo',
      '\\\\evil.example\\x.tgz',
      'https://charts.example.com/repo/%5C%5Cevil.example%5Cx.tgz',
    ],
  ];
  for (const [base, ref, expected] of cases) {
    it(`${base} + ${ref}`, () => {
      assert.equal(resolveReferenceURL(base, ref).toString(), expected);
    });
  }
  it('an absolute file: or dir: reference keeps its scheme (and is refused by the caller)', () => {
    assert.equal(resolveReferenceURL('https://h/repo', 'file:///etc/passwd').protocol, 'file:');
    assert.equal(resolveReferenceURL('https://h/repo', 'dir:///tmp/x').protocol, 'dir:');
    assert.equal(resolveReferenceURL('https://h/repo', ' file:///etc/passwd').protocol, 'file:');
  });
});

describe('local sources and library callers', () => {
  let dir: string;
  let context: UpstreamContext;
  const row = (source: string, chartName: string) =>
    parseInventory(`source,chart\n${source},${chartName}\n`, join(dir, 'inv.csv'))[0]!;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-upstream-'));
    context = {
      transport: new HTTPTransport(),
      openOCI: () => {
        throw new Error('no OCI here');
      },
      baseDir: dir,
      maxSize: 64 * 1024,
    };
  });
  after(async () => {
    context.transport.close();
    await rm(dir, { recursive: true, force: true });
  });

  const localIndex = async (name: string, entries: Record<string, unknown[]>): Promise<void> => {
    await mkdir(join(dir, name), { recursive: true });
    await writeFile(join(dir, name, 'index.yaml'), stringify({ apiVersion: 'v1', entries }));
  };

  for (const url of ['ftp://example.com/x.tgz', 'data:,x', 'javascript:alert(1)', 'dir:///tmp']) {
    it(`a local index refuses a ${url.split(':')[0]}: chart URL`, async () => {
      const name = `scheme-${url.split(':')[0]}`;
      await localIndex(name, { web: [{ version: '1.0.0', urls: [url] }] });
      await assertRejectsCode(
        () => listUpstream(row(`./${name}`, 'web'), context),
        'UPSTREAM_SCHEME_REFUSED',
      );
    });
  }

  it('a local index may point at a packaged chart inside its directory', async () => {
    await localIndex('inside', { web: [{ version: '1.0.0', urls: ['charts/web-1.0.0.tgz'] }] });
    await mkdir(join(dir, 'inside', 'charts'));
    await writeFile(join(dir, 'inside', 'charts', 'web-1.0.0.tgz'), chart('web', '1.0.0'));
    const r = row('./inside', 'web');
    const [version] = await listUpstream(r, context);
    assert.ok(version);
    assert.ok((await fetchChart(r, version, context)).length > 0);
  });

  it('refuses a version whose tag would break the OCI grammar (129 characters after + → _)', async () => {
    const version = `1.0.0+${'b'.repeat(123)}`;
    assert.equal(version.length, 129);
    await localIndex('long', { web: [{ version, urls: ['web.tgz'] }] });
    await assertRejectsCode(() => listUpstream(row('./long', 'web'), context), 'TAG_INVALID');
  });

  it('accepts a 128-character tag', async () => {
    const version = `1.0.0+${'b'.repeat(122)}`;
    await localIndex('long-ok', { web: [{ version, urls: ['web.tgz'] }] });
    assert.equal((await listUpstream(row('./long-ok', 'web'), context))[0]?.version, version);
  });

  it('refuses a local file larger than the limit', async () => {
    await mkdir(join(dir, 'big'));
    await writeFile(join(dir, 'big', 'web-1.0.0.tgz'), Buffer.alloc(64 * 1024 + 1));
    await assertRejectsCode(
      () => listUpstream(row('./big', 'web'), context),
      'SIZE_LIMIT_EXCEEDED',
    );
  });

  it('refuses an index.yaml that is a symlink out of the source', async () => {
    await mkdir(join(dir, 'linked-index'));
    await symlink('/dev/zero', join(dir, 'linked-index', 'index.yaml'));
    await assertRejectsCode(
      () => listUpstream(row('./linked-index', 'web'), context),
      'PATH_OUTSIDE_SOURCE',
    );
  });

  it('refuses a chart directory whose Chart.yaml is a symlink out of the source', async () => {
    await mkdir(join(dir, 'linked-chart-yaml', 'web'), { recursive: true });
    await writeFile(join(dir, 'outside-Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 1.0.0\n');
    await symlink(
      join(dir, 'outside-Chart.yaml'),
      join(dir, 'linked-chart-yaml', 'web', 'Chart.yaml'),
    );
    await assertRejectsCode(
      () => listUpstream(row('./linked-chart-yaml', 'web'), context),
      'PATH_OUTSIDE_SOURCE',
    );
  });

  it('refuses a chart directory whose files add up past the limit before reading them', async () => {
    // A sparse file: huge on disk, tiny once gzipped, so only the unpacked size can catch it.
    await mkdir(join(dir, 'sparse', 'web'), { recursive: true });
    await writeFile(
      join(dir, 'sparse', 'web', 'Chart.yaml'),
      'apiVersion: v2\nname: web\nversion: 3.0.0\n',
    );
    const handle = await open(join(dir, 'sparse', 'web', 'zeros.bin'), 'w');
    await handle.truncate(1024 * 1024 * 1024);
    await handle.close();
    const r = row('./sparse', 'web');
    const versions = await listUpstream(r, context);
    await assertRejectsCode(() => fetchChart(r, versions[0]!, context), 'SIZE_LIMIT_EXCEEDED');
  });

  it('packages a chart directory of a local source', async () => {
    await mkdir(join(dir, 'dirs', 'web', 'templates'), { recursive: true });
    await writeFile(
      join(dir, 'dirs', 'web', 'Chart.yaml'),
      'apiVersion: v2\nname: web\nversion: 2.0.0\n',
    );
    await writeFile(join(dir, 'dirs', 'web', 'templates', 'cm.yaml'), 'kind: ConfigMap\n');
    const r = row('./dirs', 'web');
    const versions = await listUpstream(r, context);
    assert.deepEqual(
      versions.map((v) => v.version),
      ['2.0.0'],
    );
    assert.ok((await fetchChart(r, versions[0]!, context)).length > 0);
  });

  it('fetchChart refuses a local location for an HTTP row, whoever built the version', async () => {
    const r = row('https://charts.example.com', 'web');
    for (const location of ['file:///etc/passwd', `dir://${dir}`, 'ftp://example.com/x.tgz'])
      await assertRejectsCode(
        () => fetchChart(r, { version: '1.0.0', location }, context),
        'UPSTREAM_SCHEME_REFUSED',
      );
  });

  it('fetchChart re-checks that a local location is inside the source', async () => {
    await writeFile(join(dir, 'outside.tgz'), chart('web', '1.0.0'));
    const r = row('./inside', 'web');
    await assertRejectsCode(
      () =>
        fetchChart(
          r,
          { version: '1.0.0', location: `file://${join(dir, 'outside.tgz')}` },
          context,
        ),
      'PATH_OUTSIDE_SOURCE',
    );
    await assertRejectsCode(
      () =>
        fetchChart(r, { version: '1.0.0', location: `dir://${join(dir, 'dirs', 'web')}` }, context),
      'PATH_OUTSIDE_SOURCE',
    );
  });
});
