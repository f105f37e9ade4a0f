// A real releases repository for the promotion tests: a git work tree with dated commits (soak
// times come from the history of each pin) and a bare remote as `origin`, as a forge would hold
// it. `exampleReleasesRepo` writes the three-environment layout of issue 9's acceptance test.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const RELEASES_AUTHOR = { name: 'Releases Bot', email: 'releases@example.test' };

export interface ReleasesEnvironment {
  readonly name: string;
  /** The environment's directory; `clusters/<name>` when absent. */
  readonly path?: string;
  /** Files relative to the environment's directory. */
  readonly files: Readonly<Record<string, string>>;
}

export interface HistoryCommit {
  /** ISO 8601, e.g. `2024-05-01T10:00:00Z`: author and committer date. */
  readonly date: string;
  /** Files relative to the repository; null deletes the file. */
  readonly files: Readonly<Record<string, string | null>>;
  readonly message: string;
}

export interface ReleasesRepoOptions {
  readonly environments: readonly ReleasesEnvironment[];
  /** Files at the repository root (promotion.yaml, renovate.json), in the first commit. */
  readonly files?: Readonly<Record<string, string>>;
  /** The first commit's date; default 2024-01-01T00:00:00Z. */
  readonly initialDate?: string;
  /** Commits after the first one, in order. */
  readonly history?: readonly HistoryCommit[];
}

export interface ReleasesRepo {
  /** The work tree (branch main, clean, in sync with origin). */
  readonly root: string;
  /** The bare repository `origin` points at. */
  readonly remote: string;
  /** main's commit after the last history entry. */
  readonly head: string;
  /** Environment name → its directory relative to the repository. */
  readonly paths: Readonly<Record<string, string>>;
}

/** `git -C dir …` with fixed identity and dates; answers stdout. */
export async function git(
  dir: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], {
    env: {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: RELEASES_AUTHOR.name,
      GIT_AUTHOR_EMAIL: RELEASES_AUTHOR.email,
      GIT_COMMITTER_NAME: RELEASES_AUTHOR.name,
      GIT_COMMITTER_EMAIL: RELEASES_AUTHOR.email,
      ...env,
    },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

async function writeFiles(
  root: string,
  files: Readonly<Record<string, string | null>>,
): Promise<string[]> {
  const paths: string[] = [];
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    paths.push(path);
    if (content === null) await rm(file, { force: true });
    else {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
    }
  }
  return paths;
}

/** Commits everything staged-able under `root` with the given date. */
export async function commitAll(root: string, date: string, message: string): Promise<string> {
  await git(root, ['add', '-A']);
  await git(root, ['commit', '--quiet', '--allow-empty', '--no-verify', '-m', message], {
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  });
  return (await git(root, ['rev-parse', 'HEAD'])).trim();
}

/**
 * Builds `dir/releases` (work tree on main) and `dir/origin.git` (bare), commits the environments'
 * files and root files at `initialDate`, then each history entry at its date, and pushes main.
 * The repository's own config carries the identity, so plain `git commit` works in it too.
 */
export async function makeReleasesRepo(
  dir: string,
  options: ReleasesRepoOptions,
): Promise<ReleasesRepo> {
  const root = join(dir, 'releases');
  const remote = join(dir, 'origin.git');
  await mkdir(root, { recursive: true });
  await git(dir, ['init', '--quiet', '--bare', '--initial-branch=main', remote]);
  await git(root, ['init', '--quiet', '--initial-branch=main']);
  for (const [key, value] of [
    ['user.name', RELEASES_AUTHOR.name],
    ['user.email', RELEASES_AUTHOR.email],
    ['commit.gpgsign', 'false'],
  ] as const)
    await git(root, ['config', key, value]);
  await git(root, ['remote', 'add', 'origin', remote]);
  const paths: Record<string, string> = {};
  for (const env of options.environments) {
    const path = env.path ?? `clusters/${env.name}`;
    paths[env.name] = path;
    await writeFiles(
      root,
      Object.fromEntries(
        Object.entries(env.files).map(([file, text]) => [`${path}/${file}`, text]),
      ),
    );
  }
  await writeFiles(root, options.files ?? {});
  await commitAll(root, options.initialDate ?? '2024-01-01T00:00:00Z', 'Initial environments');
  for (const entry of options.history ?? []) {
    await writeFiles(root, entry.files);
    await commitAll(root, entry.date, entry.message);
  }
  await git(root, ['push', '--quiet', '--set-upstream', 'origin', 'main']);
  const head = (await git(root, ['rev-parse', 'HEAD'])).trim();
  return { root, remote, head, paths };
}

// ---------------------------------------------------------------------------------------------
// The example repository: dev → test → prod, each environment running three components, one per
// way Flux pins a chart:
//   podinfo  HelmRepository (type oci) + HelmRelease spec.chart.spec.version
//   web      OCIRepository spec.ref.tag  + HelmRelease spec.chartRef
//   api      ResourceSet input (name, repository, chart, version[, digest])
// The defaults are the acceptance scenario: dev is ahead of test by a patch that has soaked
// (podinfo, auto-merge), by a minor that has soaked (web, needs review) and by a patch that is
// still soaking (api, blocked by test's 24h soak).
// ---------------------------------------------------------------------------------------------

export type ExampleKind = 'helmrepository' | 'ocirepository' | 'resourceset';

export interface ExampleComponent {
  readonly name: string;
  readonly kind: ExampleKind;
  /** Version per environment name (dev, test, prod). */
  readonly versions: Readonly<Record<string, string>>;
  /** Digest per environment, written next to the version when given. */
  readonly digests?: Readonly<Record<string, string>>;
  /**
   * Environment → hours before `now` at which its current version was committed; environments
   * not named get their version in the initial commit (`initialDate`).
   */
  readonly changedHoursAgo?: Readonly<Record<string, number>>;
  /** The version committed first where changedHoursAgo applies; default `0.0.1`. */
  readonly previousVersion?: string;
}

export interface ExampleOptions {
  /** host[:port] of the registry the charts are in. */
  readonly registry: string;
  /** Repository prefix under the registry; charts are `<registry>/<prefix>/<name>`. */
  readonly prefix?: string;
  readonly environments?: readonly string[];
  readonly components?: readonly ExampleComponent[];
  /** The clock the history is written against; default the real time. */
  readonly now?: Date;
  /** promotion.yaml at the root; default exampleConfig(environments). */
  readonly promotion?: string;
  /** Namespace of every object; default `apps`. */
  readonly namespace?: string;
}

export const EXAMPLE_COMPONENTS: readonly ExampleComponent[] = [
  {
    name: 'podinfo',
    kind: 'helmrepository',
    versions: { dev: '6.5.1', test: '6.5.0', prod: '6.5.0' },
    changedHoursAgo: { dev: 72 },
    previousVersion: '6.5.0',
  },
  {
    name: 'web',
    kind: 'ocirepository',
    versions: { dev: '1.3.0', test: '1.2.0', prod: '1.2.0' },
    changedHoursAgo: { dev: 72 },
    previousVersion: '1.2.0',
  },
  {
    name: 'api',
    kind: 'resourceset',
    versions: { dev: '2.0.1', test: '2.0.0', prod: '2.0.0' },
    changedHoursAgo: { dev: 1 },
    previousVersion: '2.0.0',
  },
];

/** promotion.yaml for the example: dev auto-merges patches, test needs 24h in dev, prod 48h in test. */
export function exampleConfig(environments: readonly string[] = ['dev', 'test', 'prod']): string {
  const lines = [
    '# Environment promotion for the example releases repository (airlock promote).',
    'environments:',
  ];
  environments.forEach((env, i) => {
    lines.push(
      `  - name: ${env}`,
      '    paths:',
      `      - clusters/${env}`,
      `    autoMerge: [${i === 0 ? 'patch, minor' : 'patch'}]`,
      ...(i === 0 ? [] : [`    soak: ${24 * i}h`]),
    );
  });
  lines.push(
    'resourceSetInputs:',
    '  # The api tenant ResourceSet: its inputs name the chart and the version.',
    '  - resourceSet: tenants',
    '    repositoryField: repository',
    '    chartField: chart',
    '    versionField: version',
    '    digestField: digest',
    '',
  );
  return lines.join('\n');
}

function digestLine(indent: string, key: string, digest: string | undefined): string[] {
  return digest === undefined ? [] : [`${indent}${key}: ${digest}`];
}

export interface ExampleLayout {
  readonly registry: string;
  readonly prefix: string;
  readonly namespace: string;
  readonly env: string;
}

type Pinned = { readonly version: string; readonly digest?: string };

/** The Flux objects of one HelmRepository or OCIRepository component, with the comments people write. */
export function exampleFile(
  component: ExampleComponent,
  pin: Pinned,
  layout: ExampleLayout,
): string {
  const { registry, prefix, namespace, env } = layout;
  const name = component.name;
  if (component.kind === 'helmrepository')
    return [
      `# ${name} in ${env}: chart from the private registry's Helm repository.`,
      'apiVersion: helm.toolkit.fluxcd.io/v2',
      'kind: HelmRelease',
      'metadata:',
      `  name: ${name}`,
      `  namespace: ${namespace}`,
      'spec:',
      '  interval: 10m',
      '  chart:',
      '    spec:',
      `      chart: ${name}`,
      `      version: "${pin.version}" # promoted by airlock`,
      '      sourceRef:',
      '        kind: HelmRepository',
      '        name: charts',
      '        namespace: flux-system',
      '  values:',
      '    replicaCount: 2',
      '',
    ].join('\n');
  return [
    `# ${name} in ${env}: the chart as an OCI artifact, referenced by chartRef.`,
    'apiVersion: source.toolkit.fluxcd.io/v1',
    'kind: OCIRepository',
    'metadata:',
    `  name: ${name}-chart`,
    `  namespace: ${namespace}`,
    'spec:',
    '  interval: 5m',
    '  layerSelector:',
    '    mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"',
    '    operation: copy',
    `  url: oci://${registry}/${prefix}/${name}`,
    '  ref:',
    `    tag: ${pin.version} # the version under test`,
    ...digestLine('    ', 'digest', pin.digest),
    '---',
    'apiVersion: helm.toolkit.fluxcd.io/v2',
    'kind: HelmRelease',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'spec:',
    '  interval: 10m',
    '  chartRef:',
    '    kind: OCIRepository',
    `    name: ${name}-chart`,
    '',
  ].join('\n');
}

/** The one ResourceSet `tenants` of an environment: one input per resourceset component. */
export function exampleTenants(
  inputs: readonly { readonly name: string; readonly pin: Pinned }[],
  layout: ExampleLayout,
): string {
  const { registry, prefix, namespace, env } = layout;
  return [
    `# Tenants of ${env}: one input per tenant, each pinning its chart.`,
    'apiVersion: fluxcd.controlplane.io/v1',
    'kind: ResourceSet',
    'metadata:',
    '  name: tenants',
    `  namespace: ${namespace}`,
    'spec:',
    '  inputs:',
    ...inputs.flatMap(({ name, pin }) => [
      `    - name: ${name}`,
      `      repository: "oci://${registry}/${prefix}"`,
      `      chart: ${name}`,
      `      version: '${pin.version}'`,
      ...digestLine('      ', 'digest', pin.digest),
    ]),
    '  resources:',
    '    - apiVersion: helm.toolkit.fluxcd.io/v2',
    '      kind: HelmRelease',
    '      metadata:',
    '        name: << inputs.name >>',
    `        namespace: ${namespace}`,
    '      spec:',
    '        interval: 10m',
    '        chart:',
    '          spec:',
    '            chart: << inputs.chart >>',
    '            version: << inputs.version | quote >>',
    '            sourceRef:',
    '              kind: HelmRepository',
    '              name: charts',
    '              namespace: flux-system',
    '',
  ].join('\n');
}

export function exampleSources(layout: ExampleLayout): string {
  return [
    `# Sources of ${layout.env}: every chart comes from the private registry.`,
    'apiVersion: source.toolkit.fluxcd.io/v1',
    'kind: HelmRepository',
    'metadata:',
    '  name: charts',
    '  namespace: flux-system',
    'spec:',
    '  type: oci # OCI Helm repository',
    '  interval: 5m',
    `  url: oci://${layout.registry}/${layout.prefix}`,
    '',
  ].join('\n');
}

/**
 * The example releases repository under `dir` (see makeReleasesRepo): per environment
 * `clusters/<env>/sources.yaml` (HelmRepository charts), `<name>.yaml` per HelmRepository or
 * OCIRepository component, and `tenants.yaml` (ResourceSet tenants) holding every resourceset
 * component. Each changedHoursAgo entry is one dated commit that moves that pin from
 * previousVersion to its version; everything else is in the first commit, 30 days back.
 */
export async function exampleReleasesRepo(
  dir: string,
  options: ExampleOptions,
): Promise<ReleasesRepo & { components: readonly ExampleComponent[] }> {
  const environments = options.environments ?? ['dev', 'test', 'prod'];
  const components = options.components ?? EXAMPLE_COMPONENTS;
  const now = options.now ?? new Date();
  const layoutOf = (env: string): ExampleLayout => ({
    registry: options.registry,
    prefix: options.prefix ?? 'charts',
    namespace: options.namespace ?? 'apps',
    env,
  });
  // state[env][component]: what the environment pins at the point of history being written.
  const state = new Map<string, Map<string, Pinned>>();
  for (const env of environments) {
    const pins = new Map<string, Pinned>();
    for (const c of components) {
      const changed = c.changedHoursAgo?.[env] !== undefined;
      const digest = c.digests?.[env];
      pins.set(
        c.name,
        changed
          ? { version: c.previousVersion ?? '0.0.1' }
          : { version: c.versions[env] ?? '0.0.1', ...(digest ? { digest } : {}) },
      );
    }
    state.set(env, pins);
  }
  const tenants = components.filter((c) => c.kind === 'resourceset');
  const fileOf = (env: string, c: ExampleComponent): [string, string] => {
    const pins = state.get(env) ?? new Map<string, Pinned>();
    if (c.kind === 'resourceset')
      return [
        'tenants.yaml',
        exampleTenants(
          tenants.map((t) => ({ name: t.name, pin: pins.get(t.name) ?? { version: '0.0.1' } })),
          layoutOf(env),
        ),
      ];
    return [
      `${c.name}.yaml`,
      exampleFile(c, pins.get(c.name) ?? { version: '0.0.1' }, layoutOf(env)),
    ];
  };
  const initial: ReleasesEnvironment[] = environments.map((env) => ({
    name: env,
    files: {
      'sources.yaml': exampleSources(layoutOf(env)),
      ...Object.fromEntries(components.map((c) => fileOf(env, c))),
    },
  }));
  const changes = components
    .flatMap((c) =>
      environments.flatMap((env) => {
        const hours = c.changedHoursAgo?.[env];
        return hours === undefined ? [] : [{ at: now.getTime() - hours * 3_600_000, c, env }];
      }),
    )
    .sort((a, b) => a.at - b.at);
  const history: HistoryCommit[] = changes.map(({ at, c, env }) => {
    const digest = c.digests?.[env];
    state
      .get(env)
      ?.set(c.name, { version: c.versions[env] ?? '0.0.1', ...(digest ? { digest } : {}) });
    const [name, text] = fileOf(env, c);
    return {
      date: new Date(at).toISOString(),
      files: { [`clusters/${env}/${name}`]: text },
      message: `${env}: ${c.name} ${c.versions[env] ?? ''}`,
    };
  });
  const earliest = Math.min(now.getTime() - 30 * 24 * 3_600_000, ...changes.map((c) => c.at));
  const repo = await makeReleasesRepo(dir, {
    environments: initial,
    files: { 'promotion.yaml': options.promotion ?? exampleConfig(environments) },
    initialDate: new Date(earliest - 3_600_000).toISOString(),
    history,
  });
  return { ...repo, components };
}
