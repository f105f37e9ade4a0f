import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from './tools.ts';

export interface TokenRequestLog {
  readonly scope: readonly string[];
  readonly service: string | null;
  readonly authenticated: boolean;
}

export interface TokenServer {
  readonly url: string;
  readonly service: string;
  readonly issuer: string;
  readonly certificatePath: string;
  readonly requests: TokenRequestLog[];
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/**
 * A token server for the distribution registry's `auth.token` mode (Docker token authentication):
 * checks Basic credentials and issues ES256 JWTs whose x5c header chains to the registry's
 * rootcertbundle, granting the scopes asked for.
 */
export async function startTokenServer(options: {
  dir: string;
  username: string;
  password: string;
  lifetimeSeconds?: number;
}): Promise<TokenServer> {
  const keyPath = join(options.dir, 'token.key');
  const certificatePath = join(options.dir, 'token.crt');
  run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certificatePath,
    '-days',
    '2',
    '-subj',
    '/CN=airlock token issuer',
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const certDER = Buffer.from(
    (await readFile(certificatePath, 'utf8')).replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''),
    'base64',
  );
  const service = 'airlock-test-registry';
  const issuer = 'airlock-test-issuer';
  const requests: TokenRequestLog[] = [];
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const scope = url.searchParams.getAll('scope');
    const authenticated = req.headers.authorization === expected;
    requests.push({ scope, service: url.searchParams.get('service'), authenticated });
    if (!authenticated) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"details":"invalid credentials"}');
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scope.map((s) => {
      const [type = '', name = '', actions = ''] = s.split(':');
      return { type, name, actions: actions.split(',') };
    });
    const header = base64url(
      JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [certDER.toString('base64')] }),
    );
    const lifetime = options.lifetimeSeconds ?? 300;
    const claims = base64url(
      JSON.stringify({
        iss: issuer,
        sub: options.username,
        aud: service,
        exp: now + lifetime,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
      key,
      dsaEncoding: 'ieee-p1363',
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        token: `${header}.${claims}.${base64url(signature)}`,
        expires_in: lifetime,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    service,
    issuer,
    certificatePath,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
