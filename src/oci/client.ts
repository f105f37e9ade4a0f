import { Readable } from 'node:stream';
import { RegistryError, type ErrorCode, type RegistryErrorEntry } from '../errors.ts';
import {
  type Digest,
  digestHex,
  digestOf,
  digestAlgorithm,
  isDigest,
  MANIFEST_MEDIA_TYPES,
  MediaType,
  verifyBytes,
  VerifyingStream,
} from '../core/index.ts';
import {
  type Challenge,
  type Credential,
  type CredentialStore,
  parseWWWAuthenticate,
} from './auth.ts';
import { type Descriptor, manifestMediaType, parseManifest } from './manifest.ts';
import { registryApiHost } from './reference.ts';
import type { BlobSource, FetchedManifest, Repository } from './target.ts';
import {
  type HTTPRequest,
  type HTTPResponse,
  HTTPTransport,
  isRetryableError,
  readBody,
  type TransportOptions,
} from './transport.ts';

export interface RegistryClientOptions extends TransportOptions {
  readonly credentials?: CredentialStore;
  /** Blobs up to this size are uploaded in one PUT from memory; larger ones are streamed. */
  readonly monolithicUploadLimit?: number;
  /** Page size asked for when listing tags and the catalog (the registry may return fewer). */
  readonly pageSize?: number;
}

/** Manifests larger than this are refused (the distribution spec suggests registries accept ≥ 4 MiB). */
const MANIFEST_SIZE_LIMIT = 4 * 1024 * 1024;
const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(', ');
const UPLOAD_ATTEMPTS = 6;

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
}

/** Per-registry state shared by every repository of that registry: challenge, credential, tokens. */
class HostSession {
  readonly host: string;
  readonly baseURL: string;
  challenge: Challenge | undefined;
  readonly tokens = new Map<string, Promise<CachedToken>>();
  credential: Promise<Credential | undefined> | undefined;
  referrersAPI: boolean | undefined;

  constructor(host: string, baseURL: string) {
    this.host = host;
    this.baseURL = baseURL;
  }
}

/**
 * A client for registries that speak the OCI distribution spec (v1.1). One client serves a whole
 * command: it keeps connections alive, caches bearer tokens per scope and learns each registry's
 * auth scheme once, so copying hundreds of artifacts costs no extra round trips per artifact.
 */
export class RegistryClient {
  readonly transport: HTTPTransport;
  readonly #credentials: CredentialStore | undefined;
  readonly #sessions = new Map<string, HostSession>();
  readonly monolithicUploadLimit: number;
  readonly pageSize: number;

  constructor(options: RegistryClientOptions = {}) {
    this.transport = new HTTPTransport(options);
    this.#credentials = options.credentials;
    this.monolithicUploadLimit = options.monolithicUploadLimit ?? 8 * 1024 * 1024;
    this.pageSize = options.pageSize ?? 1000;
  }

  close(): void {
    this.transport.close();
  }

  repository(registry: string, name: string): RegistryRepository {
    return new RegistryRepository(this, registry, name);
  }

  session(registry: string): HostSession {
    let session = this.#sessions.get(registry);
    if (!session) {
      const host = registryApiHost(registry);
      session = new HostSession(host, this.transport.baseURL(host));
      this.#sessions.set(registry, session);
    }
    return session;
  }

  /** GET /v2/: checks the registry speaks the API and that our credentials are accepted. */
  async ping(registry: string): Promise<{ apiVersion: string | undefined }> {
    const res = await this.send(registry, [], {
      method: 'GET',
      url: `${this.session(registry).baseURL}/v2/`,
    });
    await this.expect(res, [200], `registry ${registry}`);
    res.body.resume();
    const version = res.headers['docker-distribution-api-version'];
    return { apiVersion: typeof version === 'string' ? version : undefined };
  }

  /**
   * GET /v2/_catalog with Link pagination. Many registries restrict or disable it. With
   * `maxPages`, a catalog longer than that many pages fails with SIZE_LIMIT_EXCEEDED.
   */
  async catalog(registry: string, options: { maxPages?: number } = {}): Promise<string[]> {
    const session = this.session(registry);
    const names: string[] = [];
    let url: string | undefined = `${session.baseURL}/v2/_catalog?n=${this.pageSize}`;
    let pages = 0;
    while (url) {
      if (options.maxPages !== undefined && pages++ >= options.maxPages)
        throw new RegistryError(
          'SIZE_LIMIT_EXCEEDED',
          `catalog of ${registry}: more than ${options.maxPages} pages`,
          { url },
        );
      const res: HTTPResponse = await this.send(registry, ['registry:catalog:*'], {
        method: 'GET',
        url,
      });
      await this.expect(res, [200], `catalog of ${registry}`);
      const body = JSON.parse((await readBody(res.body)).toString('utf8')) as {
        repositories?: unknown;
      };
      if (Array.isArray(body.repositories))
        names.push(...body.repositories.filter((r): r is string => typeof r === 'string'));
      url = nextLink(res, url);
    }
    return names;
  }

  /**
   * Sends a request with the authorization the registry asked for. On 401 it learns the challenge,
   * fetches credentials and a token for `scopes`, and retries once; a second 401 is REGISTRY_AUTH.
   */
  async send(registry: string, scopes: readonly string[], req: HTTPRequest): Promise<HTTPResponse> {
    const session = this.session(registry);
    const authorization = await this.#authorization(registry, session, scopes, false);
    const withAuth = (value: string | undefined): HTTPRequest =>
      value === undefined ? req : { ...req, headers: { ...req.headers, authorization: value } };
    const res = await this.transport.request(withAuth(authorization));
    if (res.status !== 401) return res;
    res.body.resume();
    const header = res.headers['www-authenticate'];
    const challenge = typeof header === 'string' ? parseWWWAuthenticate(header)[0] : undefined;
    if (!challenge) {
      throw new RegistryError(
        'REGISTRY_AUTH',
        `${registry} answered 401 without a WWW-Authenticate challenge`,
        { status: 401, url: req.url },
      );
    }
    const hadAuth = authorization !== undefined;
    session.challenge = challenge;
    session.tokens.delete(scopeKey(scopes));
    if (req.body instanceof Readable) {
      // A stream cannot be sent twice: fail in a way the upload loop restarts from.
      throw new RegistryError(
        'REGISTRY_UNAVAILABLE',
        `${registry} asked to re-authenticate during an upload`,
        { status: 401, url: req.url },
      );
    }
    const retryAuth = await this.#authorization(registry, session, scopes, true);
    if (
      retryAuth === undefined ||
      (hadAuth && retryAuth === authorization && challenge.scheme === 'basic')
    ) {
      throw authError(registry, req.url, hadAuth);
    }
    const second = await this.transport.request(withAuth(retryAuth));
    if (second.status === 401) {
      second.body.resume();
      throw authError(registry, req.url, true);
    }
    return second;
  }

  async #credential(registry: string, session: HostSession): Promise<Credential | undefined> {
    session.credential ??= this.#credentials?.get(registry) ?? Promise.resolve(undefined);
    return session.credential;
  }

  async #authorization(
    registry: string,
    session: HostSession,
    scopes: readonly string[],
    required: boolean,
  ): Promise<string | undefined> {
    const challenge = session.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const credential = await this.#credential(registry, session);
      if (!credential) return required ? undefined : undefined;
      return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    if (challenge.scheme === 'bearer') {
      const key = scopeKey(scopes);
      const cached = session.tokens.get(key);
      if (cached) {
        const token = await cached.catch(() => undefined);
        if (token && token.expiresAt > Date.now()) return token.header;
      }
      const pending = this.#fetchToken(registry, session, challenge, scopes);
      session.tokens.set(key, pending);
      try {
        return (await pending).header;
      } catch (error) {
        session.tokens.delete(key);
        throw error;
      }
    }
    throw new RegistryError(
      'REGISTRY_AUTH',
      `${registry} asks for unsupported auth scheme "${challenge.scheme}"`,
      { url: session.baseURL },
    );
  }

  /** Docker token authentication (distribution docs, "Token Authentication Specification"). */
  async #fetchToken(
    registry: string,
    session: HostSession,
    challenge: Challenge,
    scopes: readonly string[],
  ): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new RegistryError('REGISTRY_AUTH', `${registry}: bearer challenge has no realm`, {
        url: session.baseURL,
      });
    const url = new URL(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const credential = await this.#credential(registry, session);
    const headers: Record<string, string> = {};
    if (credential)
      headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    const res = await this.transport.request({ method: 'GET', url: url.toString(), headers });
    const body = await readBody(res.body, 1024 * 1024);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError(
        'REGISTRY_AUTH',
        `the token service for ${registry} rejected ${credential ? 'the credentials' : 'anonymous access'}`,
        {
          status: res.status,
          url: url.origin + url.pathname,
          details: [
            credential
              ? `Check the credentials for ${registry} (airlock login ${registry}).`
              : `Log in first: airlock login ${registry}.`,
          ],
        },
      );
    }
    if (res.status !== 200) {
      throw new RegistryError(
        res.status >= 500 || res.status === 429 ? 'REGISTRY_UNAVAILABLE' : 'REGISTRY_AUTH',
        `the token service for ${registry} answered ${res.status}`,
        {
          status: res.status,
          url: url.origin + url.pathname,
        },
      );
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch (error) {
      throw new RegistryError(
        'REGISTRY_AUTH',
        `the token service for ${registry} returned invalid JSON`,
        { url: url.origin + url.pathname, cause: error },
      );
    }
    const token =
      typeof parsed.token === 'string'
        ? parsed.token
        : typeof parsed.access_token === 'string'
          ? parsed.access_token
          : undefined;
    if (!token)
      throw new RegistryError(
        'REGISTRY_AUTH',
        `the token service for ${registry} returned no token`,
        { url: url.origin + url.pathname },
      );
    // Spec: tokens without expires_in are valid 60 s; renew 10 s early to avoid racing the expiry.
    const lifetime =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(1, lifetime - 10) * 1000 };
  }

  /** Throws a typed error unless the status is one of `ok`. Consumes the body on error. */
  async expect(res: HTTPResponse, ok: readonly number[], what: string): Promise<void> {
    if (ok.includes(res.status)) return;
    throw await responseError(res, what);
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

function authError(registry: string, url: string, hadCredentials: boolean): RegistryError {
  return new RegistryError(
    'REGISTRY_AUTH',
    hadCredentials
      ? `${registry} rejected the credentials`
      : `${registry} requires authentication and no credentials were found`,
    {
      status: 401,
      url,
      details: [
        hadCredentials
          ? `Check the credentials for ${registry} (airlock login ${registry}).`
          : `Log in first (airlock login ${registry}), or give a user name and password.`,
      ],
      data: { registry, credentials: hadCredentials ? 'rejected' : 'missing' },
    },
  );
}

function nextLink(res: HTTPResponse, current: string): string | undefined {
  const link = res.headers.link;
  if (typeof link !== 'string') return undefined;
  const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  return match?.[1] ? new URL(match[1], current).toString() : undefined;
}

/** Turns an unexpected response into a typed error, parsing the distribution error body. */
export async function responseError(res: HTTPResponse, what: string): Promise<RegistryError> {
  let entries: RegistryErrorEntry[] = [];
  try {
    const body = await readBody(res.body, 64 * 1024);
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) {
      entries = parsed.errors
        .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
        .map((e) => ({
          code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
          message: typeof e.message === 'string' ? e.message : '',
          detail: e.detail,
        }));
    }
  } catch {
    // Not a distribution error body; the status alone tells.
  }
  const status = res.status;
  let code: ErrorCode = 'REGISTRY_PROTOCOL';
  if (status === 401) code = 'REGISTRY_AUTH';
  else if (status === 403) code = 'REGISTRY_DENIED';
  else if (status === 404) code = 'REGISTRY_NOT_FOUND';
  else if (status === 408 || status === 429 || status >= 500) code = 'REGISTRY_UNAVAILABLE';
  const summary =
    entries.length > 0
      ? entries.map((e) => `${e.code}: ${e.message}`).join('; ')
      : `HTTP ${status}`;
  return new RegistryError(code, `${what}: ${summary}`, {
    status,
    url: res.url,
    registryErrors: entries,
  });
}

/** A repository in a registry; all requests go through the shared RegistryClient. */
export class RegistryRepository implements Repository {
  readonly kind = 'registry';
  readonly client: RegistryClient;
  readonly registry: string;
  readonly repository: string;
  readonly name: string;
  readonly mountName: string;
  readonly storeId: string;
  readonly #pull: string[];
  readonly #push: string[];

  constructor(client: RegistryClient, registry: string, repository: string) {
    this.client = client;
    this.registry = registry;
    this.repository = repository;
    this.name = `${registry}/${repository}`;
    this.mountName = repository;
    this.storeId = `registry:${registry}`;
    this.#pull = [`repository:${repository}:pull`];
    this.#push = [`repository:${repository}:pull,push`];
  }

  #url(path: string): string {
    return `${this.client.session(this.registry).baseURL}/v2/${this.repository}/${path}`;
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    const res = await this.client.send(this.registry, this.#pull, {
      method: 'HEAD',
      url: this.#url(`manifests/${reference}`),
      headers: { accept: ACCEPT_MANIFESTS },
    });
    res.body.resume();
    if (res.status === 404) return undefined;
    await this.client.expect(res, [200], `${this.name}:${reference}`);
    const digest = res.headers['docker-content-digest'];
    const type = res.headers['content-type'];
    const length = Number(res.headers['content-length']);
    if (
      typeof digest === 'string' &&
      isDigest(digest) &&
      Number.isSafeInteger(length) &&
      typeof type === 'string'
    ) {
      if (isDigest(reference) && digest !== reference) {
        throw new RegistryError(
          'DIGEST_MISMATCH',
          `${this.name}@${reference}: registry reports digest ${digest}`,
          { url: this.#url(`manifests/${reference}`) },
        );
      }
      return { mediaType: type, digest, size: length };
    }
    // Some registries omit the digest header on HEAD: read the manifest instead.
    return (await this.fetchManifest(reference)).descriptor;
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    const where = `${this.name}${isDigest(reference) ? '@' : ':'}${reference}`;
    const res = await this.client.send(this.registry, this.#pull, {
      method: 'GET',
      url: this.#url(`manifests/${reference}`),
      headers: { accept: ACCEPT_MANIFESTS },
    });
    await this.client.expect(res, [200], where);
    const bytes = await readBody(res.body, MANIFEST_SIZE_LIMIT);
    const declared =
      typeof res.headers['content-type'] === 'string'
        ? res.headers['content-type'].split(';')[0]?.trim()
        : undefined;
    let digest: Digest;
    if (isDigest(reference)) {
      verifyBytes(bytes, { digest: reference }, where);
      digest = reference;
    } else {
      const header = res.headers['docker-content-digest'];
      digest =
        typeof header === 'string' && isDigest(header)
          ? digestOf(bytes, digestAlgorithm(header))
          : digestOf(bytes);
      if (typeof header === 'string' && isDigest(header) && header !== digest) {
        throw new RegistryError(
          'DIGEST_MISMATCH',
          `${where}: manifest bytes hash to ${digest}, registry says ${header}`,
          { url: res.url },
        );
      }
    }
    return {
      descriptor: { mediaType: manifestMediaType(bytes, declared), digest, size: bytes.byteLength },
      bytes,
    };
  }

  async pushManifest(bytes: Buffer, mediaType: string, tag?: string): Promise<Descriptor> {
    const digest = digestOf(bytes);
    const reference = tag ?? digest;
    const res = await this.client.send(this.registry, this.#push, {
      method: 'PUT',
      url: this.#url(`manifests/${reference}`),
      headers: { 'content-type': mediaType },
      body: bytes,
      idempotent: true,
    });
    await this.client.expect(res, [200, 201], `push manifest ${this.name}:${reference}`);
    res.body.resume();
    const returned = res.headers['docker-content-digest'];
    if (
      typeof returned === 'string' &&
      isDigest(returned) &&
      digestAlgorithm(returned) === 'sha256' &&
      returned !== digest
    ) {
      throw new RegistryError(
        'DIGEST_MISMATCH',
        `${this.name}: registry stored manifest as ${returned}, expected ${digest}`,
        { url: res.url },
      );
    }
    return { mediaType, digest, size: bytes.byteLength };
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return (await this.resolve(digest)) !== undefined;
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    const res = await this.client.send(this.registry, this.#pull, {
      method: 'HEAD',
      url: this.#url(`blobs/${digest}`),
    });
    res.body.resume();
    if (res.status === 404) return false;
    await this.client.expect(res, [200], `${this.name}@${digest}`);
    return true;
  }

  async fetchBlob(descriptor: Descriptor): Promise<Readable> {
    const where = `${this.name}@${descriptor.digest}`;
    const res = await this.client.send(this.registry, this.#pull, {
      method: 'GET',
      url: this.#url(`blobs/${descriptor.digest}`),
      // Large blobs are read into reused buffers on a connection of their own (raw-http.ts):
      // memory stays flat however large the blob. Small ones share the keep-alive connections.
      largeBody: descriptor.size > this.client.monolithicUploadLimit,
    });
    await this.client.expect(res, [200], `blob ${where}`);
    const verifier = new VerifyingStream(
      { digest: descriptor.digest, size: descriptor.size },
      `blob ${where}`,
    );
    res.body.on('error', (error) => verifier.destroy(error));
    // A body cut short ends without error on some servers: the verifier's size check catches it.
    // A body cut short is a broken connection, not bad content: retryable, like a reset.
    res.body.on('aborted', () => {
      verifier.destroy(
        new RegistryError(
          'REGISTRY_UNREACHABLE',
          `blob ${where}: connection closed before the whole body arrived`,
          {
            url: res.url,
            cause: Object.assign(new Error('body truncated'), { code: 'ECONNRESET' }),
          },
        ),
      );
    });
    // A reader that gives up (a failed upload, an abort) closes the download too.
    verifier.once('close', () => res.body.destroy());
    return res.body.pipe(verifier);
  }

  async pushBlob(
    descriptor: Descriptor,
    source: BlobSource,
    options: { mountFrom?: string } = {},
  ): Promise<'mounted' | 'uploaded'> {
    const scopes = options.mountFrom
      ? [...this.#push, `repository:${options.mountFrom}:pull`]
      : this.#push;
    for (let attempt = 1; ; attempt++) {
      let location: string | undefined;
      try {
        // Cross-repository mount (distribution spec "Mounting a blob from another repository"):
        // 201 means mounted, 202 means the registry opened an ordinary upload session instead.
        const query =
          options.mountFrom && attempt === 1
            ? `?mount=${descriptor.digest}&from=${encodeURIComponent(options.mountFrom)}`
            : '';
        const start = await this.client.send(this.registry, scopes, {
          method: 'POST',
          url: this.#url(`blobs/uploads/${query}`),
          idempotent: true,
        });
        if (start.status === 201 && query !== '') {
          start.body.resume();
          return 'mounted';
        }
        await this.client.expect(start, [202], `start upload to ${this.name}`);
        start.body.resume();
        location = uploadLocation(start);
        if (descriptor.size <= this.client.monolithicUploadLimit) {
          const bytes = await readBody(await source(), this.client.monolithicUploadLimit + 1);
          verifyBytes(bytes, descriptor, `blob ${descriptor.digest} for ${this.name}`);
          const put = await this.client.send(this.registry, this.#push, {
            method: 'PUT',
            url: withDigest(location, descriptor.digest),
            headers: { 'content-type': 'application/octet-stream' },
            body: bytes,
            idempotent: false,
          });
          await this.client.expect(put, [201], `upload ${descriptor.digest} to ${this.name}`);
          put.body.resume();
        } else {
          // Streamed upload: one PATCH with a chunked body, then PUT with the digest to commit. The
          // stream verifies as it flows, so a wrong byte aborts the PATCH before any commit. A
          // source that already verifies this digest (a registry or layout download) is hashed
          // once, not twice; any other source is wrapped, so unverified bytes never commit.
          const stream = verifyingSource(
            await source(),
            descriptor,
            `blob ${descriptor.digest} for ${this.name}`,
          );
          const patch = await this.client.send(this.registry, this.#push, {
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream' },
            body: stream,
          });
          await this.client.expect(patch, [202], `upload ${descriptor.digest} to ${this.name}`);
          patch.body.resume();
          location = uploadLocation(patch, location);
          const put = await this.client.send(this.registry, this.#push, {
            method: 'PUT',
            url: withDigest(location, descriptor.digest),
            idempotent: false,
          });
          await this.client.expect(put, [201], `commit ${descriptor.digest} to ${this.name}`);
          put.body.resume();
        }
        return 'uploaded';
      } catch (error) {
        if (location !== undefined) await this.#cancelUpload(location);
        const retryable =
          (error instanceof RegistryError && error.code === 'REGISTRY_UNAVAILABLE') ||
          (error instanceof RegistryError &&
            error.code === 'REGISTRY_UNREACHABLE' &&
            isRetryableError(error.cause)) ||
          (error instanceof RegistryError &&
            error.registryErrors.some(
              (e) => e.code === 'BLOB_UPLOAD_UNKNOWN' || e.code === 'BLOB_UPLOAD_INVALID',
            )) ||
          isRetryableError(error);
        if (!retryable || attempt >= UPLOAD_ATTEMPTS) throw error;
        await new Promise((r) => setTimeout(r, this.client.transport.delayFor(attempt, undefined)));
      }
    }
  }

  async #cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.client.send(this.registry, this.#push, {
        method: 'DELETE',
        url: location,
        idempotent: false,
      });
      res.body.resume();
    } catch {
      // The registry expires abandoned uploads itself; nothing was committed.
    }
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = this.#url(`tags/list?n=${this.client.pageSize}`);
    while (url) {
      const res: HTTPResponse = await this.client.send(this.registry, this.#pull, {
        method: 'GET',
        url,
      });
      if (res.status === 404 && tags.length === 0) {
        const error = await responseError(res, `tags of ${this.name}`);
        if (error.registryErrors.some((e) => e.code === 'NAME_UNKNOWN')) return [];
        throw error;
      }
      await this.client.expect(res, [200], `tags of ${this.name}`);
      const body = JSON.parse((await readBody(res.body)).toString('utf8')) as { tags?: unknown };
      if (Array.isArray(body.tags))
        tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      url = nextLink(res, url);
    }
    return tags;
  }

  async deleteManifest(digest: Digest): Promise<void> {
    const res = await this.client.send(this.registry, this.#push, {
      method: 'DELETE',
      url: this.#url(`manifests/${digest}`),
      idempotent: true,
    });
    await this.client.expect(res, [200, 202], `delete ${this.name}@${digest}`);
    res.body.resume();
  }

  /**
   * Referrers API (distribution spec v1.1 "Listing Referrers"); where the registry lacks it (404,
   * as distribution 2.8 does), the referrers tag schema `sha256-<hex>` holding an index.
   */
  async referrers(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const session = this.client.session(this.registry);
    if (session.referrersAPI !== false) {
      const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
      const res = await this.client.send(this.registry, this.#pull, {
        method: 'GET',
        url: this.#url(`referrers/${digest}${query}`),
        headers: { accept: MediaType.ociIndex },
      });
      const type =
        typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : '';
      if (res.status === 200 && type.startsWith(MediaType.ociIndex)) {
        session.referrersAPI = true;
        return filterReferrers(await readBody(res.body), artifactType);
      }
      res.body.resume();
      if (res.status !== 404 && res.status !== 200)
        await this.client.expect(res, [200, 404], `referrers of ${this.name}@${digest}`);
      session.referrersAPI = false;
    }
    return this.#referrersFromTag(digest, artifactType);
  }

  /** Whether the registry serves the referrers API (learned on first use). */
  async supportsReferrersAPI(probe: Digest): Promise<boolean> {
    const session = this.client.session(this.registry);
    if (session.referrersAPI === undefined) await this.referrers(probe);
    return session.referrersAPI === true;
  }

  async #referrersFromTag(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const tag = referrersTag(digest);
    if (!(await this.resolve(tag))) return [];
    const { bytes } = await this.fetchManifest(tag);
    return filterReferrers(bytes, artifactType);
  }
}

/** Reads a referrers index (API answer or tag-schema index), keeping one artifact type if asked. */
export function filterReferrers(bytes: Buffer, artifactType?: string): Descriptor[] {
  const parsed = parseManifest(bytes, MediaType.ociIndex, 'referrers index');
  if (parsed.kind !== 'index') return [];
  const list = parsed.value.manifests;
  return artifactType ? list.filter((d) => d.artifactType === artifactType) : [...list];
}

/** The referrers tag schema (distribution spec v1.1): `<alg>-<hex>` of the subject digest. */
export function referrersTag(digest: Digest): string {
  return `${digestAlgorithm(digest)}-${digestHex(digest)}`;
}

/** `raw` itself when it already verifies `descriptor`, else `raw` piped through a verifier. */
function verifyingSource(raw: Readable, descriptor: Descriptor, where: string): Readable {
  if (raw instanceof VerifyingStream && raw.verifies(descriptor)) return raw;
  const stream = new VerifyingStream({ digest: descriptor.digest, size: descriptor.size }, where);
  raw.on('error', (error) => stream.destroy(error));
  stream.once('close', () => raw.destroy());
  return raw.pipe(stream);
}

function uploadLocation(res: HTTPResponse, fallback?: string): string {
  const location = res.headers.location;
  if (typeof location !== 'string') {
    if (fallback) return fallback;
    throw new RegistryError('REGISTRY_PROTOCOL', 'upload response has no Location header', {
      status: res.status,
      url: res.url,
    });
  }
  return new URL(location, res.url).toString();
}

function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}
