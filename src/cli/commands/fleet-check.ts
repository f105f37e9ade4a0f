import { AirlockError } from '../../errors.ts';
import { escapeControl } from '../../core/index.ts';
import { checkFleet, type FleetCheck } from '../../fleet/index.ts';
import { type CommandSpec, stringOption } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import {
  FLEET_SOURCE_OPTIONS,
  fleetRenderOptions,
  KUSTOMIZE_BIN_OPTION,
} from '../fleet-options.ts';

/** One line per finding, per cluster, then a summary line. */
function textOf(check: FleetCheck): string[] {
  const lines: string[] = [];
  let errors = 0;
  let warnings = 0;
  for (const c of check.clusters) {
    const e = c.findings.filter((f) => f.severity === 'error').length;
    const w = c.findings.length - e;
    errors += e;
    warnings += w;
    lines.push(
      `${escapeControl(c.cluster)}: ${c.objects} objects, ${c.sources} sources verified or failed, ${e} errors, ${w} warnings`,
    );
    for (const f of c.findings)
      lines.push(
        `  ${f.severity} ${f.rule} ${f.object} ${f.field}: ${escapeControl(f.message)}${f.file === undefined ? '' : ` [${f.source === undefined ? '' : `${f.source} `}${f.file}]`}${f.appliedBy === undefined || f.appliedBy === '' ? '' : ` (applied by ${f.appliedBy})`}`,
      );
  }
  lines.push(
    `${check.failed ? 'failed' : 'passed'}: ${check.clusters.length} clusters, ${errors} errors, ${warnings} warnings`,
  );
  return lines;
}

export const fleetCheckCommand: CommandSpec = {
  name: 'fleet check',
  usage:
    'airlock fleet check FLEET_DIR (--cluster NAME | --all) [--offline | --registry-map FROM=TO --trusted-root FILE …] [--json]',
  description: [
    'Renders each cluster of a fleet as "fleet render" does and checks what it would',
    'apply; each finding names its rule, object, field and the Flux object that applies it:',
    '  verify-missing, verify-key-missing   every OCIRepository verifies with cosign (key Secret',
    '                                       in the rendered set, or a complete matchOIDCIdentity)',
    '  depends-on-missing, depends-on-cycle dependsOn of Kustomizations, HelmReleases, ResourceSets',
    '  ready-expr-invalid                   every readyExpr parses as CEL (as Flux parses it)',
    '  copy-from-missing                    every fluxcd.controlplane.io/copyFrom source exists',
    '  service-account-missing              tenant Flux objects of a multitenant FluxInstance',
    '  flux-instance-invalid                name flux, distribution, OCI sync',
    "  admission-denied                     the fleet's own ValidatingAdmissionPolicies (their CEL)",
    '  schema-invalid                       structural rules of the Flux CRDs',
    '  artifact-missing                     the artifact an OCIRepository selects does not exist',
    '  artifact-unverified                  it does not verify with exactly its spec.verify',
    '  source-unresolved                    (warning) sources the render does not follow',
    '',
    'With --cache cache.yaml the cluster is checked as an isolated one (docs/images.md):',
    '  image-public                         a workload image that still names a public registry',
    '                                       once the cache rules (what Kyverno rewrites) apply',
    '  image-not-mirrored                   (online) an image under the private registry (or a',
    '                                       rule of mode mirror) that the registry does not hold',
    '  image-invalid                        a workload image that is not a valid reference',
    '  egress-policy-missing                a namespace with workloads and no CiliumNetworkPolicy',
    '                                       closing its egress',
    '  isolation-phase                      Cilium and Kyverno missing or not in the first phase,',
    '                                       or a Flux object that does not wait for them',
    "The private registry is every cache rule's host plus --private-registry HOST.",
    '',
    'Online (the default) every OCIRepository and OCI chart is resolved in the registry and',
    'verified with the policy it declares: its key Secret (from the fleet, or --key-secret) or',
    'its matchOIDCIdentity against --trusted-root. No flag adds a key or an identity. --offline',
    'checks the fleet directory alone.',
    '',
    '--all checks every directory under clusters/ that holds manifests. Exit 3 when any finding',
    'is an error, 0 when there are only warnings.',
  ].join('\n'),
  examples: [
    'airlock fleet check ./fleet --all --offline',
    'airlock fleet check ./fleet --all --registry-map ghcr.io/acme=registry.internal/acme --trusted-root trusted_root.json',
    'airlock fleet check ./fleet --cluster prod --key-secret flux-system/cosign-pub=cosign.pub --json',
    'airlock fleet check ./fleet --cluster prod --cache cache.yaml --private-registry registry.internal:5000 --trusted-root trusted_root.json',
  ],
  registry: true,
  options: {
    cluster: {
      type: 'string',
      value: 'NAME',
      description: 'The cluster to check (its directory is clusters/NAME).',
    },
    all: { type: 'boolean', description: 'Check every cluster under clusters/.' },
    cache: {
      type: 'string',
      value: 'FILE',
      description:
        'cache.yaml (the pull-through cache rules): check images, egress policies and phases as for an isolated cluster.',
    },
    'private-registry': {
      type: 'string',
      multiple: true,
      value: 'HOST',
      description:
        "A registry inside the boundary besides the cache rules' hosts (repeatable; with --cache).",
    },
    'kustomize-bin': KUSTOMIZE_BIN_OPTION,
    ...FLEET_SOURCE_OPTIONS,
  },
  async run(context) {
    const { values, positionals, out } = context;
    const [dir, ...extra] = positionals;
    if (dir === undefined || extra.length > 0)
      throw new AirlockError('USAGE', 'fleet check takes one FLEET_DIR', {
        details: ['Run "airlock fleet check --help" for usage.'],
      });
    const cluster = stringOption(values, 'cluster');
    const all = values.all === true;
    if ((cluster === undefined || cluster === '') === !all)
      throw new AirlockError(
        'USAGE',
        all ? '--cluster and --all exclude each other' : '--cluster or --all is required',
        {
          details: ['Name one cluster (a directory under clusters/) or check them all with --all.'],
        },
      );
    const cacheFile = stringOption(values, 'cache');
    const privateRegistries = (values['private-registry'] as string[] | undefined) ?? [];
    if (privateRegistries.length > 0 && (cacheFile === undefined || cacheFile === ''))
      throw new AirlockError('USAGE', '--private-registry needs --cache', {
        details: ['The isolation checks run with the cache rules: add --cache cache.yaml.'],
      });
    const check = await checkFleet({
      dir,
      ...(cacheFile === undefined || cacheFile === ''
        ? {}
        : {
            isolation: {
              cacheFile,
              ...(privateRegistries.length === 0 ? {} : { privateRegistries }),
            },
          }),
      ...(all ? { all: true } : { cluster: cluster ?? '' }),
      ...(await fleetRenderOptions(context)),
    });
    out.result(textOf(check), check);
    return check.failed ? ExitCode.refused : ExitCode.ok;
  },
};
