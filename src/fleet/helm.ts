// HelmReleases rendered as helm-controller would install them (issue 10 §5): the chart comes from
// the source the release names (chartRef → OCIRepository, or chart.spec → a HelmRepository of
// type oci, ../shared/reference/flux-oci.md §3), the values are merged as helm-controller merges
// them (valuesFrom in order, then spec.values on top: chartutil.ChartValuesFromReferences,
// MergeMaps), and the manifests come from a real `helm template`, run with a private HOME so it
// reads no repository, plugin or kubeconfig of the machine's.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap, marshalGoYAML, parseGoYAML } from '../goyaml/index.ts';
import { executable } from './kustomize.ts';
import { nestedString, objectName, objectNamespace, readObjects, secretValues } from './objects.ts';

export interface HelmTool {
  readonly path: string;
  /** Milliseconds spent in helm processes, added up (benchmarks report it). */
  readonly stats?: { ms: number };
}

/** helm template's output is bounded like kustomize's. */
const MAX_HELM_OUTPUT = 64 * 1024 * 1024;
const HELM_TIMEOUT_MS = 120_000;

/** `bin` when given (INPUT_INVALID, option helmBin, when it is not executable), else helm on PATH. */
export async function findHelm(
  bin: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<HelmTool | undefined> {
  if (bin !== undefined) {
    if (!(await executable(bin)))
      throw new AirlockError('INPUT_INVALID', `${escapeControl(bin)} is not an executable helm`, {
        data: { option: 'helmBin' },
      });
    // helm runs in a private working directory: a relative path must still name this helm.
    return { path: resolve(bin) };
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter((d) => d !== '')) {
    const path = join(dir, 'helm');
    if (await executable(path)) return { path };
  }
  return undefined;
}

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

/** helm-controller's release name: spec.releaseName, else [targetNamespace-]name, shortened. */
export function releaseName(release: GoMap): string {
  const spec = release.get('spec');
  const target = str(field(spec, 'targetNamespace'));
  const name =
    str(field(spec, 'releaseName')) ||
    (target === '' ? objectName(release) : `${target}-${objectName(release)}`);
  // helm-controller internal/release ShortenName: Helm's 53-character limit.
  if (name.length <= 53) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${name.slice(0, 53 - 13)}-${hash}`;
}

/** Deep merge, `over` winning: maps merge key by key, anything else replaces (MergeMaps). */
function mergeValues(base: GoMap, over: GoMap): GoMap {
  const out = new Map(base);
  for (const [k, v] of over) {
    const existing = out.get(k);
    out.set(k, isGoMap(existing) && isGoMap(v) ? mergeValues(existing, v) : v);
  }
  return out;
}

/** Sets a dotted path (targetPath) to a string, creating maps on the way. */
function setPath(values: GoMap, path: string, value: string): GoMap {
  const [head = '', ...rest] = path.split('.');
  const out = new Map(values);
  if (rest.length === 0) out.set(head, value);
  else {
    const inner = out.get(head);
    out.set(
      head,
      setPath(isGoMap(inner) ? inner : new Map<string, GoValue>(), rest.join('.'), value),
    );
  }
  return out;
}

/**
 * The values a HelmRelease installs with: each valuesFrom (ConfigMap or Secret of the release's
 * namespace in the rendered set; valuesKey default values.yaml; targetPath sets one value) merged
 * in order, spec.values on top. A missing source that is not optional is CONFIG_INVALID.
 */
export function releaseValues(release: GoMap, available: readonly GoMap[], id: string): GoMap {
  const spec = release.get('spec');
  const namespace = objectNamespace(release) || 'default';
  let values: GoMap = new Map();
  const refs = field(spec, 'valuesFrom');
  (Array.isArray(refs) ? refs : []).forEach((ref, index) => {
    const at = `spec.valuesFrom[${index}]`;
    const kind = str(field(ref, 'kind'));
    const name = str(field(ref, 'name'));
    const key = str(field(ref, 'valuesKey')) || 'values.yaml';
    const optional = field(ref, 'optional') === true;
    const source = available.findLast(
      (o) =>
        nestedString(o, 'apiVersion') === 'v1' &&
        nestedString(o, 'kind') === kind &&
        objectName(o) === name &&
        (objectNamespace(o) || 'default') === namespace,
    );
    let text: string | undefined;
    if (source !== undefined)
      text =
        kind === 'Secret'
          ? secretValues(source).get(key)
          : str(field(source.get('data'), key)) || undefined;
    if (text === undefined) {
      if (optional) return;
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: ${at}: ${escapeControl(`${kind}/${namespace}/${name}`)} ${source === undefined ? 'is not among the rendered objects' : `has no key ${JSON.stringify(escapeControl(key))}`}`,
        {
          details: ['mark it optional: true if the cluster provides it'],
          data: { object: id, field: at },
        },
      );
    }
    const targetPath = str(field(ref, 'targetPath'));
    if (targetPath !== '') {
      values = setPath(values, targetPath, text);
      return;
    }
    let parsed: GoValue;
    try {
      parsed = parseGoYAML(text);
    } catch (error) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: ${at}: ${escapeControl(`${kind}/${namespace}/${name}`)} key ${JSON.stringify(escapeControl(key))} is not YAML: ${(error as Error).message}`,
        { cause: error, data: { object: id, field: at } },
      );
    }
    if (parsed === null) return;
    if (!isGoMap(parsed))
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: ${at}: ${escapeControl(`${kind}/${namespace}/${name}`)} key ${JSON.stringify(escapeControl(key))} is not a map of values`,
        { data: { object: id, field: at } },
      );
    values = mergeValues(values, parsed);
  });
  const inline = field(spec, 'values');
  if (isGoMap(inline)) values = mergeValues(values, inline);
  return values;
}

/** Runs `helm template` on a chart archive and returns the objects it prints. */
export async function templateRelease(
  tool: HelmTool,
  chart: Buffer,
  release: GoMap,
  values: GoMap,
  id: string,
): Promise<GoMap[]> {
  const spec = release.get('spec');
  const namespace = str(field(spec, 'targetNamespace')) || objectNamespace(release) || 'default';
  const work = await mkdtemp(join(tmpdir(), 'airlock-helm-'));
  try {
    await writeFile(join(work, 'chart.tgz'), chart);
    await writeFile(join(work, 'values.yaml'), marshalGoYAML(values));
    /* eslint-disable no-restricted-syntax -- helm's own command-line flags */
    const name = releaseName(release);
    // A release name is a DNS-1123 label (Helm's own rule): never a flag helm would read.
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: release name ${JSON.stringify(escapeControl(name))} is not a DNS-1123 label`,
        {
          data: { object: id, field: 'spec.releaseName' },
        },
      );
    const args = [
      'template',
      name,
      join(work, 'chart.tgz'),
      '--namespace',
      namespace,
      '--values',
      join(work, 'values.yaml'),
      // helm-controller does not install test hooks; install.crds defaults to Create.
      '--skip-tests',
      ...(str(field(field(spec, 'install'), 'crds')) === 'Skip' ? [] : ['--include-crds']),
      ...(field(field(spec, 'install'), 'disableHooks') === true ? ['--no-hooks'] : []),
    ];
    /* eslint-enable no-restricted-syntax */
    const home = join(work, 'home');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
      KUBECONFIG: join(home, 'no-kubeconfig'),
    };
    const started = performance.now();
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        tool.path,
        args,
        { encoding: 'utf8', maxBuffer: MAX_HELM_OUTPUT, timeout: HELM_TIMEOUT_MS, env, cwd: work },
        (error, stdout, stderr) => {
          if (tool.stats) tool.stats.ms += performance.now() - started;
          if (error) reject(Object.assign(error as Error, { stderr }));
          else resolve(stdout);
        },
      );
    }).catch((error: unknown) => {
      const failure = error as NodeJS.ErrnoException & { stderr?: string };
      if (failure.code === 'ENOENT' || failure.code === 'EACCES')
        throw new AirlockError('INPUT_INVALID', `${escapeControl(tool.path)}: ${failure.message}`, {
          data: { option: 'helmBin' },
        });
      const message = ((failure.stderr ?? '').trim() || failure.message).split(`${work}/`).join('');
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: helm template failed: ${escapeControl(message)}`,
        {
          cause: error,
          data: { object: id, field: 'spec.values' },
        },
      );
    });
    try {
      return readObjects(output);
    } catch (error) {
      throw new AirlockError(
        'CONFIG_INVALID',
        `${id}: helm template output does not decode: ${(error as Error).message}`,
        { cause: error, data: { object: id } },
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
