// Finding an environment's pins: read its Flux objects from the releases repository and say, per
// chart or artifact, which version (and digest) the environment runs and where that is written.
// Field names follow the CRDs:
//   helm-controller api/v2/helmrelease_types.go: spec.chart.spec.{chart, version (a semver
//     expression, default "*"), sourceRef{kind, name, namespace}}; spec.chartRef{kind:
//     OCIRepository|HelmChart, name, namespace} (CrossNamespaceSourceReference)
//   source-controller api/v1/ocirepository_types.go: spec.url, spec.ref.{tag, semver, digest}
//     (digest takes precedence over semver, semver over tag)
//   source-controller api/v1/helmrepository_types.go: spec.url, spec.type (default | oci)
//   flux-operator api/v1/resourceset_types.go: spec.inputs, a list of maps (ResourceSetInput)
// The repository may be untrusted: symlinks may not leave it, files are size-bounded, and YAML
// aliases are never expanded (only nodes are walked).
import type { Dirent } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node,
} from 'yaml';
import { AirlockError } from '../errors.ts';
import { escapeControl, fileProblem, mapLimit, tagVersion } from '../core/index.ts';
import type { EnvironmentConfig, ResourceSetInputRule } from './config.ts';
import type { Pin, YAMLPath } from './pin.ts';

/** A file or object that looks like a pin but is not one airlock can promote, and why. */
export interface PinSkip {
  /** `file` or `file:line`. */
  readonly where: string;
  readonly reason: string;
}

export interface PinsFound {
  /**
   * In file order (paths sorted, documents in order). Two pins may share a repository (a chart
   * pinned in two files of one environment): both are kept, and the plan matches on repository.
   */
  readonly pins: Pin[];
  readonly skipped: PinSkip[];
}

export interface FindPinsOptions {
  /** Files larger than this are skipped (and listed in `skipped`); default 4 MiB. */
  readonly maxSize?: number;
}

export const PIN_FILE_MAX_SIZE = 4 * 1024 * 1024;

/** A file of the releases repository: repository-relative POSIX path and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

const YAML_FILE = /\.ya?ml$/i;

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

function posix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/**
 * Reads the YAML files under `paths` (directories recursively, names sorted; a path naming a file
 * is read whatever its extension). A symlink whose target leaves `root` is refused
 * (PATH_OUTSIDE_SOURCE): the repository may come from anyone who can open a merge request.
 */
export async function readEnvironmentFiles(
  root: string,
  paths: readonly string[],
  options: FindPinsOptions = {},
): Promise<{ files: SourceFile[]; skipped: PinSkip[]; missing: string[] }> {
  const maxSize = options.maxSize ?? PIN_FILE_MAX_SIZE;
  const realRoot = await realpath(root).catch((error: unknown) => {
    throw new AirlockError(
      'INPUT_INVALID',
      `releases repository ${escapeControl(root)}: ${fileProblem(error)}`,
      { data: { option: 'root' } },
    );
  });
  const files = new Map<string, SourceFile>();
  const skipped: PinSkip[] = [];
  const missing: string[] = [];
  const seenDirs = new Set<string>();

  const outside = (rel: string, target: string): AirlockError =>
    new AirlockError(
      'PATH_OUTSIDE_SOURCE',
      `${escapeControl(rel)} is a symlink to ${escapeControl(target)}, outside the releases repository`,
      { data: { path: rel } },
    );

  // The walk collects paths (readdir's entry types spare an lstat per file); the reads then run
  // 16 at a time: a releases repository has hundreds of small files.
  const toRead: { rel: string; real: string }[] = [];
  const queued = new Set<string>();

  async function visit(rel: string, explicit: boolean, type?: Dirent): Promise<void> {
    const abs = join(realRoot, rel);
    let real = abs;
    let isDirectory = type?.isDirectory() ?? false;
    let isFile = type?.isFile() ?? false;
    if (type === undefined || type.isSymbolicLink()) {
      const info = await lstat(abs).catch(() => undefined);
      if (info === undefined) {
        if (explicit) missing.push(rel);
        return;
      }
      // An explicit path's parents may be symlinks too: check where it really is.
      const target = await realpath(abs).catch(() => undefined);
      if (target === undefined) {
        skipped.push({ where: rel, reason: 'a symlink whose target does not exist' });
        return;
      }
      if (!inside(realRoot, target)) throw outside(rel, target);
      real = target;
      const resolved = await stat(target);
      isDirectory = resolved.isDirectory();
      isFile = resolved.isFile();
    }
    if (isDirectory) {
      if (seenDirs.has(real)) return; // a symlink loop, or two paths naming one directory
      seenDirs.add(real);
      const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue; // .git, editor files
        await visit(rel === '' ? entry.name : `${rel}/${entry.name}`, false, entry);
      }
      return;
    }
    if (!isFile || (!explicit && !YAML_FILE.test(rel)) || queued.has(rel)) return;
    queued.add(rel);
    toRead.push({ rel, real });
  }

  for (const path of paths) await visit(path.replace(/\/+$/, '').replace(/^\.\//, ''), true);
  await mapLimit(toRead, 16, async ({ rel, real }) => {
    // Read at most maxSize + 1 bytes: a file growing after a stat cannot slip past the bound.
    const handle = await open(real, 'r');
    try {
      const buffer = Buffer.alloc(Math.min((await handle.stat()).size, maxSize) + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > maxSize) skipped.push({ where: rel, reason: `larger than ${maxSize} bytes` });
      else
        files.set(rel, { path: posix(rel), text: buffer.subarray(0, bytesRead).toString('utf8') });
    } finally {
      await handle.close();
    }
  });
  return {
    files: [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    skipped: skipped.sort((a, b) => (a.where < b.where ? -1 : a.where > b.where ? 1 : 0)),
    missing,
  };
}

/**
 * The pins of one environment. Fails with PINS_NOT_FOUND when there are none (listing the paths
 * searched and what was skipped), CONFIG_INVALID with `file:line:col` for malformed YAML.
 */
export async function findPins(
  root: string,
  env: EnvironmentConfig,
  rules: readonly ResourceSetInputRule[],
  options: FindPinsOptions = {},
): Promise<PinsFound> {
  const read = await readEnvironmentFiles(root, env.paths, options);
  const found = pinsInFiles(env.name, read.files, rules);
  const skipped = [
    ...read.missing.map((path) => ({ where: path, reason: 'does not exist' })),
    ...read.skipped,
    ...found.skipped,
  ];
  if (found.pins.length === 0)
    throw new AirlockError(
      'PINS_NOT_FOUND',
      `environment ${env.name} has no pins: no HelmRelease, OCIRepository or ResourceSet input with a version in ${env.paths.map(escapeControl).join(', ')}`,
      {
        details: [
          `searched ${read.files.length} YAML file(s) under ${env.paths.map(escapeControl).join(', ')}`,
          ...skipped.map((s) => `${escapeControl(s.where)}: ${s.reason}`),
        ],
        data: { environment: env.name, paths: env.paths },
      },
    );
  return { pins: found.pins, skipped };
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

interface Parsed {
  readonly docs: Document.Parsed[];
  readonly lines: LineCounter;
}

/** All documents of a file; CONFIG_INVALID listing every syntax error as `file:line:col`. */
export function parseYAMLFile(file: string, text: string): Parsed {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [];
  const problems = list.flatMap((doc) =>
    doc.errors.map((error) => {
      const pos = error.linePos?.[0] ?? lines.linePos(error.pos[0]);
      return `${escapeControl(file)}:${pos.line}:${pos.col}: ${escapeControl(error.message.split('\n')[0] ?? '')}`;
    }),
  );
  if (problems.length > 0)
    throw new AirlockError(
      'CONFIG_INVALID',
      problems.length === 1 ? (problems[0] ?? '') : `${file}: ${problems.length} YAML problems`,
      { details: problems.length === 1 ? [] : problems, data: { file } },
    );
  return { docs: list, lines };
}

/** The node at `path` (map keys, sequence indexes), or undefined. Aliases are not followed. */
export function nodeAt(root: unknown, path: YAMLPath): Node | undefined {
  let node: unknown = root;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!isSeq(node)) return undefined;
      node = node.items[step];
    } else {
      if (!isMap(node)) return undefined;
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === step);
      node = pair?.value ?? undefined;
    }
    if (node === undefined || node === null) return undefined;
  }
  return node as Node;
}

type Text = { readonly text: string; readonly node: Node } | { readonly alias: Node } | undefined;

/**
 * A scalar's text as written: `version: 1.10` is "1.10", not the number 1.1 (YAML 1.2 core schema
 * would read it as a float; Flux reads these fields as strings).
 */
function textAt(root: unknown, path: YAMLPath): Text {
  const node = nodeAt(root, path);
  if (node === undefined) return undefined;
  if (isAlias(node)) return { alias: node };
  if (!isScalar(node) || node.value === null) return undefined;
  const value = node.value;
  const text =
    typeof value === 'string'
      ? value
      : typeof node.source === 'string'
        ? node.source
        : JSON.stringify(value);
  return { text, node };
}

/** Flux post-build substitution (`${VERSION}`): the value is only known in the cluster. */
const SUBSTITUTION = /\$\{[^}]*\}/;

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function lastSegment(repository: string): string {
  const [path = '', chart] = repository.split('|');
  return chart ?? path.split('/').pop() ?? path;
}

/** oci://host/path + chart → oci://host/path/chart; http(s) Helm repositories → url|chart. */
function chartRepository(url: string, chart: string): string {
  return url.startsWith('oci://') ? `${trimSlash(url)}/${chart}` : `${trimSlash(url)}|${chart}`;
}

interface FluxObject {
  readonly file: string;
  readonly index: number;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
  /** `namespace/name`, or `name` when the object names no namespace. */
  readonly id: string;
  readonly line: number;
}

const GROUPS: Readonly<Record<string, string>> = {
  HelmRelease: 'helm.toolkit.fluxcd.io/',
  HelmRepository: 'source.toolkit.fluxcd.io/',
  OCIRepository: 'source.toolkit.fluxcd.io/',
  HelmChart: 'source.toolkit.fluxcd.io/',
  ResourceSet: 'fluxcd.controlplane.io/',
};

function objectId(namespace: string, name: string): string {
  return namespace === '' ? name : `${namespace}/${name}`;
}

function fluxObjects(files: readonly SourceFile[]): FluxObject[] {
  const objects: FluxObject[] = [];
  for (const file of files) {
    const { docs, lines } = parseYAMLFile(file.path, file.text);
    docs.forEach((doc, index) => {
      const root = doc.contents;
      const kind = textAt(root, ['kind']);
      const apiVersion = textAt(root, ['apiVersion']);
      if (!kind || !('text' in kind) || !apiVersion || !('text' in apiVersion)) return;
      const group = GROUPS[kind.text];
      if (group === undefined || !apiVersion.text.startsWith(group)) return;
      const name = textAt(root, ['metadata', 'name']);
      const namespace = textAt(root, ['metadata', 'namespace']);
      const nameText = name && 'text' in name ? name.text : '';
      const nsText = namespace && 'text' in namespace ? namespace.text : '';
      objects.push({
        file: file.path,
        index,
        doc,
        lines,
        kind: kind.text,
        name: nameText,
        namespace: nsText,
        id: objectId(nsText, nameText),
        line: lines.linePos(root?.range[0] ?? 0).line,
      });
    });
  }
  return objects;
}

function lineOf(object: FluxObject, node: Node | undefined): number {
  return node?.range ? object.lines.linePos(node.range[0]).line : object.line;
}

/**
 * The pins of already-read files (pure: findPins reads, this decides). Objects that cannot be
 * promoted — a value from `${substitution}`, an alias, a chart from a GitRepository, a reference to
 * an object not in these files — are listed in `skipped` with the reason.
 */
export function pinsInFiles(
  environment: string,
  files: readonly SourceFile[],
  rules: readonly ResourceSetInputRule[],
): PinsFound {
  const objects = fluxObjects(files);
  const skipped: PinSkip[] = [];
  const where = (o: FluxObject, node?: Node): string => `${o.file}:${lineOf(o, node)}`;
  const skip = (o: FluxObject, reason: string, node?: Node): void => {
    skipped.push({ where: where(o, node), reason: `${o.kind} ${escapeControl(o.id)}: ${reason}` });
  };
  /** Reads the fields, or skips the object when one is an alias or a substitution. */
  const read = (
    o: FluxObject,
    base: YAMLPath,
    fields: readonly string[],
  ): Record<string, { text: string; node: Node }> | undefined => {
    const out: Record<string, { text: string; node: Node }> = {};
    for (const field of fields) {
      const value = textAt(o.doc.contents, [...base, field]);
      if (value === undefined) continue;
      if ('alias' in value) {
        skip(
          o,
          `${[...base, field].join('.')} is a YAML alias; write the value itself`,
          value.alias,
        );
        return undefined;
      }
      if (SUBSTITUTION.test(value.text)) {
        skip(
          o,
          `${[...base, field].join('.')} is ${escapeControl(value.text)}, set by Flux variable substitution`,
          value.node,
        );
        return undefined;
      }
      out[field] = value;
    }
    return out;
  };

  const pins: Pin[] = [];
  const ociPins = new Map<string, { pin: Pin; via: string[] }>();
  const helmRepositories = new Map<string, FluxObject>();
  for (const o of objects) if (o.kind === 'HelmRepository') helmRepositories.set(o.id, o);

  for (const o of objects) {
    if (o.kind !== 'OCIRepository') continue;
    const spec = read(o, ['spec'], ['url']);
    const ref = spec && read(o, ['spec', 'ref'], ['tag', 'digest', 'semver']);
    if (!spec || !ref) continue;
    const url = spec.url;
    if (url === undefined || !url.text.startsWith('oci://')) {
      skip(o, 'spec.url is not an oci:// URL');
      continue;
    }
    const repository = trimSlash(url.text);
    const at = ref.tag ?? ref.semver ?? ref.digest;
    const pin: Pin = {
      environment,
      file: o.file,
      document: o.index,
      line: lineOf(o, at?.node),
      kind: 'OCIRepository',
      object: o.id,
      component: lastSegment(repository),
      repository,
      // Flux follows the range when one is set, whatever the tag says: then there is no exact pin.
      ...(ref.tag && !ref.semver ? { version: ref.tag.text } : {}),
      ...(ref.digest ? { digest: ref.digest.text } : {}),
      ...(ref.semver ? { semver: ref.semver.text } : {}),
      versionPath: ['spec', 'ref', 'tag'],
      digestPath: ['spec', 'ref', 'digest'],
      via: `OCIRepository ${o.id}`,
    };
    pins.push(pin);
    if (!ociPins.has(o.id)) ociPins.set(o.id, { pin, via: [] });
  }

  for (const o of objects) {
    if (o.kind !== 'HelmRelease') continue;
    const chartRef = read(o, ['spec', 'chartRef'], ['kind', 'name', 'namespace']);
    if (!chartRef) continue;
    if (chartRef.kind || chartRef.name) {
      const refId = objectId(chartRef.namespace?.text ?? o.namespace, chartRef.name?.text ?? '');
      const kind = chartRef.kind?.text ?? '';
      if (kind !== 'OCIRepository') {
        skip(o, `spec.chartRef names a ${escapeControl(kind)}; only OCIRepository is followed`);
        continue;
      }
      const target = ociPins.get(refId);
      if (target === undefined) {
        skip(
          o,
          `spec.chartRef names OCIRepository ${escapeControl(refId)}, which is not in the environment's files (or is not a pin)`,
        );
        continue;
      }
      target.via.push(`HelmRelease ${o.id}`);
      continue;
    }
    const base = ['spec', 'chart', 'spec'];
    const chart = read(o, base, ['chart', 'version']);
    const source = chart && read(o, [...base, 'sourceRef'], ['kind', 'name', 'namespace']);
    if (!chart || !source) continue;
    if (chart.chart === undefined) continue; // neither chart nor chartRef: not a release Flux runs
    const sourceKind = source.kind?.text ?? '';
    if (sourceKind !== 'HelmRepository') {
      skip(
        o,
        `the chart comes from a ${escapeControl(sourceKind || 'source of no kind')}, which has no version to promote`,
      );
      continue;
    }
    const repoId = objectId(source.namespace?.text ?? o.namespace, source.name?.text ?? '');
    const helmRepository = helmRepositories.get(repoId);
    if (helmRepository === undefined) {
      skip(
        o,
        `spec.chart.spec.sourceRef names HelmRepository ${escapeControl(repoId)}, which is not in the environment's files`,
      );
      continue;
    }
    const repoSpec = read(helmRepository, ['spec'], ['url', 'type']);
    if (!repoSpec) continue;
    if (repoSpec.url === undefined) {
      skip(helmRepository, 'spec.url is missing');
      continue;
    }
    const oci = repoSpec.type?.text === 'oci';
    const url = repoSpec.url.text;
    if (oci !== url.startsWith('oci://')) {
      skip(helmRepository, `spec.type ${oci ? 'oci' : 'default'} does not fit the URL`);
      continue;
    }
    const repository = chartRepository(url, chart.chart.text);
    // Helm's version field is a semver expression (default "*"): only an exact version is a pin
    // of one version; a range is reported as semver, as for an OCIRepository.
    const version = chart.version?.text;
    const exact = version !== undefined && tagVersion(version) !== undefined;
    pins.push({
      environment,
      file: o.file,
      document: o.index,
      line: lineOf(o, chart.version?.node ?? chart.chart.node),
      kind: 'HelmRelease',
      object: o.id,
      component: chart.chart.text,
      repository,
      ...(exact ? { version } : { semver: version ?? '*' }),
      versionPath: [...base, 'version'],
      via: `HelmRelease ${o.id} → HelmRepository ${helmRepository.id}`,
    });
  }

  for (const { pin, via } of ociPins.values())
    if (via.length > 0) {
      const index = pins.indexOf(pin);
      pins[index] = { ...pin, via: `${via.join(', ')} → ${pin.via}` };
    }

  for (const o of objects) {
    if (o.kind !== 'ResourceSet') continue;
    const inputs = nodeAt(o.doc.contents, ['spec', 'inputs']);
    if (!isSeq(inputs)) continue;
    const taken = new Set<number>();
    for (const rule of rules) {
      if (rule.resourceSet !== undefined && rule.resourceSet !== o.name) continue;
      inputs.items.forEach((_item, i) => {
        if (taken.has(i)) return;
        const base = ['spec', 'inputs', i];
        const fields = [
          rule.versionField,
          ...(rule.repositoryField ? [rule.repositoryField] : []),
          ...(rule.chartField ? [rule.chartField] : []),
          ...(rule.digestField ? [rule.digestField] : []),
        ];
        if (nodeAt(o.doc.contents, [...base, rule.versionField]) === undefined) return;
        const input = read(o, base, fields);
        if (!input) {
          taken.add(i);
          return;
        }
        const version = input[rule.versionField];
        if (version === undefined) return;
        const repoValue = rule.repository ?? input[rule.repositoryField ?? '']?.text;
        const chart = rule.chartField ? input[rule.chartField]?.text : undefined;
        if (repoValue === undefined || (rule.chartField !== undefined && chart === undefined)) {
          skip(
            o,
            `inputs[${i}] has ${rule.versionField} but no ${repoValue === undefined ? rule.repositoryField : rule.chartField}`,
            version.node,
          );
          taken.add(i);
          return;
        }
        const repository =
          chart === undefined ? trimSlash(repoValue) : chartRepository(repoValue, chart);
        const digest = rule.digestField ? input[rule.digestField] : undefined;
        const key: Record<string, string> = {};
        if (rule.repositoryField && input[rule.repositoryField])
          key[rule.repositoryField] = repoValue;
        if (rule.chartField && chart !== undefined) key[rule.chartField] = chart;
        taken.add(i);
        pins.push({
          environment,
          file: o.file,
          document: o.index,
          line: lineOf(o, version.node),
          kind: 'ResourceSet',
          object: o.id,
          component: lastSegment(repository),
          repository,
          version: version.text,
          ...(digest ? { digest: digest.text } : {}),
          versionPath: [...base, rule.versionField],
          ...(rule.digestField ? { digestPath: [...base, rule.digestField] } : {}),
          via: `ResourceSet ${o.id} inputs[${i}]`,
          inputKey: key,
        });
      });
    }
  }
  pins.sort((a, b) =>
    a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.document - b.document || a.line - b.line,
  );
  return { pins, skipped };
}

/** What a pin holds in one version of its file. */
export interface PinValue {
  readonly version?: string;
  readonly digest?: string;
  readonly semver?: string;
}

/**
 * The value `pin` has in another version of its file (history.ts): the object is found again by
 * kind and name (documents may have moved), a ResourceSet input by its repository and chart
 * fields (inputs may be reordered). Undefined when the object or input is not there, or the text
 * does not parse.
 */
export function pinValueIn(text: string, pin: Pin): PinValue | undefined {
  let parsed: Parsed;
  try {
    parsed = parseYAMLFile(pin.file, text);
  } catch {
    return undefined;
  }
  return pinValueInDocs(parsed.docs, pin);
}

export function pinValueInDocs(docs: readonly Document.Parsed[], pin: Pin): PinValue | undefined {
  const doc = docs.find((d) => {
    const kind = textAt(d.contents, ['kind']);
    if (!kind || !('text' in kind) || kind.text !== pin.kind) return false;
    const name = textAt(d.contents, ['metadata', 'name']);
    const ns = textAt(d.contents, ['metadata', 'namespace']);
    return (
      objectId(ns && 'text' in ns ? ns.text : '', name && 'text' in name ? name.text : '') ===
      pin.object
    );
  });
  if (doc === undefined) return undefined;
  const value = (path: YAMLPath | undefined): string | undefined => {
    if (path === undefined) return undefined;
    const found = textAt(doc.contents, path);
    return found && 'text' in found ? found.text : undefined;
  };
  let versionPath = pin.versionPath;
  let digestPath = pin.digestPath;
  if (pin.kind === 'ResourceSet') {
    const inputs = nodeAt(doc.contents, ['spec', 'inputs']);
    if (!isSeq(inputs)) return undefined;
    const at = pin.versionPath[2];
    const key = Object.entries(pin.inputKey ?? {});
    const matches = inputs.items
      .map((_item, i) => i)
      .filter((i) => key.every(([field, want]) => value(['spec', 'inputs', i, field]) === want));
    const index = key.length === 0 ? at : matches.includes(at as number) ? at : matches[0];
    if (typeof index !== 'number' || index >= inputs.items.length) return undefined;
    const swap = (path: YAMLPath | undefined): YAMLPath | undefined =>
      path && [...path.slice(0, 2), index, ...path.slice(3)];
    versionPath = swap(versionPath) ?? versionPath;
    digestPath = swap(digestPath);
  }
  const version = value(versionPath);
  const digest = value(digestPath);
  if (pin.kind === 'OCIRepository') {
    const semver = value(['spec', 'ref', 'semver']);
    return {
      ...(version !== undefined && semver === undefined ? { version } : {}),
      ...(digest !== undefined ? { digest } : {}),
      ...(semver !== undefined ? { semver } : {}),
    };
  }
  if (pin.kind === 'HelmRelease') {
    const exact = version !== undefined && tagVersion(version) !== undefined;
    return exact ? { version } : { semver: version ?? '*' };
  }
  return {
    ...(version !== undefined ? { version } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}
