import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AirlockError } from '../errors.ts';
import { writeFileAtomic } from '../core/index.ts';
import { DOCKER_HUB } from './reference.ts';

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235 §4.1): one or more challenges, each a scheme and
 * comma-separated auth-params whose values may be quoted strings with backslash escapes.
 */
export function parseWWWAuthenticate(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < header.length && /[\s,]/.test(header[i] ?? '')) i++;
  };
  while (i < header.length) {
    skipSpace();
    const schemeMatch = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*/.exec(header.slice(i));
    if (!schemeMatch) break;
    const scheme = schemeMatch[0];
    i += scheme.length;
    const params: Record<string, string> = {};
    challenges.push({ scheme: scheme.toLowerCase(), params });
    for (;;) {
      skipSpace();
      const keyMatch = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(header.slice(i));
      if (!keyMatch?.[1]) break;
      i += keyMatch[0].length;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        const token = /^[^\s,]*/.exec(header.slice(i))?.[0] ?? '';
        value = token;
        i += token.length;
      }
      params[keyMatch[1].toLowerCase()] = value;
    }
  }
  return challenges;
}

export interface Credential {
  readonly username: string;
  readonly password: string;
}

/** Where registry credentials come from. Implementations: docker config.json, explicit flags. */
export interface CredentialStore {
  get(registry: string): Promise<Credential | undefined>;
}

/** Credentials given on the command line (--username/--password-stdin); used for every registry. */
export class StaticCredentials implements CredentialStore {
  readonly #credential: Credential;
  readonly #fallback: CredentialStore | undefined;
  readonly #registries: ReadonlySet<string> | undefined;

  constructor(
    credential: Credential,
    options: { registries?: readonly string[]; fallback?: CredentialStore } = {},
  ) {
    this.#credential = credential;
    this.#fallback = options.fallback;
    this.#registries = options.registries === undefined ? undefined : new Set(options.registries);
  }

  get(registry: string): Promise<Credential | undefined> {
    if (this.#registries === undefined || this.#registries.has(registry))
      return Promise.resolve(this.#credential);
    return this.#fallback?.get(registry) ?? Promise.resolve(undefined);
  }
}

interface DockerConfigFile {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [key: string]: unknown;
}

/** Environment variables that locate the auth file (docker and podman/skopeo conventions). */
export interface AuthFileEnv {
  readonly REGISTRY_AUTH_FILE?: string | undefined;
  readonly DOCKER_CONFIG?: string | undefined;
  readonly HOME?: string | undefined;
}

export function authFilePath(env: AuthFileEnv): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME ?? homedir(), '.docker', 'config.json');
}

/** `https://index.docker.io/v1/` → `docker.io`, `https://host:5000/` → `host:5000`. */
export function normaliseAuthKey(key: string): string {
  let host = key.replace(/^[a-z]+:\/\//i, '');
  host = host.split('/')[0] ?? host;
  host = host.toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io') return DOCKER_HUB;
  return host;
}

/**
 * Reads docker's config.json: `auths` (base64 user:password), `credHelpers` per registry and the
 * default `credsStore`, through `docker-credential-<name>` executables (docker-credential-helpers
 * protocol: `get` with the server URL on stdin, JSON {Username, Secret} on stdout).
 */
export class DockerConfigCredentials implements CredentialStore {
  readonly path: string;
  readonly #cache = new Map<string, Promise<Credential | undefined>>();
  #config: Promise<DockerConfigFile> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  get(registry: string): Promise<Credential | undefined> {
    let cached = this.#cache.get(registry);
    if (!cached) {
      cached = this.#lookup(registry);
      this.#cache.set(registry, cached);
    }
    return cached;
  }

  async #lookup(registry: string): Promise<Credential | undefined> {
    const config = await (this.#config ??= readDockerConfig(this.path));
    const helper = Object.entries(config.credHelpers ?? {}).find(
      ([k]) => normaliseAuthKey(k) === registry,
    )?.[1];
    if (helper) return credentialHelperGet(helper, registry);
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      if (normaliseAuthKey(key) !== registry) continue;
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon < 0) {
          throw new AirlockError(
            'CREDENTIALS_INVALID',
            `${this.path}: auths["${key}"].auth is not base64 of "user:password"`,
            {
              details: [`Run "airlock login ${registry}" again.`],
            },
          );
        }
        return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      }
      if (entry.username !== undefined && entry.password !== undefined)
        return { username: entry.username, password: entry.password };
    }
    if (config.credsStore) {
      // The default store applies to every registry, public ones included: when its helper is not
      // installed (a config.json copied from a desktop), go on anonymously instead of failing.
      try {
        return await credentialHelperGet(config.credsStore, registry);
      } catch (error) {
        if (
          error instanceof AirlockError &&
          error.code === 'CREDENTIAL_HELPER_FAILED' &&
          (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
        )
          return undefined;
        throw error;
      }
    }
    return undefined;
  }
}

async function readDockerConfig(path: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AirlockError('CREDENTIALS_INVALID', `cannot read ${path}`, { cause: error });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not a JSON object');
    return parsed as DockerConfigFile;
  } catch (error) {
    throw new AirlockError(
      'CREDENTIALS_INVALID',
      `${path} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
        details: ["Fix or remove the file; it is docker's config.json format."],
      },
    );
  }
}

function runHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) =>
      reject(
        new AirlockError(
          'CREDENTIAL_HELPER_FAILED',
          `credential helper docker-credential-${helper} could not be run: ${error.message}`,
          {
            cause: error,
            details: [
              `Install docker-credential-${helper} on the PATH, or remove it from config.json.`,
            ],
          },
        ),
      ),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function credentialHelperGet(
  helper: string,
  registry: string,
): Promise<Credential | undefined> {
  const { code, stdout } = await runHelper(helper, 'get', registry);
  // Helpers exit non-zero with "credentials not found" when they hold nothing for the server.
  if (code !== 0) return undefined;
  try {
    const parsed = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
    if (typeof parsed.Username !== 'string' || typeof parsed.Secret !== 'string')
      throw new Error('missing Username or Secret');
    return { username: parsed.Username, password: parsed.Secret };
  } catch (error) {
    throw new AirlockError(
      'CREDENTIAL_HELPER_FAILED',
      `docker-credential-${helper} returned an unreadable answer for ${registry}`,
      { cause: error },
    );
  }
}

async function writeDockerConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // config.json holds credentials: owner-only, and never seen half-written.
  await writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
}

/** Stores credentials as `docker login` does: in the registry's helper if one is set, else in auths. */
export async function storeCredential(
  path: string,
  registry: string,
  credential: Credential,
): Promise<'helper' | 'file'> {
  const config = await readDockerConfig(path);
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) {
    const { code, stderr } = await runHelper(
      helper,
      'store',
      JSON.stringify({
        ServerURL: registry,
        Username: credential.username,
        Secret: credential.password,
      }),
    );
    if (code !== 0)
      throw new AirlockError(
        'CREDENTIAL_HELPER_FAILED',
        `docker-credential-${helper} could not store credentials: ${stderr.trim()}`,
      );
    return 'helper';
  }
  const auths = Object.fromEntries(
    Object.entries(config.auths ?? {}).filter(([key]) => normaliseAuthKey(key) !== registry),
  );
  auths[registry] = {
    auth: Buffer.from(`${credential.username}:${credential.password}`).toString('base64'),
  };
  await writeDockerConfig(path, { ...config, auths });
  return 'file';
}

/** Removes stored credentials; returns false when there were none. */
export async function eraseCredential(path: string, registry: string): Promise<boolean> {
  const config = await readDockerConfig(path);
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  let removed = false;
  if (helper) {
    const { code } = await runHelper(helper, 'erase', registry);
    removed = code === 0;
  }
  const entries = Object.entries(config.auths ?? {});
  const auths = Object.fromEntries(entries.filter(([key]) => normaliseAuthKey(key) !== registry));
  if (Object.keys(auths).length < entries.length) removed = true;
  if (removed && !helper) await writeDockerConfig(path, { ...config, auths });
  return removed;
}
