// egress.yaml (issue 12 §4): what each namespace may reach besides what `policy cilium` finds by
// itself (DNS, and where the rendered fleet shows the need, the Kubernetes API and the registry).
// docs/egress.schema.json is its JSON Schema; every problem is reported at once with its
// file:line:col and field, as cache.yaml's are (src/images/cache.ts).
//
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

/** One declared destination: a name, a name pattern or an address block, on some ports. */
export type EgressDestination = (
  { readonly fqdn: string } | { readonly fqdnPattern: string } | { readonly cidr: string }
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

export interface EgressConfig {
  readonly file: string;
  readonly namespaces: ReadonlyMap<string, NamespaceEgress>;
}

const MAX_EGRESS_CONFIG_SIZE = 4 * 1024 * 1024;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS name as Cilium's matchName takes it (letters, digits, "-", "_"; an optional final "."). */
const FQDN_LABEL = /^[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?$/;
const PATTERN_LABEL = /^[-A-Za-z0-9_*]{1,63}$/;
const PROTOCOLS: readonly EgressProtocol[] = ['TCP', 'UDP', 'SCTP', 'ANY'];

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

const DESTINATION_KEYS = ['fqdn', 'fqdnPattern', 'cidr'] as const;

function parseDestination(
  node: Node,
  at: string,
  problems: Problems,
): EgressDestination | undefined {
  if (!isMap(node)) {
    problems.add(node, at, 'must be a mapping with one of fqdn, fqdnPattern or cidr, and ports');
    return undefined;
  }
  unknownKeys(node, [...DESTINATION_KEYS, 'ports'], `${at}.`, problems);
  const kinds = DESTINATION_KEYS.filter((k) => value(node, k) !== undefined);
  if (kinds.length !== 1) {
    problems.add(
      node,
      at,
      kinds.length === 0
        ? 'needs one of fqdn, fqdnPattern or cidr'
        : `has ${kinds.join(' and ')}: one destination per entry`,
    );
    return undefined;
  }
  const kind = kinds[0] ?? 'fqdn';
  const targetNode = value(node, kind);
  const target = scalar(targetNode);
  if (typeof target !== 'string' || target === '') {
    problems.add(targetNode, `${at}.${kind}`, 'must be a non-empty string');
    return undefined;
  }
  const problem =
    kind === 'cidr' ? cidrProblem(target) : fqdnProblem(target, kind === 'fqdnPattern');
  if (problem !== undefined)
    problems.add(targetNode, `${at}.${kind}`, `${escapeControl(target)} ${problem}`);
  if (kind === 'fqdn' && target.includes('*'))
    problems.add(targetNode, `${at}.fqdn`, 'a name with "*" is an fqdnPattern');
  const portsNode = value(node, 'ports');
  const ports = portsNode === undefined ? [] : parsePorts(portsNode, `${at}.ports`, problems);
  if (problem !== undefined) return undefined;
  const where = problems.at(node);
  if (kind === 'cidr') return { cidr: target, ports, where };
  if (kind === 'fqdnPattern') return { fqdnPattern: target, ports, where };
  return { fqdn: target, ports, where };
}

/**
 * Parses egress.yaml. CONFIG_INVALID with every problem (file:line:col, field): malformed YAML,
 * repeated keys, unknown fields, a namespace name that is not a DNS label, a destination with
 * none or several of fqdn/fqdnPattern/cidr, a name that is not a DNS name, a CIDR with host bits
 * or /0, a pattern that matches every name, a port outside 1-65535 or a range that runs backwards.
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
  unknownKeys(root, ['namespaces'], '', problems);
  const namespacesNode = value(root, 'namespaces');
  const namespaces = new Map<string, NamespaceEgress>();
  if (namespacesNode === undefined) problems.add(root, 'namespaces', 'is required');
  else if (!isMap(namespacesNode))
    problems.add(namespacesNode, 'namespaces', 'must be a mapping of namespace names');
  else
    for (const { key, keyNode, value: node } of pairs(namespacesNode)) {
      const at = `namespaces.${escapeControl(key)}`;
      if (!DNS_LABEL.test(key) || key.length > 63) {
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
  return { file, namespaces };
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
