// `fleet check --offline` (issue 10 §6): each cluster of a fleet rendered as `fleet render` renders
// it (./render.ts), then the rendered objects checked for what would stop the cluster from
// converging, or would let it run something unverified:
//
// - verify-missing / verify-key-missing: every OCIRepository verifies its artifact with cosign,
//   with a key Secret that is in the rendered set, or with a complete keyless identity
//   (flux-oci.md §2: without spec.verify source-controller applies any artifact it pulls);
// - depends-on-missing / depends-on-cycle / ready-expr-invalid: dependsOn of Kustomizations,
//   HelmReleases and ResourceSets (flux-oci.md §4, resourceset.md §1.7): a missing target or a
//   cycle blocks the dependants forever (neither controller detects cycles), and a readyExpr
//   that does not parse is terminal (InvalidCELExpression, Stalled);
// - copy-from-missing: the operator's copyFrom needs its source (resourceset.md §1.7);
// - service-account-missing: a multitenant FluxInstance expects every tenant Flux object to
//   impersonate a ServiceAccount of its own namespace (resourceset.md §3);
// - flux-instance-invalid: the FluxInstance fields the operator and the isolated architecture
//   require (resourceset.md §3, docs/architecture.md);
// - artifact-missing / artifact-unverified / source-invalid (online): the artifact each
//   OCIRepository (and each OCI HelmRepository chart) selects exists and verifies with exactly
//   the policy its spec.verify declares (./sources.ts);
// - source-unresolved: what a render could not follow (warnings: it is not pulled).
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AirlockError } from '../errors.ts';
import { escapeControl } from '../core/index.ts';
import { readCacheConfig } from '../images/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import type { FleetFinding } from './findings.ts';
import {
  groupVersionKind,
  nestedString,
  nestedStringMap,
  objectName,
  objectNamespace,
} from './objects.ts';
import { type FleetRender, renderFleet } from './render.ts';
import type { FleetSourceOptions } from './sources.ts';
import { checkAdmissionPolicies } from './admission.ts';
import { checkSchemas } from './schema.ts';
import { celLib } from './cel.ts';
import { checkIsolation, type IsolationOptions, registryImageHolder } from './isolation.ts';

export interface CheckFleetOptions {
  /** The fleet repository. */
  readonly dir: string;
  /** One cluster (clusters/NAME); exactly one of cluster and all. */
  readonly cluster?: string;
  /** Every directory under clusters/ that holds manifests. */
  readonly all?: boolean;
  /** A kustomize or kubectl binary (default: PATH). */
  readonly kustomizeBin?: string;
  /** Check the fleet directory only: no registry is touched (artifacts are not verified). */
  readonly offline?: boolean;
  /** How OCI sources are reached and verified (online checks). */
  readonly sources?: FleetSourceOptions;
  /** A helm binary for HelmReleases (default: helm on PATH). */
  readonly helmBin?: string;
  /** The environment for finding and running kustomize (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The isolation checks (./isolation.ts): images against the cache rules (and, online, the
   * private registry), egress policies per namespace, Cilium and Kyverno in the first phase.
   */
  readonly isolation?: {
    /** cache.yaml: the upstream registries and the private paths they are cached under. */
    readonly cacheFile: string;
    readonly privateRegistries?: IsolationOptions['privateRegistries'];
  };
}

export interface FleetClusterCheck {
  readonly cluster: string;
  readonly findings: FleetFinding[];
  /** How many objects the cluster renders. */
  readonly objects: number;
  /** How many OCI sources were followed and verified (online). */
  readonly sources: number;
  /** Milliseconds spent in kustomize and helm processes. */
  readonly toolMs: number;
}

export interface FleetCheck {
  readonly clusters: FleetClusterCheck[];
  /** Whether any finding is an error (the command exits 3). */
  readonly failed: boolean;
}

const COPY_FROM = 'fluxcd.controlplane.io/copyFrom';
const OPERATOR = 'fluxcd.controlplane.io';
const SOURCE = 'source.toolkit.fluxcd.io';
const KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const HELM = 'helm.toolkit.fluxcd.io';

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');
const q = (text: string): string => JSON.stringify(escapeControl(text));

/** Kind/namespace/name (Kind/name when cluster-scoped), control characters escaped. */
const display = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);

/** One rendered object with where it came from. */
interface Entry {
  readonly object: GoMap;
  readonly appliedBy: string;
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Kind/namespace/name as findings show it. */
  readonly id: string;
  /** group/Kind/namespace/name: what dependsOn edges join on. */
  readonly key: string;
}

const keyOf = (group: string, kind: string, namespace: string, name: string): string =>
  JSON.stringify([group, kind, namespace, name]);

/**
 * CEL as Flux parses it (fluxcd/pkg runtime/cel: OptionalTypes, Strings, Sets, Encoders; parse
 * only, resourceset.md §1.7). The extensions are functions and parse as any call does; the
 * optional syntax (`a.?b`, `a[?k]`, `[?x]`, `{?k: v}`) is not in @bufbuild/cel's grammar, so each
 * such `?` — one that follows `.`, `[`, `{` or `,`, where a conditional's `?` cannot stand — is
 * read as a blank before parsing (same offsets), as are comments. Strings are skipped.
 * Returns the parser's message, or undefined when the expression parses.
 */
export function celParseError(expression: string): string | undefined {
  const text = expression;
  const blanks: number[] = [];
  let previous = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '/' && text.charAt(i + 1) === '/') {
      // Comments are CEL (cel-go's grammar hides them); @bufbuild/cel refuses one at the end.
      while (i < text.length && text.charAt(i) !== '\n') blanks.push(i++);
      continue;
    }
    if (c === '"' || c === "'") {
      const raw = /[rR]/.test(text.charAt(i - 1)) || /[rR]/.test(text.charAt(i - 2));
      const close = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += close.length;
      while (i < text.length && !text.startsWith(close, i))
        i += text.charAt(i) === '\\' && !raw ? 2 : 1;
      i += close.length - 1;
      previous = c;
      continue;
    }
    if (/\s/.test(c)) continue;
    if (c === '?' && ['.', '[', '{', ','].includes(previous)) blanks.push(i);
    previous = c;
  }
  let parsed = text;
  for (const i of blanks) parsed = `${parsed.slice(0, i)} ${parsed.slice(i + 1)}`;
  try {
    celLib().parse(parsed);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.replace(/^<input>:/, '') : String(error);
  }
}

class ClusterChecker {
  readonly findings: FleetFinding[] = [];
  readonly #entries: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();
  /** Secrets the cluster has before the fleet syncs: the FluxInstance's sync pull secret. */
  readonly #external = new Set<string>();
  readonly #instances: Entry[];
  readonly render: FleetRender;

  constructor(render: FleetRender) {
    this.render = render;
    for (const group of render.groups)
      for (const object of group.objects) {
        const { group: apiGroup, kind } = groupVersionKind(object);
        const namespace = objectNamespace(object);
        const name = objectName(object);
        const entry: Entry = {
          object,
          appliedBy: group.appliedBy,
          group: apiGroup,
          kind,
          namespace,
          name,
          id: display(kind, namespace, name),
          key: keyOf(apiGroup, kind, namespace, name),
        };
        this.#entries.push(entry);
        // The last one applied wins, as in the cluster.
        this.#byKey.set(entry.key, entry);
      }
    this.#instances = this.#of(OPERATOR, 'FluxInstance');
    for (const instance of this.#instances) {
      // resourceset.md §6: the sync pull secret comes from bootstrap, outside the fleet.
      const pullSecret = str(field(field(instance.object.get('spec'), 'sync'), 'pullSecret'));
      if (pullSecret !== '')
        this.#external.add(keyOf('', 'Secret', instance.namespace || 'flux-system', pullSecret));
    }
  }

  #of(group: string, kind: string): Entry[] {
    return this.#entries.filter((e) => e.group === group && e.kind === kind);
  }

  #add(
    severity: FleetFinding['severity'],
    rule: string,
    entry: Pick<Entry, 'id' | 'appliedBy'>,
    fieldPath: string,
    message: string,
  ): void {
    this.findings.push({
      rule,
      object: entry.id,
      appliedBy: escapeControl(entry.appliedBy),
      field: escapeControl(fieldPath),
      message,
      severity,
    });
  }

  /** A Flux object's namespace as the render places it (none: default). */
  static #ns(entry: Entry): string {
    return entry.namespace || 'default';
  }

  /** A v1 ConfigMap or Secret in the rendered set (one without a namespace lands anywhere). */
  #core(kind: string, namespace: string, name: string): Entry | undefined {
    return this.#entries.findLast(
      (e) =>
        e.group === '' &&
        nestedString(e.object, 'apiVersion') === 'v1' &&
        e.kind === kind &&
        e.name === name &&
        (e.namespace === '' || e.namespace === namespace),
    );
  }

  /** Whether a Secret will exist: rendered (and, when copied, its source too) or bootstrapped. */
  #secretExists(namespace: string, name: string): boolean {
    if (this.#external.has(keyOf('', 'Secret', namespace, name))) return true;
    const secret = this.#core('Secret', namespace, name);
    if (secret === undefined) return false;
    const from = nestedStringMap(secret.object, 'metadata', 'annotations')?.get(COPY_FROM);
    if (from === undefined) return true;
    const parts = from.split('/');
    if (parts.length !== 2) return false;
    const [ns = '', n = ''] = parts;
    return (
      this.#external.has(keyOf('', 'Secret', ns, n)) || this.#core('Secret', ns, n) !== undefined
    );
  }

  run(): FleetFinding[] {
    this.#verify();
    this.#dependsOn();
    this.#copyFrom();
    this.#serviceAccounts();
    this.#fluxInstances();
    this.#unresolved();
    return this.findings;
  }

  // flux-oci.md §2: spec.verify {provider: cosign, secretRef | matchOIDCIdentity[]}.
  #verify(): void {
    for (const e of this.#of(SOURCE, 'OCIRepository')) {
      const verify = field(e.object.get('spec'), 'verify');
      if (!isGoMap(verify)) {
        this.#add(
          'error',
          'verify-missing',
          e,
          'spec.verify',
          'no spec.verify: source-controller would apply whatever artifact it pulls; verify it with cosign (a key secretRef or matchOIDCIdentity)',
        );
        continue;
      }
      const provider = str(verify.get('provider'));
      if (provider !== 'cosign')
        this.#add(
          'error',
          'verify-missing',
          e,
          'spec.verify.provider',
          `provider is ${q(provider)}: the fleet verifies artifacts with cosign`,
        );
      const secret = str(field(verify.get('secretRef'), 'name'));
      const identities = verify.get('matchOIDCIdentity');
      if (secret !== '') {
        const namespace = ClusterChecker.#ns(e);
        if (!this.#secretExists(namespace, secret))
          this.#add(
            'error',
            'verify-key-missing',
            e,
            'spec.verify.secretRef.name',
            `the key Secret ${display('Secret', namespace, secret)} is not in the rendered set (nor copied from one that is)`,
          );
        continue;
      }
      if (!Array.isArray(identities) || identities.length === 0) {
        this.#add(
          'error',
          'verify-missing',
          e,
          'spec.verify',
          'neither secretRef nor matchOIDCIdentity: keyless verification without an identity accepts any signer; name the key Secret or the issuer and subject',
        );
        continue;
      }
      identities.forEach((identity, i) => {
        for (const key of ['issuer', 'subject'])
          if (str(field(identity, key)) === '')
            this.#add(
              'error',
              'verify-missing',
              e,
              `spec.verify.matchOIDCIdentity[${i}].${key}`,
              `the identity has no ${key} pattern`,
            );
      });
    }
  }

  #dependsOn(): void {
    /** Edges of the graph: from key → [target key, field]. */
    const edges = new Map<string, { to: string; field: string }[]>();
    const byKeyEntry = new Map<string, Entry>();
    const addEdge = (from: Entry, to: string, fieldPath: string): void => {
      byKeyEntry.set(from.key, from);
      const list = edges.get(from.key) ?? [];
      list.push({ to, field: fieldPath });
      edges.set(from.key, list);
    };
    const checkExpr = (e: Entry, fieldPath: string, expr: GoValue | undefined, used: boolean) => {
      if (typeof expr !== 'string' || expr === '') return;
      const problem = celParseError(expr);
      if (problem !== undefined)
        this.#add(
          used ? 'error' : 'warning',
          'ready-expr-invalid',
          e,
          fieldPath,
          `readyExpr does not parse as CEL (${escapeControl(problem)})${used ? '' : '; it is used only with ready: true'}`,
        );
    };
    // Kustomization and HelmRelease: {name, namespace?, readyExpr?}, same kind (flux-oci.md §4).
    for (const [group, kind] of [
      [KUSTOMIZE, 'Kustomization'],
      [HELM, 'HelmRelease'],
    ] as const)
      for (const e of this.#of(group, kind)) {
        const list = field(e.object.get('spec'), 'dependsOn');
        if (!Array.isArray(list)) continue;
        list.forEach((dep, i) => {
          const at = `spec.dependsOn[${i}]`;
          const name = str(field(dep, 'name'));
          const namespace = str(field(dep, 'namespace')) || ClusterChecker.#ns(e);
          checkExpr(e, `${at}.readyExpr`, field(dep, 'readyExpr'), true);
          const target = this.#target(group, kind, namespace, name);
          if (target === undefined)
            this.#add(
              'error',
              'depends-on-missing',
              e,
              at,
              `depends on ${display(kind, namespace, name)}, which is not in the rendered set: it would wait forever`,
            );
          else addEdge(e, target.key, at);
        });
      }
    // ResourceSet: {apiVersion, kind, name, namespace?, ready?, readyExpr?} (resourceset.md §1).
    for (const e of this.#of(OPERATOR, 'ResourceSet')) {
      const list = field(e.object.get('spec'), 'dependsOn');
      if (!Array.isArray(list)) continue;
      list.forEach((dep, i) => {
        const at = `spec.dependsOn[${i}]`;
        const apiVersion = str(field(dep, 'apiVersion'));
        const kind = str(field(dep, 'kind'));
        const name = str(field(dep, 'name'));
        const namespace = str(field(dep, 'namespace'));
        const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
        checkExpr(e, `${at}.readyExpr`, field(dep, 'readyExpr'), field(dep, 'ready') === true);
        const target = this.#target(group, kind, namespace, name);
        if (target !== undefined) {
          addEdge(e, target.key, at);
          return;
        }
        const crd = kind === 'CustomResourceDefinition';
        this.#add(
          crd ? 'warning' : 'error',
          'depends-on-missing',
          e,
          at,
          crd
            ? `depends on the CRD ${escapeControl(name)}, which is not in the rendered set (a chart or artifact the offline render does not follow may install it)`
            : `depends on ${display(kind, namespace, name)}, which is not in the rendered set: it would wait forever`,
        );
      });
    }
    this.#cycles(edges, byKeyEntry);
  }

  #target(group: string, kind: string, namespace: string, name: string): Entry | undefined {
    const exact = this.#byKey.get(keyOf(group, kind, namespace, name));
    if (exact !== undefined) return exact;
    // A namespaced object rendered without a namespace lands in the default namespace.
    if (namespace === 'default') return this.#byKey.get(keyOf(group, kind, '', name));
    return undefined;
  }

  /** Each strongly connected component with a cycle, reported once with one cycle's path. */
  #cycles(edges: Map<string, { to: string; field: string }[]>, entries: Map<string, Entry>): void {
    const idOf = (key: string): string => entries.get(key)?.id ?? this.#byKey.get(key)?.id ?? key;
    // Tarjan's algorithm, iterative so a long chain cannot overflow the stack.
    let counter = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const components: string[][] = [];
    const nodes = [...edges.keys()].sort();
    for (const root of nodes) {
      if (index.has(root)) continue;
      const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
      index.set(root, counter);
      low.set(root, counter++);
      stack.push(root);
      onStack.add(root);
      while (work.length > 0) {
        const frame = work[work.length - 1];
        if (frame === undefined) break;
        const out = edges.get(frame.node) ?? [];
        const edge = out[frame.next++];
        if (edge !== undefined) {
          if (!index.has(edge.to)) {
            index.set(edge.to, counter);
            low.set(edge.to, counter++);
            stack.push(edge.to);
            onStack.add(edge.to);
            work.push({ node: edge.to, next: 0 });
          } else if (onStack.has(edge.to))
            low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(edge.to) ?? 0));
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent !== undefined)
          low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
        if (low.get(frame.node) === index.get(frame.node)) {
          const component: string[] = [];
          for (;;) {
            const n = stack.pop();
            if (n === undefined) break;
            onStack.delete(n);
            component.push(n);
            if (n === frame.node) break;
          }
          components.push(component);
        }
      }
    }
    for (const component of components) {
      const members = new Set(component);
      const start = [...component].sort((a, b) => (idOf(a) < idOf(b) ? -1 : 1))[0];
      if (start === undefined) continue;
      const selfLoop = (edges.get(start) ?? []).find((e) => e.to === start);
      if (component.length === 1 && selfLoop === undefined) continue;
      // The shortest way back to start inside the component (breadth first).
      const came = new Map<string, { from: string; field: string }>();
      let end: { from: string; field: string } | undefined;
      const queue = [start];
      while (queue.length > 0 && end === undefined) {
        const node = queue.shift() ?? '';
        for (const edge of edges.get(node) ?? []) {
          if (!members.has(edge.to)) continue;
          if (edge.to === start) {
            end = { from: node, field: edge.field };
            break;
          }
          if (!came.has(edge.to)) {
            came.set(edge.to, { from: node, field: edge.field });
            queue.push(edge.to);
          }
        }
      }
      if (end === undefined) continue;
      const path: string[] = [];
      for (let n = end.from; n !== start; n = came.get(n)?.from ?? start) path.unshift(n);
      path.unshift(start);
      const second = path[1];
      const first = second === undefined ? end.field : (came.get(second)?.field ?? end.field);
      const entry = entries.get(start);
      if (entry === undefined) continue;
      this.#add(
        'error',
        'depends-on-cycle',
        entry,
        first,
        `dependsOn cycle: ${[...path, start].map(idOf).join(' → ')}; none of them would ever become ready`,
      );
    }
  }

  // resourceset.md §1.7: v1 ConfigMaps and Secrets only; "<namespace>/<name>", exactly 2 parts.
  #copyFrom(): void {
    for (const e of this.#entries) {
      const from = nestedStringMap(e.object, 'metadata', 'annotations')?.get(COPY_FROM);
      if (from === undefined) continue;
      const at = `metadata.annotations[${COPY_FROM}]`;
      const v1 = nestedString(e.object, 'apiVersion') === 'v1';
      if (!v1 || (e.kind !== 'ConfigMap' && e.kind !== 'Secret')) {
        this.#add(
          'warning',
          'copy-from-missing',
          e,
          at,
          'the operator copies into v1 ConfigMaps and Secrets only: this annotation is ignored',
        );
        continue;
      }
      const parts = from.split('/');
      const [namespace = '', name = ''] = parts;
      if (parts.length !== 2 || namespace === '' || name === '') {
        this.#add('error', 'copy-from-missing', e, at, `${q(from)} is not <namespace>/<name>`);
        continue;
      }
      const exists =
        this.#core(e.kind, namespace, name) !== undefined ||
        (e.kind === 'Secret' && this.#external.has(keyOf('', 'Secret', namespace, name)));
      if (!exists)
        this.#add(
          'error',
          'copy-from-missing',
          e,
          at,
          `copies from ${display(e.kind, namespace, name)}, which is not in the rendered set: the operator would fail to apply it`,
        );
    }
  }

  // resourceset.md §3: spec.cluster.multitenant locks tenants to their own ServiceAccounts.
  #serviceAccounts(): void {
    const multitenant = this.#instances.filter(
      (i) => field(field(i.object.get('spec'), 'cluster'), 'multitenant') === true,
    );
    const instance = multitenant[0];
    if (instance === undefined) return;
    const system = instance.namespace || 'flux-system';
    const fallback = str(
      field(field(instance.object.get('spec'), 'cluster'), 'tenantDefaultServiceAccount'),
    );
    for (const e of [...this.#of(KUSTOMIZE, 'Kustomization'), ...this.#of(HELM, 'HelmRelease')]) {
      const namespace = ClusterChecker.#ns(e);
      if (namespace === system) continue;
      const account = str(field(e.object.get('spec'), 'serviceAccountName'));
      if (account === '') {
        this.#add(
          'error',
          'service-account-missing',
          e,
          'spec.serviceAccountName',
          `a tenant ${escapeControl(e.kind)} in a multitenant cluster names the ServiceAccount it applies as${fallback === '' ? '' : ` (else the controller falls back to ${q(fallback)})`}`,
        );
        continue;
      }
      const found = this.#entries.some(
        (s) =>
          s.group === '' &&
          s.kind === 'ServiceAccount' &&
          s.name === account &&
          (s.namespace === namespace || s.namespace === ''),
      );
      if (!found)
        this.#add(
          'warning',
          'service-account-missing',
          e,
          'spec.serviceAccountName',
          `the ServiceAccount ${display('ServiceAccount', namespace, account)} is not in the rendered set`,
        );
    }
  }

  // resourceset.md §3 and the isolated architecture: Flux from the private registry, synced from OCI.
  #fluxInstances(): void {
    for (const e of this.#instances) {
      const spec = e.object.get('spec');
      if (e.name !== 'flux')
        this.#add(
          'error',
          'flux-instance-invalid',
          e,
          'metadata.name',
          `the operator reconciles only a FluxInstance named "flux", not ${q(e.name)}`,
        );
      for (const key of ['version', 'registry'])
        if (str(field(field(spec, 'distribution'), key)) === '')
          this.#add(
            'error',
            'flux-instance-invalid',
            e,
            `spec.distribution.${key}`,
            `spec.distribution.${key} is required`,
          );
      const sync = field(spec, 'sync');
      if (!isGoMap(sync)) {
        this.#add('error', 'flux-instance-invalid', e, 'spec.sync', 'spec.sync is required');
        continue;
      }
      const kind = str(sync.get('kind'));
      if (kind === 'GitRepository')
        this.#add(
          'warning',
          'flux-instance-invalid',
          e,
          'spec.sync.kind',
          'the isolated architecture syncs from an OCIRepository in the private registry, not from Git',
        );
      else if (kind !== 'OCIRepository')
        this.#add(
          'error',
          'flux-instance-invalid',
          e,
          'spec.sync.kind',
          `spec.sync.kind is ${q(kind)}: the fleet is synced from an OCIRepository`,
        );
      const url = str(sync.get('url'));
      if (kind === 'OCIRepository' && !url.startsWith('oci://'))
        this.#add(
          'error',
          'flux-instance-invalid',
          e,
          'spec.sync.url',
          `spec.sync.url ${q(url)} is not an oci:// URL`,
        );
    }
  }

  #unresolved(): void {
    for (const u of this.render.unresolved) {
      const entry = this.#entries.find((e) => e.id === u.object);
      const kind = u.object.slice(0, u.object.indexOf('/'));
      const fieldPath = u.reason.startsWith('suspended')
        ? 'spec.suspend'
        : kind === 'ResourceSet'
          ? 'spec.inputsFrom'
          : kind === 'HelmRelease'
            ? u.source.includes(' chart ')
              ? 'spec.chart.spec.sourceRef'
              : 'spec.chartRef'
            : 'spec.sourceRef';
      this.#add(
        'warning',
        'source-unresolved',
        { id: escapeControl(u.object), appliedBy: entry?.appliedBy ?? '' },
        fieldPath,
        `needs ${escapeControl(u.source)}: ${escapeControl(u.reason)}`,
      );
    }
  }
}

const SOURCE_RULES: Readonly<Record<string, string>> = {
  REGISTRY_NOT_FOUND: 'artifact-missing',
  VERIFICATION_FAILED: 'artifact-unverified',
};

/** Each followed source that is missing or does not verify with its own policy. */
function sourceFindings(render: FleetRender): FleetFinding[] {
  const appliers = new Map<string, string>();
  for (const group of render.groups)
    for (const o of group.objects)
      appliers.set(
        display(nestedString(o, 'kind'), objectNamespace(o) || 'default', objectName(o)),
        group.appliedBy,
      );
  return render.sources.flatMap((source): FleetFinding[] => {
    const failure = source.failure;
    if (failure === undefined) return [];
    const appliedBy = appliers.get(source.object);
    return [
      {
        rule: SOURCE_RULES[failure.code] ?? 'source-invalid',
        object: source.object,
        ...(appliedBy === undefined ? {} : { appliedBy: escapeControl(appliedBy) }),
        field: escapeControl(failure.field),
        message: escapeControl(
          [`${source.pulledFrom}: ${failure.message}`, ...failure.details].join('; '),
        ),
        severity: 'error',
      },
    ];
  });
}

/** Each finding with the file (and artifact) its object came from, the last applied winning. */
function withFiles(findings: FleetFinding[], render: FleetRender): FleetFinding[] {
  const origins = new Map<string, { file: string; source?: string }>();
  for (const group of render.groups)
    group.objects.forEach((object, index) => {
      const file = group.files?.[index];
      if (file === undefined) return;
      const kind = nestedString(object, 'kind');
      const origin = {
        file: escapeControl(file),
        ...(group.source === undefined ? {} : { source: escapeControl(group.source) }),
      };
      // Findings name namespaced objects with their namespace (default when none is set).
      origins.set(display(kind, objectNamespace(object), objectName(object)), origin);
      origins.set(display(kind, objectNamespace(object) || 'default', objectName(object)), origin);
    });
  return findings.map((finding) => {
    const origin = origins.get(finding.object);
    return origin === undefined ? finding : { ...finding, ...origin };
  });
}

/** The checks on one rendered cluster (pure: the render in, findings out). */
export function checkRender(render: FleetRender): FleetFinding[] {
  return withFiles(checkFindings(render), render);
}

function checkFindings(render: FleetRender): FleetFinding[] {
  // The fleet's own ValidatingAdmissionPolicies (the D2 allowlist), evaluated with their CEL.
  return [
    ...new ClusterChecker(render).run(),
    ...sourceFindings(render),
    ...checkAdmissionPolicies(render.groups),
    // Structural CRD rules (required fields, enums, duration patterns); see schema.ts.
    ...checkSchemas(render.groups),
  ];
}

/** Directories under clusters/ holding a manifest (a FluxInstance or any *.yaml), sorted. */
async function clusterNames(dir: string): Promise<string[]> {
  const root = join(resolve(dir), 'clusters');
  const entries = await readdir(root, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined)
    throw new AirlockError('INPUT_INVALID', `${escapeControl(dir)} has no clusters/ directory`, {
      details: ['a fleet has one directory per cluster under clusters/'],
      data: { option: 'dir' },
    });
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const files = await readdir(join(root, entry.name), { recursive: true, withFileTypes: true });
    if (files.some((f) => f.isFile() && /\.ya?ml$/.test(f.name))) names.push(entry.name);
  }
  if (names.length === 0)
    throw new AirlockError(
      'INPUT_INVALID',
      `${escapeControl(dir)}: no cluster under clusters/ has manifests`,
      {
        data: { option: 'dir' },
      },
    );
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Renders each cluster offline and checks it; failed when any finding is an error. */
export async function checkFleet(options: CheckFleetOptions): Promise<FleetCheck> {
  const offline = options.offline === true;
  if (!offline && options.sources === undefined)
    throw new AirlockError(
      'INPUT_INVALID',
      'checking online verifies every artifact in the registry: it needs a registry session',
      { data: { option: 'offline' } },
    );
  const all = options.all === true;
  if (all === (options.cluster !== undefined))
    throw new AirlockError(
      'INPUT_INVALID',
      all ? 'name one cluster or all of them, not both' : 'name a cluster, or check all of them',
      { data: { option: all ? 'all' : 'cluster' } },
    );
  const names = all ? await clusterNames(options.dir) : [options.cluster ?? ''];
  const isolationOptions: IsolationOptions | undefined =
    options.isolation === undefined
      ? undefined
      : {
          cache: await readCacheConfig(options.isolation.cacheFile),
          ...(options.isolation.privateRegistries === undefined
            ? {}
            : { privateRegistries: options.isolation.privateRegistries }),
        };
  const clusters: FleetClusterCheck[] = [];
  for (const cluster of names) {
    const render = await renderFleet({
      dir: options.dir,
      cluster,
      offline,
      // A source that is missing or fails verification is a finding here, not a stop.
      sourceFailures: 'report',
      ...(options.sources === undefined || offline ? {} : { sources: options.sources }),
      ...(options.helmBin === undefined ? {} : { helmBin: options.helmBin }),
      ...(options.kustomizeBin === undefined ? {} : { kustomizeBin: options.kustomizeBin }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    const isolation =
      isolationOptions === undefined
        ? []
        : withFiles(
            await checkIsolation(
              render.groups,
              isolationOptions,
              offline || options.sources === undefined
                ? undefined
                : registryImageHolder(options.sources),
            ),
            render,
          );
    clusters.push({
      cluster,
      findings: [...checkRender(render), ...isolation],
      objects: render.objects,
      sources: render.sources.length,
      toolMs: render.toolMs,
    });
  }
  return {
    clusters,
    failed: clusters.some((c) => c.findings.some((f) => f.severity === 'error')),
  };
}
