// A minimal HTTP/1.1 client for one thing: reading a large response body into reused buffers.
// Node's http client gives every socket read a fresh buffer, so streaming a 1 GiB blob leaves up to
// ~100 MiB of dead buffers waiting for the garbage collector; a socket opened with `onread` reads
// into buffers the caller supplies (Node docs, net.Socket `onread`), here the blob buffer pool.
// One request per connection (`Connection: close`): a large body dwarfs a connection set-up, and
// no keep-alive state has to be shared with the pooled agents. Framing per RFC 9112 §6: no body
// for HEAD, 1xx, 204 and 304; chunked; Content-Length; else the body runs until the server closes.
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { type BufferPool, blobBuffers } from '../core/index.ts';
import { RegistryError } from '../errors.ts';

export interface RawRequest {
  readonly method: 'GET' | 'HEAD';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string | number>>;
  /** CA certificates for https (the system's plus the caller's). */
  readonly ca: readonly string[];
  readonly timeoutMs: number;
  readonly pool?: BufferPool;
}

export interface RawResponse {
  readonly status: number;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable;
}

const MAX_HEAD = 64 * 1024;
/** Reads continue in the current buffer while this much of it is left. */
const MIN_READ = 16 * 1024;

/** An error shaped like Node's own HTTP parser errors, so callers classify both alike. */
function parseError(message: string, raw: Buffer): Error {
  return Object.assign(new Error(`Parse Error: ${message}`), {
    code: 'HPE_INVALID_CONSTANT',
    rawPacket: raw,
  });
}

function truncated(url: URL): RegistryError {
  return new RegistryError(
    'REGISTRY_UNREACHABLE',
    `${url.host}: connection closed before the whole body arrived`,
    {
      url: url.toString(),
      cause: Object.assign(new Error('body truncated'), { code: 'ECONNRESET' }),
    },
  );
}

function parseHead(text: string, raw: Buffer): Omit<RawResponse, 'body'> {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/(1\.[01]) (\d{3})(?: |$)/.exec(statusLine);
  if (!match) throw parseError('Expected HTTP/', raw);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw parseError('Invalid header', raw);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[2]), httpVersion: match[1] ?? '1.1', headers };
}

type Framing =
  | { kind: 'none' }
  | { kind: 'length'; remaining: number }
  | { kind: 'close' }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; remaining: number };

function framingFor(method: string, head: Omit<RawResponse, 'body'>): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { kind: 'none' };
  const encoding = head.headers['transfer-encoding'];
  if (typeof encoding === 'string' && /(^|,)\s*chunked\s*$/i.test(encoding))
    return { kind: 'chunked', state: 'size', remaining: 0 };
  const length = head.headers['content-length'];
  if (typeof length === 'string') {
    if (!/^\d+$/.test(length)) throw parseError('Invalid Content-Length', Buffer.from(length));
    return { kind: 'length', remaining: Number(length) };
  }
  return { kind: 'close' };
}

/** The response body: chunks are views of pool buffers, each holding one reference. */
class PooledBody extends Readable {
  readonly #resume: () => void;
  constructor(resume: () => void, destroy: () => void) {
    // Two pool buffers' worth in the queue before the socket is paused.
    super({ highWaterMark: 128 * 1024 });
    this.#resume = resume;
    this.once('close', destroy);
  }
  override _read(): void {
    this.#resume();
  }
}

/**
 * Sends one request on a connection of its own and resolves with the status and headers once the
 * head has arrived; the body streams in buffers of `pool` (release each chunk with
 * `pool.release` after it is written, or let it be collected).
 */
export function rawRequest(req: RawRequest): Promise<RawResponse> {
  const pool = req.pool ?? blobBuffers;
  const { url } = req;
  const https = url.protocol === 'https:';
  const port = Number(url.port || (https ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const lines = [`${req.method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(req.headers)) {
    const text = String(value);
    // RFC 9110 §5.5: no CR, LF or NUL in a field value (Node's client refuses them too).
    if (/[\r\n\0]/.test(name) || /[\r\n\0]/.test(text))
      return Promise.reject(
        Object.assign(new TypeError(`invalid character in header "${name}"`), {
          code: 'ERR_INVALID_CHAR',
        }),
      );
    if (name.toLowerCase() !== 'host' && name.toLowerCase() !== 'connection')
      lines.push(`${name}: ${text}`);
  }
  lines.push('connection: close', '', '');

  return new Promise<RawResponse>((resolve, reject) => {
    let current: Buffer | undefined;
    let offset = 0;
    let head: Buffer[] = [];
    let headSize = 0;
    let framing: Framing | undefined;
    let body: PooledBody | undefined;
    let ended = false;
    let line = '';

    const nextBuffer = (): Buffer => {
      if (current && current.length - offset >= MIN_READ) return current.subarray(offset);
      if (current) pool.release(current);
      current = pool.take();
      offset = 0;
      return current;
    };
    const finish = (): void => {
      if (ended) return;
      ended = true;
      body?.push(null);
      socket.destroy();
    };
    const fail = (error: Error): void => {
      if (!body) reject(error);
      else if (
        error instanceof RegistryError ||
        (error as { code?: unknown }).code === 'HPE_INVALID_CONSTANT'
      )
        body.destroy(error);
      else
        // A reset or a stall mid-body is a broken connection, retryable like a truncated body.
        body.destroy(
          new RegistryError(
            'REGISTRY_UNREACHABLE',
            `${url.host}: connection broke while reading the body: ${error.message}`,
            { url: url.toString(), cause: error },
          ),
        );
      socket.destroy();
    };
    /** Hands a piece of the current read buffer to the body; false when the body is full. */
    const emit = (chunk: Buffer): boolean => {
      if (chunk.length === 0 || !body) return true;
      pool.hold(chunk);
      return body.push(chunk);
    };
    /** Consumes body bytes as the framing says; returns false to pause the socket. */
    const onBody = (data: Buffer): boolean => {
      let more = true;
      let rest = data;
      while (rest.length > 0 && !ended && framing) {
        if (framing.kind === 'close') {
          more = emit(rest) && more;
          rest = rest.subarray(rest.length);
        } else if (framing.kind === 'length') {
          const piece = rest.subarray(0, framing.remaining);
          framing.remaining -= piece.length;
          more = emit(piece) && more;
          rest = rest.subarray(piece.length);
          if (framing.remaining === 0) finish();
        } else if (framing.kind === 'none') {
          finish();
        } else if (framing.state === 'data') {
          const piece = rest.subarray(0, framing.remaining);
          framing.remaining -= piece.length;
          more = emit(piece) && more;
          rest = rest.subarray(piece.length);
          if (framing.remaining === 0) framing.state = 'data-end';
        } else {
          // Size lines, the CRLF after each chunk, and trailers are read a line at a time.
          const newline = rest.indexOf(10);
          const part = rest.subarray(0, newline < 0 ? rest.length : newline + 1);
          rest = rest.subarray(part.length);
          line += part.toString('latin1');
          if (line.length > 4096) throw parseError('Chunk header too long', part);
          if (newline < 0) continue;
          const text = line.replace(/\r?\n$/, '');
          line = '';
          if (framing.state === 'data-end') {
            if (text !== '') throw parseError('Expected CRLF after a chunk', part);
            framing.state = 'size';
          } else if (framing.state === 'size') {
            const size = /^([0-9a-fA-F]{1,15})(?:;.*)?$/.exec(text.trim());
            if (!size?.[1]) throw parseError('Invalid chunk size', part);
            framing.remaining = parseInt(size[1], 16);
            framing.state = framing.remaining === 0 ? 'trailer' : 'data';
          } else if (text === '') finish();
        }
      }
      if (framing?.kind === 'none') finish();
      return more;
    };
    const onHead = (data: Buffer): boolean => {
      head.push(data);
      headSize += data.length;
      const all = head.length === 1 ? data : Buffer.concat(head);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (headSize > MAX_HEAD) throw parseError('Header overflow', all.subarray(0, 64));
        // Keep a copy: `data` lives in a pool buffer that the next read may overwrite.
        head = [Buffer.from(all)];
        return true;
      }
      const parsed = parseHead(all.subarray(0, end).toString('latin1'), all);
      const after = all.subarray(end + 4);
      head = [];
      headSize = 0;
      if (parsed.status >= 100 && parsed.status < 200) {
        // An interim answer (100 Continue, 103 Early Hints): the real head follows.
        return after.length === 0 ? true : onHead(Buffer.from(after));
      }
      framing = framingFor(req.method, parsed);
      body = new PooledBody(
        () => socket.resume(),
        () => socket.destroy(),
      );
      resolve({ ...parsed, body });
      if (framing.kind === 'none') {
        finish();
        return true;
      }
      // The body bytes that came with the head: `after` is a view of the read buffer (one read)
      // or of a concatenated copy, which `emit` holds as an ordinary buffer.
      return onBody(after);
    };

    const options = {
      host,
      port,
      onread: {
        buffer: nextBuffer,
        callback: (nread: number, buffer: Uint8Array): boolean => {
          const data = Buffer.from(buffer.buffer, buffer.byteOffset, nread);
          offset += nread;
          try {
            const more = framing === undefined ? onHead(data) : onBody(data);
            if (!more) socket.pause();
            return more;
          } catch (error) {
            fail(error as Error);
            return false;
          }
        },
      },
    };
    const socket: net.Socket = https
      ? tls.connect({
          ...options,
          ca: [...req.ca],
          ...(net.isIP(host) === 0 ? { servername: host } : {}),
        })
      : net.connect(options);
    socket.setTimeout(req.timeoutMs, () => {
      fail(
        Object.assign(new Error(`no answer from ${url.host} within ${req.timeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    socket.once(https ? 'secureConnect' : 'connect', () => {
      socket.write(lines.join('\r\n'));
    });
    socket.on('error', (error) => fail(error));
    const onEnd = (): void => {
      if (ended) return;
      if (framing?.kind === 'close') finish();
      else if (body) fail(truncated(url));
      else fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    };
    socket.on('end', onEnd);
    socket.on('close', () => {
      onEnd();
      if (current) pool.release(current);
      current = undefined;
    });
  });
}
