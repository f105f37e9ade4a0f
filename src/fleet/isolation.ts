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

/** dependsOn targets as ids (Kustomization/HelmRelease: same kind, own namespace by default). */
function dependsOn(o: GoMap): string[] {
  const list = field(field(o, 'spec'), 'dependsOn');
  if (!Array.isArray(list)) return [];
  const kind = nestedString(o, 'kind');
  const own = objectNamespace(o);
  const resourceSet = kind === 'ResourceSet';
  const targets: string[] = [];
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
    targets.push(id(targetKind, resourceSet ? ns : ns || own, name));
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
    for (const target of object === undefined ? [] : dependsOn(object)) {
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

function phaseFindings(
  groups: readonly FleetRenderGroup[],
  workloads: readonly WorkloadImage[],
): FleetFinding[] {
  const tree = fluxTree(groups);
  const waits = waitsFor(tree);
  const components = new Map<'cilium' | 'kyverno', string[]>([
    ['cilium', []],
    ['kyverno', []],
  ]);
  for (const [key, o] of tree.nodes) {
    const component = componentOf(o);
    if (component !== undefined) components.get(component)?.push(key);
  }
  // The outermost Flux object of each component: the one the phase applies.
  const outermost = new Map<'cilium' | 'kyverno', string>();
  for (const [component, keys] of components) {
    const top = keys.find((k) => !ancestors(tree, k).some((a) => keys.includes(a)));
    if (top !== undefined) outermost.set(component, top);
  }
  const root = groups[0]?.appliedBy ?? 'the cluster';
  const findings: FleetFinding[] = [];
  for (const component of ['cilium', 'kyverno'] as const)
    if (!outermost.has(component))
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
  const isolation = new Set<string>();
  for (const key of outermost.values()) for (const held of subtree(tree, key)) isolation.add(held);
  // The first phase waits for nothing but the other isolation component (Kyverno after Cilium),
  // or a phase that applies it.
  for (const [component, key] of outermost) {
    const allowed = new Set(isolation);
    for (const [other, otherKey] of outermost)
      if (other !== component) for (const a of ancestors(tree, otherKey)) allowed.add(a);
    const others = [...waits(key)].filter((w) => !allowed.has(w)).sort();
    if (others.length === 0) continue;
    // Name the object that declares the wait: itself or the nearest applier with a dependsOn.
    const declarer =
      [key, ...ancestors(tree, key)].find((k) => {
        const o = tree.nodes.get(k);
        return o !== undefined && dependsOn(o).length > 0;
      }) ?? key;
    findings.push({
      rule: 'isolation-phase',
      object: declarer,
      field: 'spec.dependsOn',
      message: `${component === 'cilium' ? 'Cilium' : 'Kyverno'} (${key}) is not in the first phase: it waits for ${others.slice(0, 3).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}, so workloads could run before ${component === 'cilium' ? 'egress policies are enforced' : 'image references are rewritten'}`,
      severity: 'error',
    });
  }
  // Every other Flux object waits for both; only the outermost offender of a subtree is named.
  const required = [...outermost.entries()];
  const containers = new Set<string>();
  for (const key of outermost.values()) for (const a of ancestors(tree, key)) containers.add(a);
  const failing = new Map<string, (typeof required)[number][]>();
  for (const key of tree.nodes.keys()) {
    if (isolation.has(key) || containers.has(key)) continue;
    const waited = waits(key);
    const missing = required.filter(([, c]) => !waited.has(c));
    if (missing.length > 0) failing.set(key, missing);
  }
  const describe = (missing: (typeof required)[number][]) => ({
    names: missing.map(([c, k]) => `${c === 'cilium' ? 'Cilium' : 'Kyverno'} (${k})`).join(' and '),
    before: missing
      .map(([c]) => (c === 'cilium' ? 'egress is closed' : 'images are rewritten'))
      .join(' and '),
  });
  for (const [key, missing] of [...failing].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
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
  for (const [applier, workload] of [...byApplier].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    if (isolation.has(applier) || failing.has(applier)) continue;
    if (ancestors(tree, applier).some((a) => failing.has(a))) continue;
    const waited = waits(applier);
    const missing = required.filter(([, c]) => !waited.has(c));
    if (missing.length === 0) continue;
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

/**
 * A CiliumNetworkPolicy (or one of its `specs`) that selects every endpoint of its namespace and
 * has egress rules: Cilium then denies any egress those rules do not allow (default deny is on
 * for the selected endpoints unless `enableDefaultDeny.egress: false`).
 */
function closesEgress(o: GoMap): boolean {
  if (groupOf(nestedString(o, 'apiVersion')) !== CILIUM) return false;
  if (nestedString(o, 'kind') !== 'CiliumNetworkPolicy') return false;
  const spec = field(o, 'spec');
  const specs = field(o, 'specs');
  const all = [...(isGoMap(spec) ? [spec] : []), ...(Array.isArray(specs) ? specs : [])];
  return all.some((s) => {
    if (!isGoMap(s)) return false;
    const selector = s.get('endpointSelector');
    const selectsAll =
      isGoMap(selector) &&
      [...selector].every(
        ([, v]) =>
          v === null || (isGoMap(v) && v.size === 0) || (Array.isArray(v) && v.length === 0),
      );
    const egress = s.get('egress') ?? s.get('egressDeny');
    const defaultDeny = field(s.get('enableDefaultDeny'), 'egress');
    return selectsAll && Array.isArray(egress) && defaultDeny !== false;
  });
}

function egressFindings(
  groups: readonly FleetRenderGroup[],
  workloads: readonly WorkloadImage[],
): FleetFinding[] {
  const closed = new Set<string>();
  for (const group of groups)
    for (const o of group.objects) if (closesEgress(o)) closed.add(objectNamespace(o));
  const first = new Map<string, WorkloadImage>();
  for (const w of workloads) if (!first.has(w.namespace)) first.set(w.namespace, w);
  const findings: FleetFinding[] = [];
  for (const [namespace, w] of [...first].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (closed.has(namespace)) continue;
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

async function imageFindings(
  workloads: readonly WorkloadImage[],
  options: IsolationOptions,
  holds: ImageHolder | undefined,
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
    try {
      const result = rewriteImage(w.raw, cache);
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
        message: `${escapeControl(w.raw)} is pulled from ${escapeControl(host)}, outside the boundary: no cache rule covers that registry and it is not mirrored under a private registry; add a rule for it to the cache rules or mirror it and reference the mirror`,
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
  const workloads = groups.flatMap((group) =>
    workloadImages(group.objects).map((w) => ({ ...w, appliedBy: group.appliedBy })),
  );
  return [
    ...(await imageFindings(workloads, options, holds)),
    ...egressFindings(groups, workloads),
    ...phaseFindings(groups, workloads),
  ];
}
