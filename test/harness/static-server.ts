import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface StaticServer {
  readonly url: string;
  readonly requests: string[];
  stop(): Promise<void>;
}

/** Serves a directory over HTTP on loopback: an upstream Helm repository for tests. */
export async function startStaticServer(
  root: string,
  options: {
    delayMs?: (path: string) => number;
    auth?: { username: string; password: string };
  } = {},
): Promise<StaticServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(path);
      if (
        options.auth &&
        req.headers.authorization !==
          `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
      ) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
        return;
      }
      const delay = options.delayMs?.(path) ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const file = normalize(join(root, path));
      if (!file.startsWith(normalize(root))) {
        res.writeHead(403).end();
        return;
      }
      try {
        const info = await stat(file);
        if (!info.isFile()) throw new Error('not a file');
        res.writeHead(200, {
          'content-length': info.size,
          'content-type': file.endsWith('.yaml') ? 'application/yaml' : 'application/octet-stream',
        });
        createReadStream(file).pipe(res);
      } catch {
        res.writeHead(404).end('not found');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
