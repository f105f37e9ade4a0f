import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { DEFAULT_MAX_SIZE, sha256 } from '../../src/core/index.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { fetchChart, listUpstream, parseInventory } from '../../src/mirror/index.ts';
import { HTTPTransport } from '../../src/oci/index.ts';
import {
  chartBytes,
  type HostileCase,
  type HostileHelm,
  startHostileHelm,
} from '../harness/hostile-helm.ts';
import { type RegistryServer, startRegistry } from '../harness/registry.ts';
import { missingTools, tempDir } from '../harness/tools.ts';
import { assertRejectsCode } from '../helpers/assert-code.ts';
import { airlock, type CLIResult } from '../helpers/cli.ts';

// issue 8 §1: a remote index must never reach the local disk. Every case below is refused with its
// own code, pushes nothing, reads no local file and keeps memory bounded.

const skip = missingTools(['docker-registry']);
const MiB = 1024 * 1024;

/** One per-chart result of a mirror --json report: today's `records` or the BatchReport `items`. */
interface Result {
  readonly chart: string;
  readonly version?: string;
  /** `action` (mirrored, failed, …) or `outcome` (done, failed, …). */
  readonly state: string;
  readonly code?: string;
}

function results(run: CLIResult): Result[] {
  const report = run.json<{ records?: unknown[]; items?: unknown[] }>();
  const list = (report.items ?? report.records ?? []) as {
    chart?: string;
    version?: string;
    action?: string;
    outcome?: string;
    error?: { code?: string };
  }[];
  return list.map((r) => ({
    chart: r.chart ?? '',
    ...(r.version === undefined ? {} : { version: r.version }),
    state: r.outcome ?? r.action ?? '',
    ...(r.error?.code === undefined ? {} : { code: r.error.code }),
  }));
}

/** The codes a chart's results carry (a success counts as its state). */
function codesFor(run: CLIResult, chart: string): string[] {
  return [
    ...new Set(
      results(run)
        .filter((r) => r.chart === chart)
        .map((r) => r.code ?? r.state),
    ),
  ];
}

/** `ok`: the chart's one result is a success (`mirrored`, or `done` in the BatchReport shape). */
function assertCodes(run: CLIResult, chart: string, found: string[], code: string): void {
  const context = JSON.stringify(results(run).filter((r) => r.chart === chart));
  if (code === 'ok')
    assert.ok(found.length === 1 && ['done', 'mirrored'].includes(found[0]!), context);
  else assert.deepEqual(found, [code], context);
}

/** The registry's repositories (GET /v2/_catalog) and each one's tags. */
async function registryContents(registry: RegistryServer): Promise<Record<string, string[]>> {
  const catalog = (await (await fetch(`${registry.url}/v2/_catalog?n=1000`)).json()) as {
    repositories?: string[];
  };
  const out: Record<string, string[]> = {};
  for (const repository of catalog.repositories ?? []) {
    const tags = (await (await fetch(`${registry.url}/v2/${repository}/tags/list`)).json()) as {
      tags?: string[] | null;
    };
    out[repository] = tags.tags ?? [];
  }
  return out;
}

/**
 * Runs `fn` while sampling memory; returns its result and the peak growth over the start of RSS
 * and of the bytes held in Buffers (arrayBuffers: pages an earlier test freed can hide RSS growth).
 */
async function peakRSS<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = process.memoryUsage();
  let rss = start.rss;
  let buffers = start.arrayBuffers;
  const sample = (): void => {
    const now = process.memoryUsage();
    rss = Math.max(rss, now.rss);
    buffers = Math.max(buffers, now.arrayBuffers);
  };
  const timer = setInterval(sample, 5);
  try {
    const result = await fn();
    sample();
    return { result, growth: Math.max(rss - start.rss, buffers - start.arrayBuffers) };
  } finally {
    clearInterval(timer);
  }
}

// Text that exists only on the local disk: if any of it (or its digest) shows up, a file was read.
function localSecrets(hostile: HostileHelm, passwd: Buffer): string[] {
  return [
    hostile.canary,
    ...hostile.canaryFiles.digests,
    sha256(passwd),
    passwd.toString('utf8').split('\n')[0] ?? 'root:',
  ];
}

describe('airlock mirror against a hostile Helm repository', { skip }, () => {
  let registry: RegistryServer;
  let hostile: HostileHelm;
  let work: { path: string; remove: () => Promise<void> };
  let passwd: Buffer;

  before(async () => {
    work = await tempDir('airlock-hostile-');
    registry = await startRegistry();
    hostile = await startHostileHelm(work.path);
    passwd = await readFile('/etc/passwd');
  });
  after(async () => {
    await hostile.stop();
    await registry.stop();
    await work.remove();
  });

  const mirror = (inventory: string, ...flags: string[]): Promise<CLIResult> =>
    airlock(
      [
        'mirror',
        inventory,
        '--to',
        `${registry.host}/mirror`,
        '--insecure-registry',
        registry.host,
        ...flags,
      ],
      { env: { HOME: work.path } },
    );

  describe('library: the size limit (maxSize) bounds every HTTP body', () => {
    // A small limit: memory must follow it, not the endless stream (without the limit it would
    // reach 256 MiB). The allowance on top is Node's own: socket reads and garbage V8 collects only
    // after external memory grew by ~64 MiB (20-35 MiB measured here). The server-side byte count
    // is the exact, GC-independent check that reading stopped at the limit.
    const limit = 16 * MiB;
    const slack = 96 * MiB;
    const context = (transport: HTTPTransport) => ({
      transport,
      openOCI: () => {
        throw new Error('no OCI upstream here');
      },
      baseDir: work.path,
      maxSize: limit,
    });
    const row = (source: string, chart: string) =>
      parseInventory(`source,chart\n${source},${chart}\n`, 'lib.csv')[0]!;

    it('an endless chart body stops at the limit with SIZE_LIMIT_EXCEEDED; memory follows the limit', async (t) => {
      const transport = new HTTPTransport({ insecureRegistries: [hostile.host] });
      try {
        const r = row(hostile.url, 'endless-body');
        const ctx = context(transport);
        const [version] = await listUpstream(r, ctx);
        assert.ok(version);
        const sentBefore = hostile.endless.sent;
        const { growth } = await peakRSS(() =>
          assertRejectsCode(() => fetchChart(r, version, ctx), 'SIZE_LIMIT_EXCEEDED'),
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        const sent = hostile.endless.sent - sentBefore;
        t.diagnostic(
          `limit ${limit / MiB} MiB: server wrote ${Math.round(sent / MiB)} MiB, peak memory growth (RSS or Buffers) ${Math.round(growth / MiB)} MiB`,
        );
        assert.ok(sent < 2 * limit, `the server wrote ${Math.round(sent / MiB)} MiB`);
        assert.ok(growth < limit + slack, `memory grew by ${Math.round(growth / MiB)} MiB`);
      } finally {
        transport.close();
      }
    });

    it('an endless index.yaml stops at the limit too', async () => {
      const transport = new HTTPTransport({ insecureRegistries: [hostile.host] });
      try {
        const { growth } = await peakRSS(() =>
          assertRejectsCode(
            () => listUpstream(row(hostile.endlessIndex, 'x'), context(transport)),
            'SIZE_LIMIT_EXCEEDED',
          ),
        );
        assert.ok(growth < limit + slack, `memory grew by ${Math.round(growth / MiB)} MiB`);
      } finally {
        transport.close();
      }
    });

    it('an index.yaml that redirects to file: is refused', async () => {
      const transport = new HTTPTransport({ insecureRegistries: [hostile.host] });
      try {
        await assertRejectsCode(
          () => listUpstream(row(hostile.redirectIndex, 'x'), context(transport)),
          'UPSTREAM_SCHEME_REFUSED',
        );
      } finally {
        transport.close();
      }
    });
  });

  describe('HTTP index: one run over every case', () => {
    const expected: Record<HostileCase, ErrorCode | 'ok'> = {
      good: 'ok',
      'file-passwd': 'UPSTREAM_SCHEME_REFUSED',
      'file-canary': 'UPSTREAM_SCHEME_REFUSED',
      'dir-canary': 'UPSTREAM_SCHEME_REFUSED',
      'scheme-ftp': 'UPSTREAM_SCHEME_REFUSED',
      'scheme-data': 'UPSTREAM_SCHEME_REFUSED',
      'scheme-javascript': 'UPSTREAM_SCHEME_REFUSED',
      // Resolved as Helm does, against the repository: an http URL on the same server (404).
      'relative-dotdot': 'UPSTREAM_NOT_FOUND',
      'redirect-file': 'UPSTREAM_SCHEME_REFUSED',
      'redirect-file-host': 'UPSTREAM_SCHEME_REFUSED',
      'endless-body': 'SIZE_LIMIT_EXCEEDED',
      'long-tag-300': 'TAG_INVALID',
      'long-tag-200': 'TAG_INVALID',
      'version-newline': 'UPSTREAM_INVALID',
      'version-esc': 'UPSTREAM_INVALID',
      'url-esc': 'UPSTREAM_INVALID',
      'name-esc': 'UPSTREAM_INVALID',
    };
    let run: CLIResult;
    let growth: number;

    before(async () => {
      const inventory = join(work.path, 'hostile.csv');
      await writeFile(
        inventory,
        `source,chart,versions,target\n${hostile.cases.map((c) => `${hostile.url},${c},*,hostile/${c}`).join('\n')}\n`,
      );
      ({ result: run, growth } = await peakRSS(() => mirror(inventory, '--json')));
    });

    for (const [chart, code] of Object.entries(expected)) {
      it(`${chart}: ${code === 'ok' ? 'mirrored' : `refused with ${code}`}`, () => {
        const found = codesFor(run, chart);
        assertCodes(run, chart, found, code);
      });
    }

    it('pushes nothing but the honest chart', async () => {
      assert.notEqual(run.code, 0);
      assert.deepEqual(await registryContents(registry), { 'mirror/hostile/good': ['1.0.0'] });
    });

    it('reads no local file: no canary text, no digest of a local file in any output', () => {
      const output = `${run.stdout}\n${run.stderr}`;
      for (const secret of localSecrets(hostile, passwd))
        assert.ok(!output.includes(secret), `output leaks ${secret.slice(0, 40)}`);
    });

    it('follows relative chart URLs against the repository, as Helm does (never to the local disk)', () => {
      assert.ok(hostile.requests.includes('/etc/passwd'), JSON.stringify(hostile.requests));
    });

    it('stops an endless chart body at the limit: bounded memory, the connection dropped', (t) => {
      t.diagnostic(
        `limit ${DEFAULT_MAX_SIZE / MiB} MiB: server wrote ${Math.round(hostile.endless.sent / MiB)} MiB, peak memory growth (RSS or Buffers) ${Math.round(growth / MiB)} MiB`,
      );
      assert.ok(hostile.endless.closed >= 1, 'the endless body was abandoned');
      assert.ok(
        hostile.endless.sent < 2 * DEFAULT_MAX_SIZE,
        `the server wrote ${hostile.endless.sent} bytes`,
      );
      assert.ok(growth < 2 * DEFAULT_MAX_SIZE, `memory grew by ${Math.round(growth / MiB)} MiB`);
    });
  });

  it('prints remote text with control characters escaped: no upstream forges a line', async () => {
    const inventory = join(work.path, 'forge.csv');
    const cases = ['good', 'version-newline', 'version-esc', 'url-esc', 'name-esc'];
    await writeFile(
      inventory,
      `source,chart,versions,target\n${cases.map((c) => `${hostile.url},${c},*,forge/${c}`).join('\n')}\n`,
    );
    const run = await mirror(inventory);
    assert.notEqual(run.code, 0);
    // eslint-disable-next-line no-control-regex
    const raw = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
    assert.ok(!raw.test(run.stdout) && !raw.test(run.stderr), JSON.stringify(run.stderr));
    assert.ok(
      !`${run.stdout}\n${run.stderr}`
        .split('\n')
        .some((l) => l.startsWith('mirrored   version-newline')),
      'a forged result line',
    );
  });

  describe('local sources read only under the directory the inventory names', () => {
    const expected: Record<string, ErrorCode | 'ok'> = {
      good: 'ok',
      zero: 'PATH_OUTSIDE_SOURCE',
      fifo: 'FILE_UNREADABLE',
      dotdot: 'PATH_OUTSIDE_SOURCE',
      absolute: 'PATH_OUTSIDE_SOURCE',
      passwd: 'PATH_OUTSIDE_SOURCE',
      linked: 'PATH_OUTSIDE_SOURCE',
      'linked-dir': 'PATH_OUTSIDE_SOURCE',
      'index-dir': 'UPSTREAM_SCHEME_REFUSED',
      missing: 'UPSTREAM_NOT_FOUND',
    };
    let run: CLIResult;
    let growth: number;
    let outsideDigests: string[];

    before(async () => {
      const base = join(work.path, 'local');
      const outside = join(work.path, 'outside');
      await mkdir(join(outside, 'linked-dir', 'templates'), { recursive: true });
      // Charts outside the sources, named as the rows ask: a read would mirror them.
      const outsideCharts = ['dotdot', 'absolute', 'linked', 'index-dir'].map((name) => ({
        name,
        bytes: chartBytes(name, '1.0.0', { note: hostile.canary }),
      }));
      for (const chart of outsideCharts)
        await writeFile(join(outside, `${chart.name}-1.0.0.tgz`), chart.bytes);
      outsideDigests = outsideCharts.map((c) => sha256(c.bytes));
      await writeFile(
        join(outside, 'linked-dir', 'Chart.yaml'),
        'apiVersion: v2\nname: linked-dir\nversion: 1.0.0\n',
      );
      await writeFile(join(outside, 'linked-dir', 'templates', 'cm.yaml'), `# ${hostile.canary}\n`);
      const source = async (name: string): Promise<string> => {
        const dir = join(base, name);
        await mkdir(dir, { recursive: true });
        return dir;
      };
      const localIndex = async (name: string, chart: string, url: string): Promise<void> => {
        await writeFile(
          join(await source(name), 'index.yaml'),
          stringify({
            apiVersion: 'v1',
            entries: { [chart]: [{ name: chart, version: '1.0.0', urls: [url] }] },
          }),
        );
      };
      await writeFile(join(await source('good'), 'good-1.0.0.tgz'), chartBytes('good', '1.0.0'));
      // An endless local device behind an innocent name.
      await symlink('/dev/zero', join(await source('zero'), 'x.tgz'));
      // A FIFO: opening it would block until a writer comes.
      execFileSync('mkfifo', [join(await source('fifo'), 'y.tgz')]);
      await localIndex('dotdot', 'dotdot', '../../outside/dotdot-1.0.0.tgz');
      await localIndex(
        'absolute',
        'absolute',
        pathToFileURL(join(outside, 'absolute-1.0.0.tgz')).toString(),
      );
      await localIndex('passwd', 'passwd', 'file:///etc/passwd');
      await symlink(
        join(outside, 'linked-1.0.0.tgz'),
        join(await source('linked'), 'linked-1.0.0.tgz'),
      );
      await symlink(join(outside, 'linked-dir'), join(await source('linked-dir'), 'linked-dir'));
      await localIndex('index-dir', 'index-dir', `dir://${join(outside, 'linked-dir')}`);
      await writeFile(
        join(await source('missing'), 'other-1.0.0.tgz'),
        chartBytes('other', '1.0.0'),
      );
      const inventory = join(base, 'inventory.csv');
      await writeFile(
        inventory,
        `source,chart,versions,target\n${Object.keys(expected)
          .map((c) => `./${c},${c},*,local/${c}`)
          .join('\n')}\n`,
      );
      ({ result: run, growth } = await peakRSS(() => mirror(inventory, '--json')));
    });

    for (const [chart, code] of Object.entries(expected)) {
      it(`${chart}: ${code === 'ok' ? 'mirrored' : `refused with ${code}`}`, () => {
        const found = codesFor(run, chart);
        assertCodes(run, chart, found, code);
      });
    }

    it('pushes nothing from outside the sources, prints nothing from there, stays bounded', async (t) => {
      t.diagnostic(`peak memory growth (RSS or Buffers) ${Math.round(growth / MiB)} MiB`);
      const contents = await registryContents(registry);
      assert.deepEqual(
        Object.keys(contents).filter((r) => r.startsWith('mirror/local/')),
        ['mirror/local/good'],
      );
      const output = `${run.stdout}\n${run.stderr}`;
      for (const secret of [...localSecrets(hostile, passwd), ...outsideDigests])
        assert.ok(!output.includes(secret), `output leaks ${secret.slice(0, 40)}`);
      assert.ok(growth < 64 * MiB, `memory grew by ${Math.round(growth / MiB)} MiB`);
    });
  });
});
