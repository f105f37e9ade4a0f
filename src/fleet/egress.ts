// `policy cilium` (issue 12 §4): one CiliumNetworkPolicy per namespace that runs workloads in a
// rendered cluster, closing egress to what that namespace needs (the isolated seed, "Network
// Isolation with Cilium": every component namespace has policies that restrict egress to the
// required destinations, installed before any workload).
//
// Each policy selects every endpoint of its namespace (endpointSelector: {}) and has egress rules,
// which puts those endpoints into default deny for egress: Cilium drops what no rule allows
// (enableDefaultDeny.egress defaults to true). The rules allow:
//
// 1. DNS to the cluster DNS pods, UDP and TCP port 53, with the DNS visibility rule
//    (`rules.dns: [{matchPattern: "*"}]`): Cilium's DNS proxy then learns which addresses the
//    names resolve to, which toFQDNs rules need. Where the DNS pods run (dnsEndpoint): egress.yaml's
//    `dns`, else what the render shows — a Service, then a Deployment, named coredns or kube-dns
//    or labelled k8s-app: kube-dns or coredns (or app.kubernetes.io/name: coredns), with the
//    Service's selector or the Deployment's matchLabels; then a Namespace named coredns or kube-dns
//    the fleet creates, or a HelmRelease named coredns (or a Kustomization named coredns with a
//    targetNamespace), whose pods are not seen offline: every pod of that namespace, port 53
//    only — else Kubernetes' default, k8s-app: kube-dns in kube-system;
// 2. every pod of the policy's own namespace (a backend and its redis), all ports;
// 3. the Kubernetes API (toEntities: kube-apiserver) where a workload needs it. Heuristic: a pod
//    of the namespace runs with a ServiceAccount token (automountServiceAccountToken not false on
//    the pod or the ServiceAccount) and that ServiceAccount is a subject of a RoleBinding or
//    ClusterRoleBinding in the rendered fleet (by name, or through the system:serviceaccounts
//    groups): it was given permissions, so it calls the API. A pod without a bound account gets
//    no API access; egress.yaml's `kubeAPI` overrides either way. The namespace of a FluxInstance
//    always gets it (the operator and the Flux controllers run there);
// 4. the private registry, only where a workload itself talks to it. Images are pulled by the
//    kubelet on the node, not from the pod's network, so a namespace does not need the registry to
//    start its pods. The Flux controllers do (they pull OCI artifacts and charts): the namespace
//    of a FluxInstance gets the registry hosts — the cache rules' `to` hosts, and every host an
//    OCIRepository, OCI HelmRepository or the FluxInstance's distribution names in the rendered
//    fleet — and any namespace with `registry: true` in egress.yaml (Kyverno, when it verifies
//    images, reads signatures from the registry);
// 5. what egress.yaml declares for the namespace (FQDNs, name patterns, CIDRs, other namespaces'
//    pods, in-cluster entities, ports).
//
// kube-system, kube-public, kube-node-lease and the namespace the cluster DNS runs in get no
// policy unless egress.yaml declares them: a policy selects every pod there, including those the
// fleet does not manage (CoreDNS, hubble-relay, cloud controllers), and would cut their API and
// upstream DNS. They are listed as skipped.
//
// Namespaces become file names (`-o DIR`) and come from rendered objects, which can come from
// remote artifacts or helm output: each must be a DNS-1123 label, or planning fails naming the
// object (INPUT_INVALID), and writeEgressPolicies checks every path stays in its directory.
//
// Workloads come from what `fleet render` renders: offline, objects behind unresolved sources
// (tenant OCI artifacts, charts without helm) are not seen, so their namespaces need either an
// online render or a declaration in egress.yaml; the result lists what was unresolved.
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { AirlockError } from '../errors.ts';
import { escapeControl, writeFileAtomic } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap, marshalGoYAML, parseGoYAML } from '../goyaml/index.ts';
import { type CacheConfig, readCacheConfig } from '../images/index.ts';
import {
  type EgressConfig,
  type EgressDestination,
  type EgressPort,
  isLabelKey,
  isLabelValue,
  isNamespaceName,
  NAMESPACE_LABEL,
  type PodLabels,
  readEgressConfig,
} from './egress-config.ts';
import {
  groupVersionKind,
  nestedString,
  nestedStringMap,
  objectName,
  objectNamespace,
} from './objects.ts';
import {
  type FleetRenderGroup,
  renderFleet,
  type RenderFleetOptions,
  type UnresolvedSource,
} from './render.ts';

export const DEFAULT_EGRESS_POLICY_NAME = 'airlock-egress';
/** The side file `policy cilium` reads from the fleet directory when none is named. */
export const EGRESS_FILE = 'egress.yaml';

/** Where the cluster DNS runs when neither egress.yaml nor the render says: Kubernetes' default. */
export const DEFAULT_DNS = { namespace: 'kube-system', matchLabels: { 'k8s-app': 'kube-dns' } };

/**
 * Namespaces that get no policy unless egress.yaml declares them: they hold pods the fleet does
 * not manage (CoreDNS, hubble-relay, cloud controllers) that a whole-namespace policy would cut off.
 */
export const SYSTEM_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
];

export interface EgressPlanOptions {
  /** The cache rules: their `to` hosts are the registry hosts. */
  readonly cache?: CacheConfig;
  /** What egress.yaml declares. */
  readonly egress?: EgressConfig;
  /** metadata.name of every policy (default `airlock-egress`). */
  readonly policyName?: string;
}

export interface EgressPoliciesOptions
  extends RenderFleetOptions, Omit<EgressPlanOptions, 'egress'> {
  /** cache.yaml to read the cache rules from (instead of `cache`). */
  readonly cacheFile?: string;
  /**
   * egress.yaml to read (default: egress.yaml in the fleet directory when there is one). A file
   * named here must exist.
   */
  readonly egressFile?: string;
}

export interface EgressDecision {
  readonly allowed: boolean;
  /** Why, in a sentence: the binding that grants a workload's ServiceAccount, egress.yaml, … */
  readonly reason: string;
}

/** Where the policies send DNS: the cluster DNS pods. */
export interface EgressDNS {
  readonly namespace: string;
  /** The DNS pods' labels (without Cilium's `k8s:` prefix); empty: every pod of the namespace. */
  readonly matchLabels: PodLabels;
  /** Why there: egress.yaml's `dns`, the object in the render, or the Kubernetes default. */
  readonly reason: string;
}

/** A namespace with workloads that gets no policy, and why. */
export interface SkippedNamespace {
  readonly namespace: string;
  readonly workloads: readonly string[];
  readonly reason: string;
}

/** What planEgress decides for a rendered cluster. */
export interface EgressPlan {
  /** One per namespace, sorted by namespace. */
  readonly policies: readonly EgressPolicy[];
  /** Namespaces with workloads left without a policy (system and DNS namespaces), sorted. */
  readonly skipped: readonly SkippedNamespace[];
  readonly dns: EgressDNS;
}

export interface EgressPolicy {
  readonly namespace: string;
  /** The CiliumNetworkPolicy (cilium.io/v2) as a JSON object. */
  readonly policy: Record<string, unknown>;
  /** The pod-bearing objects found in the namespace (Kind/namespace/name), sorted. */
  readonly workloads: readonly string[];
  /** Why the namespace has a policy besides its workloads: a FluxInstance, egress.yaml. */
  readonly because: readonly string[];
  readonly kubeAPI: EgressDecision;
  readonly registry: EgressDecision & { readonly hosts: readonly string[] };
  /** The cluster DNS its DNS rule reaches (the same for every policy of a plan). */
  readonly dns: EgressDNS;
  /** Destinations egress.yaml declares for it. */
  readonly declared: readonly EgressDestination[];
}

export interface EgressPolicies extends EgressPlan {
  readonly cluster: string;
  /** What the render could not follow: workloads behind these are not seen. */
  readonly unresolved: readonly UnresolvedSource[];
  /** The egress.yaml read, if any. */
  readonly egressFile?: string;
}

type Json = Record<string, unknown>;

const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;
const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');
const id = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);
const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Where each pod-bearing kind keeps its pod spec (core, apps, batch and legacy extensions). */
const POD_SPECS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};
const WORKLOAD_GROUPS = new Set(['', 'apps', 'batch', 'extensions']);
const RBAC = 'rbac.authorization.k8s.io';

function podSpec(o: GoMap): GoMap | undefined {
  const { group, kind } = groupVersionKind(o);
  const path = POD_SPECS[kind];
  if (path === undefined || !WORKLOAD_GROUPS.has(group)) return undefined;
  let at: GoValue | undefined = o;
  for (const key of path) at = field(at, key);
  return isGoMap(at) ? at : undefined;
}

interface Located {
  readonly object: GoMap;
  /** The namespace it lands in: its own, else its applier's target (a HelmRelease's). */
  readonly namespace: string;
}

/** Every rendered object with the namespace its applier puts it in. */
function locate(groups: readonly FleetRenderGroup[]): Located[] {
  const releases = new Map<string, GoMap>();
  for (const group of groups)
    for (const o of group.objects)
      if (
        nestedString(o, 'kind') === 'HelmRelease' &&
        groupVersionKind(o).group === 'helm.toolkit.fluxcd.io'
      )
        releases.set(id('HelmRelease', objectNamespace(o) || 'default', objectName(o)), o);
  const located: Located[] = [];
  for (const group of groups) {
    const release = releases.get(group.appliedBy);
    // helm-controller installs a release's objects into its targetNamespace, else its namespace.
    const fallback =
      release === undefined
        ? 'default'
        : nestedString(release, 'spec', 'targetNamespace') || objectNamespace(release) || 'default';
    for (const object of group.objects)
      located.push({ object, namespace: objectNamespace(object) || fallback });
  }
  return located;
}

interface Binding {
  readonly by: string;
  /** ns/name of ServiceAccounts, or `ns/*` (system:serviceaccounts:ns), or `*` (all). */
  readonly subjects: readonly string[];
}

function bindings(located: readonly Located[]): Binding[] {
  const found: Binding[] = [];
  for (const { object } of located) {
    const { group, kind } = groupVersionKind(object);
    if (group !== RBAC || (kind !== 'RoleBinding' && kind !== 'ClusterRoleBinding')) continue;
    const own = objectNamespace(object);
    const list = object.get('subjects');
    const subjects: string[] = [];
    for (const s of Array.isArray(list) ? list : []) {
      const subjectKind = str(field(s, 'kind'));
      const name = str(field(s, 'name'));
      if (subjectKind === 'ServiceAccount') {
        const namespace = str(field(s, 'namespace')) || (kind === 'RoleBinding' ? own : '');
        if (namespace !== '' && name !== '') subjects.push(`${namespace}/${name}`);
      } else if (subjectKind === 'Group' && name === 'system:serviceaccounts') subjects.push('*');
      else if (subjectKind === 'Group' && name.startsWith('system:serviceaccounts:'))
        subjects.push(`${name.slice('system:serviceaccounts:'.length)}/*`);
    }
    if (subjects.length > 0) found.push({ by: id(kind, own, objectName(object)), subjects });
  }
  return found;
}

interface NamespaceFacts {
  workloads: string[];
  /** ServiceAccounts whose token a workload mounts, with the first workload that does. */
  tokens: Map<string, string>;
  because: string[];
  flux: string | undefined;
  /** The first object that put the namespace here (named when the namespace is not valid). */
  origin: string;
}

function facts(located: readonly Located[]): Map<string, NamespaceFacts> {
  const accounts = new Map<string, GoMap>();
  for (const { object, namespace } of located)
    if (groupVersionKind(object).group === '' && nestedString(object, 'kind') === 'ServiceAccount')
      accounts.set(`${namespace}/${objectName(object)}`, object);
  const out = new Map<string, NamespaceFacts>();
  const get = (namespace: string, origin: string): NamespaceFacts => {
    let f = out.get(namespace);
    if (f === undefined) {
      f = { workloads: [], tokens: new Map(), because: [], flux: undefined, origin };
      out.set(namespace, f);
    }
    return f;
  };
  for (const { object, namespace } of located) {
    const { group, kind } = groupVersionKind(object);
    if (group === 'fluxcd.controlplane.io' && kind === 'FluxInstance') {
      const f = get(namespace, id(kind, namespace, objectName(object)));
      f.flux ??= id(kind, namespace, objectName(object));
      f.because.push(`${id(kind, namespace, objectName(object))}: the Flux controllers run here`);
      continue;
    }
    const spec = podSpec(object);
    if (spec === undefined) continue;
    const workload = id(kind, namespace, objectName(object));
    const f = get(namespace, workload);
    f.workloads.push(workload);
    const account =
      str(spec.get('serviceAccountName')) || str(spec.get('serviceAccount')) || 'default';
    const key = `${namespace}/${account}`;
    const podMount = spec.get('automountServiceAccountToken');
    const accountMount = accounts.get(key)?.get('automountServiceAccountToken');
    const mounts = podMount === true || (podMount !== false && accountMount !== false);
    if (mounts && !f.tokens.has(key)) f.tokens.set(key, workload);
  }
  return out;
}

/** `host[:port]` → the host and port (443 when none), IPv6 brackets removed. */
function hostPort(hostAndPort: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::([0-9]+))?$/.exec(hostAndPort);
  const host = (m?.[1] ?? hostAndPort).replace(/^\[|\]$/g, '');
  return { host, port: m?.[2] === undefined ? 443 : Number(m[2]) };
}

/** The registry hosts the Flux controllers reach: OCI sources and the FluxInstance distribution. */
function sourceHosts(located: readonly Located[]): string[] {
  const hosts: string[] = [];
  const fromURL = (url: string): void => {
    const m = /^oci:\/\/([^/]+)/.exec(url);
    if (m?.[1] !== undefined) hosts.push(m[1].toLowerCase());
  };
  for (const { object } of located) {
    const { group, kind } = groupVersionKind(object);
    const spec = object.get('spec');
    if (group === 'source.toolkit.fluxcd.io' && kind === 'OCIRepository')
      fromURL(str(field(spec, 'url')));
    else if (
      group === 'source.toolkit.fluxcd.io' &&
      kind === 'HelmRepository' &&
      str(field(spec, 'type')) === 'oci'
    )
      fromURL(str(field(spec, 'url')));
    else if (group === 'fluxcd.controlplane.io' && kind === 'FluxInstance') {
      const distribution = field(spec, 'distribution');
      const registry = str(field(distribution, 'registry'));
      if (registry !== '') hosts.push((registry.split('/')[0] ?? '').toLowerCase());
      fromURL(str(field(distribution, 'artifact')));
    }
  }
  return hosts.filter((h) => h !== '' && !h.includes('<<') && !h.includes('${'));
}

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\./.test(host);

function portList(ports: readonly EgressPort[]): Json[] {
  return ports.map((p) => ({
    port: String(p.port),
    protocol: p.protocol,
    ...(p.endPort === undefined ? {} : { endPort: p.endPort }),
  }));
}

/** toCIDR for an address, toFQDNs for a name; one rule per port. */
function registryRules(hosts: readonly string[]): Json[] {
  const byPort = new Map<number, { names: Set<string>; cidrs: Set<string> }>();
  for (const entry of hosts) {
    const { host, port } = hostPort(entry);
    if (isLoopback(host)) continue;
    let slot = byPort.get(port);
    if (slot === undefined) {
      slot = { names: new Set(), cidrs: new Set() };
      byPort.set(port, slot);
    }
    const family = isIP(host);
    if (family === 0) slot.names.add(host);
    else slot.cidrs.add(`${host}/${family === 4 ? 32 : 128}`);
  }
  const rules: Json[] = [];
  for (const [port, { names, cidrs }] of [...byPort].sort(([a], [b]) => a - b)) {
    const toPorts = [{ ports: [{ port: String(port), protocol: 'TCP' }] }];
    if (names.size > 0)
      rules.push({
        toFQDNs: [...names].sort(byString).map((matchName) => ({ matchName })),
        toPorts,
      });
    if (cidrs.size > 0) rules.push({ toCIDR: [...cidrs].sort(byString), toPorts });
  }
  return rules;
}

/** Cilium's selector for pods of a namespace with some labels (k8s: is the Kubernetes source). */
function endpoints(namespace: string, labels: PodLabels = {}): Json {
  const matchLabels: Record<string, string> = { [`k8s:${NAMESPACE_LABEL}`]: namespace };
  for (const key of Object.keys(labels).sort(byString))
    matchLabels[`k8s:${key}`] = labels[key] ?? '';
  return { matchLabels };
}

function declaredRule(destination: EgressDestination): Json {
  const to =
    'fqdn' in destination
      ? { toFQDNs: [{ matchName: destination.fqdn }] }
      : 'fqdnPattern' in destination
        ? { toFQDNs: [{ matchPattern: destination.fqdnPattern }] }
        : 'cidr' in destination
          ? { toCIDR: [destination.cidr] }
          : 'namespace' in destination
            ? { toEndpoints: [endpoints(destination.namespace, destination.matchLabels)] }
            : { toEntities: [destination.entity] };
  return destination.ports.length === 0
    ? to
    : { ...to, toPorts: [{ ports: portList(destination.ports) }] };
}

function dnsRule(dns: EgressDNS): Json {
  return {
    toEndpoints: [endpoints(dns.namespace, dns.matchLabels)],
    toPorts: [
      {
        ports: [
          { port: '53', protocol: 'UDP' },
          { port: '53', protocol: 'TCP' },
        ],
        rules: { dns: [{ matchPattern: '*' }] },
      },
    ],
  };
}

const DNS_NAMES = new Set(['coredns', 'kube-dns']);
const DNS_APPS = new Set(['coredns', 'kube-dns']);

/** A Service or Deployment that looks like the cluster DNS: by name or by its usual labels. */
function looksLikeDNS(o: GoMap): boolean {
  if (DNS_NAMES.has(objectName(o))) return true;
  const labels = nestedStringMap(o, 'metadata', 'labels');
  return (
    DNS_APPS.has(labels?.get('k8s-app') ?? '') ||
    labels?.get('app.kubernetes.io/name') === 'coredns'
  );
}

/** Labels usable as a pod selector: a non-empty map of valid label keys and values. */
function selectorLabels(value: Map<string, string> | undefined): PodLabels | undefined {
  if (value === undefined || value.size === 0) return undefined;
  for (const [k, v] of value)
    if (!isLabelKey(k) || !isLabelValue(v) || k === NAMESPACE_LABEL) return undefined;
  return Object.fromEntries([...value].sort(([a], [b]) => byString(a, b)));
}

interface DNSCandidate {
  readonly dns: EgressDNS;
  /** The object it comes from, named when its namespace is not valid. */
  readonly object: string;
}

/**
 * Where the cluster DNS runs, as the render shows it, best first: a Service (its selector), a
 * Deployment (its matchLabels), then a Namespace, HelmRelease or Kustomization standing for
 * CoreDNS whose pods are not seen (every pod of the namespace). Undefined when nothing shows.
 */
function renderedDNS(located: readonly Located[]): DNSCandidate | undefined {
  const ranked: { rank: number; key: string; candidate: DNSCandidate }[] = [];
  const add = (
    rank: number,
    object: GoMap,
    namespace: string,
    labels: PodLabels | undefined,
    why: string,
  ): void => {
    const { kind } = groupVersionKind(object);
    const name = id(kind, objectNamespace(object), objectName(object));
    ranked.push({
      rank,
      key: name,
      candidate: {
        object: name,
        dns: { namespace, matchLabels: labels ?? {}, reason: `${name} ${why}` },
      },
    });
  };
  for (const { object, namespace } of located) {
    const { group, kind } = groupVersionKind(object);
    if (group === '' && kind === 'Service' && looksLikeDNS(object)) {
      const labels = selectorLabels(nestedStringMap(object, 'spec', 'selector'));
      add(
        0,
        object,
        namespace,
        labels,
        labels === undefined
          ? 'serves the cluster DNS; no usable selector, so every pod of its namespace'
          : 'serves the cluster DNS: its selector',
      );
    } else if (group === 'apps' && kind === 'Deployment' && looksLikeDNS(object)) {
      const labels = selectorLabels(nestedStringMap(object, 'spec', 'selector', 'matchLabels'));
      add(
        1,
        object,
        namespace,
        labels,
        labels === undefined
          ? 'runs the cluster DNS; no usable matchLabels, so every pod of its namespace'
          : 'runs the cluster DNS: its matchLabels',
      );
    } else if (group === '' && kind === 'Namespace' && DNS_NAMES.has(objectName(object)))
      add(
        2,
        object,
        objectName(object),
        undefined,
        'is where the cluster DNS runs; its pods are not seen, so every pod of it',
      );
    else if (
      group === 'helm.toolkit.fluxcd.io' &&
      kind === 'HelmRelease' &&
      objectName(object) === 'coredns'
    )
      add(
        3,
        object,
        nestedString(object, 'spec', 'targetNamespace') || objectNamespace(object) || 'default',
        undefined,
        'installs the cluster DNS; its pods are not seen, so every pod of its target namespace',
      );
    else if (
      group === 'kustomize.toolkit.fluxcd.io' &&
      kind === 'Kustomization' &&
      objectName(object) === 'coredns' &&
      nestedString(object, 'spec', 'targetNamespace') !== ''
    )
      add(
        3,
        object,
        nestedString(object, 'spec', 'targetNamespace'),
        undefined,
        'installs the cluster DNS; its pods are not seen, so every pod of its target namespace',
      );
  }
  ranked.sort((a, b) => a.rank - b.rank || byString(a.key, b.key));
  return ranked[0]?.candidate;
}

function planError(problems: readonly string[]): AirlockError {
  return new AirlockError(
    'INPUT_INVALID',
    problems.length === 1
      ? (problems[0] ?? '')
      : `${problems.length} rendered objects are in namespaces that are not DNS-1123 labels`,
    {
      details: [
        ...(problems.length === 1 ? [] : problems),
        'A namespace is a DNS-1123 label (a-z, 0-9 and "-", at most 63 characters): fix the object or the source that renders it.',
      ],
    },
  );
}

const badNamespace = (object: string, namespace: string): string =>
  `${object}: namespace ${JSON.stringify(escapeControl(namespace))} is not a DNS-1123 label`;

/**
 * The policies for a rendered cluster (pure): one per namespace that runs workloads, holds a
 * FluxInstance or is declared in egress.yaml, sorted by namespace; kube-system, kube-public,
 * kube-node-lease and the DNS namespace only when declared (else skipped). INPUT_INVALID, naming
 * every object, when a namespace the plan uses is not a DNS-1123 label (they become file names).
 */
export function planEgress(
  groups: readonly FleetRenderGroup[],
  options: EgressPlanOptions = {},
): EgressPlan {
  const name = options.policyName ?? DEFAULT_EGRESS_POLICY_NAME;
  if (
    name.length > 253 ||
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)
  )
    throw new AirlockError(
      'INPUT_INVALID',
      `policy name ${JSON.stringify(escapeControl(name))} is not a DNS subdomain`,
      {
        data: { option: 'policyName' },
      },
    );
  const located = locate(groups);
  const granted = bindings(located);
  const perNamespace = facts(located);
  const file = escapeControl(options.egress?.file ?? EGRESS_FILE);

  const invalid: string[] = [];
  for (const [namespace, f] of perNamespace)
    if (!isNamespaceName(namespace)) invalid.push(badNamespace(f.origin, namespace));
  const configured = options.egress?.dns;
  const seen = configured === undefined ? renderedDNS(located) : undefined;
  if (seen !== undefined && !isNamespaceName(seen.dns.namespace))
    invalid.push(badNamespace(seen.object, seen.dns.namespace));
  if (invalid.length > 0) throw planError(invalid.sort(byString));
  const dns: EgressDNS =
    configured !== undefined
      ? {
          namespace: configured.namespace,
          matchLabels: configured.matchLabels ?? {},
          reason: `dns in ${file} (${configured.where})`,
        }
      : (seen?.dns ?? {
          ...DEFAULT_DNS,
          reason: 'the Kubernetes default: the render shows no CoreDNS or kube-dns elsewhere',
        });

  for (const [namespace, declared] of options.egress?.namespaces ?? []) {
    let f = perNamespace.get(namespace);
    if (f === undefined) {
      f = {
        workloads: [],
        tokens: new Map(),
        because: [],
        flux: undefined,
        origin: `${file} (${declared.where})`,
      };
      perNamespace.set(namespace, f);
    }
    f.because.push(`declared in ${file} (${declared.where})`);
  }
  const registryHosts = [
    ...new Set([
      ...(options.cache?.rules ?? []).map((r) => r.to.split('/')[0] ?? r.to),
      ...sourceHosts(located),
    ]),
  ].sort(byString);

  const policies: EgressPolicy[] = [];
  const skipped: SkippedNamespace[] = [];
  for (const [namespace, f] of [...perNamespace].sort(([a], [b]) => byString(a, b))) {
    const declared = options.egress?.namespaces.get(namespace);
    if (
      declared === undefined &&
      (SYSTEM_NAMESPACES.includes(namespace) || namespace === dns.namespace)
    ) {
      skipped.push({
        namespace,
        workloads: [...f.workloads].sort(byString),
        reason: SYSTEM_NAMESPACES.includes(namespace)
          ? `a system namespace: a policy would select the pods the fleet does not manage there too (CoreDNS, hubble-relay) and cut their API and upstream DNS; declare it in ${file} to close its egress`
          : `the cluster DNS runs here (${dns.reason}): a policy would cut its API and upstream resolvers; declare it in ${file} to close its egress`,
      });
      continue;
    }

    let kubeAPI: EgressDecision;
    if (declared?.kubeAPI !== undefined)
      kubeAPI = {
        allowed: declared.kubeAPI,
        reason: `kubeAPI: ${declared.kubeAPI} in ${file} (${declared.where})`,
      };
    else if (f.flux !== undefined)
      kubeAPI = {
        allowed: true,
        reason: `${f.flux}: the Flux controllers reconcile through the API`,
      };
    else {
      let found: EgressDecision | undefined;
      for (const [account, workload] of [...f.tokens].sort(([a], [b]) => byString(a, b))) {
        const [accountNamespace = ''] = account.split('/');
        const binding = granted.find((b) =>
          b.subjects.some((s) => s === account || s === '*' || s === `${accountNamespace}/*`),
        );
        if (binding !== undefined) {
          found = {
            allowed: true,
            reason: `ServiceAccount ${escapeControl(account)} (${workload}) is bound by ${binding.by}`,
          };
          break;
        }
      }
      kubeAPI = found ?? {
        allowed: false,
        reason:
          f.tokens.size === 0
            ? 'no workload mounts a ServiceAccount token'
            : 'no RoleBinding or ClusterRoleBinding in the fleet binds the ServiceAccounts its workloads run as',
      };
    }

    let registry: EgressDecision;
    if (declared?.registry !== undefined)
      registry = {
        allowed: declared.registry,
        reason: `registry: ${declared.registry} in ${file} (${declared.where})`,
      };
    else if (f.flux !== undefined)
      registry = {
        allowed: true,
        reason: `${f.flux}: the Flux controllers pull sources from the registry`,
      };
    else
      registry = {
        allowed: false,
        reason:
          'images are pulled by the kubelet, not by pods: no workload here is known to call the registry',
      };
    const hosts = registry.allowed ? registryHosts : [];

    const egress: Json[] = [dnsRule(dns), { toEndpoints: [endpoints(namespace)] }];
    if (kubeAPI.allowed) egress.push({ toEntities: ['kube-apiserver'] });
    egress.push(...registryRules(hosts));
    for (const destination of declared?.to ?? []) egress.push(declaredRule(destination));

    const allowed = [
      `DNS (${dnsText(dns)})`,
      `the pods of ${namespace}`,
      ...(kubeAPI.allowed ? ['the Kubernetes API'] : []),
      ...(hosts.length > 0 ? [`the registry (${hosts.join(', ')})`] : []),
      ...((declared?.to.length ?? 0) > 0
        ? [`${declared?.to.length ?? 0} destination(s) from ${file}`]
        : []),
    ];
    const policy: Json = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'airlock' },
      },
      spec: {
        description: `Generated by airlock policy cilium: egress from ${namespace} is denied except to ${allowed.join(', ')}.`,
        endpointSelector: {},
        egress,
      },
    };
    policies.push({
      namespace,
      policy,
      workloads: [...f.workloads].sort(byString),
      because: f.because,
      kubeAPI,
      registry: { ...registry, hosts },
      dns,
      declared: declared?.to ?? [],
    });
  }
  return { policies, skipped, dns };
}

/** `kube-system k8s-app=kube-dns`, or `every pod of coredns`. */
export function dnsText(dns: EgressDNS): string {
  const labels = Object.entries(dns.matchLabels).map(([k, v]) => `${k}=${v}`);
  return labels.length === 0
    ? `every pod of ${dns.namespace}`
    : `${dns.namespace} ${labels.join(',')}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Renders the cluster (renderFleet, offline or online as the options say), reads egress.yaml
 * (the named file, else egress.yaml in the fleet directory when present) and plans one
 * CiliumNetworkPolicy per namespace (planEgress).
 */
export async function egressPolicies(options: EgressPoliciesOptions): Promise<EgressPolicies> {
  const { cache: given, cacheFile, egressFile, policyName, ...renderOptions } = options;
  const cache = given ?? (cacheFile === undefined ? undefined : await readCacheConfig(cacheFile));
  const file =
    egressFile ??
    ((await exists(join(options.dir, EGRESS_FILE))) ? join(options.dir, EGRESS_FILE) : undefined);
  // The side file is read first: a bad declaration fails before the render's tools run.
  const egress = file === undefined ? undefined : await readEgressConfig(file);
  const render = await renderFleet(renderOptions);
  const plan = planEgress(render.groups, {
    ...(cache === undefined ? {} : { cache }),
    ...(egress === undefined ? {} : { egress }),
    ...(policyName === undefined ? {} : { policyName }),
  });
  return {
    cluster: render.cluster,
    ...plan,
    unresolved: render.unresolved,
    ...(file === undefined ? {} : { egressFile: file }),
  };
}

/** The policies as one YAML stream (sigs.k8s.io/yaml per document, `---` between). */
export function egressPoliciesYAML(result: EgressPolicies): string {
  return result.policies.map((p) => policyYAML(p)).join('');
}

/** The first line of every policy document airlock writes (how -o recognises its own files). */
export const EGRESS_HEADER = '# CiliumNetworkPolicy generated by airlock policy cilium';

/** One policy as a YAML document, with a comment saying why its destinations are there. */
export function policyYAML(p: EgressPolicy): string {
  const comments = [
    EGRESS_HEADER,
    `# ${p.namespace}: ${p.workloads.length} workload${p.workloads.length === 1 ? '' : 's'}${p.because.length > 0 ? `; ${p.because.join('; ')}` : ''}`,
    `# Kubernetes API: ${p.kubeAPI.allowed ? 'allowed' : 'denied'}: ${p.kubeAPI.reason}`,
    `# registry: ${p.registry.allowed ? 'allowed' : 'denied'}: ${p.registry.reason}`,
    `# DNS: ${dnsText(p.dns)}: ${p.dns.reason}`,
  ];
  return `---\n${comments.map((c) => escapeControl(c)).join('\n')}\n${marshalGoYAML(parseGoYAML(JSON.stringify(p.policy)))}`;
}

/**
 * Writes the policies: into one file when `target` ends in .yaml or .yml (the YAML stream),
 * otherwise into a directory, one `<namespace>.yaml` each. A directory may only hold files this
 * function wrote before (they start with EGRESS_HEADER): they are replaced, and those of
 * namespaces that no longer have a policy are removed; anything else there is INPUT_INVALID
 * (option outDir) and nothing is written. A namespace that is not a DNS-1123 label, or a file
 * that would land outside the directory, is INPUT_INVALID before anything is written. Every file
 * is written atomically. Returns the paths.
 */
export async function writeEgressPolicies(
  result: EgressPolicies,
  target: string,
): Promise<string[]> {
  const path = resolve(target);
  if (/\.ya?ml$/.test(path)) {
    await writeFileAtomic(path, egressPoliciesYAML(result));
    return [path];
  }
  // Namespaces come from rendered objects (remote artifacts, helm output): planEgress refuses
  // those that are not DNS labels; a result built another way is checked here, before any write.
  const files = result.policies.map((p) => {
    const file = resolve(path, `${p.namespace}.yaml`);
    if (!isNamespaceName(p.namespace) || dirname(file) !== path)
      throw new AirlockError(
        'INPUT_INVALID',
        `namespace ${JSON.stringify(escapeControl(p.namespace))} is not a DNS-1123 label: its policy file would be ${escapeControl(file)}, not a file in ${escapeControl(path)}`,
        { data: { namespace: p.namespace } },
      );
    return { p, file };
  });
  const existing = await readdir(path, { withFileTypes: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AirlockError('IO_FAILED', `${escapeControl(path)}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  const ours: string[] = [];
  for (const entry of existing) {
    const file = join(path, entry.name);
    const text = entry.isFile() && entry.name.endsWith('.yaml') ? await readFile(file, 'utf8') : '';
    if (!text.startsWith(`---\n${EGRESS_HEADER}`))
      throw new AirlockError(
        'INPUT_INVALID',
        `${escapeControl(file)} was not written by policy cilium: the output directory holds the generated policies only`,
        { data: { option: 'outDir' } },
      );
    ours.push(entry.name);
  }
  await mkdir(path, { recursive: true });
  const written: string[] = [];
  for (const { p, file } of files) {
    await writeFileAtomic(file, policyYAML(p));
    written.push(file);
  }
  const keep = new Set(result.policies.map((p) => `${p.namespace}.yaml`));
  for (const name of ours) if (!keep.has(name)) await rm(join(path, name), { force: true });
  return written;
}
