// promotion.yaml: the releases repository's one source of truth for environment promotion
// (isolated-gitops-fluxcd-oci, "Environment Promotion": dev → test → prod, labels for environment,
// update type and promotion status, patches auto-merged, majors reviewed). `promote plan/apply`
// and `renovate config` read it; docs/promotion.md holds its JSON Schema.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';

/** How a version moves: semver distance, or the same version at another digest. */
export type UpdateType = 'major' | 'minor' | 'patch' | 'digest';
export const UPDATE_TYPES: readonly UpdateType[] = ['major', 'minor', 'patch', 'digest'];

/** The signature policy an environment's clusters apply (their OCIRepository `spec.verify`). */
export type EnvironmentPolicy =
  | { readonly key: string }
  | {
      readonly identity: {
        readonly subject?: string;
        readonly subjectRegexp?: string;
        readonly issuer?: string;
        readonly issuerRegexp?: string;
      };
      /** trusted_root.json, relative to the releases repository. */
      readonly trustedRoot: string;
    };

export interface EnvironmentConfig {
  readonly name: string;
  /** Directories or files (relative to the repository) that hold this environment's Flux objects. */
  readonly paths: readonly string[];
  /** Update types that may merge into this environment without review. */
  readonly autoMerge: readonly UpdateType[];
  /** Minimum time (ms) a version must have run in the previous environment before it moves here. */
  readonly soakMs: number;
  /** As written, for messages ("24h"). */
  readonly soak: string;
  readonly verify?: EnvironmentPolicy;
  /** Write the digest next to the version (OCIRepository `spec.ref.digest`, a ResourceSet digest input). */
  readonly pinDigests: boolean;
  readonly labels: readonly string[];
}

/** A ResourceSet input that pins a chart or artifact (Renovate does not see these by itself). */
export interface ResourceSetInputRule {
  /** Only ResourceSets of this name (every ResourceSet when absent). */
  readonly resourceSet?: string;
  /** The input field holding the repository URL (`oci://host/path`), or a fixed one. */
  readonly repositoryField?: string;
  readonly repository?: string;
  /** The input field holding the chart name appended to the repository, when separate. */
  readonly chartField?: string;
  readonly versionField: string;
  readonly digestField?: string;
}

export interface LabelTemplates {
  /** `{environment}` is replaced. */
  readonly environment: string;
  /** `{type}`: major, minor, patch, digest. */
  readonly update: string;
  /** `{state}`: auto-merge, needs-review. */
  readonly promotion: string;
}

export interface ForgeConfig {
  readonly kind: 'gitlab' | 'github';
  readonly apiURL: string;
  readonly project: string;
  readonly targetBranch: string;
  readonly remote: string;
}

export interface PromotionConfig {
  /** The file it was read from, for messages. */
  readonly file: string;
  readonly environments: readonly EnvironmentConfig[];
  readonly resourceSetInputs: readonly ResourceSetInputRule[];
  readonly labels: LabelTemplates;
  readonly forge?: ForgeConfig;
  readonly renovate: { readonly minimumReleaseAge?: string; readonly schedule?: readonly string[] };
  /** Branch names: `{prefix}{environment}/{component}`. */
  readonly branchPrefix: string;
}

export const DEFAULT_LABELS: LabelTemplates = {
  environment: 'env/{environment}',
  update: 'update/{type}',
  promotion: 'promotion/{state}',
};

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

/** `72h`, `3d`, `1d12h`, `30m`, `0` → milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const match = DURATION.exec(text);
  if (!match || text === '') return undefined;
  const [, d = '0', h = '0', m = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60_000;
}

/** Collects every problem with its line:column and field path, so one run shows them all. */
class Problems {
  readonly list: string[] = [];
  readonly #file: string;
  readonly #lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }
  add(node: Node | null | undefined, field: string, message: string): void {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.#lines.linePos(offset);
    this.list.push(`${this.#file}:${line}:${col}: ${field}: ${message}`);
  }
}

type Value = { node: Node; value: unknown };

function field(map: Node, key: string): Value | undefined {
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === key && pair.value)
      return { node: pair.value as Node, value: (pair.value as Node).toJSON() as unknown };
  }
  return undefined;
}

function unknownKeys(map: Node, allowed: readonly string[], at: string, problems: Problems): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (!allowed.includes(key))
      problems.add(
        pair.key as Node,
        `${at}${key}`,
        `unknown field (allowed: ${allowed.join(', ')})`,
      );
  }
}

function text(
  v: Value | undefined,
  at: string,
  problems: Problems,
  parent: Node,
  required = false,
): string | undefined {
  if (v === undefined) {
    if (required) problems.add(parent, at, 'is required');
    return undefined;
  }
  if (typeof v.value !== 'string' || v.value === '') {
    problems.add(v.node, at, 'must be a non-empty string');
    return undefined;
  }
  return v.value;
}

function strings(v: Value | undefined, at: string, problems: Problems): string[] {
  if (v === undefined) return [];
  if (!isSeq(v.node)) {
    problems.add(v.node, at, 'must be a list of strings');
    return [];
  }
  const out: string[] = [];
  v.node.items.forEach((item, i) => {
    const value = (item as Node).toJSON() as unknown;
    if (typeof value === 'string' && value !== '') out.push(value);
    else problems.add(item as Node, `${at}[${i}]`, 'must be a non-empty string');
  });
  return out;
}

const ENV_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function environment(node: Node, i: number, problems: Problems): EnvironmentConfig | undefined {
  const at = `environments[${i}].`;
  if (!isMap(node)) {
    problems.add(node, `environments[${i}]`, 'must be a mapping');
    return undefined;
  }
  unknownKeys(
    node,
    ['name', 'paths', 'autoMerge', 'soak', 'verify', 'pinDigests', 'labels'],
    at,
    problems,
  );
  const name = text(field(node, 'name'), `${at}name`, problems, node, true);
  if (name !== undefined && !ENV_NAME.test(name))
    problems.add(
      field(node, 'name')?.node,
      `${at}name`,
      'must be a DNS label (lower case letters, digits, -)',
    );
  const paths = strings(field(node, 'paths'), `${at}paths`, problems);
  if (field(node, 'paths') === undefined) problems.add(node, `${at}paths`, 'is required');
  else if (paths.length === 0) problems.add(field(node, 'paths')?.node, `${at}paths`, 'is empty');
  for (const path of paths)
    if (path.startsWith('/') || path.split('/').includes('..'))
      problems.add(
        field(node, 'paths')?.node,
        `${at}paths`,
        `${escapeControl(path)} must stay inside the repository`,
      );
  const autoMergeValue = field(node, 'autoMerge');
  const autoMerge = strings(autoMergeValue, `${at}autoMerge`, problems);
  for (const type of autoMerge)
    if (!UPDATE_TYPES.includes(type as UpdateType))
      problems.add(
        autoMergeValue?.node,
        `${at}autoMerge`,
        `${escapeControl(type)} is not an update type (${UPDATE_TYPES.join(', ')})`,
      );
  const soakValue = field(node, 'soak');
  const soak =
    soakValue === undefined ? '0' : typeof soakValue.value === 'number' ? '' : soakValue.value;
  const soakMs = typeof soak === 'string' ? parseDuration(soak) : undefined;
  if (soakMs === undefined)
    problems.add(soakValue?.node, `${at}soak`, 'must be a duration such as 24h, 3d or 1d12h');
  const pinDigests = field(node, 'pinDigests');
  if (pinDigests !== undefined && typeof pinDigests.value !== 'boolean')
    problems.add(pinDigests.node, `${at}pinDigests`, 'must be true or false');
  const verify = policy(field(node, 'verify'), `${at}verify`, problems);
  if (name === undefined) return undefined;
  return {
    name,
    paths,
    autoMerge: autoMerge.filter((t): t is UpdateType => UPDATE_TYPES.includes(t as UpdateType)),
    soakMs: soakMs ?? 0,
    soak: String(soak),
    ...(verify ? { verify } : {}),
    pinDigests: pinDigests?.value === true,
    labels: strings(field(node, 'labels'), `${at}labels`, problems),
  };
}

function policy(
  v: Value | undefined,
  at: string,
  problems: Problems,
): EnvironmentPolicy | undefined {
  if (v === undefined) return undefined;
  if (!isMap(v.node)) {
    problems.add(v.node, at, 'must be a mapping with key, or identity and trustedRoot');
    return undefined;
  }
  unknownKeys(v.node, ['key', 'identity', 'trustedRoot'], `${at}.`, problems);
  const key = text(field(v.node, 'key'), `${at}.key`, problems, v.node);
  const identityValue = field(v.node, 'identity');
  if (key !== undefined && identityValue !== undefined) {
    problems.add(v.node, at, 'takes key or identity, not both');
    return undefined;
  }
  if (key !== undefined) return { key };
  if (identityValue === undefined) {
    problems.add(v.node, at, 'needs key, or identity and trustedRoot');
    return undefined;
  }
  const identityAt = `${at}.identity`;
  if (!isMap(identityValue.node)) {
    problems.add(identityValue.node, identityAt, 'must be a mapping');
    return undefined;
  }
  unknownKeys(
    identityValue.node,
    ['subject', 'subjectRegexp', 'issuer', 'issuerRegexp'],
    `${identityAt}.`,
    problems,
  );
  const part = (name: string): string | undefined =>
    text(field(identityValue.node, name), `${identityAt}.${name}`, problems, identityValue.node);
  const identity = {
    subject: part('subject'),
    subjectRegexp: part('subjectRegexp'),
    issuer: part('issuer'),
    issuerRegexp: part('issuerRegexp'),
  };
  if ((identity.subject === undefined) === (identity.subjectRegexp === undefined))
    problems.add(identityValue.node, identityAt, 'needs exactly one of subject, subjectRegexp');
  if ((identity.issuer === undefined) === (identity.issuerRegexp === undefined))
    problems.add(identityValue.node, identityAt, 'needs exactly one of issuer, issuerRegexp');
  const trustedRoot = text(
    field(v.node, 'trustedRoot'),
    `${at}.trustedRoot`,
    problems,
    v.node,
    true,
  );
  return {
    identity: Object.fromEntries(
      Object.entries(identity).filter(([, value]) => value !== undefined),
    ),
    trustedRoot: trustedRoot ?? '',
  };
}

function inputRule(node: Node, i: number, problems: Problems): ResourceSetInputRule | undefined {
  const at = `resourceSetInputs[${i}]`;
  if (!isMap(node)) {
    problems.add(node, at, 'must be a mapping');
    return undefined;
  }
  unknownKeys(
    node,
    ['resourceSet', 'repository', 'repositoryField', 'chartField', 'versionField', 'digestField'],
    `${at}.`,
    problems,
  );
  const get = (name: string, required = false): string | undefined =>
    text(field(node, name), `${at}.${name}`, problems, node, required);
  const rule = {
    resourceSet: get('resourceSet'),
    repository: get('repository'),
    repositoryField: get('repositoryField'),
    chartField: get('chartField'),
    versionField: get('versionField', true),
    digestField: get('digestField'),
  };
  if ((rule.repository === undefined) === (rule.repositoryField === undefined))
    problems.add(node, at, 'needs exactly one of repository, repositoryField');
  if (rule.versionField === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(rule).filter(([, value]) => value !== undefined),
  ) as unknown as ResourceSetInputRule;
}

function forge(v: Value | undefined, problems: Problems): ForgeConfig | undefined {
  if (v === undefined) return undefined;
  if (!isMap(v.node)) {
    problems.add(v.node, 'forge', 'must be a mapping');
    return undefined;
  }
  unknownKeys(v.node, ['kind', 'apiURL', 'project', 'targetBranch', 'remote'], 'forge.', problems);
  const get = (name: string, required = false): string | undefined =>
    text(field(v.node, name), `forge.${name}`, problems, v.node, required);
  const kind = get('kind', true);
  if (kind !== undefined && kind !== 'gitlab' && kind !== 'github')
    problems.add(field(v.node, 'kind')?.node, 'forge.kind', 'must be gitlab or github');
  const apiURL = get('apiURL', true);
  if (apiURL !== undefined && !/^https?:\/\//.test(apiURL))
    problems.add(field(v.node, 'apiURL')?.node, 'forge.apiURL', 'must be an http(s) URL');
  const project = get('project', true);
  if (kind === undefined || apiURL === undefined || project === undefined) return undefined;
  return {
    kind: kind === 'github' ? 'github' : 'gitlab',
    apiURL,
    project,
    targetBranch: get('targetBranch') ?? 'main',
    remote: get('remote') ?? 'origin',
  };
}

/**
 * Parses promotion.yaml. Every problem is reported at once, each with `file:line:col: field:`, as
 * CONFIG_INVALID; duplicate keys and YAML syntax errors too.
 */
export function parsePromotionConfig(source: string, file = 'promotion.yaml'): PromotionConfig {
  const lines = new LineCounter();
  const document = parseDocument(source, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problems = new Problems(file, lines);
  for (const error of document.errors) {
    // With prettyErrors off the yaml library leaves linePos unset: the offset is what it gives.
    const { line, col } = lines.linePos(error.pos[0]);
    problems.list.push(`${file}:${line}:${col}: ${error.message.split('\n')[0] ?? ''}`);
  }
  if (problems.list.length > 0) throw invalid(file, problems.list);
  const root = document.contents;
  if (!root || !isMap(root)) throw invalid(file, [`${file}:1:1: the document must be a mapping`]);
  unknownKeys(
    root,
    ['environments', 'resourceSetInputs', 'labels', 'forge', 'renovate', 'branchPrefix'],
    '',
    problems,
  );
  const envValue = field(root, 'environments');
  const environments: EnvironmentConfig[] = [];
  if (envValue === undefined || !isSeq(envValue.node))
    problems.add(envValue?.node ?? root, 'environments', 'must be a list of environments');
  else {
    envValue.node.items.forEach((item, i) => {
      const parsed = environment(item as Node, i, problems);
      if (parsed) environments.push(parsed);
    });
    if (envValue.node.items.length < 2)
      problems.add(envValue.node, 'environments', 'promotion needs at least two environments');
    const seen = new Set<string>();
    environments.forEach((env, i) => {
      if (seen.has(env.name))
        problems.add(
          (envValue.node as { items: Node[] }).items[i],
          `environments[${i}].name`,
          `${env.name} is listed twice`,
        );
      seen.add(env.name);
    });
  }
  const rulesValue = field(root, 'resourceSetInputs');
  const resourceSetInputs: ResourceSetInputRule[] = [];
  if (rulesValue !== undefined) {
    if (!isSeq(rulesValue.node))
      problems.add(rulesValue.node, 'resourceSetInputs', 'must be a list');
    else
      rulesValue.node.items.forEach((item, i) => {
        const rule = inputRule(item as Node, i, problems);
        if (rule) resourceSetInputs.push(rule);
      });
  }
  const labelsValue = field(root, 'labels');
  let labels = DEFAULT_LABELS;
  if (labelsValue !== undefined && !isMap(labelsValue.node))
    problems.add(labelsValue.node, 'labels', 'must be a mapping (environment, update, promotion)');
  else if (labelsValue !== undefined) {
    unknownKeys(labelsValue.node, ['environment', 'update', 'promotion'], 'labels.', problems);
    const get = (name: keyof LabelTemplates): string =>
      text(field(labelsValue.node, name), `labels.${name}`, problems, labelsValue.node) ??
      DEFAULT_LABELS[name];
    labels = {
      environment: get('environment'),
      update: get('update'),
      promotion: get('promotion'),
    };
  }
  const renovateValue = field(root, 'renovate');
  let renovate: PromotionConfig['renovate'] = {};
  if (renovateValue !== undefined && !isMap(renovateValue.node))
    problems.add(renovateValue.node, 'renovate', 'must be a mapping (minimumReleaseAge, schedule)');
  else if (renovateValue !== undefined) {
    unknownKeys(renovateValue.node, ['minimumReleaseAge', 'schedule'], 'renovate.', problems);
    const age = text(
      field(renovateValue.node, 'minimumReleaseAge'),
      'renovate.minimumReleaseAge',
      problems,
      renovateValue.node,
    );
    const schedule = strings(field(renovateValue.node, 'schedule'), 'renovate.schedule', problems);
    renovate = {
      ...(age ? { minimumReleaseAge: age } : {}),
      ...(schedule.length ? { schedule } : {}),
    };
  }
  const forgeConfig = forge(field(root, 'forge'), problems);
  const branchPrefix =
    text(field(root, 'branchPrefix'), 'branchPrefix', problems, root) ?? 'airlock/promote/';
  if (problems.list.length > 0) throw invalid(file, problems.list);
  return {
    file,
    environments,
    resourceSetInputs,
    labels,
    ...(forgeConfig ? { forge: forgeConfig } : {}),
    renovate,
    branchPrefix,
  };
}

function invalid(file: string, problems: readonly string[]): AirlockError {
  return new AirlockError(
    'CONFIG_INVALID',
    problems.length === 1 ? (problems[0] ?? '') : `${file}: ${problems.length} problems`,
    { details: problems.length === 1 ? [] : problems, data: { file } },
  );
}

/** The environment named `name`, with the one before it (undefined for the first). */
export function environmentPair(
  config: PromotionConfig,
  name: string,
): { previous: EnvironmentConfig | undefined; target: EnvironmentConfig } {
  const index = config.environments.findIndex((env) => env.name === name);
  const target = config.environments[index];
  if (target === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      `${config.file} has no environment ${escapeControl(name)} (it has ${config.environments.map((e) => e.name).join(', ')})`,
      { data: { option: 'environment' } },
    );
  return { previous: config.environments[index - 1], target };
}

export function label(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}
