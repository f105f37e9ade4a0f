// One JSON-over-HTTPS request to a forge API, with the error mapping both clients share:
// 401/403 → FORGE_AUTH, 409/422 → FORGE_CONFLICT, 5xx / unreachable / malformed → FORGE_FAILED.
// The token goes only into the auth header of requests to the API URL's own origin: redirects are
// followed by hand (same origin, GET only), because fetch drops `Authorization` on a cross-origin
// redirect but would forward GitLab's PRIVATE-TOKEN header.

import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { abortedError, escapeControl, hasControl, readAll } from '../core/index.ts';
import { AirlockError } from '../errors.ts';
import type { ChangeRequest, ForgeKind, ForgeOptions, ForgeRequestLog } from './types.ts';

/** Forge answers here are a project, a list of changes for one branch, or one change. */
const BODY_LIMIT = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 3;
/** Remote text in messages is cut here: an HTML error page is not a message. */
const REMOTE_TEXT_LIMIT = 300;

export const FORGE_NAMES: Readonly<Record<ForgeKind, string>> = {
  gitlab: 'GitLab',
  github: 'GitHub',
};

export interface ForgeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  /** Path below the API URL, already encoded, starting with `/`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  /** Overrides the API URL (GitHub's GraphQL endpoint is not below the REST base on GHES). */
  readonly url?: string;
  /** Statuses the caller handles itself instead of the shared mapping (GitLab's 405 on merge). */
  readonly pass?: readonly number[];
}

export interface ForgeResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface HttpSettings {
  readonly kind: ForgeKind;
  readonly apiURL: URL;
  readonly authHeaders: Readonly<Record<string, string>>;
  readonly token: string;
  readonly tokenVariable: string;
  /** Extra lines for FORGE_AUTH: what the token needs. */
  readonly authHelp: readonly string[];
  readonly extraHeaders: Readonly<Record<string, string>>;
  readonly options: ForgeOptions;
}

/** Validates the API URL: http(s), no credentials in it, plain HTTP only when allowed. */
export function parseApiURL(options: ForgeOptions): URL {
  let url: URL;
  try {
    url = new URL(options.apiURL);
  } catch {
    throw new AirlockError('INPUT_INVALID', `the forge API URL is not a URL`, {
      data: { option: 'apiURL' },
      details: [`expected e.g. https://gitlab.example/api/v4 or https://api.github.com`],
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AirlockError(
      'INPUT_INVALID',
      `the forge API URL must be http(s), not ${escapeControl(url.protocol)}`,
      { data: { option: 'apiURL' } },
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new AirlockError(
      'INPUT_INVALID',
      'the forge API URL must not hold credentials: the token is passed separately',
      { data: { option: 'apiURL' } },
    );
  }
  if (url.protocol === 'http:' && options.allowHTTP !== true) {
    throw new AirlockError(
      'INSECURE_REFUSED',
      `refusing to send the forge token over plain HTTP to ${url.host}`,
      { data: { option: 'apiURL', host: url.host } },
    );
  }
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

/** A token is one header value: printable ASCII, no spaces (no header injection, no blank). */
export function checkToken(token: string, variable: string): void {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new AirlockError(
      'INPUT_INVALID',
      token === ''
        ? `the forge token from ${variable} is empty`
        : `the forge token from ${variable} holds characters a token cannot have (spaces, newlines, non-ASCII)`,
      { data: { option: 'forgeToken', variables: [variable] } },
    );
  }
}

export class ForgeHTTP {
  readonly #settings: HttpSettings;
  readonly #fetch: typeof fetch;
  readonly #name: string;

  constructor(settings: HttpSettings) {
    this.#settings = settings;
    this.#fetch = settings.options.fetch ?? fetch;
    this.#name = FORGE_NAMES[settings.kind];
  }

  /** Remote text made safe for a message: the token (should a server echo it) and controls out. */
  remoteText(text: string): string {
    let safe = text.split(this.#settings.token).join('***');
    if (safe.length > REMOTE_TEXT_LIMIT) safe = `${safe.slice(0, REMOTE_TEXT_LIMIT)}…`;
    return escapeControl(safe);
  }

  async request(request: ForgeRequest): Promise<ForgeResponse> {
    const { options } = this.#settings;
    // A URL's path is at least `/`: drop it before the request path (`https://api.github.com`).
    const base = this.#settings.apiURL.href.replace(/\/+$/, '');
    let url = new URL(request.url ?? `${base}${request.path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      url.searchParams.set(key, value);
    }
    const origin = url.origin;
    const headers: Record<string, string> = {
      'user-agent': 'airlock',
      ...this.#settings.extraHeaders,
      ...this.#settings.authHeaders,
    };
    if (request.json !== undefined) headers['content-type'] = 'application/json';
    const body = request.json === undefined ? undefined : JSON.stringify(request.json);
    const where = { method: request.method, path: request.path };

    for (let redirects = 0; ; redirects++) {
      const started = performance.now();
      const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      let status: number | undefined;
      try {
        const response = await this.#fetch(url, {
          method: request.method,
          headers,
          ...(body === undefined ? {} : { body }),
          redirect: 'manual',
          signal,
        });
        status = response.status;
        const bytes = await this.#read(response, where);
        if (status >= 300 && status < 400) {
          const location = response.headers.get('location');
          const next = location === null ? undefined : new URL(location, url);
          if (
            next !== undefined &&
            next.origin === origin &&
            request.method === 'GET' &&
            redirects < MAX_REDIRECTS
          ) {
            url = next;
            continue;
          }
          throw this.#failed(
            `${this.#name} answered ${request.method} ${request.path} with a redirect (HTTP ${status})${
              next === undefined ? '' : ` to ${this.remoteText(next.origin)}`
            }, which airlock does not follow with the token`,
            status,
            where,
            ['Set the API URL to where the forge answers directly.'],
          );
        }
        if (status >= 200 && status < 300) {
          return { status, body: this.#parse(bytes, status, where) };
        }
        if (request.pass?.includes(status) === true) {
          return { status, body: this.#parseLoose(bytes) };
        }
        throw this.#statusError(status, bytes, response.headers, where);
      } catch (error) {
        if (error instanceof AirlockError) throw error;
        if (options.signal?.aborted === true) throw abortedError(options.signal);
        if (timeout.aborted) {
          throw this.#failed(
            `${this.#name} did not answer ${request.method} ${request.path} within ${
              (options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000
            } s`,
            status,
            where,
          );
        }
        const cause = (error as { cause?: { code?: unknown } }).cause;
        const reason =
          typeof cause?.code === 'string' ? cause.code : escapeControl((error as Error).message);
        throw this.#failed(
          `${this.#name} at ${this.#settings.apiURL.host} could not be reached for ${request.method} ${request.path}: ${reason}`,
          status,
          where,
        );
      } finally {
        this.#log({ ...where, status, ms: performance.now() - started });
      }
    }
  }

  /**
   * A project the token cannot see answers 404, not 403: both forges hide what a token may not
   * read (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api,
   * https://docs.gitlab.com/api/rest/troubleshooting/). So check() reads 404 as FORGE_AUTH.
   */
  notVisible(where: { readonly method: string; readonly path: string }): AirlockError {
    const { tokenVariable, authHelp, options } = this.#settings;
    return new AirlockError(
      'FORGE_AUTH',
      `${this.#name} has no project "${escapeControl(options.project)}" that the token from ${tokenVariable} can see (HTTP 404 for ${where.method} ${where.path})`,
      {
        data: { status: 404, method: where.method, path: where.path, variable: tokenVariable },
        details: ['Check the project name, then the token.', ...authHelp],
      },
    );
  }

  #log(entry: ForgeRequestLog): void {
    this.#settings.options.onRequest?.(entry);
  }

  async #read(response: Response, where: { method: string; path: string }): Promise<Buffer> {
    if (response.body === null) return Buffer.alloc(0);
    // No `declared` length: fetch decompresses, so Content-Length is the compressed size.
    return readAll(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), BODY_LIMIT, {
      what: `${this.#name}'s answer to ${where.method} ${where.path}`,
      tooLarge: (limit) =>
        this.#failed(
          `${this.#name}'s answer to ${where.method} ${where.path} is larger than ${limit} bytes`,
          response.status,
          where,
        ),
      broken: (error) => {
        if (this.#settings.options.signal?.aborted === true) {
          return abortedError(this.#settings.options.signal);
        }
        return this.#failed(
          `${this.#name}'s answer to ${where.method} ${where.path} broke off: ${escapeControl(error.message)}`,
          response.status,
          where,
        );
      },
    });
  }

  #parse(bytes: Buffer, status: number, where: { method: string; path: string }): unknown {
    if (bytes.length === 0) return undefined;
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      throw this.#failed(
        `${this.#name} answered ${where.method} ${where.path} with a body that is not JSON (HTTP ${status})`,
        status,
        where,
      );
    }
  }

  #parseLoose(bytes: Buffer): unknown {
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      return bytes.toString('utf8');
    }
  }

  /**
   * The forge's own explanation: GitLab `{"message": "…" | ["…"] | {field: ["…"]}}` or
   * `{"error": "…"}` (https://docs.gitlab.com/api/rest/troubleshooting/), GitHub
   * `{"message", "errors": [{"message"|"code", "field"}]}`
   * (https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api).
   */
  explain(body: unknown): string {
    const parts: string[] = [];
    const add = (value: unknown, prefix = ''): void => {
      if (typeof value === 'string') parts.push(`${prefix}${value}`);
      else if (Array.isArray(value)) for (const item of value) add(item, prefix);
      else if (value !== null && typeof value === 'object') {
        const record = value as Record<string, unknown>;
        if ('message' in record || 'code' in record) {
          add(
            record.message ?? record.code,
            typeof record.field === 'string' ? `${record.field}: ` : prefix,
          );
        } else {
          for (const [key, item] of Object.entries(record)) add(item, `${key}: `);
        }
      }
    };
    if (typeof body === 'string') add(body.trim());
    else if (Array.isArray(body)) add(body);
    else if (body !== null && typeof body === 'object') {
      const record = body as Record<string, unknown>;
      add(record.message);
      add(record.error);
      if (Array.isArray(record.errors)) add(record.errors);
    }
    return this.remoteText(parts.filter((p) => p !== '').join('; '));
  }

  #statusError(
    status: number,
    bytes: Buffer,
    headers: Headers,
    where: { method: string; path: string },
  ): AirlockError {
    const said = this.explain(this.#parseLoose(bytes));
    const suffix = said === '' ? '' : `: ${said}`;
    const data = { status, ...where };
    // GitHub's primary rate limit answers 403 (or 429) with x-ratelimit-remaining: 0: not a token
    // problem, so not FORGE_AUTH (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
    if (status === 429 || (status === 403 && headers.get('x-ratelimit-remaining') === '0')) {
      return new AirlockError(
        'FORGE_FAILED',
        `${this.#name} rate-limited ${where.method} ${where.path} (HTTP ${status})${suffix}`,
        {
          data: { ...data, rateLimited: true },
          details: ['Wait for the limit to reset, then re-run.'],
        },
      );
    }
    if (status === 401 || status === 403) {
      return new AirlockError(
        'FORGE_AUTH',
        `${this.#name} refused the token from ${this.#settings.tokenVariable} for ${where.method} ${where.path} (HTTP ${status})${suffix}`,
        {
          data: { ...data, variable: this.#settings.tokenVariable },
          details: this.#settings.authHelp,
        },
      );
    }
    if (status === 409 || status === 422) {
      return new AirlockError(
        'FORGE_CONFLICT',
        `${this.#name} refused ${where.method} ${where.path} as conflicting (HTTP ${status})${suffix}`,
        { data },
      );
    }
    return new AirlockError(
      'FORGE_FAILED',
      `${this.#name} answered ${where.method} ${where.path} with HTTP ${status}${suffix}`,
      { data },
    );
  }

  #failed(
    message: string,
    status: number | undefined,
    where: { method: string; path: string },
    details: readonly string[] = [],
  ): AirlockError {
    return new AirlockError('FORGE_FAILED', message, { data: { status, ...where }, details });
  }
}

/** The same error with the change it concerns added to `data` (it exists; the caller records it). */
export function withChange(error: unknown, change: { number: number; url: string }): unknown {
  if (!(error instanceof AirlockError)) return error;
  return new AirlockError(error.code, error.message, {
    cause: error,
    details: error.details,
    data: { ...error.data, number: change.number, url: change.url },
  });
}

/** Narrowing helpers for forge JSON: a wrong shape is FORGE_FAILED, never a TypeError. */
export function shapeError(
  kind: ForgeKind,
  what: string,
  where: { readonly method: string; readonly path: string },
  status?: number,
): AirlockError {
  return new AirlockError(
    'FORGE_FAILED',
    `${FORGE_NAMES[kind]} answered ${where.method} ${where.path} with ${what} of an unexpected shape`,
    { data: { status, method: where.method, path: where.path } },
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What both forges need of a change before any request: branches and a title, labels usable. */
export function checkChange(change: ChangeRequest, kind: ForgeKind): void {
  const bad = (option: string, message: string): AirlockError =>
    new AirlockError('INPUT_INVALID', message, { data: { option } });
  for (const option of ['sourceBranch', 'targetBranch'] as const) {
    const branch = change[option];
    if (branch === '' || hasControl(branch) || /\s/.test(branch)) {
      throw bad(option, `the branch name "${escapeControl(branch)}" is empty or holds spaces`);
    }
  }
  if (change.sourceBranch === change.targetBranch) {
    throw bad('sourceBranch', `the change's source and target are both "${change.sourceBranch}"`);
  }
  if (change.title.trim() === '') throw bad('title', 'the change has no title');
  for (const label of change.labels) {
    if (label.trim() === '' || hasControl(label)) {
      throw bad(
        'labels',
        `the label "${escapeControl(label)}" is empty or holds control characters`,
      );
    }
    // GitLab takes labels as one comma-separated string
    // (https://docs.gitlab.com/api/merge_requests/#create-mr): a comma would split one label in two.
    if (kind === 'gitlab' && label.includes(',')) {
      throw bad('labels', `the label "${label}" holds a comma, which GitLab reads as two labels`);
    }
  }
}

/** Labels compare as sets: forges return them in their own order. */
export function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((label) => right.has(label));
}
