// `promote plan`: the I/O around planPromotion (plan.ts). Reads promotion.yaml and both
// environments' pins from the releases repository, the previous environment's pin history from
// git, and asks the private registry for each version's digest and signature; the decisions are
// plan.ts's alone.
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AirlockError } from '../errors.ts';
import {
  type BatchOptions,
  type BatchReport,
  batchReport,
  escapeControl,
  itemError,
  mapLimit,
  readUserFile,
  throwIfAborted,
} from '../core/index.ts';
import { parseReference, type RepositoryOpener } from '../oci/index.ts';
import { resolveVerifyPolicy, verifyArtifact, type VerifyPolicy } from '../sign/index.ts';
import {
  type EnvironmentConfig,
  type EnvironmentPolicy,
  environmentPair,
  parsePromotionConfig,
  type PromotionConfig,
} from './config.ts';
import { pinSince } from './history.ts';
import type { Pin } from './pin.ts';
import { findPins } from './pins.ts';
import { planPromotion, type PromotionPlanItem, type RegistryAnswer, registryKey } from './plan.ts';

export interface PromotionPlanOptions extends Pick<BatchOptions<PromotionPlanItem>, 'signal'> {
  /** The releases repository's checkout (default the current directory). */
  readonly root?: string;
  /** promotion.yaml, relative to root or absolute (default promotion.yaml in root). */
  readonly configFile?: string;
  /** The environment to promote into; the one before it in promotion.yaml is the source. */
  readonly environment: string;
  /** Registry requests in flight (default the session's). */
  readonly concurrency?: number;
  readonly now?: Date;
}

export interface PlanContext {
  readonly root: string;
  readonly config: PromotionConfig;
  readonly previous: EnvironmentConfig;
  readonly target: EnvironmentConfig;
}

/** The plan and what it was made from (apply needs both). */
export interface PromotionPlan {
  readonly context: PlanContext;
  readonly report: BatchReport<PromotionPlanItem>;
}

const CONFIG_LIMIT = 1024 * 1024;

/**
 * A file promotion.yaml names (a key, a trusted root), inside the releases repository after
 * symlinks are resolved: the repository is changed through merge requests, so it may not make
 * airlock read a file elsewhere on the machine.
 */
async function inRoot(root: string, path: string, option: string): Promise<string> {
  const outside = (full: string, top: string): boolean => {
    const rel = relative(top, full);
    return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  const full = resolve(root, path);
  let real = full;
  try {
    real = await realpath(full);
  } catch {
    // missing: readUserFile reports it with its reason
  }
  if (outside(full, root) || outside(real, await realpath(root)))
    throw new AirlockError(
      'PATH_OUTSIDE_SOURCE',
      `${escapeControl(path)} is outside the releases repository ${root}`,
      { data: { option } },
    );
  return full;
}

/** Pins whose file (or a directory above it) is a symlink: git history dates the link, not the pinned value. */
async function symlinkedPins(root: string, pins: readonly Pin[]): Promise<Map<Pin, string>> {
  const top = await realpath(root);
  const problems = new Map<Pin, string>();
  const byFile = new Map<string, boolean>();
  for (const pin of pins) {
    let linked = byFile.get(pin.file);
    if (linked === undefined) {
      const real = await realpath(join(root, pin.file)).catch(() => join(top, pin.file));
      linked = real !== join(top, pin.file);
      byFile.set(pin.file, linked);
    }
    if (linked)
      problems.set(
        pin,
        `${pin.file} is reached through a symlink, and git history dates the link, not the pinned value`,
      );
  }
  return problems;
}

export async function loadPromotionConfig(
  root: string,
  configFile: string | undefined,
): Promise<PromotionConfig> {
  // An explicit config file is the operator's choice; the default one lives in the repository and
  // must stay inside it.
  const path =
    configFile === undefined
      ? await inRoot(root, 'promotion.yaml', 'promotionConfig')
      : resolve(root, configFile);
  const text = (
    await readUserFile(path, { what: 'the promotion config', maxSize: CONFIG_LIMIT })
  ).toString('utf8');
  return parsePromotionConfig(text, relative(process.cwd(), path) || path);
}

async function environmentPolicy(root: string, policy: EnvironmentPolicy): Promise<VerifyPolicy> {
  if ('key' in policy) {
    const path = await inRoot(root, policy.key, 'verify');
    const pem = (await readUserFile(path, { what: 'the public key', maxSize: 64 * 1024 })).toString(
      'utf8',
    );
    // Keys only: airlock's and cosign's offline key signatures carry no log entry.
    return resolveVerifyPolicy({ keys: [{ name: policy.key, pem }], ignoreTlog: true });
  }
  const rootPath = await inRoot(root, policy.trustedRoot, 'verify');
  const trustedRoot = (
    await readUserFile(rootPath, { what: 'the trusted root', maxSize: 4 * 1024 * 1024 })
  ).toString('utf8');
  const { subject, subjectRegexp, issuer, issuerRegexp } = policy.identity;
  return resolveVerifyPolicy({
    identities: [
      {
        ...(subject !== undefined ? { subject } : {}),
        ...(subjectRegexp !== undefined ? { subjectRegExp: subjectRegexp } : {}),
        ...(issuer !== undefined ? { issuer } : {}),
        ...(issuerRegexp !== undefined ? { issuerRegExp: issuerRegexp } : {}),
      },
    ],
    trustedRoot,
  });
}

/** `oci://host/path` → `host/path`; undefined for HTTP Helm repositories (`https://…|chart`). */
function ociRepository(pin: Pin): string | undefined {
  return pin.repository.startsWith('oci://') ? pin.repository.slice('oci://'.length) : undefined;
}

async function askRegistry(
  opener: RepositoryOpener,
  pins: readonly Pin[],
  policy: VerifyPolicy | undefined,
  policyName: string,
  options: { concurrency: number; signal: AbortSignal | undefined },
): Promise<Map<string, RegistryAnswer>> {
  const wanted = new Map<string, Pin>();
  for (const pin of pins)
    if (pin.version !== undefined) wanted.set(registryKey(pin.repository, pin.version), pin);
  const answers = new Map<string, RegistryAnswer>();
  await mapLimit([...wanted], options.concurrency, async ([key, pin]) => {
    throwIfAborted(options.signal);
    try {
      answers.set(key, await answer(opener, pin, policy, policyName, options.signal));
    } catch (error) {
      if (error instanceof AirlockError && error.code === 'ABORTED') throw error;
      answers.set(key, { error: itemError(error) });
    }
  });
  return answers;
}

async function answer(
  opener: RepositoryOpener,
  pin: Pin,
  policy: VerifyPolicy | undefined,
  policyName: string,
  signal: AbortSignal | undefined,
): Promise<RegistryAnswer> {
  const name = ociRepository(pin);
  const version = pin.version ?? '';
  if (name === undefined)
    throw new AirlockError(
      'UPSTREAM_INVALID',
      `${pin.file}:${pin.line}: ${escapeControl(pin.repository)} is not an OCI repository, so it has no digest to promote (mirror it into the private registry first)`,
    );
  const ref = parseReference(`${name}:${version}`, { requireTagOrDigest: true });
  const repository = opener.open(ref);
  const resolved = await repository.resolve(version);
  if (!resolved)
    throw new AirlockError(
      'REGISTRY_NOT_FOUND',
      `${pin.file}:${pin.line}: ${escapeControl(`${name}:${version}`)} does not resolve in the registry`,
      { data: { reference: `${name}:${version}` } },
    );
  if (pin.digest !== undefined && pin.digest !== resolved.digest)
    throw new AirlockError(
      'DIGEST_MISMATCH',
      `${pin.file}:${pin.line}: pins ${pin.digest}, but ${name}:${version} is ${resolved.digest} in the registry (was the tag moved?)`,
    );
  if (policy === undefined) return { digest: resolved.digest, signature: undefined };
  try {
    const verified = await verifyArtifact(repository, resolved.digest, policy, {
      knownDigest: resolved.digest,
      ...(signal ? { signal } : {}),
    });
    const by = ('subject' in verified && verified.subject) || verified.keyName || policyName;
    return { digest: resolved.digest, signature: { verified: true, by } };
  } catch (error) {
    if (!(error instanceof AirlockError) || error.code !== 'VERIFICATION_FAILED') throw error;
    return { digest: resolved.digest, signature: { verified: false, reason: error.message } };
  }
}

/** Reads the repository and the registry, then plans (planPromotion). */
export async function planEnvironmentPromotion(
  opener: RepositoryOpener & { readonly concurrency?: number },
  options: PromotionPlanOptions,
): Promise<PromotionPlan> {
  const started = Date.now();
  const root = resolve(options.root ?? '.');
  const config = await loadPromotionConfig(root, options.configFile);
  const { previous, target } = environmentPair(config, options.environment);
  if (previous === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${target.name} is the first environment of ${config.file}: it receives updates from Renovate, not from promotion`,
      { data: { option: 'environment' } },
    );
  const [fromPins, toPins] = await Promise.all([
    findPins(root, previous, config.resourceSetInputs),
    findPins(root, target, config.resourceSetInputs),
  ]);
  throwIfAborted(options.signal);
  const policy =
    target.verify === undefined ? undefined : await environmentPolicy(root, target.verify);
  const policyName =
    target.verify === undefined
      ? ''
      : 'key' in target.verify
        ? target.verify.key
        : (target.verify.identity.subject ?? target.verify.identity.subjectRegexp ?? '');
  const [since, sinceProblems, registry] = await Promise.all([
    pinSince(root, fromPins.pins),
    symlinkedPins(root, fromPins.pins),
    askRegistry(opener, fromPins.pins, policy, policyName, {
      // Only small metadata requests (a HEAD, a signature manifest and its payload): as many in
      // flight as the session keeps sockets (twice its transfer concurrency).
      concurrency: options.concurrency ?? (opener.concurrency ?? 8) * 2,
      signal: options.signal,
    }),
  ]);
  const items = planPromotion({
    previous,
    target,
    previousPins: fromPins.pins,
    targetPins: toPins.pins,
    since,
    sinceProblems,
    registry,
    now: options.now ?? new Date(),
  });
  return {
    context: { root, config, previous, target },
    report: batchReport('promote plan', items, started),
  };
}
