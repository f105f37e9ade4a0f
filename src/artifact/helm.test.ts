import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertThrowsCode } from '../../test/helpers/assert-code.ts';
import { MediaType, sha256 } from '../core/index.ts';
import {
  formatFloat32,
  helmAnnotations,
  helmConfig,
  helmCreationTime,
  helmManifest,
  parseChartYAML,
} from './helm.ts';

// What Helm v4.1.4 wrote for these inputs (checked with real helm push; the conformance test
// test/conformance/helm-parity.test.ts compares against Helm itself where it is available).

describe('Helm metadata as helm push serialises it', () => {
  it('writes numbers in string fields as Go does (float32 %g, ints, YAML 1.1 octal and booleans)', () => {
    const cases: [number, string][] = [
      [1.1, '1.1'],
      [1000, '1000'],
      [123456, '123456'],
      [1234567, '1.234567e+06'],
      [12345678.9, '1.2345679e+07'],
      [0.1234567891, '0.12345679'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1e20, '1e+20'],
      [-2.5, '-2.5'],
    ];
    for (const [value, text] of cases) assert.equal(formatFloat32(value), text, String(value));
    const m = parseChartYAML(
      'apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: 1.10\ndeprecated: yes\nkeywords: [010, 0x1F, 1_000, 08, on, ~]\n',
      'Chart.yaml',
    );
    assert.equal(m.appVersion, '1.1');
    assert.equal(m.deprecated, true);
    assert.deepEqual(m.keywords, ['8', '31', '1000', '8', 'true', '']);
  });

  it('normalises whitespace and drops unprintable characters like Metadata.Validate', () => {
    const m = parseChartYAML(
      'apiVersion: v2\nname: demo\nversion: 1.0.0\ndescription: |\n  two\n  lines\nhome: "a\\tb\\u0007c"\n',
      'Chart.yaml',
    );
    assert.equal(m.description, 'two lines ');
    assert.equal(m.home, 'a bc');
    assert.equal(
      helmConfig(m).toString(),
      '{"name":"demo","home":"a bc","version":"1.0.0","description":"two lines ","apiVersion":"v2"}',
    );
  });

  it('writes the manifest without a top-level mediaType, annotations sorted, blank ones left out', () => {
    const m = parseChartYAML(
      'apiVersion: v2\nname: demo\nversion: 1.0.0+b\nhome: "  "\nmaintainers:\n  - name: a\n    email: a@x\n  - email: b@x\nannotations:\n  z: ""\n  org.opencontainers.image.title: ignored\n',
      'Chart.yaml',
    );
    const annotations = helmAnnotations(m, '2026-01-02T03:04:05Z');
    assert.deepEqual(annotations, {
      'org.opencontainers.image.authors': 'a (a@x),  (b@x)',
      'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      'org.opencontainers.image.title': 'demo',
      'org.opencontainers.image.version': '1.0.0+b',
      z: '',
    });
    const config = { digest: sha256('c'), size: 1 };
    const manifest = JSON.parse(
      helmManifest(config, [{ mediaType: MediaType.helmChart, ...config }], annotations).toString(),
    ) as Record<string, unknown>;
    assert.deepEqual(Object.keys(manifest), ['schemaVersion', 'config', 'layers', 'annotations']);
  });

  it('reads a Helm 2 chart without apiVersion as v1, and refuses what Helm cannot load', () => {
    assert.equal(parseChartYAML('name: old\nversion: 0.1.0\n', 'Chart.yaml').apiVersion, 'v1');
    for (const text of [
      'apiVersion: v2\nname: demo\nversion: 1.0.0\ndeprecated: "true"\n',
      'apiVersion: v2\nname: demo\nversion: 1.0.0\nmaintainers: [~]\n',
      'apiVersion: v2\nname: demo\nversion: 1.0.0\ntype: plugin\n',
    ])
      assertThrowsCode(() => parseChartYAML(text, 'Chart.yaml'), 'CONFIG_INVALID');
  });

  it("dates created like helm push: the file's mtime in RFC 3339, local time zone, whole seconds", () => {
    const saved = process.env.TZ;
    try {
      const mtime = new Date('2026-12-01T20:01:31.789Z');
      process.env.TZ = 'UTC';
      assert.equal(helmCreationTime(mtime), '2026-12-01T20:01:31Z');
      process.env.TZ = 'Asia/Kolkata';
      assert.equal(helmCreationTime(mtime), '2026-12-02T01:31:31+05:30');
      process.env.TZ = 'America/New_York';
      assert.equal(helmCreationTime(mtime), '2026-12-01T15:01:31-05:00');
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
