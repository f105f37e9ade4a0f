import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { packLayer } from '../../src/artifact/index.ts';
import { sha256 } from '../../src/core/index.ts';

/**
 * A hostile Helm repository over real HTTP on loopback: an index.yaml whose entries try to make a
 * mirror read the local disk (file://, dir://, other schemes, redirects to file:), exhaust memory
 * (an endless chart body, an endless index), break tags (300 and 200 characters) or forge output
 * (newline and ESC in versions, URLs and chart names). Each case is one chart name in /index.yaml,
 * so one inventory row exercises one case.
 */
export interface HostileHelm {
  /** http://127.0.0.1:PORT: the repository whose /index.yaml lists every case. */
  readonly url: string;
  readonly host: string;
  /** Paths requested, in order. */
  readonly requests: string[];
  /** Bytes of endless bodies written so far: they stop growing once the client stops reading. */
  readonly endless: { sent: number; closed: number };
  /** Unique text inside every canary chart: it must never appear in any output. */
  readonly canary: string;
  /** Local files a hostile entry points at (a chart .tgz and a chart directory) and their digests. */
  readonly canaryFiles: { tgz: string; dir: string; digests: string[] };
  /** Repository base URLs whose index.yaml itself is hostile. */
  readonly endlessIndex: string;
  readonly redirectIndex: string;
  /** The chart names of the cases in /index.yaml ('good' is the one honest chart). */
  readonly cases: readonly HostileCase[];
  stop(): Promise<void>;
}

export type HostileCase =
  | 'good'
  | 'file-passwd'
  | 'file-canary'
  | 'dir-canary'
  | 'scheme-ftp'
  | 'scheme-data'
  | 'scheme-javascript'
  | 'relative-dotdot'
  | 'redirect-file'
  | 'redirect-file-host'
  | 'endless-body'
  | 'long-tag-300'
  | 'long-tag-200'
  | 'version-newline'
  | 'version-esc'
  | 'url-esc'
  | 'name-esc';

/** A chart .tgz built by hand (so even invalid names and versions can be served). */
export function chartBytes(
  name: string,
  version: string,
  options: { root?: string; note?: string } = {},
): Buffer {
  const root = options.root ?? name;
  const chartYAML = `apiVersion: v2\nname: ${JSON.stringify(name)}\nversion: ${JSON.stringify(version)}\n`;
  return packLayer([
    { name: `${root}/Chart.yaml`, type: 'file', mode: 0o644, data: Buffer.from(chartYAML) },
    {
      name: `${root}/templates/cm.yaml`,
      type: 'file',
      mode: 0o644,
      data: Buffer.from(
        `kind: ConfigMap\nmetadata:\n  name: x\ndata:\n  note: ${options.note ?? 'x'}\n`,
      ),
    },
  ]).tgz;
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Writes zeros until the client goes away, honouring backpressure so the server stays bounded. */
function streamForever(res: http.ServerResponse, counter: { sent: number; closed: number }): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no length
  let open = true;
  res.on('close', () => {
    open = false;
    counter.closed++;
  });
  const pump = (): void => {
    while (open) {
      counter.sent += ZEROS.length;
      if (!res.write(ZEROS)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/**
 * Starts the hostile repository. `work` is a directory for the canary files (a chart .tgz named
 * file-canary and a chart directory named dir-canary, both holding the canary text).
 */
export async function startHostileHelm(work: string): Promise<HostileHelm> {
  const canary = `canary-${randomUUID()}`;
  await mkdir(join(work, 'canary', 'dir-canary', 'templates'), { recursive: true });
  const canaryTgz = join(work, 'canary', 'file-canary-1.0.0.tgz');
  const canaryBytes = chartBytes('file-canary', '1.0.0', { note: canary });
  await writeFile(canaryTgz, canaryBytes);
  const canaryDir = join(work, 'canary', 'dir-canary');
  await writeFile(
    join(canaryDir, 'Chart.yaml'),
    'apiVersion: v2\nname: dir-canary\nversion: 1.0.0\n',
  );
  await writeFile(join(canaryDir, 'templates', 'cm.yaml'), `kind: ConfigMap\n# ${canary}\n`);

  const requests: string[] = [];
  const endless = { sent: 0, closed: 0 };
  let port = 0;
  // Real chart bytes served for the cases that get as far as a download.
  const served = new Map<string, Buffer>();
  const long200 = `1.0.0-${'a'.repeat(194)}`;
  const good = chartBytes('good', '1.0.0');
  served.set('/charts/good-1.0.0.tgz', good);
  served.set('/charts/long-tag-200.tgz', chartBytes('long-tag-200', long200));
  served.set(
    '/charts/name-esc-1.0.0.tgz',
    chartBytes('name-esc\u001b[2J\nforged', '1.0.0', { root: 'name-esc' }),
  );
  const entry = (name: string, version: string, url: string, extra: object = {}) => ({
    apiVersion: 'v2',
    name,
    version,
    urls: [url],
    created: '2026-01-01T00:00:00Z',
    ...extra,
  });
  const index = (): string =>
    stringify({
      apiVersion: 'v1',
      entries: {
        // One honest chart, so a run that refuses everything else is seen to work at all.
        good: [entry('good', '1.0.0', 'charts/good-1.0.0.tgz', { digest: sha256(good).slice(7) })],
        'file-passwd': [
          entry('file-passwd', '1.0.0', 'file:///etc/passwd', { digest: 'f'.repeat(64) }),
        ],
        'file-canary': [entry('file-canary', '1.0.0', pathToFileURL(canaryTgz).toString())],
        'dir-canary': [entry('dir-canary', '1.0.0', `dir://${canaryDir}`)],
        'scheme-ftp': [entry('scheme-ftp', '1.0.0', `ftp://127.0.0.1:${port}/charts/x.tgz`)],
        'scheme-data': [
          entry(
            'scheme-data',
            '1.0.0',
            `data:application/gzip;base64,${chartBytes('scheme-data', '1.0.0').toString('base64')}`,
          ),
        ],
        'scheme-javascript': [entry('scheme-javascript', '1.0.0', 'javascript:alert(1)')],
        'relative-dotdot': [entry('relative-dotdot', '1.0.0', '../../../../../../etc/passwd')],
        'redirect-file': [entry('redirect-file', '1.0.0', 'charts/redirect-file.tgz')],
        'redirect-file-host': [
          entry('redirect-file-host', '1.0.0', 'charts/redirect-file-host.tgz'),
        ],
        'endless-body': [entry('endless-body', '1.0.0', 'charts/endless.tgz')],
        'long-tag-300': [entry('long-tag-300', `1.0.0-${'a'.repeat(294)}`, 'charts/long-300.tgz')],
        'long-tag-200': [entry('long-tag-200', long200, 'charts/long-tag-200.tgz')],
        'version-newline': [
          entry('version-newline', '1.0.0\nmirrored   version-newline 9.9.9', 'charts/nl.tgz'),
        ],
        'version-esc': [entry('version-esc', '1.0.0-\u001b[2J', 'charts/esc.tgz')],
        'url-esc': [entry('url-esc', '1.0.0', 'charts/url\u001b[2J\n.tgz')],
        'name-esc': [entry('name-esc', '1.0.0', 'charts/name-esc-1.0.0.tgz')],
      },
    });

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    if (path === '/index.yaml') {
      res.writeHead(200, { 'content-type': 'application/yaml' }).end(index());
    } else if (path === '/charts/redirect-file.tgz' || path === '/redirect-index/index.yaml') {
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    } else if (path === '/charts/redirect-file-host.tgz') {
      // A file: URL with a host (file URLs take no port) pointing at the canary chart.
      res.writeHead(302, { location: `file://localhost${canaryTgz}` }).end();
    } else if (path === '/charts/endless.tgz' || path === '/endless-index/index.yaml') {
      streamForever(res, endless);
    } else {
      const bytes = served.get(path);
      if (bytes) res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      else res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    requests,
    endless,
    canary,
    canaryFiles: { tgz: canaryTgz, dir: canaryDir, digests: [sha256(canaryBytes)] },
    endlessIndex: `${url}/endless-index`,
    redirectIndex: `${url}/redirect-index`,
    cases: [
      'good',
      'file-passwd',
      'file-canary',
      'dir-canary',
      'scheme-ftp',
      'scheme-data',
      'scheme-javascript',
      'relative-dotdot',
      'redirect-file',
      'redirect-file-host',
      'endless-body',
      'long-tag-300',
      'long-tag-200',
      'version-newline',
      'version-esc',
      'url-esc',
      'name-esc',
    ],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
