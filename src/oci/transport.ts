import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAll, releaseChunk } from '../core/index.ts';
import { AirlockError, RegistryError } from '../errors.ts';
import { rawRequest } from './raw-http.ts';

export interface TransportOptions {
  /** Hosts (host[:port]) that are spoken to over plain HTTP. Nothing else ever is. */
  readonly insecureRegistries?: readonly string[];
  /** Extra CA certificates (PEM), trusted in addition to the system's. */
  readonly caCertificates?: readonly string[];
  /** Sockets per origin: the copy engine's concurrency plus a little headroom. */
  readonly maxSockets?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Idle time after which a request is abandoned (ms). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

// Six attempts with full-jitter backoff ride out about 10 s of a flaky registry or proxy.
const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface HTTPRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** A buffer can be re-sent on retry; a stream cannot, so requests with one are never retried here. */
  readonly body?: Buffer | Readable;
  /** Only idempotent requests are retried (GET, HEAD, PUT of a manifest, DELETE). */
  readonly idempotent?: boolean;
  /** Header names (lower case) that are dropped when a redirect leaves the origin. */
  readonly credentialHeaders?: readonly string[];
  /**
   * The response body may be large (a blob): GET it on a connection of its own into reused
   * buffers (raw-http.ts), so streaming a gigabyte does not leave a gigabyte of garbage behind.
   */
  readonly largeBody?: boolean;
}

export interface HTTPResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The final URL after redirects. */
  readonly url: string;
  readonly body: Readable;
}

/** A retryable failure seen on a request that may not be retried here (e.g. a streamed upload). */
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);
const TLS_ERRNO = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO|ERR_TLS/;

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

export function isRetryableError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_ERRNO.has(code);
}

/**
 * HTTP(S) with keep-alive agents, verified TLS, manual redirects that never carry credentials to
 * another origin, and retries with backoff and jitter for idempotent requests
 * (OCI distribution spec; retry rules as containers/image and oras do them).
 */
export class HTTPTransport {
  readonly #insecure: ReadonlySet<string>;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  readonly #ca: readonly string[];
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  /** Counts requests sent, for reports and benchmarks. */
  requestCount = 0;

  constructor(options: TransportOptions = {}) {
    this.#insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
    const maxSockets = options.maxSockets ?? 16;
    this.#ca = [...rootCertificates, ...(options.caCertificates ?? [])];
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      ca: [...this.#ca],
    });
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#userAgent = options.userAgent ?? 'airlock';
  }

  /** The base URL for a registry host: https unless the host was named as insecure. */
  baseURL(host: string): string {
    return `${this.isInsecure(host) ? 'http' : 'https'}://${host}`;
  }

  isInsecure(host: string): boolean {
    return this.#insecure.has(host.toLowerCase());
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  /** Sends a request, following redirects and retrying idempotent ones. The caller consumes the body. */
  async request(req: HTTPRequest): Promise<HTTPResponse> {
    const canRetry =
      (req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD')) &&
      !(req.body instanceof Readable);
    const attempts = canRetry ? this.#retry.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#followRedirects(req);
        if (attempt < attempts && isRetryableStatus(res.status)) {
          res.body.resume();
          await sleep(this.delayFor(attempt, res.headers['retry-after']));
          continue;
        }
        return res;
      } catch (error) {
        if (attempt < attempts && isRetryableError(error)) {
          await sleep(this.delayFor(attempt, undefined));
          continue;
        }
        throw this.#networkError(req.url, error);
      }
    }
  }

  /** Exponential backoff with full jitter; a Retry-After header (seconds or HTTP date) wins, capped. */
  delayFor(attempt: number, retryAfter: string | undefined): number {
    const fromHeader = parseRetryAfter(retryAfter);
    if (fromHeader !== undefined) return Math.min(fromHeader, this.#retry.maxDelayMs);
    const ceiling = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  async #followRedirects(req: HTTPRequest): Promise<HTTPResponse> {
    let url = req.url;
    let headers = { ...req.headers };
    let method = req.method;
    for (let hop = 0; hop <= 5; hop++) {
      const res = await this.#send(method, url, headers, req.body, req.largeBody === true);
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = res.headers.location;
      res.body.resume();
      if (location === undefined) return res;
      const next = new URL(location, url);
      // Only http(s) is ever followed: a Location of file:, data:, ftp: … is a hostile answer.
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RegistryError(
          'REGISTRY_PROTOCOL',
          `refusing redirect from ${new URL(url).origin} to a ${next.protocol} URL`,
          { url, data: { redirectScheme: next.protocol.slice(0, -1) } },
        );
      }
      if (new URL(url).origin !== next.origin) {
        // Credentials never leave their origin: blob storage redirects get a bare request.
        headers = Object.fromEntries(
          Object.entries(headers).filter(
            ([k]) =>
              k.toLowerCase() !== 'authorization' &&
              !(req.credentialHeaders ?? []).includes(k.toLowerCase()),
          ),
        );
      }
      if (
        next.protocol === 'http:' &&
        new URL(url).protocol === 'https:' &&
        !this.isInsecure(next.host)
      ) {
        throw new AirlockError(
          'INSECURE_REFUSED',
          `refusing redirect from ${new URL(url).origin} to plain-HTTP ${next.origin}`,
          {
            details: [
              `Plain HTTP is used only for hosts named as insecure (plain-HTTP) registries.`,
            ],
            data: { host: next.host, plainHTTPRefused: true },
          },
        );
      }
      if (res.status === 303) method = 'GET';
      url = next.toString();
    }
    throw new RegistryError('REGISTRY_PROTOCOL', `too many redirects starting at ${req.url}`, {
      url: req.url,
    });
  }

  async #send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
    largeBody: boolean,
  ): Promise<HTTPResponse> {
    const target = new URL(url);
    const isHTTPS = target.protocol === 'https:';
    if (!isHTTPS && !this.isInsecure(target.host)) {
      throw new AirlockError('INSECURE_REFUSED', `refusing plain HTTP to ${target.host}`, {
        details: ['Plain HTTP is used only for hosts named as insecure (plain-HTTP) registries.'],
        data: { host: target.host, plainHTTPRefused: true },
      });
    }
    const finalHeaders: Record<string, string | number> = {
      'user-agent': this.#userAgent,
      ...headers,
    };
    if (Buffer.isBuffer(body)) finalHeaders['content-length'] = body.byteLength;
    else if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH'))
      finalHeaders['content-length'] = 0;
    this.requestCount++;
    const res =
      largeBody && method === 'GET' && body === undefined
        ? await this.#sendRaw(target, finalHeaders)
        : await this.#sendNode(method, target, finalHeaders, body);
    return !isHTTPS && res.status === 400 ? this.#checkPlainHTTPAnswer(method, target, res) : res;
  }

  async #sendRaw(target: URL, headers: Record<string, string | number>): Promise<HTTPResponse> {
    const res = await rawRequest({
      method: 'GET',
      url: target,
      headers,
      ca: this.#ca,
      timeoutMs: this.#timeoutMs,
    });
    return { status: res.status, headers: res.headers, url: target.toString(), body: res.body };
  }

  #sendNode(
    method: string,
    target: URL,
    headers: Record<string, string | number>,
    body: Buffer | Readable | undefined,
  ): Promise<HTTPResponse> {
    const isHTTPS = target.protocol === 'https:';
    const lib = isHTTPS ? https : http;
    return new Promise<HTTPResponse>((resolve, reject) => {
      const request = lib.request(
        target,
        {
          method,
          headers,
          agent: isHTTPS ? this.#httpsAgent : this.#httpAgent,
          timeout: this.#timeoutMs,
        },
        (response) => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            url: target.toString(),
            body: response,
          });
        },
      );
      request.on('timeout', () => {
        request.destroy(
          Object.assign(new Error(`no answer from ${target.host} within ${this.#timeoutMs} ms`), {
            code: 'ETIMEDOUT',
          }),
        );
      });
      request.on('error', reject);
      if (body instanceof Readable) sendStream(body, request);
      else request.end(body);
    });
  }

  /**
   * A TLS server that receives plain HTTP answers 400 with a fixed text (Go's net/http: "Client
   * sent an HTTP request to an HTTPS server."; nginx: "The plain HTTP request was sent to HTTPS
   * port"). Turn that into PROTOCOL_MISMATCH instead of an unexplained HTTP 400. A registry's own
   * 400 is JSON and passes through untouched.
   */
  async #checkPlainHTTPAnswer(
    method: string,
    target: URL,
    res: HTTPResponse,
  ): Promise<HTTPResponse> {
    const type = res.headers['content-type'];
    if (typeof type === 'string' && !/^text\//i.test(type)) return res;
    if (method === 'HEAD') {
      // A HEAD answer has no body to read: ask once with a GET whether this is that fixed text.
      const probe = await this.#sendNode(
        'GET',
        new URL('/v2/', target),
        { 'user-agent': this.#userAgent },
        undefined,
      ).catch(() => undefined);
      const text = probe
        ? await readBody(probe.body, 64 * 1024).catch(() => Buffer.alloc(0))
        : undefined;
      if (probe?.status === 400 && text && TLS_SERVER_ANSWER.test(text.toString('latin1')))
        throw speaksTLSError(target);
      return res;
    }
    const bytes = await readBody(res.body, 64 * 1024);
    if (TLS_SERVER_ANSWER.test(bytes.toString('latin1'))) throw speaksTLSError(target);
    return { ...res, body: Readable.from([bytes]) };
  }

  #networkError(url: string, error: unknown): AirlockError {
    if (error instanceof AirlockError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    const codeText = typeof code === 'string' ? code : '';
    const target = new URL(url);
    const host = target.host;
    const message = error instanceof Error ? error.message : String(error);
    if (target.protocol === 'https:' && PLAIN_HTTP_ANSWER.test(`${codeText} ${message}`)) {
      // OpenSSL read an HTTP answer as a TLS record: the server speaks plain HTTP. Say that, not
      // "wrong version number"; the OpenSSL line stays in the cause.
      return new RegistryError(
        'PROTOCOL_MISMATCH',
        `${host} answered in plain HTTP, not HTTPS (TLS)`,
        {
          url,
          cause: error,
          details: [
            'The server speaks plain HTTP: reach it over plain HTTP only if that is intended (an insecure registry, or an http:// URL), or check the port.',
          ],
          data: { host, speaksPlainHTTP: true },
        },
      );
    }
    if (target.protocol === 'http:' && tlsRecordInReply(error))
      return speaksTLSError(target, error);
    if (codeText === 'EPROTO') {
      return new RegistryError('TLS_FAILED', `TLS handshake with ${host} failed: ${message}`, {
        url,
        cause: error,
      });
    }
    if (TLS_ERRNO.test(codeText)) {
      return new RegistryError('TLS_FAILED', `TLS verification failed for ${host}: ${message}`, {
        url,
        cause: error,
        details: [
          'Trust the CA that signed the registry certificate: TLS verification is never skipped.',
        ],
        data: { host, caRequired: true },
      });
    }
    if (codeText === 'ENOTFOUND' || codeText === 'EAI_AGAIN') {
      return new RegistryError('REGISTRY_UNREACHABLE', `cannot resolve host ${host}`, {
        url,
        cause: error,
        details: ['Check the registry name.'],
      });
    }
    if (isRetryableError(error) || codeText === 'ECONNREFUSED') {
      return new RegistryError('REGISTRY_UNREACHABLE', `cannot reach ${host}: ${message}`, {
        url,
        cause: error,
      });
    }
    return new RegistryError('REGISTRY_UNREACHABLE', `request to ${host} failed: ${message}`, {
      url,
      cause: error,
    });
  }
}

/** OpenSSL's words for "this is not a TLS record" (an HTTP answer read as one). */
const PLAIN_HTTP_ANSWER =
  /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|wrong version number|packet length too long/i;
/** What TLS servers send back for plain HTTP (Go's net/http; nginx). */
const TLS_SERVER_ANSWER =
  /Client sent an HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port/i;

/** An HTTP parser error on a reply that starts like a TLS record: 0x15 alert, 0x16 handshake. */
function tlsRecordInReply(error: unknown): boolean {
  const { code, rawPacket } = (error ?? {}) as { code?: unknown; rawPacket?: unknown };
  if (typeof code !== 'string' || !code.startsWith('HPE_')) return false;
  const first = rawPacket instanceof Uint8Array ? rawPacket[0] : undefined;
  return first === 0x15 || first === 0x16;
}

function speaksTLSError(target: URL, cause?: unknown): RegistryError {
  return new RegistryError(
    'PROTOCOL_MISMATCH',
    `${target.host} speaks HTTPS (TLS), but was sent plain HTTP`,
    {
      url: target.toString(),
      ...(cause === undefined ? {} : { cause }),
      details: ['The host speaks HTTPS: do not list it as an insecure (plain-HTTP) registry.'],
      data: { host: target.host, insecure: true, speaksTLS: true },
    },
  );
}

/**
 * Writes a stream into a request with backpressure, releasing each chunk to the blob buffer pool
 * once the socket has taken it (a no-op for ordinary buffers). Unlike `pipe`, a request that
 * fails also stops the source, so an abandoned download does not linger paused.
 */
function sendStream(body: Readable, request: http.ClientRequest): void {
  body.on('error', (error) => request.destroy(error));
  body.on('data', (chunk: Buffer) => {
    if (!request.write(chunk, () => releaseChunk(chunk))) body.pause();
  });
  request.on('drain', () => body.resume());
  body.on('end', () => request.end());
  request.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
}

export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - Date.now());
}

/** Reads a whole (small) body. `limit` guards against hostile servers sending unbounded data. */
export async function readBody(body: Readable, limit = 32 * 1024 * 1024): Promise<Buffer> {
  return readAll(body, limit, {
    what: 'response body',
    tooLarge: (max) =>
      new AirlockError('REGISTRY_PROTOCOL', `response body larger than ${max} bytes`),
    // The connection broke mid-body (reset, truncation): transient, so callers may retry.
    broken: (error) =>
      new AirlockError(
        'REGISTRY_UNREACHABLE',
        `connection broke while reading a response: ${error.message}`,
        { cause: error },
      ),
  });
}
