import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import https from 'node:https';
import http from 'node:http';
import { run, tempDir } from './tools.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';
import { makeCertificateAuthority, type TestCA } from './tls.ts';

export interface RegistryServer {
  /** host:port, as used in references. */
  readonly host: string;
  readonly url: string;
  readonly storage: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: TestCA;
  readonly tokenServer?: TokenServer;
  /** Requests the registry served since start (only with `accessLog: true`). */
  readonly requests: { count: number };
  stop(): Promise<void>;
}

export interface RegistryOptions {
  readonly auth?: 'none' | 'htpasswd' | 'token';
  readonly tls?: boolean;
  readonly username?: string;
  readonly password?: string;
  /** Count requests from the registry's access log (benchmarks); off by default. */
  readonly accessLog?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Starts the real CNCF distribution registry (Debian `docker-registry`) on a free loopback port
 * with its own config and temporary storage. Stop it with `stop()` (kills only this child).
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const dir = await tempDir('airlock-registry-');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const username = options.username ?? 'airlock';
  const password = options.password ?? 'sentinel-Pa55-do-not-leak';
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    `    disabled: ${options.accessLog ? 'false' : 'true'}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir.path, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`,
    `  secret: ${Math.random().toString(36).slice(2)}`,
  ];
  let ca: TestCA | undefined;
  if (options.tls) {
    ca = await makeCertificateAuthority(dir.path);
    lines.push('  tls:', `    certificate: ${ca.serverCert}`, `    key: ${ca.serverKey}`);
  }
  let tokenServer: TokenServer | undefined;
  if (options.auth === 'htpasswd') {
    const htpasswd = join(dir.path, 'htpasswd');
    await writeFile(htpasswd, run('htpasswd', ['-Bbn', username, password]));
    lines.push('auth:', '  htpasswd:', '    realm: airlock-test', `    path: ${htpasswd}`);
  } else if (options.auth === 'token') {
    tokenServer = await startTokenServer({ dir: dir.path, username, password });
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${tokenServer.url}/token`,
      `    service: ${tokenServer.service}`,
      `    issuer: ${tokenServer.issuer}`,
      `    rootcertbundle: ${tokenServer.certificatePath}`,
    );
  }
  const configPath = join(dir.path, 'config.yml');
  await writeFile(configPath, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const requests = { count: 0 };
  // The access log is one combined-log-format line per request on stdout.
  child.stdout?.on('data', (d: Buffer) => {
    for (const byte of d) if (byte === 10) requests.count++;
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `${options.tls ? 'https' : 'http'}://${host}`;
  await waitForRegistry(url, ca?.caPEM, () => stderr, child);
  return {
    host,
    url,
    storage: join(dir.path, 'data'),
    requests,
    ...(options.auth === 'htpasswd' || options.auth === 'token' ? { username, password } : {}),
    ...(ca ? { ca } : {}),
    ...(tokenServer ? { tokenServer } : {}),
    async stop() {
      const running = (): boolean => child.exitCode === null && child.signalCode === null;
      if (running()) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3000)]);
        if (running()) child.kill('SIGKILL');
      }
      await tokenServer?.stop();
      await dir.remove();
    },
  };
}

async function waitForRegistry(
  url: string,
  ca: string | undefined,
  stderr: () => string,
  child: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited (${child.exitCode}): ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const lib = url.startsWith('https') ? https : http;
      const req = lib.get(`${url}/v2/`, { ...(ca ? { ca } : {}), timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      });
      req.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry did not answer at ${url}: ${stderr()}`);
}
