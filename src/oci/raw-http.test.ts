import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BufferPool } from '../core/index.ts';
import { rawRequest } from './raw-http.ts';

const BODY = randomBytes(3 * 1024 * 1024 + 17);
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * Reads a body in flowing mode, as `pipe` and the upload do (a paused `read()` may concatenate
 * queued chunks into a copy), releasing each chunk once consumed.
 */
function drain(body: Readable, pool: BufferPool): Promise<string> {
  const hash = createHash('sha256');
  let size = 0;
  return new Promise((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      pool.release(chunk);
    });
    body.on('end', () => resolve(`${size}:${hash.digest('hex')}`));
    body.on('error', reject);
  });
}

describe('raw HTTP reads into reused buffers', () => {
  let server: http.Server;
  let base: string;
  before(async () => {
    // Node's own HTTP server answers in each framing the reader must handle.
    server = http.createServer((req, res) => {
      const path = req.url ?? '/';
      if (path === '/length') {
        res.writeHead(200, { 'content-length': BODY.length });
        // Written in odd pieces, so chunk edges and read edges never line up.
        for (let at = 0; at < BODY.length; at += 100_003)
          res.write(BODY.subarray(at, at + 100_003));
        res.end();
      } else if (path === '/chunked') {
        res.writeHead(200, { 'x-kind': 'chunked' });
        for (let at = 0; at < BODY.length; at += 65_521) res.write(BODY.subarray(at, at + 65_521));
        res.end();
      } else if (path === '/close') {
        // No length and no chunking: the body ends when the server closes (RFC 9112 §6.3).
        res.useChunkedEncodingByDefault = false;
        res.shouldKeepAlive = false;
        res.writeHead(200, { connection: 'close' });
        res.end(BODY);
      } else if (path === '/hints') {
        res.writeEarlyHints({ link: '</x>; rel=preload' });
        res.writeHead(200, { 'content-length': 5 });
        res.end('hello');
      } else if (path === '/truncated') {
        res.writeHead(200, { 'content-length': BODY.length });
        res.write(BODY.subarray(0, 200_000), () => res.socket?.destroy());
      } else if (path === '/header') {
        res.writeHead(200, { 'content-length': 2, 'x-seen': String(req.headers['x-token']) });
        res.end('ok');
      } else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
  });

  const get = (path: string, pool: BufferPool, headers: Record<string, string> = {}) =>
    rawRequest({ method: 'GET', url: new URL(path, base), headers, ca: [], timeoutMs: 5000, pool });

  for (const framing of ['length', 'chunked', 'close'] as const) {
    it(`reads a ${framing}-framed body byte for byte, reusing a handful of buffers`, async () => {
      const pool = new BufferPool(64 * 1024);
      const res = await get(`/${framing}`, pool);
      assert.equal(res.status, 200);
      assert.equal(await drain(res.body, pool), `${BODY.length}:${sha(BODY)}`);
      // 3 MiB is 49 buffers' worth: reuse keeps the count at what is in flight at once.
      assert.ok(pool.allocated <= 8, `allocated ${pool.allocated} buffers`);
    });
  }

  it('without releases it still reads correctly (a buffer is never reused while referenced)', async () => {
    const pool = new BufferPool(64 * 1024);
    const res = await get('/chunked', pool);
    const chunks: Buffer[] = [];
    for await (const chunk of res.body as AsyncIterable<Buffer>) chunks.push(chunk);
    assert.equal(sha(Buffer.concat(chunks)), sha(BODY));
  });

  it('skips interim 1xx answers and sends the headers it is given', async () => {
    const pool = new BufferPool();
    const hints = await get('/hints', pool);
    assert.equal(hints.status, 200);
    assert.equal(await drain(hints.body, pool), `5:${sha(Buffer.from('hello'))}`);
    const header = await get('/header', pool, { 'x-token': 'abc' });
    assert.equal(header.headers['x-seen'], 'abc');
    header.body.resume();
  });

  it('a body cut short fails the stream as a broken connection (retryable)', async () => {
    const pool = new BufferPool();
    const res = await get('/truncated', pool);
    await assert.rejects(drain(res.body, pool), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'REGISTRY_UNREACHABLE');
      return true;
    });
  });

  it('refuses header values that would split the request', async () => {
    await assert.rejects(get('/header', new BufferPool(), { 'x-token': 'a\r\nx-evil: 1' }));
  });

  it('a slow reader pauses the socket instead of buffering the body', async () => {
    const pool = new BufferPool(64 * 1024);
    const res = await get('/length', pool);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Nothing read yet: only the body's small queue has been filled.
    assert.ok(res.body.readableLength <= 256 * 1024, `${res.body.readableLength} bytes queued`);
    assert.equal(await drain(res.body, pool), `${BODY.length}:${sha(BODY)}`);
  });
});
