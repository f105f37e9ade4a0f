// The dependsOn graph of a rendered cluster (issue 10 §6): which Flux object waits for which, the
// phases the cluster comes up in (topological layers), and the cycles that would keep parts of it
// from ever reconciling. Only explicit `spec.dependsOn` entries are edges:
//
// - Kustomization (kustomize.toolkit.fluxcd.io) and HelmRelease (helm.toolkit.fluxcd.io):
//   `{name, namespace?, readyExpr?}`; the target is the same kind, and an empty namespace is the
//   object's own (kustomize-controller and helm-controller checkDependencies default it so;
//   ../shared/reference/flux-oci.md §4).
// - ResourceSet (fluxcd.controlplane.io): `{apiVersion, kind, name, namespace?, ready?, readyExpr?}`;
//   the target can be any object, and the namespace is used as written, with no default (FO
//   internal/controller/resourceset_controller.go checkDependencies; resourceset.md §1.1, §1.7).
//
// Objects a ResourceSet or Kustomization generates are not made to depend on their applier here:
// the caller passes the render's groups so every node says which Flux object applies it.
import { escapeControl } from '../core/index.ts';
import { type GoMap, type GoValue, isGoMap } from '../goyaml/index.ts';
import { nestedString, objectName, objectNamespace } from './objects.ts';

export interface GraphNode {
  /** Kind/namespace/name (Kind/name when cluster-scoped), control characters escaped. */
  readonly id: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The Flux object that applies it (from the render's groups), when known. */
  readonly appliedBy?: string;
  /** A dependsOn target that is not in the rendered set. */
  readonly missing?: true;
}

export interface GraphEdge {
  /** The object that declares the dependsOn entry (it waits). */
  readonly from: string;
  /** The object it waits for. */
  readonly to: string;
  /** Where the entry is: `spec.dependsOn[0]`. */
  readonly field: string;
  /** ResourceSet entries: whether readiness is awaited (`ready: true`), not only existence. */
  readonly ready?: boolean;
  readonly readyExpr?: string;
}

export interface DependencyGraph {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  /** Topological layers: every node of phase n depends only on nodes of earlier phases. */
  readonly phases: string[][];
  /** Each cycle (a strongly connected component, or a node that depends on itself), its ids sorted. */
  readonly cycles: string[][];
  /** Nodes that cannot be placed in a phase because they are in, or wait on, a cycle. */
  readonly unordered: string[];
}

/** A render group (`FleetRenderGroup`) or anything with the same shape. */
export interface GraphGroup {
  readonly appliedBy: string;
  readonly objects: readonly GoMap[];
}

const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
};

const KUSTOMIZE = 'kustomize.toolkit.fluxcd.io';
const HELM = 'helm.toolkit.fluxcd.io';
const OPERATOR = 'fluxcd.controlplane.io';

const isFluxNode = (group: string, kind: string): boolean =>
  (group === KUSTOMIZE && kind === 'Kustomization') ||
  (group === HELM && kind === 'HelmRelease') ||
  (group === OPERATOR && kind === 'ResourceSet');

const nodeId = (kind: string, namespace: string, name: string): string =>
  escapeControl(namespace === '' ? `${kind}/${name}` : `${kind}/${namespace}/${name}`);

/** The identity used for lookups: the API group, not the version, as the API server sees it. */
const lookupKey = (group: string, kind: string, namespace: string, name: string): string =>
  JSON.stringify([group, kind, namespace, name]);

const str = (value: GoValue | undefined): string => (typeof value === 'string' ? value : '');

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The dependsOn graph of the rendered objects: groups from renderFleet, or plain objects. */
export function dependencyGraph(input: readonly GraphGroup[] | readonly GoMap[]): DependencyGraph {
  const groups: GraphGroup[] = input.map((entry) =>
    isGoMap(entry as GoValue)
      ? { appliedBy: '', objects: [entry as GoMap] }
      : (entry as GraphGroup),
  );
  const nodes: GraphNode[] = [];
  const byKey = new Map<string, GraphNode>();
  const all = new Map<string, { object: GoMap; appliedBy: string }>();
  const flux: { object: GoMap; node: GraphNode }[] = [];
  for (const group of groups)
    for (const object of group.objects) {
      const apiVersion = nestedString(object, 'apiVersion');
      const kind = nestedString(object, 'kind');
      const key = lookupKey(groupOf(apiVersion), kind, objectNamespace(object), objectName(object));
      if (!all.has(key)) all.set(key, { object, appliedBy: group.appliedBy });
      if (!isFluxNode(groupOf(apiVersion), kind) || byKey.has(key)) continue;
      const node = makeNode(object, group.appliedBy);
      byKey.set(key, node);
      nodes.push(node);
      flux.push({ object, node });
    }

  const edges: GraphEdge[] = [];
  for (const { object, node } of flux) {
    const spec = object.get('spec');
    const dependsOn = isGoMap(spec) ? spec.get('dependsOn') : undefined;
    if (!Array.isArray(dependsOn)) continue;
    const group = groupOf(node.apiVersion);
    dependsOn.forEach((entry, i) => {
      if (!isGoMap(entry)) return;
      const name = str(entry.get('name'));
      let targetGroup = group;
      let targetKind = node.kind;
      let targetApiVersion = node.apiVersion;
      let namespace = str(entry.get('namespace'));
      if (group === OPERATOR) {
        targetApiVersion = str(entry.get('apiVersion'));
        targetGroup = groupOf(targetApiVersion);
        targetKind = str(entry.get('kind'));
      } else if (namespace === '') namespace = node.namespace;
      const key = lookupKey(targetGroup, targetKind, namespace, name);
      let target = byKey.get(key);
      if (target === undefined) {
        const found = all.get(key);
        target =
          found === undefined
            ? {
                id: nodeId(targetKind, namespace, name),
                apiVersion: targetApiVersion,
                kind: targetKind,
                namespace,
                name,
                missing: true,
              }
            : makeNode(found.object, found.appliedBy);
        byKey.set(key, target);
        nodes.push(target);
      }
      const readyExpr = entry.get('readyExpr');
      const ready = entry.get('ready');
      edges.push({
        from: node.id,
        to: target.id,
        field: `spec.dependsOn[${i}]`,
        ...(group === OPERATOR ? { ready: ready === true } : {}),
        ...(typeof readyExpr === 'string' && readyExpr !== '' ? { readyExpr } : {}),
      });
    });
  }
  return { nodes, edges, ...order(nodes, edges) };
}

function makeNode(object: GoMap, appliedBy: string): GraphNode {
  const kind = nestedString(object, 'kind');
  const namespace = objectNamespace(object);
  const name = objectName(object);
  return {
    id: nodeId(kind, namespace, name),
    apiVersion: nestedString(object, 'apiVersion'),
    kind,
    namespace,
    name,
    ...(appliedBy === '' ? {} : { appliedBy }),
  };
}

/** Phases by Kahn's algorithm (missing targets left out), cycles by Tarjan's SCC algorithm. */
function order(
  nodes: readonly GraphNode[],
  edges: readonly GraphEdge[],
): { phases: string[][]; cycles: string[][]; unordered: string[] } {
  const present = new Set(nodes.filter((n) => n.missing !== true).map((n) => n.id));
  const needs = new Map<string, Set<string>>();
  for (const id of present) needs.set(id, new Set());
  for (const edge of edges)
    if (present.has(edge.from) && present.has(edge.to)) needs.get(edge.from)?.add(edge.to);

  const placed = new Set<string>();
  const phases: string[][] = [];
  let remaining = [...present];
  for (;;) {
    const layer = remaining.filter((id) => [...(needs.get(id) ?? [])].every((d) => placed.has(d)));
    if (layer.length === 0) break;
    layer.sort(compare);
    for (const id of layer) placed.add(id);
    phases.push(layer);
    remaining = remaining.filter((id) => !placed.has(id));
  }

  // Tarjan, iteratively (a long dependsOn chain must not overflow the stack).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const root of present) {
    if (index.has(root)) continue;
    const work: { id: string; next: string[] }[] = [];
    const visit = (id: string): void => {
      index.set(id, counter);
      low.set(id, counter);
      counter++;
      stack.push(id);
      onStack.add(id);
      work.push({ id, next: [...(needs.get(id) ?? [])] });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { id: string; next: string[] };
      const next = frame.next.shift();
      if (next !== undefined) {
        if (!index.has(next)) visit(next);
        else if (onStack.has(next))
          low.set(frame.id, Math.min(low.get(frame.id) ?? 0, index.get(next) ?? 0));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined)
        low.set(parent.id, Math.min(low.get(parent.id) ?? 0, low.get(frame.id) ?? 0));
      if (low.get(frame.id) !== index.get(frame.id)) continue;
      const component: string[] = [];
      for (;;) {
        const member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
        if (member === frame.id) break;
      }
      if (component.length > 1 || needs.get(frame.id)?.has(frame.id) === true)
        cycles.push(component.sort(compare));
    }
  }
  cycles.sort((a, b) => compare(a[0] ?? '', b[0] ?? ''));
  return { phases, cycles, unordered: remaining.sort(compare) };
}

/** Plain text: one block per phase, each node with what it waits for and who applies it. */
export function graphText(graph: DependencyGraph): string {
  const waits = new Map<string, GraphEdge[]>();
  for (const edge of graph.edges) waits.set(edge.from, [...(waits.get(edge.from) ?? []), edge]);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const lines: string[] = [];
  const describe = (id: string): void => {
    const node = byId.get(id);
    const applied = node?.appliedBy === undefined ? '' : `  (applied by ${node.appliedBy})`;
    lines.push(`  ${id}${applied}`);
    for (const edge of waits.get(id) ?? []) {
      const how =
        edge.readyExpr !== undefined
          ? ` when ${escapeControl(edge.readyExpr)}`
          : edge.ready === false
            ? ' (exists)'
            : '';
      const missing = byId.get(edge.to)?.missing === true ? ' [missing]' : '';
      lines.push(`    after ${edge.to}${missing}${how}`);
    }
  };
  graph.phases.forEach((phase, i) => {
    lines.push(`phase ${i + 1}:`);
    for (const id of phase) describe(id);
  });
  if (graph.unordered.length > 0) {
    lines.push('unordered (in or behind a cycle):');
    for (const id of graph.unordered) describe(id);
  }
  for (const cycle of graph.cycles) lines.push(`cycle: ${[...cycle, cycle[0]].join(' -> ')}`);
  const missing = graph.nodes.filter((n) => n.missing === true);
  for (const node of missing) lines.push(`missing: ${node.id}`);
  return lines.join('\n');
}

/**
 * Mermaid flowchart: node ids are generated (n0, n1, …), labels are quoted with every character
 * outside a safe set written as a Mermaid entity code (`#35;`), so a name cannot end the label,
 * inject markup or break the line. Arrows run in the order things come up: dependency → dependent.
 */
export function graphMermaid(graph: DependencyGraph): string {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const label = (text: string): string =>
    `"${escapeControl(text).replace(/[^A-Za-z0-9 ./_:@=-]/gu, (c) => `#${c.codePointAt(0)};`)}"`;
  const lines = ['flowchart TD'];
  const node = (id: string, indent: string): void => {
    const n = graph.nodes.find((x) => x.id === id);
    const shape = n?.missing === true ? ['{{', '}}'] : ['[', ']'];
    lines.push(
      `${indent}${ids.get(id)}${shape[0]}${label(n?.missing === true ? `${id} (missing)` : id)}${shape[1]}`,
    );
  };
  graph.phases.forEach((phase, i) => {
    lines.push(`  subgraph phase${i + 1}[${label(`phase ${i + 1}`)}]`);
    for (const id of phase) node(id, '    ');
    lines.push('  end');
  });
  for (const id of graph.unordered) node(id, '  ');
  for (const n of graph.nodes) if (n.missing === true) node(n.id, '  ');
  for (const edge of graph.edges)
    lines.push(
      `  ${ids.get(edge.to)} -->${edge.readyExpr === undefined ? '' : `|${label('ready')}|`} ${ids.get(edge.from)}`,
    );
  return lines.join('\n');
}

/** A DOT quoted string: backslash and quote escaped, control characters written as text. */
const dotString = (text: string): string =>
  `"${escapeControl(text).replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** Graphviz DOT: quoted ids, one cluster per phase, arrows dependency → dependent. */
export function graphDOT(graph: DependencyGraph): string {
  const lines = ['digraph dependencies {', '  rankdir=TB;', '  node [shape=box];'];
  graph.phases.forEach((phase, i) => {
    lines.push(`  subgraph cluster_phase${i + 1} {`, `    label=${dotString(`phase ${i + 1}`)};`);
    for (const id of phase) lines.push(`    ${dotString(id)};`);
    lines.push('  }');
  });
  for (const id of graph.unordered) lines.push(`  ${dotString(id)} [color=red];`);
  for (const n of graph.nodes)
    if (n.missing === true) lines.push(`  ${dotString(n.id)} [style=dashed, color=red];`);
  for (const edge of graph.edges) {
    const attributes = edge.readyExpr === undefined ? '' : ` [label=${dotString(edge.readyExpr)}]`;
    lines.push(`  ${dotString(edge.to)} -> ${dotString(edge.from)}${attributes};`);
  }
  lines.push('}');
  return lines.join('\n');
}
