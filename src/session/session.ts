import { AirlockError } from '../errors.ts';
import { DEFAULT_MAX_SIZE } from '../core/index.ts';
import {
  authFilePath,
  type CredentialStore,
  DockerConfigCredentials,
  HTTPTransport,
  LayoutRepository,
  parseReference,
  type Reference,
  RegistryClient,
  type Repository,
  type RepositoryOpener,
  StaticCredentials,
} from '../oci/index.ts';

/** Plain options a command (or a script) states once; everything else is derived here. */
export interface SessionOptions {
  /** Hosts (host[:port]) spoken to over plain HTTP. Nothing else ever is, loopback included. */
  readonly insecureRegistries?: readonly string[];
  /** PEM text of CA bundles trusted in addition to the system's (the caller reads the files). */
  readonly caCertificates?: readonly string[];
  /**
   * Registry and Helm repository credentials: a store, one user/password pair for every host, or
   * (default) docker's config.json found through `env` (REGISTRY_AUTH_FILE, DOCKER_CONFIG, HOME).
   */
  readonly credentials?: CredentialStore | { readonly username: string; readonly password: string };
  /** The environment config.json and credential helpers are looked up in (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Transfers in flight at once (default 8); sockets per origin follow from it. */
  readonly concurrency?: number;
  /** Idle timeout of registry requests in ms (default: the transport's). */
  readonly timeoutMs?: number;
  /** Idle timeout of upstream (Helm repository) requests in ms (default 60 s). */
  readonly upstreamTimeoutMs?: number;
  /** Limit on untrusted bytes read into memory: HTTP bodies, charts, local files. */
  readonly maxSize?: number;
  readonly userAgent?: string;
}

/** A registry prefix or layout a capability writes below: `open("podinfo")` → its repository. */
export interface Target {
  /** Human form: `registry.internal/mirror` or `oci-layout:./airlock-store`. */
  readonly name: string;
  readonly reference: Reference;
  open(repository: string): Repository;
}

export const DEFAULT_CONCURRENCY = 8;
const USER_AGENT = 'airlock/0.1';

/**
 * What one command shares across everything it touches: one registry client (connections, tokens,
 * learned challenges), one HTTP transport for upstream Helm repositories, the credentials, and one
 * handle per layout path. Capabilities receive a session; they never build connections themselves.
 */
export class Session implements RepositoryOpener {
  readonly client: RegistryClient;
  readonly credentials: CredentialStore;
  readonly concurrency: number;
  readonly maxSize: number;
  readonly #options: SessionOptions;
  readonly #layouts = new Map<string, LayoutRepository>();
  readonly #upstreams = new Map<string, HTTPTransport>();

  constructor(options: SessionOptions = {}) {
    this.#options = options;
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new AirlockError(
        'INPUT_INVALID',
        `concurrency must be a positive whole number, got ${this.concurrency}`,
      );
    this.maxSize = options.maxSize ?? DEFAULT_MAX_SIZE;
    const given = options.credentials;
    this.credentials =
      given === undefined
        ? new DockerConfigCredentials(authFilePath(options.env ?? process.env))
        : 'get' in given
          ? given
          : new StaticCredentials({ username: given.username, password: given.password });
    this.client = new RegistryClient({
      insecureRegistries: options.insecureRegistries ?? [],
      caCertificates: options.caCertificates ?? [],
      credentials: this.credentials,
      maxSockets: this.concurrency * 2,
      userAgent: options.userAgent ?? USER_AGENT,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  }

  /**
   * The transport toward upstream HTTP services (Helm repositories): same CAs and insecure hosts,
   * plus the hosts the caller names as plain HTTP by choice (an inventory's `http://` sources).
   */
  upstream(plainHTTPHosts: readonly string[] = []): HTTPTransport {
    // One transport per set of plain-HTTP hosts: a later caller's hosts are never ignored.
    const key = [...new Set(plainHTTPHosts)].sort().join(' ');
    const cached = this.#upstreams.get(key);
    if (cached) return cached;
    const transport = new HTTPTransport({
      insecureRegistries: [...(this.#options.insecureRegistries ?? []), ...plainHTTPHosts],
      caCertificates: this.#options.caCertificates ?? [],
      timeoutMs: this.#options.upstreamTimeoutMs ?? 60_000,
      retry: { attempts: 3 },
      maxSockets: this.concurrency * 2,
      userAgent: this.#options.userAgent ?? USER_AGENT,
    });
    this.#upstreams.set(key, transport);
    return transport;
  }

  /** The repository a reference names (its tag or digest is the caller's to use). */
  open(ref: Reference | string): Repository {
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    if (reference.kind === 'layout') return this.#layout(reference.path);
    return this.client.repository(reference.registry, reference.repository);
  }

  /** A prefix to write repositories below: `registry/prefix` or `oci-layout:PATH`. */
  target(prefix: Reference | string): Target {
    // A bare registry host (`registry.internal`, `localhost:5000`): repositories at its root.
    if (typeof prefix === 'string' && /^[^/@]+$/.test(prefix) && /[.:]|^localhost$/.test(prefix)) {
      const host = prefix.replace(/^oci:\/\//, '');
      const reference = parseReference(`${host}/root`, { repositoryOnly: true });
      return {
        name: host,
        reference,
        open: (repository) => this.client.repository(host, repository),
      };
    }
    const reference =
      typeof prefix === 'string' ? parseReference(prefix, { repositoryOnly: true }) : prefix;
    if (reference.kind === 'layout') {
      const root = reference.path.replace(/\/+$/, '');
      return {
        name: `oci-layout:${reference.path}`,
        reference,
        open: (repository) => this.#layout(`${root}/${repository}`),
      };
    }
    return {
      name: `${reference.registry}/${reference.repository}`,
      reference,
      open: (repository) =>
        this.client.repository(reference.registry, `${reference.repository}/${repository}`),
    };
  }

  #layout(path: string): LayoutRepository {
    let layout = this.#layouts.get(path);
    if (!layout) {
      layout = new LayoutRepository(path);
      this.#layouts.set(path, layout);
    }
    return layout;
  }

  close(): void {
    this.client.close();
    for (const transport of this.#upstreams.values()) transport.close();
  }
}

/** Opens a session: the one place options become a registry client and an upstream transport. */
export function openSession(options: SessionOptions = {}): Session {
  return new Session(options);
}
