// The isolation checks of `fleet check` (issue 12 §5), on by giving the cache rules: what the
// isolated seed (../shared/seeds/isolated-gitops-fluxcd-oci.txt, "The Pull-Through Cache" and
// "Network Isolation with Cilium") requires of every cluster before a workload runs:
//
// - image-public: a workload image that still names a public registry once the cache rules are
//   applied (what Kyverno would rewrite it to, src/images/rewrite.ts): the pull leaves the boundary;
// - image-not-mirrored (online): an image under the private registry — written so, or rewritten
//   onto a rule of mode mirror — outside every pull-through cache path, that the registry does not
//   hold: nothing will fetch it on demand;
// - egress-policy-missing: a namespace that runs workloads but has no CiliumNetworkPolicy that
//   selects all its endpoints with egress rules (Cilium's default deny applies only to endpoints a
//   policy with egress rules selects);
// - isolation-phase: Cilium or Kyverno missing, or waiting for something else (they must come up
//   in the first phase), and every other Flux object must wait for both — directly, through the
//   object that applies it, or through a phase it depends on — so no workload can start before
//   egress is enforced and images are rewritten.
//
// Waiting is followed as the controllers do: an object is not applied before the object that
// applies it is reconciled, so it inherits its applier's dependsOn; and an object that depends
// on a phase (a ResourceSet or Kustomization) waits for what that phase applies (with
// `wait: true` / readiness, which D2's phases declare).
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import {
  type CacheConfig,
  ImageReferenceError,
  normalizeImage,
  registryKey,
  rewriteImage,
  type WorkloadImage,
  workloadImages,
} from '../images/index.ts';
import { parseReference } from '../oci/index.ts';
import type { FleetFinding } from './findings.ts';
import type { FleetSourceOptions } from './sources.ts';
import { nestedString, objectName, objectNamespace } from './objects.ts';
import type { FleetRenderGroup } from './render.ts';
import { planEgress } from './egress.ts';

export interface IsolationOptions {
  readonly cache: CacheConfig;
  /**
   * Registry hosts inside the boundary besides the cache rules' `to` hosts (a mirror the fleet
   * names directly, `registry.internal:5000`). Lower-cased host[:port].
   */
  readonly privateRegistries?: readonly string[];
}

/** What the online check needs to know: does the private registry hold this image? */
export type ImageHolder = (image: string) => Promise<boolean>;

/**
 * Asks the registry (through the fleet's registry map, longest FROM first, as sources are read)
 * whether it holds a normalised image reference. Not found is false; any other registry failure
 * stops the check with its code, as a source that cannot be reached does.
 */
export function registryImageHolder(sources: FleetSourceOptions): ImageHolder {
  return async (image) => {
    const parsed = normalizeImage(image);
    const path = `${parsed.registry}/${parsed.repository}`;
    let mapped = path;
    let best = -1;
    for (const { from, to } of sources.registryMap ?? [])
      if ((path === from || path.startsWith(`${from}/`)) && from.length > best) {
        best = from.length;
        mapped = to + path.slice(from.length);
      }
    const reference = parseReference(mapped, { repositoryOnly: true });
    const repository = sources.session.open(reference);
    const wanted = parsed.digest ?? parsed.tag ?? 'latest';
    return (await repository.resolve(wanted)) !== undefined;
  };
}

const KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const HELM = 'helm.toolkit.fluxcd.io';
const OPERATOR = 'fluxcd.controlplane.io';
const CILIUM = 'cilium.io';

const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
};
const id = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);
const idOf = (o: GoMap): string => id(nestedString(o, 'kind'), objectNamespace(o), objectName(o));
const field = (value: GoValue | undefined, key: string): GoValue | undefined =>
  isGoMap(value) ? value.get(key) : undefined;

function isFluxNode(o: GoMap): boolean {
  const group = groupOf(nestedString(o, 'apiVersion'));
  const kind = nestedString(o, 'kind');
  return (
    (group === KUSTOMIZE && kind === 'Kustomization') ||
    (group === HELM && kind === 'HelmRelease') ||
    (group === OPERATOR && kind === 'ResourceSet')
  );
}

/**
 * Which isolation component a Flux object installs, by the names it goes by: its name, its
 * namespace, its targetNamespace, its chart or release name (`cilium`, `kyverno`). D2 and the
 * fleet `fleet init` writes give each component its own tenant namespace of that name.
 */
function componentOf(o: GoMap): 'cilium' | 'kyverno' | undefined {
  const names = [
    objectName(o),
    objectNamespace(o),
    nestedString(o, 'spec', 'targetNamespace'),
    nestedString(o, 'spec', 'releaseName'),
    nestedString(o, 'spec', 'chart', 'spec', 'chart'),
  ];
  for (const component of ['cilium', 'kyverno'] as const)
    if (names.includes(component)) return component;
  return undefined;
}

/**
 * dependsOn targets as ids (Kustomization/HelmRelease: same kind, own namespace by default), and
 * whether the dependant waits for them to be ready: kustomize-controller and helm-controller
 * always check the target's Ready condition; a ResourceSet only with `ready: true` (without it the
 * target merely has to exist; resourceset.md §1.7), so such an entry waits for nothing.
 */
function dependsOn(o: GoMap): { target: string; awaited: boolean }[] {
  const list = field(field(o, 'spec'), 'dependsOn');
  if (!Array.isArray(list)) return [];
  const kind = nestedString(o, 'kind');
  const own = objectNamespace(o);
  const resourceSet = kind === 'ResourceSet';
  const targets: { target: string; awaited: boolean }[] = [];
  for (const entry of list) {
    if (!isGoMap(entry)) continue;
    const name = typeof entry.get('name') === 'string' ? (entry.get('name') as string) : '';
    const ns = typeof entry.get('namespace') === 'string' ? (entry.get('namespace') as string) : '';
    const targetKind = resourceSet
      ? typeof entry.get('kind') === 'string'
        ? (entry.get('kind') as string)
        : ''
      : kind;
    if (name === '' || targetKind === '') continue;
    targets.push({
      target: id(targetKind, resourceSet ? ns : ns || own, name),
      awaited: !resourceSet || entry.get('ready') === true,
    });
  }
  return targets;
}

interface FluxTree {
  readonly nodes: Map<string, GoMap>;
  /** Flux object id → the Flux object that applies it. */
  readonly applier: Map<string, string>;
  /** Flux object id → the ids of the Flux objects it applies (directly). */
  readonly children: Map<string, string[]>;
}

function fluxTree(groups: readonly FleetRenderGroup[]): FluxTree {
  const nodes = new Map<string, GoMap>();
  const applier = new Map<string, string>();
  const children = new Map<string, string[]>();
  for (const group of groups)
    for (const o of group.objects) {
      if (!isFluxNode(o)) continue;
      const key = idOf(o);
      nodes.set(key, o);
      applier.set(key, group.appliedBy);
      const list = children.get(group.appliedBy) ?? [];
      list.push(key);
      children.set(group.appliedBy, list);
    }
  return { nodes, applier, children };
}

/** The object and everything it applies, transitively. */
function subtree(tree: FluxTree, root: string): Set<string> {
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const next = stack.pop() ?? '';
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(tree.children.get(next) ?? []));
  }
  return seen;
}

/** The objects it applies under (its applier, that one's applier…), nearest first. */
function ancestors(tree: FluxTree, node: string): string[] {
  const out: string[] = [];
  let current = tree.applier.get(node);
  while (current !== undefined && !out.includes(current)) {
    out.push(current);
    current = tree.applier.get(current);
  }
  return out;
}

/** Everything a Flux object waits for before it is applied and reconciled (memoised). */
function waitsFor(tree: FluxTree): (node: string) => Set<string> {
  const memo = new Map<string, Set<string>>();
  const visiting = new Set<string>();
  const compute = (node: string): Set<string> => {
    const known = memo.get(node);
    if (known !== undefined) return known;
    // A dependsOn cycle is depends-on-cycle's finding; here it only has to terminate.
    if (visiting.has(node)) return new Set();
    visiting.add(node);
    const out = new Set<string>();
    const object = tree.nodes.get(node);
    for (const { target, awaited } of object === undefined ? [] : dependsOn(object)) {
      if (!awaited) continue;
      for (const held of subtree(tree, target)) out.add(held);
      for (const held of compute(target)) out.add(held);
    }
    const parent = tree.applier.get(node);
    if (parent !== undefined) for (const held of compute(parent)) out.add(held);
    visiting.delete(node);
    memo.set(node, out);
    return out;
  };
  return compute;
}

type Component = 'cilium' | 'kyverno';
const COMPONENT_NAME: Readonly<Record<Component, string>> = {
  cilium: 'Cilium',
  kyverno: 'Kyverno',
};
const ENFORCES: Readonly<Record<Component, string>> = {
  cilium: 'egress is closed',
  kyverno: 'images are rewritten',
};
const sorted = <T>(entries: Iterable<[string, T]>): [string, T][] =>
  [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Cilium's and Kyverno's Flux objects, and what is exempt from waiting for them. */
interface Isolation {
  /** Per component, its outermost Flux objects (none inside another component object). */
  readonly tops: ReadonlyMap<Component, readonly string[]>;
  /** The component objects and everything they apply. */
  readonly members: ReadonlySet<string>;
  /** The objects that apply a component (its phase, the cluster's root…). */
  readonly containers: ReadonlySet<string>;
}

function isolationOf(tree: FluxTree): Isolation {
  const all = new Map<string, Component>();
  for (const [key, o] of tree.nodes) {
    const component = componentOf(o);
    if (component !== undefined) all.set(key, component);
  }
  const tops = new Map<Component, string[]>([
    ['cilium', []],
    ['kyverno', []],
  ]);
  for (const [key, component] of sorted(all))
    if (!ancestors(tree, key).some((a) => all.has(a))) tops.get(component)?.push(key);
  const members = new Set<string>();
  const containers = new Set<string>();
  for (const keys of tops.values())
    for (const key of keys) {
      for (const held of subtree(tree, key)) members.add(held);
      for (const a of ancestors(tree, key)) containers.add(a);
    }
  return { tops, members, containers };
}

function phaseFindings(
  groups: readonly FleetRenderGroup[],
  workloads: readonly WorkloadImage[],
): FleetFinding[] {
  const tree = fluxTree(groups);
  const waits = waitsFor(tree);
  const { tops, members, containers } = isolationOf(tree);
  const root = groups[0]?.appliedBy ?? 'the cluster';
  const findings: FleetFinding[] = [];
  for (const [component, keys] of tops)
    if (keys.length === 0)
      findings.push({
        rule: 'isolation-phase',
        object: escapeControl(root),
        field: 'spec',
        message:
          component === 'cilium'
            ? 'no Flux object installs Cilium (a Kustomization, HelmRelease or ResourceSet named, or in the namespace, cilium): egress is not enforced'
            : 'no Flux object installs Kyverno (a Kustomization, HelmRelease or ResourceSet named, or in the namespace, kyverno): public image references are not rewritten to the cache',
        severity: 'error',
      });
  // The first phase waits for nothing but the other component objects and the phases that apply
  // them (Kyverno after Cilium); one finding per declaring object.
  const allowed = new Set([...members, ...containers]);
  const late = new Map<string, { component: Component; key: string; others: string[] }>();
  for (const [component, keys] of tops)
    for (const key of keys) {
      const others = [...waits(key)].filter((w) => !allowed.has(w)).sort();
      if (others.length === 0) continue;
      // Name the object that declares the wait: itself or the nearest applier with a dependsOn.
      const declarer =
        [key, ...ancestors(tree, key)].find((k) => {
          const o = tree.nodes.get(k);
          return o !== undefined && dependsOn(o).some((d) => d.awaited);
        }) ?? key;
      if (!late.has(declarer)) late.set(declarer, { component, key, others });
    }
  for (const [declarer, { component, key, others }] of sorted(late))
    findings.push({
      rule: 'isolation-phase',
      object: declarer,
      field: 'spec.dependsOn',
      message: `${COMPONENT_NAME[component]} (${key}) is not in the first phase: it waits for ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}, so workloads could run before ${ENFORCES[component]}`,
      severity: 'error',
    });
  // Every other Flux object waits for every component object; only the outermost offender of a
  // subtree is named.
  const missingFor = (key: string): Map<Component, string[]> => {
    const waited = waits(key);
    const missing = new Map<Component, string[]>();
    for (const [component, keys] of tops) {
      const lacking = keys.filter((k) => !waited.has(k));
      if (lacking.length > 0) missing.set(component, lacking);
    }
    return missing;
  };
  const describe = (missing: Map<Component, string[]>) => ({
    names: [...missing]
      .map(
        ([c, keys]) =>
          `${COMPONENT_NAME[c]} (${keys[0] ?? ''}${keys.length > 1 ? ` and ${keys.length - 1} more` : ''})`,
      )
      .join(' and '),
    before: [...missing.keys()].map((c) => ENFORCES[c]).join(' and '),
  });
  const failing = new Map<string, Map<Component, string[]>>();
  for (const key of tree.nodes.keys()) {
    if (members.has(key) || containers.has(key)) continue;
    const missing = missingFor(key);
    if (missing.size > 0) failing.set(key, missing);
  }
  for (const [key, missing] of sorted(failing)) {
    if (ancestors(tree, key).some((a) => failing.has(a))) continue;
    const { names, before } = describe(missing);
    const applier = tree.applier.get(key);
    findings.push({
      rule: 'isolation-phase',
      object: key,
      ...(applier === undefined ? {} : { appliedBy: escapeControl(applier) }),
      field: 'spec.dependsOn',
      message: `does not wait for ${names}: what it applies could run before ${before}; make it depend on the first phase`,
      severity: 'error',
    });
  }
  // Workloads applied beside a component (Kyverno in the same phase as the apps) or by a phase
  // that holds one: the applier is exempt above, its workloads are not.
  const byApplier = new Map<string, string>();
  for (const w of workloads)
    if (w.appliedBy !== undefined && !byApplier.has(w.appliedBy))
      byApplier.set(w.appliedBy, w.object);
  for (const [applier, workload] of sorted(byApplier)) {
    if (members.has(applier) || failing.has(applier)) continue;
    if (ancestors(tree, applier).some((a) => failing.has(a))) continue;
    const missing = missingFor(applier);
    if (missing.size === 0) continue;
    const { names, before } = describe(missing);
    const parent = tree.applier.get(applier);
    findings.push({
      rule: 'isolation-phase',
      object: escapeControl(applier),
      ...(parent === undefined ? {} : { appliedBy: escapeControl(parent) }),
      field: 'spec.dependsOn',
      message: `applies workloads (${workload}) without waiting for ${names}: they could run before ${before}; apply workloads in a phase that depends on the first`,
      severity: 'error',
    });
  }
  return findings;
}

const NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';

/**
 * Which namespaces a Cilium policy closes egress of: a CiliumNetworkPolicy (or one of its
 * `specs`) that selects every endpoint of its namespace, or a CiliumClusterwideNetworkPolicy that
 * selects every endpoint (`*`) or those of one namespace (its pod-namespace label), each with a
 * non-empty egress or egressDeny list — Cilium enforces egress on the selected endpoints only when
 * a rule has one (pkg/policy/api Sanitize), unless `enableDefaultDeny.egress: false`.
 */
function closedBy(o: GoMap): string[] {
  if (groupOf(nestedString(o, 'apiVersion')) !== CILIUM) return [];
  const kind = nestedString(o, 'kind');
  const clusterwide = kind === 'CiliumClusterwideNetworkPolicy';
  if (kind !== 'CiliumNetworkPolicy' && !clusterwide) return [];
  const spec = field(o, 'spec');
  const specs = field(o, 'specs');
  const all = [...(isGoMap(spec) ? [spec] : []), ...(Array.isArray(specs) ? specs : [])];
  const closed: string[] = [];
  for (const s of all) {
    if (!isGoMap(s)) continue;
    const nonEmpty = (key: string): boolean => {
      const list = s.get(key);
      return Array.isArray(list) && list.length > 0;
    };
    if (!(nonEmpty('egress') || nonEmpty('egressDeny'))) continue;
    if (field(s.get('enableDefaultDeny'), 'egress') === false) continue;
    const selector = s.get('endpointSelector');
    if (!isGoMap(selector)) continue;
    const labels = selector.get('matchLabels');
    const expressions = selector.get('matchExpressions');
    const labelMap = isGoMap(labels) ? labels : new Map<string, GoValue>();
    if (Array.isArray(expressions) && expressions.length > 0) continue;
    if (labelMap.size === 0) closed.push(clusterwide ? '*' : objectNamespace(o));
    else if (
      clusterwide &&
      labelMap.size === 1 &&
      typeof labelMap.get(NAMESPACE_LABEL) === 'string'
    )
      closed.push(labelMap.get(NAMESPACE_LABEL) as string);
  }
  return closed;
}

function egressFindings(
  groups: readonly FleetRenderGroup[],
  workloads: readonly WorkloadImage[],
): FleetFinding[] {
  const closed = new Set<string>();
  for (const group of groups)
    for (const o of group.objects) for (const ns of closedBy(o)) closed.add(ns);
  const first = new Map<string, WorkloadImage>();
  for (const w of workloads) if (!first.has(w.namespace)) first.set(w.namespace, w);
  // The namespaces policy cilium leaves open unless egress.yaml declares them (the system ones,
  // the cluster DNS's): a policy there would cut pods the fleet does not manage. A warning there.
  let left: Map<string, string>;
  try {
    left = new Map(planEgress(groups).skipped.map((n) => [n.namespace, n.reason]));
  } catch {
    // A namespace that is no DNS label stops policy cilium; here only the system ones are known.
    left = new Map(
      ['kube-system', 'kube-public', 'kube-node-lease'].map((n) => [n, 'a system namespace']),
    );
  }
  const findings: FleetFinding[] = [];
  for (const [namespace, w] of [...first].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (closed.has(namespace) || closed.has('*')) continue;
    const reason = left.get(namespace);
    if (reason !== undefined) {
      findings.push({
        rule: 'egress-policy-missing',
        object: w.object,
        ...(w.appliedBy === undefined ? {} : { appliedBy: escapeControl(w.appliedBy) }),
        field: 'metadata.namespace',
        message: `namespace ${escapeControl(namespace)} runs workloads and its egress is open: policy cilium leaves it alone unless egress.yaml declares it (${escapeControl(reason)})`,
        severity: 'warning',
      });
      continue;
    }
    findings.push({
      rule: 'egress-policy-missing',
      object: w.object,
      ...(w.appliedBy === undefined ? {} : { appliedBy: escapeControl(w.appliedBy) }),
      field: 'metadata.namespace',
      message: `namespace ${escapeControl(namespace)} runs workloads but no CiliumNetworkPolicy closes its egress (one selecting every endpoint, endpointSelector: {}, with egress rules); generate one per namespace with policy cilium`,
      severity: 'error',
    });
  }
  return findings;
}

/** The host of `host[/path]`, lower-cased. */
const hostOf = (to: string): string => {
  const slash = to.indexOf('/');
  return registryKey(slash < 0 ? to : to.slice(0, slash));
};

/** Namespaces the Kyverno chart's resourceFilters leave out of every policy (kyverno.md). */
const KYVERNO_EXCLUDED = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'kyverno']);

async function imageFindings(
  workloads: readonly WorkloadImage[],
  options: IsolationOptions,
  holds: ImageHolder | undefined,
  unrewritten: (w: WorkloadImage) => string | undefined,
): Promise<FleetFinding[]> {
  const cache = options.cache;
  const privateHosts = new Set([
    ...cache.rules.map((r) => hostOf(r.to)),
    ...(options.privateRegistries ?? []).map((h) => registryKey(h)),
  ]);
  const findings: FleetFinding[] = [];
  const checked = new Map<string, Promise<boolean>>();
  for (const w of workloads) {
    const base = {
      object: w.object,
      ...(w.appliedBy === undefined ? {} : { appliedBy: escapeControl(w.appliedBy) }),
      field: w.field,
    };
    let pulled: string;
    let fetchedOnDemand: boolean;
    const notRewritten = unrewritten(w);
    try {
      // What Kyverno never sees is pulled as written: only a reference already under a rule's
      // path (rewriteImage's `private`) keeps it inside.
      const written = rewriteImage(w.raw, cache);
      const result =
        notRewritten === undefined || written.outcome === 'private'
          ? written
          : { ...written, outcome: 'no-rule' as const, rewritten: undefined, rule: undefined };
      // Only a pull-through cache path fetches what it lacks; a mirror path holds what was copied.
      fetchedOnDemand = result.rule !== undefined && result.rule.mode === 'cache';
      pulled = result.rewritten ?? result.image.normalized;
    } catch (error) {
      if (!(error instanceof ImageReferenceError)) throw error;
      findings.push({
        ...base,
        rule: 'image-invalid',
        message: escapeControl(error.message),
        severity: 'error',
      });
      continue;
    }
    const image = normalizeImage(pulled);
    const host = registryKey(image.registry);
    if (!privateHosts.has(host)) {
      findings.push({
        ...base,
        rule: 'image-public',
        message:
          notRewritten === undefined
            ? `${escapeControl(w.raw)} is pulled from ${escapeControl(host)}, outside the boundary: no cache rule covers that registry and it is not mirrored under a private registry; add a rule for it to the cache rules or mirror it and reference the mirror`
            : `${escapeControl(w.raw)} is pulled from ${escapeControl(host)} as written, outside the boundary: Kyverno does not rewrite it (${escapeControl(notRewritten)}); reference the private registry in its values`,
        severity: 'error',
      });
      continue;
    }
    // Under a pull-through cache path the cache fetches it on demand; elsewhere it must be there.
    if (fetchedOnDemand || holds === undefined) continue;
    let present = checked.get(pulled);
    if (present === undefined) checked.set(pulled, (present = holds(pulled)));
    if (!(await present))
      findings.push({
        ...base,
        rule: 'image-not-mirrored',
        message: `${escapeControl(pulled)} is not in the private registry, and it is not under a pull-through cache path (a rule of mode cache): nothing will fetch it; mirror it (images mirror) or reference it through a cache path`,
        severity: 'error',
      });
  }
  return findings;
}

/**
 * The isolation findings of one rendered cluster. `holds` (online) says whether the private
 * registry holds an image; without it, image-not-mirrored is not checked.
 */
export async function checkIsolation(
  groups: readonly FleetRenderGroup[],
  options: IsolationOptions,
  holds?: ImageHolder,
): Promise<FleetFinding[]> {
  const tree = fluxTree(groups);
  const workloads = groups.flatMap((group) => {
    // helm-controller installs a release's objects without a namespace into its targetNamespace,
    // else its own namespace (helm template leaves metadata.namespace empty for most charts).
    const release = tree.nodes.get(group.appliedBy);
    const fallback =
      release === undefined || nestedString(release, 'kind') !== 'HelmRelease'
        ? 'default'
        : nestedString(release, 'spec', 'targetNamespace') || objectNamespace(release) || 'default';
    return workloadImages(group.objects).map((w) => ({
      ...w,
      namespace: w.namespace || fallback,
      appliedBy: group.appliedBy,
    }));
  });
  // Images Kyverno never rewrites: those of Cilium and Kyverno themselves (they start before the
  // policy exists) and of the namespaces Kyverno's default resourceFilters exclude.
  const { members } = isolationOf(tree);
  const unrewritten = (w: WorkloadImage): string | undefined =>
    w.appliedBy !== undefined && members.has(w.appliedBy)
      ? 'it belongs to Cilium or Kyverno, which start before the rewriting policy exists'
      : KYVERNO_EXCLUDED.has(w.namespace)
        ? `Kyverno's default resourceFilters exclude namespace ${w.namespace}`
        : undefined;
  return [
    ...(await imageFindings(workloads, options, holds, unrewritten)),
    ...egressFindings(groups, workloads),
    ...phaseFindings(groups, workloads),
  ];
}
