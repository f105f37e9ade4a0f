// Helpers the benchmarks share: timing a child process (with its peak RSS) and taking medians.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';

export interface Timed {
  readonly seconds: number;
  readonly stdout: string;
  readonly peakRSS: number;
}

/** Runs a command to completion, timing it and sampling its peak resident memory (VmHWM). */
export function timed(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    let peakRSS = 0;
    const sample = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(
          readFileSync(`/proc/${String(child.pid)}/status`, 'utf8'),
        );
        if (match?.[1]) peakRSS = Math.max(peakRSS, Number(match[1]) * 1024);
      } catch {
        // the process has exited
      }
    }, 20);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sample);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0)
        reject(
          new Error(
            `${command} ${args.slice(0, 3).join(' ')} exited ${String(code)}\n${stderr.slice(-2000)}`,
          ),
        );
      else resolve({ seconds, stdout, peakRSS });
    });
  });
}

export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

/** A bare HTTP request for the floor scripts: keep-alive agent, body read in full, a request count. */
export function floorClient(concurrency: number): {
  request: (
    method: string,
    url: string,
    body?: Buffer,
    headers?: Record<string, string>,
  ) => Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>;
  count: () => number;
  close: () => void;
} {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  let requests = 0;
  return {
    request: (method, url, body, headers = {}) => {
      requests++;
      return new Promise((resolve, reject) => {
        const req = http.request(
          url,
          { method, agent, headers: { ...headers, 'content-length': String(body?.length ?? 0) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    count: () => requests,
    close: () => agent.destroy(),
  };
}

/** Runs `work` over items with `concurrency` workers. */
export async function workers<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}
