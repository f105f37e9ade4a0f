import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AirlockError, RegistryError } from '../errors.ts';

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
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  /** Counts requests sent, for reports and benchmarks. */
  requestCount = 0;

  constructor(options: TransportOptions = {}) {
    this.#insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
    const maxSockets = options.maxSockets ?? 16;
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
    this.#httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      ca: [...rootCertificates, ...(options.caCertificates ?? [])],
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
      const res = await this.#send(method, url, headers, req.body);
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
              `Pass --insecure-registry ${next.host} only if plain HTTP to that host is intended.`,
            ],
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

  #send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
  ): Promise<HTTPResponse> {
    const target = new URL(url);
    const isHTTPS = target.protocol === 'https:';
    if (!isHTTPS && !this.isInsecure(target.host)) {
      return Promise.reject(
        new AirlockError('INSECURE_REFUSED', `refusing plain HTTP to ${target.host}`, {
          details: [
            `Pass --insecure-registry ${target.host} to allow plain HTTP to this registry.`,
          ],
        }),
      );
    }
    const lib = isHTTPS ? https : http;
    const finalHeaders: Record<string, string | number> = {
      'user-agent': this.#userAgent,
      ...headers,
    };
    if (Buffer.isBuffer(body)) finalHeaders['content-length'] = body.byteLength;
    else if (body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH'))
      finalHeaders['content-length'] = 0;
    this.requestCount++;
    return new Promise<HTTPResponse>((resolve, reject) => {
      const request = lib.request(
        target,
        {
          method,
          headers: finalHeaders,
          agent: isHTTPS ? this.#httpsAgent : this.#httpAgent,
          timeout: this.#timeoutMs,
        },
        (response) => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            url,
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
      if (body instanceof Readable) {
        body.on('error', (error) => request.destroy(error));
        body.pipe(request);
      } else {
        request.end(body);
      }
    });
  }

  #networkError(url: string, error: unknown): AirlockError {
    if (error instanceof AirlockError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    const codeText = typeof code === 'string' ? code : '';
    const host = new URL(url).host;
    const message = error instanceof Error ? error.message : String(error);
    if (TLS_ERRNO.test(codeText)) {
      return new RegistryError('TLS_FAILED', `TLS verification failed for ${host}: ${message}`, {
        url,
        cause: error,
        details: [
          'Pass --ca-file with the CA that signed the registry certificate. TLS is never skipped.',
        ],
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
    if (codeText === 'EPROTO' || /wrong version number|packet length too long/i.test(message)) {
      return new RegistryError('TLS_FAILED', `TLS handshake with ${host} failed: ${message}`, {
        url,
        cause: error,
        details: [`If ${host} serves plain HTTP, name it with --insecure-registry ${host}.`],
      });
    }
    return new RegistryError('REGISTRY_UNREACHABLE', `request to ${host} failed: ${message}`, {
      url,
      cause: error,
    });
  }
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
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size > limit) {
        body.destroy();
        throw new AirlockError('REGISTRY_PROTOCOL', `response body larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof AirlockError) throw error;
    // The connection broke mid-body (reset, truncation): transient, so callers may retry.
    throw new AirlockError(
      'REGISTRY_UNREACHABLE',
      `connection broke while reading a response: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return Buffer.concat(chunks);
}
