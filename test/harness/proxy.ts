import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: 'reset' }
  | { readonly kind: 'truncate' }
  | { readonly kind: 'flip-byte' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'redirect'; readonly to: string };

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authorization: string | undefined;
  readonly fault: Fault['kind'] | undefined;
}

export type FaultRule = (request: {
  method: string;
  path: string;
  index: number;
}) => Fault | undefined;

export interface FaultProxy {
  /** host:port of the proxy, to use in references. */
  readonly host: string;
  readonly url: string;
  readonly log: LoggedRequest[];
  /** Decides a fault per request; undefined forwards it unchanged. */
  rule: FaultRule | undefined;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** The upstream origin, e.g. http://127.0.0.1:5000. */
  readonly upstream: string;
  readonly upstreamCA?: string;
}

/**
 * A recording, fault-injecting HTTP proxy in front of a real server. It forwards the Host header
 * unchanged, so the registry builds upload Location URLs that point back at the proxy.
 */
export async function startProxy(options: ProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const lib = upstream.protocol === 'https:' ? https : http;
  const agent =
    upstream.protocol === 'https:'
      ? new https.Agent({
          keepAlive: true,
          ...(options.upstreamCA ? { ca: options.upstreamCA } : {}),
        })
      : new http.Agent({ keepAlive: true });
  let counter = 0;
  const proxy: FaultProxy = {
    host: '',
    url: '',
    log: [],
    rule: undefined,
    stop: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const index = counter++;
      const fault = proxy.rule?.({ method, path, index });
      const authorization = req.headers.authorization;
      const record = (status: number): void => {
        proxy.log.push({ method, path, status, authorization, fault: fault?.kind });
      };
      if (fault?.kind === 'status') {
        req.resume();
        record(fault.status);
        res.writeHead(fault.status, {
          'content-type': 'application/json',
          ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}),
        });
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}');
        return;
      }
      if (fault?.kind === 'reset') {
        record(0);
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'redirect') {
        req.resume();
        record(307);
        res.writeHead(307, { location: new URL(path, fault.to).toString() }).end();
        return;
      }
      if (fault?.kind === 'delay') await sleep(fault.ms);
      const headers = { ...req.headers };
      const forward = lib.request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers,
          agent,
        },
        (upstreamRes) => {
          record(upstreamRes.statusCode ?? 0);
          if (fault?.kind === 'flip-byte' || fault?.kind === 'truncate') {
            const chunks: Buffer[] = [];
            upstreamRes.on('data', (c: Buffer) => chunks.push(c));
            upstreamRes.on('end', () => {
              const body = Buffer.concat(chunks);
              res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
              if (fault.kind === 'flip-byte' && body.length > 0) {
                const at = Math.floor(body.length / 2);
                body[at] = (body[at] ?? 0) ^ 0xff;
                res.end(body);
              } else {
                res.write(body.subarray(0, Math.floor(body.length / 2)));
                setImmediate(() => res.socket?.destroy());
              }
            });
            return;
          }
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forward.on('error', () => {
        record(502);
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      req.pipe(forward);
    })();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Faults at a given rate, deterministic for a seed, among status 500, 429 + Retry-After and resets. */
export function randomFaults(rate: number, seed = 42): FaultRule {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return () => {
    if (next() >= rate) return undefined;
    const pick = next();
    if (pick < 0.4) return { kind: 'status', status: 500 };
    if (pick < 0.7) return { kind: 'status', status: 429, retryAfter: '0' };
    return { kind: 'reset' };
  };
}
