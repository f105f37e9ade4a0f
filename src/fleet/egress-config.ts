// egress.yaml (issue 12 §4): what each namespace may reach besides what `policy cilium` finds by
// itself (DNS, its own namespace's pods, and where the rendered fleet shows the need, the
// Kubernetes API and the registry), and where the cluster DNS runs when the render cannot show it.
// docs/egress.schema.json is its JSON Schema; every problem is reported at once with its
// file:line:col and field, as cache.yaml's are (src/images/cache.ts).
//
//   dns:                                    # default: kube-system, k8s-app: kube-dns
//     namespace: coredns
//     matchLabels: {k8s-app: coredns}       # omitted: every pod of the namespace (port 53)
//   namespaces:
//     cert-manager:
//       kubeAPI: true                       # override the heuristic (true or false)
//       to:
//         - fqdn: acme-v02.api.letsencrypt.org
//           ports: [443]
//     monitoring:
//       registry: false
//       to:
//         - fqdnPattern: "*.alerts.internal"
//           ports: [{port: 9093}]
//         - cidr: 10.20.0.0/16
//           ports: [{port: 5432, protocol: TCP}, {port: 8125, protocol: UDP}]
import { isIP } from 'node:net';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { AirlockError } from '../errors.ts';
import { escapeControl, readUserFile } from '../core/index.ts';

export type EgressProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export interface EgressPort {
  readonly port: number;
  readonly protocol: EgressProtocol;
  /** The last port of a range (port..endPort). */
  readonly endPort?: number;
}

/**
 * The Cilium entities egress.yaml may name: the in-cluster ones. `world` and `all` open egress to
 * everything (refused, as `*` and `0.0.0.0/0` are), `kube-apiserver` is the `kubeAPI` switch and
 * `none` selects nothing.
 */
export const EGRESS_ENTITIES = [
  'cluster',
  'host',
  'remote-node',
  'health',
  'ingress',
  'init',
  'unmanaged',
] as const;
export type EgressEntity = (typeof EGRESS_ENTITIES)[number];

/** Pod labels (Kubernetes label keys and values, without Cilium's `k8s:` source prefix). */
export type PodLabels = Readonly<Record<string, string>>;

/**
 * One declared destination: a name, a name pattern or an address block outside the cluster; the
 * pods of a namespace (all, or those with matchLabels); or a Cilium entity; on some ports.
 */
export type EgressDestination = (
  | { readonly fqdn: string }
  | { readonly fqdnPattern: string }
  | { readonly cidr: string }
  | { readonly namespace: string; readonly matchLabels?: PodLabels }
  | { readonly entity: EgressEntity }
) & {
  /** No ports: every port. */
  readonly ports: readonly EgressPort[];
  /** Where it is written: `egress.yaml:7:11`. */
  readonly where: string;
};

export interface NamespaceEgress {
  /** Allow the Kubernetes API (overrides the RBAC heuristic when set). */
  readonly kubeAPI?: boolean;
  /** Allow the private registry hosts (overrides the Flux heuristic when set). */
  readonly registry?: boolean;
  readonly to: readonly EgressDestination[];
  readonly where: string;
}

/** Where the cluster DNS runs (egress.yaml `dns`), overriding what the render shows. */
export interface EgressDNSConfig {
  readonly namespace: string;
  /** The DNS pods' labels; absent: every pod of the namespace. */
  readonly matchLabels?: PodLabels;
  readonly where: string;
}

export interface EgressConfig {
  readonly file: string;
  readonly dns?: EgressDNSConfig;
  readonly namespaces: ReadonlyMap<string, NamespaceEgress>;
}

const MAX_EGRESS_CONFIG_SIZE = 4 * 1024 * 1024;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS name as Cilium's matchName takes it (letters, digits, "-", "_"; an optional final "."). */
const FQDN_LABEL = /^[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?$/;
const PATTERN_LABEL = /^[-A-Za-z0-9_*]{1,63}$/;
const PROTOCOLS: readonly EgressProtocol[] = ['TCP', 'UDP', 'SCTP', 'ANY'];
/** A label key's name part, and a label value (apimachinery validation.IsQualifiedName/IsValidLabelValue). */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The label Cilium gives every endpoint for its namespace: written by namespace, never by hand. */
export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';

/** A Kubernetes namespace name: a DNS-1123 label (a-z, 0-9, "-", at most 63 characters). */
export const isNamespaceName = (name: string): boolean => name.length <= 63 && DNS_LABEL.test(name);

class Problems {
  readonly list: string[] = [];
  readonly #file: string;
  readonly #lines: LineCounter;
  constructor(file: string, lines: LineCounter) {
    this.#file = file;
    this.#lines = lines;
  }
  at(node: Node | null | undefined): string {
    const { line, col } = this.#lines.linePos(node?.range?.[0] ?? 0);
    return `${this.#file}:${line}:${col}`;
  }
  add(node: Node | null | undefined, field: string, message: string): void {
    this.list.push(`${this.at(node)}: ${field}: ${message}`);
  }
}

function pairs(map: Node): { key: string; keyNode: Node; value: Node }[] {
  if (!isMap(map)) return [];
  return map.items.map((pair) => ({
    key: isScalar(pair.key) ? String(pair.key.value) : '?',
    keyNode: pair.key as Node,
    value: (pair.value ?? pair.key) as Node,
  }));
}

function value(map: Node, key: string): Node | undefined {
  return pairs(map).find((p) => p.key === key)?.value;
}

function unknownKeys(map: Node, allowed: readonly string[], at: string, problems: Problems): void {
  for (const { key, keyNode } of pairs(map))
    if (!allowed.includes(key))
      problems.add(
        keyNode,
        `${at}${escapeControl(key)}`,
        `unknown field (allowed: ${allowed.join(', ')})`,
      );
}

const scalar = (node: Node | undefined): unknown => (isScalar(node) ? node.value : undefined);

function fqdnProblem(name: string, pattern: boolean): string | undefined {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare === '' || bare.length > 253) return 'must be a DNS name of 1 to 253 characters';
  const labels = bare.split('.');
  for (const label of labels)
    if (!(pattern ? PATTERN_LABEL : FQDN_LABEL).test(label))
      return `${JSON.stringify(escapeControl(label))} is not a DNS label${pattern ? ' (letters, digits, "-", "_" and "*")' : ' (letters, digits, "-" and "_")'}`;
  if (pattern && labels.every((l) => /^\*+$/.test(l)))
    return 'matches every name: that opens egress to the whole internet';
  return undefined;
}

/** What is wrong with an IPv4 or IPv6 CIDR, if anything (host bits set, /0, no prefix). */
export function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const bits = slash < 0 ? '' : text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^(0|[1-9][0-9]{0,2})$/.test(bits))
    return 'must be ADDRESS/PREFIX (10.20.0.0/16, fd00::/8)';
  const prefix = Number(bits);
  const width = family === 4 ? 32 : 128;
  if (prefix > width) return `a ${family === 4 ? 'IPv4' : 'IPv6'} prefix is at most /${width}`;
  if (prefix === 0) return 'matches every address: that opens egress to the whole internet';
  const value = family === 4 ? ipv4Bits(address) : ipv6Bits(address);
  const hostMask = (1n << BigInt(width - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    const network = value & ~hostMask;
    return `has host bits set: write ${family === 4 ? formatIPv4(network) : formatIPv6(network)}/${prefix}`;
  }
  return undefined;
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}
const formatIPv4 = (n: bigint): string =>
  [24n, 16n, 8n, 0n].map((shift) => String((n >> shift) & 255n)).join('.');

function ipv6Bits(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:10.0.0.1) as two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const n = ipv4Bits(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}
function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((n >> BigInt(16 * (7 - i))) & 0xffffn).toString(16),
  );
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function portNumber(node: Node | undefined, at: string, problems: Problems): number | undefined {
  const n = scalar(node);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    problems.add(node, at, 'must be a port number from 1 to 65535');
    return undefined;
  }
  return n;
}

function parsePorts(node: Node, at: string, problems: Problems): EgressPort[] {
  if (!isSeq(node) || node.items.length === 0) {
    problems.add(node, at, 'must be a non-empty list of ports (443, or {port, protocol, endPort})');
    return [];
  }
  const ports: EgressPort[] = [];
  node.items.forEach((raw, index) => {
    const item = raw as Node;
    const here = `${at}[${index}]`;
    if (isScalar(item)) {
      const port = portNumber(item, here, problems);
      if (port !== undefined) ports.push({ port, protocol: 'TCP' });
      return;
    }
    if (!isMap(item)) {
      problems.add(item, here, 'must be a port number or {port, protocol, endPort}');
      return;
    }
    unknownKeys(item, ['port', 'protocol', 'endPort'], `${here}.`, problems);
    const portNode = value(item, 'port');
    if (portNode === undefined) {
      problems.add(item, `${here}.port`, 'is required');
      return;
    }
    const port = portNumber(portNode, `${here}.port`, problems);
    const protocolNode = value(item, 'protocol');
    const protocol = protocolNode === undefined ? 'TCP' : scalar(protocolNode);
    if (!PROTOCOLS.includes(protocol as EgressProtocol))
      problems.add(protocolNode, `${here}.protocol`, `must be one of ${PROTOCOLS.join(', ')}`);
    const endNode = value(item, 'endPort');
    const endPort =
      endNode === undefined ? undefined : portNumber(endNode, `${here}.endPort`, problems);
    if (port !== undefined && endPort !== undefined && endPort < port)
      problems.add(endNode, `${here}.endPort`, `must not be below port ${port}`);
    if (port !== undefined && PROTOCOLS.includes(protocol as EgressProtocol))
      ports.push({
        port,
        protocol: protocol as EgressProtocol,
        ...(endPort === undefined ? {} : { endPort }),
      });
  });
  return ports;
}

/** A Kubernetes label key (optional DNS-subdomain prefix, a name of at most 63 characters). */
export const isLabelKey = (key: string): boolean => labelKeyProblem(key) === undefined;
/** A Kubernetes label value: empty, or at most 63 letters, digits, "-", "_" and ".". */
export const isLabelValue = (v: string): boolean =>
  v === '' || (v.length <= 63 && LABEL_NAME.test(v));

function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return 'is not a label key: its prefix must be a DNS subdomain (example.com/name)';
  if (name.length > 63 || !LABEL_NAME.test(name))
    return 'is not a label key (letters, digits, "-", "_" and ".", at most 63, an optional prefix/)';
  if (key === NAMESPACE_LABEL) return 'is the namespace itself: write it as namespace';
  return undefined;
}

/** matchLabels: a non-empty mapping of label keys to label values (strings). */
function parseLabels(node: Node, at: string, problems: Problems): PodLabels | undefined {
  if (!isMap(node) || node.items.length === 0) {
    problems.add(node, at, 'must be a non-empty mapping of pod labels (app: postgres)');
    return undefined;
  }
  const labels: Record<string, string> = {};
  let ok = true;
  for (const { key, keyNode, value: valueNode } of pairs(node)) {
    const here = `${at}.${escapeControl(key)}`;
    const problem = labelKeyProblem(key);
    if (problem !== undefined) {
      problems.add(keyNode, here, problem);
      ok = false;
      continue;
    }
    const v = scalar(valueNode);
    if (typeof v !== 'string') {
      problems.add(valueNode, here, 'must be a string (quote numbers and booleans)');
      ok = false;
    } else if (!isLabelValue(v)) {
      problems.add(
        valueNode,
        here,
        `${JSON.stringify(escapeControl(v))} is not a label value (letters, digits, "-", "_" and ".", at most 63)`,
      );
      ok = false;
    } else labels[key] = v;
  }
  return ok ? labels : undefined;
}

function parseNamespaceName(
  node: Node | undefined,
  at: string,
  problems: Problems,
): string | undefined {
  const name = scalar(node);
  if (typeof name !== 'string' || !isNamespaceName(name)) {
    problems.add(
      node,
      at,
      `${typeof name === 'string' ? `${JSON.stringify(escapeControl(name))} ` : ''}is not a namespace name (a DNS label: a-z, 0-9 and "-")`,
    );
    return undefined;
  }
  return name;
}

function entityProblem(entity: string): string | undefined {
  if (entity === 'world' || entity === 'all')
    return 'opens egress to everything outside and inside the cluster: name the destinations';
  if (entity === 'kube-apiserver') return 'is the Kubernetes API: write kubeAPI: true';
  if ((EGRESS_ENTITIES as readonly string[]).includes(entity)) return undefined;
  return `is not an entity allowed here (one of ${EGRESS_ENTITIES.join(', ')})`;
}

const DESTINATION_KEYS = ['fqdn', 'fqdnPattern', 'cidr', 'namespace', 'entity'] as const;
const KINDS_TEXT = 'fqdn, fqdnPattern, cidr, namespace or entity';

function parseDestination(
  node: Node,
  at: string,
  problems: Problems,
): EgressDestination | undefined {
  if (!isMap(node)) {
    problems.add(node, at, `must be a mapping with one of ${KINDS_TEXT}, and ports`);
    return undefined;
  }
  unknownKeys(node, [...DESTINATION_KEYS, 'matchLabels', 'ports'], `${at}.`, problems);
  const kinds = DESTINATION_KEYS.filter((k) => value(node, k) !== undefined);
  if (kinds.length !== 1) {
    problems.add(
      node,
      at,
      kinds.length === 0
        ? `needs one of ${KINDS_TEXT}`
        : `has ${kinds.join(' and ')}: one destination per entry`,
    );
    return undefined;
  }
  const kind = kinds[0] ?? 'fqdn';
  const labelsNode = value(node, 'matchLabels');
  if (labelsNode !== undefined && kind !== 'namespace')
    problems.add(labelsNode, `${at}.matchLabels`, 'selects pods: it goes with namespace');
  const targetNode = value(node, kind);
  const target = scalar(targetNode);
  if (typeof target !== 'string' || target === '') {
    problems.add(targetNode, `${at}.${kind}`, 'must be a non-empty string');
    return undefined;
  }
  const portsNode = value(node, 'ports');
  const ports = (): EgressPort[] =>
    portsNode === undefined ? [] : parsePorts(portsNode, `${at}.ports`, problems);
  const where = problems.at(node);
  if (kind === 'namespace') {
    const namespace = parseNamespaceName(targetNode, `${at}.namespace`, problems);
    const matchLabels =
      labelsNode === undefined ? undefined : parseLabels(labelsNode, `${at}.matchLabels`, problems);
    const list = ports();
    if (namespace === undefined || (labelsNode !== undefined && matchLabels === undefined))
      return undefined;
    return { namespace, ...(matchLabels === undefined ? {} : { matchLabels }), ports: list, where };
  }
  if (kind === 'entity') {
    const problem = entityProblem(target);
    if (problem !== undefined)
      problems.add(targetNode, `${at}.entity`, `${escapeControl(target)} ${problem}`);
    const list = ports();
    if (problem !== undefined) return undefined;
    return { entity: target as EgressEntity, ports: list, where };
  }
  const problem =
    kind === 'cidr' ? cidrProblem(target) : fqdnProblem(target, kind === 'fqdnPattern');
  if (problem !== undefined)
    problems.add(targetNode, `${at}.${kind}`, `${escapeControl(target)} ${problem}`);
  if (kind === 'fqdn' && target.includes('*'))
    problems.add(targetNode, `${at}.fqdn`, 'a name with "*" is an fqdnPattern');
  const list = ports();
  if (problem !== undefined) return undefined;
  if (kind === 'cidr') return { cidr: target, ports: list, where };
  if (kind === 'fqdnPattern') return { fqdnPattern: target, ports: list, where };
  return { fqdn: target, ports: list, where };
}

function parseDNS(node: Node, problems: Problems): EgressDNSConfig | undefined {
  if (!isMap(node)) {
    problems.add(node, 'dns', 'must be a mapping with namespace and matchLabels');
    return undefined;
  }
  unknownKeys(node, ['namespace', 'matchLabels'], 'dns.', problems);
  const namespaceNode = value(node, 'namespace');
  if (namespaceNode === undefined) {
    problems.add(node, 'dns.namespace', 'is required');
    return undefined;
  }
  const namespace = parseNamespaceName(namespaceNode, 'dns.namespace', problems);
  const labelsNode = value(node, 'matchLabels');
  const matchLabels =
    labelsNode === undefined ? undefined : parseLabels(labelsNode, 'dns.matchLabels', problems);
  if (namespace === undefined || (labelsNode !== undefined && matchLabels === undefined))
    return undefined;
  return {
    namespace,
    ...(matchLabels === undefined ? {} : { matchLabels }),
    where: problems.at(node),
  };
}

/**
 * Parses egress.yaml. CONFIG_INVALID with every problem (file:line:col, field): malformed YAML,
 * repeated keys, unknown fields, a namespace name that is not a DNS label, a destination with
 * none or several of fqdn/fqdnPattern/cidr/namespace/entity, a name that is not a DNS name, a
 * CIDR with host bits or /0, a pattern that matches every name, an entity that opens everything
 * (world, all) or is not an in-cluster one, pod labels that are not label keys and values, a port
 * outside 1-65535 or a range that runs backwards.
 */
export function parseEgressConfig(text: string, file: string): EgressConfig {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problems = new Problems(file, lines);
  for (const error of document.errors) {
    const { line, col } = lines.linePos(error.pos[0]);
    problems.list.push(`${file}:${line}:${col}: ${error.message.split('\n')[0] ?? ''}`);
  }
  if (problems.list.length > 0) throw invalid(file, problems.list);
  const root = document.contents;
  if (!root || !isMap(root))
    throw invalid(file, [`${file}:1:1: the document must be a mapping with "namespaces"`]);
  unknownKeys(root, ['dns', 'namespaces'], '', problems);
  const dnsNode = value(root, 'dns');
  const dns = dnsNode === undefined ? undefined : parseDNS(dnsNode, problems);
  const namespacesNode = value(root, 'namespaces');
  const namespaces = new Map<string, NamespaceEgress>();
  if (namespacesNode === undefined) problems.add(root, 'namespaces', 'is required');
  else if (!isMap(namespacesNode))
    problems.add(namespacesNode, 'namespaces', 'must be a mapping of namespace names');
  else
    for (const { key, keyNode, value: node } of pairs(namespacesNode)) {
      const at = `namespaces.${escapeControl(key)}`;
      if (!isNamespaceName(key)) {
        problems.add(keyNode, at, 'is not a namespace name (a DNS label: a-z, 0-9 and "-")');
        continue;
      }
      if (!isMap(node)) {
        problems.add(node, at, 'must be a mapping with kubeAPI, registry and to');
        continue;
      }
      unknownKeys(node, ['kubeAPI', 'registry', 'to'], `${at}.`, problems);
      const flags: { kubeAPI?: boolean; registry?: boolean } = {};
      for (const flag of ['kubeAPI', 'registry'] as const) {
        const flagNode = value(node, flag);
        if (flagNode === undefined) continue;
        const v = scalar(flagNode);
        if (typeof v !== 'boolean')
          problems.add(flagNode, `${at}.${flag}`, 'must be true or false');
        else flags[flag] = v;
      }
      const toNode = value(node, 'to');
      const to: EgressDestination[] = [];
      if (toNode !== undefined) {
        if (!isSeq(toNode)) problems.add(toNode, `${at}.to`, 'must be a list of destinations');
        else
          toNode.items.forEach((item, index) => {
            const destination = parseDestination(item as Node, `${at}.to[${index}]`, problems);
            if (destination !== undefined) to.push(destination);
          });
      }
      namespaces.set(key, { ...flags, to, where: problems.at(keyNode) });
    }
  if (problems.list.length > 0) throw invalid(file, problems.list);
  return { file, ...(dns === undefined ? {} : { dns }), namespaces };
}

function invalid(file: string, problems: readonly string[]): AirlockError {
  return new AirlockError(
    'CONFIG_INVALID',
    problems.length === 1 ? (problems[0] ?? '') : `${file}: ${problems.length} problems`,
    { details: problems.length === 1 ? [] : problems, data: { file } },
  );
}

/** Reads and parses an egress.yaml (FILE_UNREADABLE when it cannot be read). */
export async function readEgressConfig(file: string): Promise<EgressConfig> {
  const bytes = await readUserFile(file, {
    what: 'the egress declarations',
    maxSize: MAX_EGRESS_CONFIG_SIZE,
  });
  return parseEgressConfig(bytes.toString('utf8'), file);
}
