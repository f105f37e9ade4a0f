import { AirlockError } from '../../errors.ts';
import { escapeControl, writeFileAtomic } from '../../core/index.ts';
import { kyvernoPolicyFromFile } from '../../images/index.ts';
import {
  dnsText,
  type EgressPolicies,
  egressPolicies,
  egressPoliciesYAML,
  writeEgressPolicies,
} from '../../fleet/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import {
  FLEET_SOURCE_OPTIONS,
  fleetRenderOptions,
  KUSTOMIZE_BIN_OPTION,
} from '../fleet-options.ts';

const CACHE_OPTION = {
  type: 'string',
  value: 'FILE',
  description: 'cache.yaml: the upstream registries and the private paths they are cached under.',
} as const;

export const policyKyvernoCommand: CommandSpec = {
  name: 'policy kyverno',
  usage: 'airlock policy kyverno --cache cache.yaml [--name NAME] [-o FILE] [--json]',
  description: [
    'Writes a Kyverno ClusterPolicy (kyverno.io/v1, Kyverno 1.13 or later) that rewrites the images',
    'of Pods (containers, initContainers, ephemeralContainers) and of Deployments, StatefulSets,',
    'DaemonSets, Jobs, CronJobs and unowned ReplicaSets at admission, by the same rules as',
    '"airlock images rewrite": nginx, docker.io/nginx and index.docker.io/library/nginx all become',
    '<to>/library/nginx:latest, ports, tags and digests are kept, and an image already under a',
    'rule\'s "to" is left alone. Two rules per upstream registry; autogen is off (the rules for pod',
    'controllers are written out). The policy fails closed: a request Kyverno cannot answer is',
    'refused rather than admitted with a public image.',
    '',
    'Image verification: Kyverno runs verifyImages after every mutate policy, on the rewritten',
    'reference (kyverno#4655, fixed in 1.8.2). A verifyImages rule must therefore name the cache',
    'paths (registry.internal/dockerhub/*), and the signatures must be found there.',
    '',
    'Output: the YAML on stdout, or -o FILE (written atomically); --json the object.',
    'Exit 2 for an invalid cache.yaml (file:line:col).',
  ].join('\n'),
  examples: [
    'airlock policy kyverno --cache cache.yaml > infrastructure/kyverno-policies/image-cache.yaml',
    'airlock policy kyverno --cache cache.yaml --name pull-through-cache -o image-cache.yaml',
    'airlock policy kyverno --cache cache.yaml --json',
  ],
  registry: false,
  options: {
    cache: CACHE_OPTION,
    name: {
      type: 'string',
      value: 'NAME',
      description: 'metadata.name of the ClusterPolicy (default airlock-image-cache).',
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      description: 'Write the YAML to FILE instead of stdout.',
    },
  },
  async run({ values, positionals, out }) {
    if (positionals.length > 0)
      throw new AirlockError('USAGE', 'policy kyverno takes no arguments', {
        details: ['Run "airlock policy kyverno --help" for usage.'],
      });
    const cacheFile = stringOption(values, 'cache');
    if (cacheFile === undefined || cacheFile === '')
      throw new AirlockError('USAGE', '--cache is required', {
        details: ['Name the cache.yaml that maps upstream registries to private paths.'],
      });
    const name = stringOption(values, 'name');
    const file = stringOption(values, 'output');
    const result = await kyvernoPolicyFromFile({
      cacheFile,
      ...(name === undefined ? {} : { name }),
    });
    const rules = (result.policy.spec as { rules: unknown[] }).rules.length;
    if (file !== undefined) {
      await writeFileAtomic(file, result.yaml);
      out.result(
        `${escapeControl(file)}: ClusterPolicy ${escapeControl((result.policy.metadata as { name: string }).name)}, ${rules} rules for ${result.cache.rules.length} upstream registries`,
        { file, policy: result.policy },
      );
      return ExitCode.ok;
    }
    out.result(result.yaml.replace(/\n$/, ''), result.policy);
    return ExitCode.ok;
  },
};

const asJSON = (result: EgressPolicies, files?: readonly string[]): unknown => ({
  cluster: result.cluster,
  ...(result.egressFile === undefined ? {} : { egressFile: result.egressFile }),
  dns: result.dns,
  policies: result.policies.map((p) => ({
    namespace: p.namespace,
    workloads: p.workloads,
    because: p.because,
    kubeAPI: p.kubeAPI,
    registry: p.registry,
    declared: p.declared,
    policy: p.policy,
  })),
  skipped: result.skipped,
  unresolved: result.unresolved,
  ...(files === undefined ? {} : { files }),
});

function summary(result: EgressPolicies): string[] {
  return [
    `DNS: ${escapeControl(dnsText(result.dns))}: ${escapeControl(result.dns.reason)}`,
    ...result.policies.map((p) => {
      const allowed = [
        'DNS',
        'its own pods',
        ...(p.kubeAPI.allowed ? ['Kubernetes API'] : []),
        ...(p.registry.hosts.length > 0 ? [`registry ${p.registry.hosts.join(', ')}`] : []),
        ...(p.declared.length > 0 ? [`${p.declared.length} declared`] : []),
      ];
      return `${p.namespace}: ${allowed.join('; ')} (${p.workloads.length} workload${p.workloads.length === 1 ? '' : 's'})`;
    }),
    ...result.skipped.map(
      (k) =>
        `skipped: ${k.namespace} (${k.workloads.length} workload${k.workloads.length === 1 ? '' : 's'}): ${escapeControl(k.reason)}`,
    ),
    ...result.unresolved.map(
      (u) =>
        `unresolved: ${u.object} needs ${u.source}: ${escapeControl(u.reason)} (its workloads are not seen: declare their namespace in egress.yaml)`,
    ),
  ];
}

export const policyCiliumCommand: CommandSpec = {
  name: 'policy cilium',
  usage:
    'airlock policy cilium --fleet DIR --cluster NAME [--egress FILE] [--cache cache.yaml] [--name NAME] [--offline | --registry-map FROM=TO --key-secret NAME=FILE --trusted-root FILE --helm-bin PATH] [-o DIR|FILE] [--json]',
  description: [
    'Renders the cluster as "airlock fleet render" does and writes one CiliumNetworkPolicy',
    '(cilium.io/v2) per namespace that runs workloads (Pods, Deployments, StatefulSets,',
    'DaemonSets, ReplicaSets, Jobs, CronJobs), holds the FluxInstance, or is declared in',
    'egress.yaml. Each selects every pod of its namespace and closes egress (Cilium denies what',
    'no egress rule allows) except:',
    '  - DNS (UDP and TCP 53), with the DNS visibility rule FQDN rules need, to the cluster DNS:',
    '    egress.yaml\'s "dns", else a Service or Deployment named coredns or kube-dns (or',
    '    labelled k8s-app: kube-dns) in the render, else kube-system k8s-app=kube-dns;',
    '  - every pod of its own namespace;',
    "  - the Kubernetes API, where a workload's ServiceAccount (its token mounted) is bound by a",
    '    RoleBinding or ClusterRoleBinding in the fleet, and where the FluxInstance runs;',
    "  - the registry (the cache rules' hosts and the fleet's OCI source hosts), where the",
    '    FluxInstance runs only: the kubelet pulls images, pods do not;',
    '  - what egress.yaml declares (--egress, default egress.yaml in DIR when present; JSON',
    '    Schema docs/egress.schema.json): per namespace kubeAPI, registry (true/false,',
    '    overriding the above) and "to" destinations (fqdn, fqdnPattern, cidr, another',
    '    namespace with matchLabels, or an in-cluster entity, with ports).',
    'kube-system, kube-public, kube-node-lease and the DNS namespace get no policy unless',
    'egress.yaml declares them (they are listed as skipped).',
    '',
    'Offline, workloads inside OCI artifacts and charts are not seen: they are listed as',
    'unresolved; render online, or declare those namespaces in egress.yaml.',
    '',
    'Output: a YAML stream on stdout (one document per namespace, sorted), or -o FILE.yaml for one',
    'file, or -o DIR for one NAMESPACE.yaml each (DIR holds only files it wrote before: they are',
    'replaced, stale ones removed); --json the policies with the reasons for each destination.',
    'Exit 2 for an invalid egress.yaml or cache.yaml (file:line:col), or a rendered namespace',
    'that is not a DNS-1123 label.',
  ].join('\n'),
  examples: [
    'airlock policy cilium --fleet ./fleet --cluster prod --offline --cache cache.yaml',
    'airlock policy cilium --fleet ./fleet --cluster prod --offline --egress egress.yaml -o infrastructure/cilium-policies',
    'airlock policy cilium --fleet ./fleet --cluster prod --registry-map ghcr.io/acme=registry.internal/acme --trusted-root trusted_root.json -o prod-egress.yaml',
    'airlock policy cilium --fleet ./fleet --cluster dev --offline --json',
  ],
  registry: true,
  options: {
    fleet: { type: 'string', value: 'DIR', description: 'The fleet repository.' },
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to render (its directory is clusters/NAME).',
    },
    egress: {
      type: 'string',
      value: 'FILE',
      description: 'egress.yaml: what namespaces may reach besides DNS (default DIR/egress.yaml).',
    },
    cache: CACHE_OPTION,
    name: {
      type: 'string',
      value: 'NAME',
      description: 'metadata.name of every policy (default airlock-egress).',
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    ...FLEET_SOURCE_OPTIONS,
    output: {
      type: 'string',
      short: 'o',
      value: 'DIR|FILE',
      description: 'Write FILE.yaml (one stream) or DIR/NAMESPACE.yaml instead of stdout.',
    },
  },
  async run(context) {
    const { values, positionals, out } = context;
    if (positionals.length > 0)
      throw new AirlockError('USAGE', 'policy cilium takes no arguments', {
        details: ['Give the fleet with --fleet DIR; run "airlock policy cilium --help" for usage.'],
      });
    const dir = stringOption(values, 'fleet');
    const cluster = stringOption(values, 'cluster');
    if (dir === undefined || dir === '' || cluster === undefined || cluster === '')
      throw new AirlockError('USAGE', '--fleet and --cluster are required', {
        details: ['Name the fleet directory and the cluster (a directory under clusters/).'],
      });
    const egressFile = stringOption(values, 'egress');
    const cacheFile = stringOption(values, 'cache');
    const policyName = stringOption(values, 'name');
    const target = stringOption(values, 'output');
    const result = await egressPolicies({
      dir,
      cluster,
      ...(await fleetRenderOptions(context)),
      ...(egressFile === undefined ? {} : { egressFile }),
      ...(cacheFile === undefined ? {} : { cacheFile }),
      ...(policyName === undefined ? {} : { policyName }),
    });
    if (target !== undefined) {
      const files = await writeEgressPolicies(result, target);
      out.result(
        [
          `${result.cluster}: ${result.policies.length} CiliumNetworkPolicies written to ${escapeControl(target)}`,
          ...summary(result),
        ],
        asJSON(result, files),
      );
      return ExitCode.ok;
    }
    out.result(egressPoliciesYAML(result).replace(/\n$/, ''), asJSON(result));
    // The stream is stdout's; what could not be seen goes to stderr, where it cannot break it.
    if (!out.json)
      for (const line of summary(result).filter(
        (l) => l.startsWith('unresolved: ') || l.startsWith('skipped: '),
      ))
        out.info(line);
    return ExitCode.ok;
  },
};
